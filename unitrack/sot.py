"""Box propagation for single-object tracking (docs/protocol.md §3): crop warp, cosine window, scale
search, the XCorr (SiamFC-style) and DCF (DCFNet-style) heads on frozen, non-normalised features.

``protocol='faithful'`` (default) reproduces the reference, quirks included (docs/protocol.md §7.1 items 4–7):
  * XCorr displacement ``(idx − R/2)·window/R`` (R = 52: −1-cell bias and 1.25× gain);
  * DCF inverse FFT of the legacy ``torch.irfft`` without signal size (65×64 map) decoded with width 65;
  * size clip ``max_sz = min((H, W), 5·s0)`` compared with (w, h) (swapped);
  * internal centre ``x − 2 + w/2`` (OTB 1-based box, two −1 shifts; the output inverts it exactly).
``protocol='fixed'`` corrects them: the zero-displacement index is the template's own position ``bg``
(25 for 65×65 features) and one feature cell is ``stride·window/(crop_sz − 1)`` image pixels (the exact
cell size under the crop warp; docs/protocol.md §3.3 quotes it as ≈ window/65); DCF uses a 65×65 inverse FFT; the size
clip compares (w, h) with (W, H); the centre of an OTB 1-based box is ``x − 1.5 + w/2`` in 0-based
pixel-centre coordinates.

Geometry with another crop size (``crop_sz`` must be a multiple of the stride, F = crop_sz/stride): the
template block is rows/cols ``[F//2 − F//9, F//2 + F//9)`` — the reference computes it with these
expressions (65 → 25…38, 14×14); 264 → F = 33, block 13…18 (6×6); the XCorr response is F − T + 1.
The DCF label σ is ``F/(1 + padding)·0.1`` cells. Everything else is unchanged.

The feature function receives normalised crops ``K×3×S×S`` (all scales of a frame in one batch) and
returns ``K×C×F×F`` float32 features on the same device.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from unitrack.utils import UnitrackError

FeatureFn = Callable[[torch.Tensor], torch.Tensor]
PROTOCOLS = ("faithful", "fixed")
HEADS = ("xcorr", "dcf")


# ------------------------------------------------------------------------------------------------- geometry
@dataclass
class SOTConfig:
    """Box propagation on OTB (docs/protocol.md §3); geometry and both protocols are documented in this module."""

    head: str = "xcorr"  # xcorr | dcf
    protocol: str = "faithful"  # faithful (published quirks, docs/protocol.md §7.1 #4–7) | fixed (corrected geometry)
    crop_sz: int = 520  # search/exemplar crop side, a multiple of downscale (smaller = faster quick looks)
    downscale: int = 8  # backbone stride: features are crop_sz/downscale per side (65)
    padding: float = 3.5
    num_scale: int = 3
    scale_step: float = 1.0275
    scale_penalty: float = 0.985
    min_scale_factor: float = 0.2
    max_scale_factor: float = 5.0
    xcorr_out_scale: float = 0.1
    dcf_lambda: float = 1e-4
    dcf_output_sigma_factor: float = 0.1
    dcf_interp_factor: float = 0.01
    max_frames: int | None = None  # track/score only the first N frames of each sequence (quick looks)



def check_config(cfg: SOTConfig) -> None:
    """Reject settings that the geometry cannot handle, naming the key."""
    if cfg.head not in HEADS:
        raise UnitrackError(f"sot.head={cfg.head!r}: expected one of {', '.join(HEADS)}")
    if cfg.protocol not in PROTOCOLS:
        raise UnitrackError(f"sot.protocol={cfg.protocol!r}: expected one of {', '.join(PROTOCOLS)}")
    if cfg.downscale <= 0 or cfg.crop_sz % cfg.downscale:
        raise UnitrackError(f"sot.crop_sz={cfg.crop_sz} must be a multiple of sot.downscale={cfg.downscale}")
    if cfg.crop_sz // cfg.downscale < 9:
        raise UnitrackError(f"sot.crop_sz={cfg.crop_sz} is too small: need at least 9 feature cells per side")
    if cfg.num_scale < 1:
        raise UnitrackError(f"sot.num_scale={cfg.num_scale}: expected ≥ 1")
    if cfg.padding < 0:
        raise UnitrackError(f"sot.padding={cfg.padding}: expected ≥ 0")


def feature_size(cfg: SOTConfig) -> int:
    """Side of the feature map of one crop (520 // 8 = 65)."""
    return cfg.crop_sz // cfg.downscale


def template_bounds(feat_sz: int) -> tuple[int, int]:
    """Rows/cols [bg, ed) of the template block: 65 → (25, 39), i.e. 14×14 centred at 31.5."""
    half, k = feat_sz // 2, int(feat_sz // 9.0)
    return half - k, half + k


def scale_factors(num_scale: int, step: float) -> np.ndarray:
    """step^{−1, 0, 1} for three scales: (0.97324, 1, 1.0275)."""
    return step ** (np.arange(num_scale) - (num_scale - 1) / 2)


def scale_penalties(num_scale: int, penalty: float) -> np.ndarray:
    """penalty^|i|: (0.985, 1, 0.985) for three scales."""
    return penalty ** np.abs(np.arange(num_scale) - (num_scale - 1) / 2)


def cosine_window(n: int) -> np.ndarray:
    """Outer product of two ``np.hanning(n)`` (zero at the borders, 1 at the centre for odd n)."""
    h = np.hanning(n)
    return np.outer(h, h)


def dcf_sigma(cfg: SOTConfig) -> float:
    """Gaussian label σ in cells: F / (1 + padding) · output_sigma_factor = 65/4.5·0.1 = 1.4444."""
    return feature_size(cfg) / (1 + cfg.padding) * cfg.dcf_output_sigma_factor


def gaussian_labels(n: int, sigma: float) -> np.ndarray:
    """n×n Gaussian on grid (1..n) − n//2, circularly shifted so that the peak is at (0, 0)."""
    g = np.arange(1, n + 1) - np.floor(n / 2)
    d = g[:, None] ** 2 + g[None, :] ** 2
    y = np.exp(-0.5 / sigma**2 * d)
    shift = int(-np.floor(n / 2) + 1)
    return np.roll(np.roll(y, shift, axis=0), shift, axis=1)


def box_to_state(box, protocol: str = "faithful") -> tuple[np.ndarray, np.ndarray]:
    """OTB 1-based ``x,y,w,h`` → internal (centre, size). Faithful: c = (x − 2 + w/2, y − 2 + h/2)."""
    b = np.asarray(box, dtype=np.float64)
    off = 2.0 if protocol == "faithful" else 1.5
    return b[:2] - off + b[2:] / 2, b[2:].copy()


def state_to_box(c: np.ndarray, s: np.ndarray, protocol: str = "faithful") -> np.ndarray:
    """Inverse of :func:`box_to_state` (first output line == GT line)."""
    off = 2.0 if protocol == "faithful" else 1.5
    return np.concatenate([c - s / 2 + off, s])


def size_limits(s0: np.ndarray, img_hw: tuple[int, int], cfg: SOTConfig) -> tuple[np.ndarray, np.ndarray]:
    """(min_sz, max_sz) for (w, h): ``max(0.2·s0, 4)`` and ``min(limit, 5·s0)``; the faithful limit is
    (H, W) against (w, h) — the reference's swap — the fixed one (W, H)."""
    h, w = img_hw
    lim = np.array([h, w] if cfg.protocol == "faithful" else [w, h], dtype=np.float64)
    min_sz = np.maximum(cfg.min_scale_factor * s0, 4.0)
    max_sz = np.minimum(lim, cfg.max_scale_factor * s0)
    return min_sz, max_sz


def clip_size(s: np.ndarray, min_sz: np.ndarray, max_sz: np.ndarray) -> np.ndarray:
    return np.minimum(np.maximum(s, min_sz), max_sz)


def warp_crops(image: torch.Tensor, centers: np.ndarray, windows: np.ndarray, out_sz: int) -> torch.Tensor:
    """Axis-aligned bilinear crops: box ``[c − window/2, c + window/2]`` → pixels 0 … out_sz−1.

    ``image`` is a normalised 3×H×W tensor; outside the image the value is 0 (the mean colour after
    normalisation), as ``cv2.warpAffine`` with a zero constant border. Returns K×3×out_sz×out_sz.
    """
    _, h, w = image.shape
    centers = np.asarray(centers, dtype=np.float64).reshape(-1, 2)
    windows = np.asarray(windows, dtype=np.float64).reshape(-1, 2)
    k = len(centers)
    u = np.arange(out_sz, dtype=np.float64)
    x0 = centers[:, 0] - windows[:, 0] / 2
    y0 = centers[:, 1] - windows[:, 1] / 2
    xs = x0[:, None] + u[None, :] * (windows[:, 0] / (out_sz - 1))[:, None]  # K×S source columns
    ys = y0[:, None] + u[None, :] * (windows[:, 1] / (out_sz - 1))[:, None]
    gx = torch.from_numpy(2 * xs / max(w - 1, 1) - 1).to(image.device, torch.float32)
    gy = torch.from_numpy(2 * ys / max(h - 1, 1) - 1).to(image.device, torch.float32)
    grid = torch.stack(torch.broadcast_tensors(gx[:, None, :], gy[:, :, None]), dim=-1)  # K×S×S×2 (x, y)
    src = image.unsqueeze(0).expand(k, -1, -1, -1).to(torch.float32)
    return F.grid_sample(src, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


# ------------------------------------------------------------------------------------------------- responses

def xcorr_response(x: torch.Tensor, z: torch.Tensor, out_scale: float = 0.1) -> torch.Tensor:
    """Valid cross-correlation of K search maps (K×C×F×F) with one template (C×T×T) → K×R×R, R = F−T+1."""
    return F.conv2d(x, z.unsqueeze(0))[:, 0] * out_scale


def dcf_filter(z_feat: torch.Tensor, yf: torch.Tensor, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Closed-form DCF of masked template features (…×C×F×F): returns (ẑ, α̂ = ŷ / (Σ_c |ẑ_c|² + λ))."""
    zf = torch.fft.rfft2(z_feat)
    kzzf = (zf.real.square() + zf.imag.square()).sum(dim=-3)
    return zf, yf / (kzzf + lam)


def dcf_response(xf: torch.Tensor, zf: torch.Tensor, alphaf: torch.Tensor, faithful: bool = True) -> torch.Tensor:
    """Response ``IFFT(α̂ · Σ_c x̂_c · conj(ẑ_c))`` for K search spectra (K×C×F×F/2+1) → K×F×W.

    faithful: the legacy ``torch.irfft`` without signal size, i.e. ``irfft2`` with its default even width
    2·(F//2) (65 → 64); fixed: the true size F×F.
    """
    kxzf = (xf * zf.conj()).sum(dim=-3)
    n = xf.shape[-2]
    return torch.fft.irfft2(kxzf * alphaf, s=None if faithful else (n, n))


def decode_dcf_peak(idx: int, feat_sz: int) -> tuple[int, int]:
    """Flat arg-max index → (row, col) displacement in cells, decoded with width F (the reference's
    decoding; on the faithful 65×64 buffer this gives the skewed table of Appendix C item 5)."""
    r, c = divmod(int(idx), feat_sz)
    if r > feat_sz / 2:
        r -= feat_sz
    if c > feat_sz / 2:
        c -= feat_sz
    return r, c


# ------------------------------------------------------------------------------------------------- trackers

class BoxPropagationTracker:
    """State and scale search shared by the XCorr and DCF heads. ``init`` then ``track`` per frame."""

    def __init__(self, cfg: SOTConfig, features: FeatureFn, device: str | torch.device = "cpu"):
        check_config(cfg)
        self.cfg = cfg
        self.features = features
        self.device = torch.device(device)
        self.faithful = cfg.protocol == "faithful"
        self.feat_sz = feature_size(cfg)
        self.bg, self.ed = template_bounds(self.feat_sz)
        self.context = 1.0 + cfg.padding
        self.scales = scale_factors(cfg.num_scale, cfg.scale_step)
        self.penalty = torch.tensor(scale_penalties(cfg.num_scale, cfg.scale_penalty), dtype=torch.float32,
                                    device=self.device)
        self.cos = torch.tensor(cosine_window(self.feat_sz), dtype=torch.float32, device=self.device)
        self.c = self.s = self.min_sz = self.max_sz = None

    # -- helpers
    def _features(self, image: torch.Tensor, centers: np.ndarray, windows: np.ndarray) -> torch.Tensor:
        crops = warp_crops(image, centers, windows, self.cfg.crop_sz)
        f = self.features(crops)
        if f.shape[0] != crops.shape[0] or f.shape[-2:] != (self.feat_sz, self.feat_sz):
            raise UnitrackError(
                f"SOT expects {self.feat_sz}×{self.feat_sz} features for {self.cfg.crop_sz}-px crops "
                f"(stride {self.cfg.downscale}); the backbone returned {tuple(f.shape)}"
            )
        return f.to(torch.float32)

    def _cell_px(self, window: np.ndarray, cells: float) -> np.ndarray:
        """Image pixels per response cell: faithful ``window/cells`` (52 for XCorr, F for DCF)."""
        if self.faithful:
            return window / cells
        return self.cfg.downscale * window / (self.cfg.crop_sz - 1)

    def _search(self, image: torch.Tensor) -> tuple[np.ndarray, torch.Tensor]:
        """Features of all scale crops around the current centre (one batch), times the cosine window."""
        windows = self.s[None, :] * self.scales[:, None] * self.context
        centers = np.repeat(self.c[None, :], len(self.scales), axis=0)
        return windows, self._features(image, centers, windows) * self.cos

    def _best(self, resp: torch.Tensor) -> tuple[int, int]:
        """Penalised peak over scales → (scale index, flat arg-max in that scale's map); one host sync."""
        flat = resp.flatten(1)
        best = torch.argmax(flat.amax(dim=1) * self.penalty)
        idx = torch.argmax(flat[best])
        b, i = torch.stack([best, idx]).tolist()
        return int(b), int(i)

    def _set_size(self, window: np.ndarray) -> None:
        self.s = clip_size(window / self.context, self.min_sz, self.max_sz)

    # -- public
    def init(self, image: torch.Tensor, box) -> None:
        """Start a sequence from the first-frame OTB box ``x,y,w,h`` on a normalised 3×H×W image."""
        box = np.asarray(box, dtype=np.float64)
        if not (np.all(np.isfinite(box)) and box[2] > 0 and box[3] > 0):
            raise UnitrackError(f"first-frame box {box.tolist()} must have finite values and w, h > 0")
        self.c, self.s = box_to_state(box, self.cfg.protocol)
        self.min_sz, self.max_sz = size_limits(self.s, tuple(image.shape[-2:]), self.cfg)
        self._init_model(image)

    def track(self, image: torch.Tensor) -> np.ndarray:
        """Propagate the box to the next frame; returns the OTB box ``x,y,w,h``."""
        self._step(image)
        return self.box

    @property
    def box(self) -> np.ndarray:
        return state_to_box(self.c, self.s, self.cfg.protocol)

    def _init_model(self, image: torch.Tensor) -> None:
        raise NotImplementedError

    def _step(self, image: torch.Tensor) -> None:
        raise NotImplementedError


class XCorrTracker(BoxPropagationTracker):
    """SiamFC-style head (docs/protocol.md §3.3): fixed 14×14 template, 0.1·cross-correlation, scale search, no update."""

    def _init_model(self, image: torch.Tensor) -> None:
        window = self.s * self.context
        z = self._features(image, self.c[None], window[None])[0]
        self.z = z[:, self.bg:self.ed, self.bg:self.ed].contiguous()

    def _step(self, image: torch.Tensor) -> None:
        windows, x = self._search(image)
        resp = xcorr_response(x, self.z, self.cfg.xcorr_out_scale)
        b, idx = self._best(resp)
        r_sz = resp.shape[-1]
        r, col = divmod(idx, r_sz)
        window = windows[b]
        self.c = self.c + self.displacement(r, col, r_sz, window)
        self._set_size(window)

    def displacement(self, r: int, col: int, r_sz: int, window: np.ndarray) -> np.ndarray:
        """Image-pixel shift (dx, dy) for a response peak at (r, col). Faithful: ``(idx − R/2)·window/R``
        (−1-cell bias, 1.25× gain for R = 52); fixed: ``(idx − bg)·stride·window/(crop_sz − 1)``."""
        if self.faithful:
            delta = np.array([col - r_sz * 0.5, r - r_sz * 0.5])
        else:
            delta = np.array([col - self.bg, r - self.bg], dtype=np.float64)
        return delta * self._cell_px(window, r_sz)


class DCFTracker(BoxPropagationTracker):
    """DCFNet-style head (docs/protocol.md §3.4): closed-form correlation filter in the Fourier domain, lr 0.01 update."""

    def __init__(self, cfg: SOTConfig, features: FeatureFn, device: str | torch.device = "cpu"):
        super().__init__(cfg, features, device)
        y = gaussian_labels(self.feat_sz, dcf_sigma(cfg))
        self.yf = torch.fft.rfft2(torch.tensor(y, dtype=torch.float32, device=self.device))
        m = torch.zeros(self.feat_sz, self.feat_sz, dtype=torch.float32, device=self.device)
        m[self.bg:self.ed, self.bg:self.ed] = 1
        self.mask = m
        self.zf = self.alphaf = None

    def _update(self, image: torch.Tensor, lr: float) -> None:
        window = self.s * self.context
        z = self._features(image, self.c[None], window[None])[0] * self.mask
        zf, alphaf = dcf_filter(z, self.yf, self.cfg.dcf_lambda)
        if lr >= 1 or self.zf is None:
            self.zf, self.alphaf = zf, alphaf
        else:
            self.alphaf = (1 - lr) * self.alphaf + lr * alphaf
            self.zf = (1 - lr) * self.zf + lr * zf

    def displacement(self, r: int, col: int, window: np.ndarray) -> np.ndarray:
        """Image-pixel shift (dx, dy) for a decoded cyclic shift (r, col): faithful ``window/F`` per cell,
        fixed ``stride·window/(crop_sz − 1)``."""
        return np.array([col, r], dtype=np.float64) * self._cell_px(window, self.feat_sz)

    def _init_model(self, image: torch.Tensor) -> None:
        self.zf = self.alphaf = None
        self._update(image, 1.0)

    def _step(self, image: torch.Tensor) -> None:
        windows, x = self._search(image)
        resp = dcf_response(torch.fft.rfft2(x), self.zf, self.alphaf, self.faithful)
        b, idx = self._best(resp)
        r, col = decode_dcf_peak(idx, self.feat_sz)
        window = windows[b]
        self.c = self.c + self.displacement(r, col, window)
        self._set_size(window)
        self._update(image, self.cfg.dcf_interp_factor)


def make_tracker(cfg: SOTConfig, features: FeatureFn, device: str | torch.device = "cpu") -> BoxPropagationTracker:
    """The head named by ``cfg.head``."""
    check_config(cfg)
    return (XCorrTracker if cfg.head == "xcorr" else DCFTracker)(cfg, features, device)
