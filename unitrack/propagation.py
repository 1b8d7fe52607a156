"""Soft-label propagation through feature affinities (docs/protocol.md §2.4–2.7).

A target frame's soft labels are a weighted sum of context-frame labels: for every query cell the
top-k most similar key cells over *all* context frames jointly (the first frame without locality
restriction, the short-term frames only within ``radius`` cells) are kept and weighted by a softmax
over those k scaled similarities. Used for masks (VOS, DAVIS) and belief maps (pose, JHMDB).

Memory is budgeted: queries are processed in bands of T rows (T ≈ radius or radius/2 by channel count, at least 4). The
long-term (unrestricted) frames are scored band × all keys, split further by ``memory_budget_mb``;
the short-term (restricted) frames are scored per T×T query tile against only the (T+2ρ)² keys the
radius can reach (ρ = ceil(radius) − 1), all tiles of a band in one batched matmul, with an additive
−inf mask. Every score block is reduced to its own top-k at once (the joint top-k of a union equals
the top-k of the per-block top-k's), so no (hw × n·hw) tensor ever exists. Context frames are
referenced, never stacked or copied whole per target; no boolean-index thresholding is used.
Same code on CPU and GPU. ``propagate_labels_naive`` is the dense reference (tests, benchmarks).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from unitrack.utils import UnitrackError

__all__ = [
    "PROTOCOLS",
    "PropagationParams",
    "PropagationProtocol",
    "LabelPropagator",
    "context_frames",
    "locality_mask",
    "propagate_labels",
    "propagate_labels_naive",
    "resize_labels",
]


@dataclass(frozen=True)
class PropagationParams:
    """Hyper-parameters of the propagation (defaults = the published protocol, docs/protocol.md §2.1)."""

    temperature: float = 0.05
    topk: int = 10
    radius: float = 12.0  # cells, strict <; short-term frames only; <= 0 disables the restriction
    n_context: int = 5  # short-term context frames ("videoLen")
    long_mem: tuple[int, ...] = field(default=(0,))  # real frame indices of the long-term context
    memory_budget_mb: float = 512.0
    l2_normalize: bool = True

    def __post_init__(self) -> None:
        if not self.temperature > 0:
            raise UnitrackError(f"propagation temperature must be > 0, got {self.temperature}")
        if self.topk < 1:
            raise UnitrackError(f"propagation topk must be >= 1, got {self.topk}")
        if self.n_context < 0:
            raise UnitrackError(f"propagation n_context must be >= 0, got {self.n_context}")
        if self.n_context == 0 and not self.long_mem:
            raise UnitrackError("propagation needs context: n_context = 0 and long_mem = []")
        if any(int(m) < 0 for m in self.long_mem):
            raise UnitrackError(f"propagation long_mem entries must be >= 0, got {list(self.long_mem)}")
        if not self.memory_budget_mb > 0:
            raise UnitrackError(f"memory_budget_mb must be > 0, got {self.memory_budget_mb}")

    @classmethod
    def from_config(cls, section) -> PropagationParams:
        """Build from a VOSConfig / PosePropConfig section."""
        return cls(
            temperature=float(section.temperature),
            topk=int(section.topk),
            radius=float(section.radius),
            n_context=int(section.n_context),
            long_mem=tuple(int(m) for m in section.long_mem),
            memory_budget_mb=float(section.memory_budget_mb),
            l2_normalize=bool(section.l2_normalize),
        )


@dataclass(frozen=True)
class PropagationProtocol:
    """A named preset of the propagation hyper-parameters as one paper's evaluation code uses them.

    ``values`` apply to every propagation task (VOS, pose propagation, VIP); ``per_task`` adds or overrides
    task-specific keys (input size). Sources of every value: docs/protocol.md §2.9.
    """

    name: str
    source: str
    values: dict = field(default_factory=dict)
    per_task: dict = field(default_factory=dict)


PROTOCOLS: dict[str, PropagationProtocol] = {
    # the defaults of each task's config section (UniTrack's published setting)
    "unitrack": PropagationProtocol("unitrack", "Wang et al., NeurIPS 2021 (UniTrack), test configs"),
    "crw": PropagationProtocol(
        "crw", "Jabri et al., NeurIPS 2020 (contrastive random walk), label propagation evaluation commands",
        values={"topk": 10, "n_context": 20, "radius": 12.0, "temperature": 0.05, "long_mem": [0]},
        per_task={"vos": {"crop_size": -1}, "poseprop": {"crop_size": 320}, "vip": {"crop_size": 560}},
    ),
    "dino": PropagationProtocol(
        "dino", "Caron et al., ICCV 2021 (DINO), video segmentation evaluation defaults",
        values={"topk": 5, "n_context": 7, "radius": 12.0, "temperature": 0.1, "long_mem": [0]},
        per_task={"vos": {"crop_size": -1}},
    ),
}


def protocol_values(name: str, task: str) -> dict:
    """The preset values of protocol ``name`` for ``task`` (UnitrackError naming the valid protocols)."""
    if name not in PROTOCOLS:
        raise UnitrackError(f"{task}.protocol={name!r}: unknown propagation protocol; expected one of "
                            f"{', '.join(PROTOCOLS)}")
    p = PROTOCOLS[name]
    return {**p.values, **p.per_task.get(task, {})}


def context_frames(t: int, n_context: int, long_mem: Sequence[int] = (0,)) -> list[tuple[int, bool]]:
    """Context of target frame ``t`` as (real frame index, locality-restricted) pairs, in key order.

    Long-term frames first (unrestricted; an index not yet seen, >= t, falls back to frame 0), then the
    n short-term frames ``max(0, t-n) … t-1`` (restricted). Early targets therefore see repeated copies
    of frame 0, exactly as the reference's padded frame list (docs/protocol.md §2.2, docs/protocol.md §2.5).
    """
    out = [(int(m) if int(m) < t else 0, False) for m in long_mem]
    out += [(max(0, t - n_context + j), True) for j in range(n_context)]
    return out


def locality_mask(h: int, w: int, radius: float, device: str | torch.device = "cpu") -> torch.Tensor:
    """Dense (hw × hw) boolean mask: True where the grid distance between cells is < radius.

    Only for tests and the naive baseline; the propagation itself builds this per query chunk.
    """
    yy, xx = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij")
    yy, xx = yy.reshape(-1), xx.reshape(-1)
    d2 = (yy[:, None] - yy[None]) ** 2 + (xx[:, None] - xx[None]) ** 2
    return d2.float() < float(radius) ** 2


def _reach(radius: float) -> int:
    """Largest row/column offset that can be within the radius (|d| < r)."""
    return max(0, math.ceil(radius) - 1)


def _tile_size(h: int, w: int, radius: float, channels: int = 256) -> int:
    """Side of the square query tiles used for locality-restricted frames (and rows per query band).

    A T×T tile scores (T+2ρ)² keys, of which about πρ² are within the radius: smaller tiles waste less
    arithmetic but copy a key window per tile. Measured on the CPU at 480p (radius 12): T = ρ/2 is
    10–14 % faster than T = ρ up to 512 channels, T = ρ 25 % faster at 1024 (benchmarks/bench_propagation.py).
    """
    side = math.ceil(radius) if channels > 512 else math.ceil(radius / 2)
    return max(1, min(max(4, side), max(h, w)))


def _groups(n: int, per_item_bytes: float, budget_mb: float) -> int:
    """How many of ``n`` items fit in the memory budget at once (at least 1)."""
    return max(1, min(n, int(budget_mb * 2**20 // max(1.0, per_item_bytes))))


class _Band:
    """Geometry of one band of query rows [r0, r0+T) tiled into ntx tiles of T×T queries.

    The keys a tile can reach are the (T+2ρ)² cells around it (ρ = reach of the radius); the
    query→key locality mask is the same for every tile in tile-local coordinates.
    """

    def __init__(self, r0: int, T: int, rho: int, h: int, w: int, device):
        self.r0, self.T, self.rho = r0, T, rho
        self.tr = min(h, r0 + T) - r0  # real rows in this band
        self.ntx = -(-w // T)
        K = T + 2 * rho
        self.K = K
        ky = torch.arange(K, device=device) + (r0 - rho)  # global key rows of a tile
        kx = torch.arange(self.ntx, device=device)[:, None] * T - rho + torch.arange(K, device=device)[None]  # ntx×K
        valid = ((ky >= 0) & (ky < h))[None, :, None] & ((kx >= 0) & (kx < w))[:, None, :]  # ntx×K×K
        self.key_invalid = ~valid.reshape(self.ntx, 1, K * K)
        self._bias: dict[tuple[int, int], torch.Tensor] = {}
        gidx = ky.clamp(0, h - 1)[None, :, None] * w + kx.clamp(0, w - 1)[:, None, :]
        self.gidx = gidx.reshape(self.ntx, K * K)  # global key index (clamped where invalid)

    def bias(self, far_bias: torch.Tensor, t0: int, t1: int) -> torch.Tensor:
        """(t1−t0)×T²×K² additive mask: −inf for keys outside the radius or the map, else 0; cached.

        (An in-place add is far cheaper than ``masked_fill_`` on the CPU.)
        """
        m = self._bias.get((t0, t1))
        if m is None:
            m = self._bias[(t0, t1)] = far_bias.masked_fill(self.key_invalid[t0:t1], float("-inf"))
        return m

    def key_tiles(self, feat: torch.Tensor, t0: int, t1: int) -> torch.Tensor:
        """(t1−t0)×C×K² key tiles of a C×h×w map (undefined outside the map: always masked)."""
        C, h, w = feat.shape
        T, rho, K = self.T, self.rho, self.K
        c0 = t0 * T - rho  # global column of the first key column
        cols = (t1 - t0 - 1) * T + K
        band = feat.new_empty(C, K, cols)
        y0, y1 = max(0, self.r0 - rho), min(h, self.r0 - rho + K)
        x0, x1 = max(0, c0), min(w, c0 + cols)
        ya, yb, xa, xb = y0 - (self.r0 - rho), y1 - (self.r0 - rho), x0 - c0, x1 - c0
        band[:, ya:yb, xa:xb] = feat[:, y0:y1, x0:x1]
        # cells outside the map: zero features (finite scores, then −inf from the bias)
        for part in (band[:, :ya], band[:, yb:], band[:, ya:yb, :xa], band[:, ya:yb, xb:]):
            if part.numel():
                part.zero_()
        tiles = band.unfold(2, K, T)  # C×K×n×K (view)
        return tiles.permute(2, 0, 1, 3).contiguous().view(t1 - t0, C, K * K)

    def query_tiles(self, feat: torch.Tensor) -> torch.Tensor:
        """ntx×T²×C query tiles of the band (undefined past the map: those queries are dropped)."""
        C, h, w = feat.shape
        T = self.T
        q = feat.new_empty(C, T, self.ntx * T)  # padded queries are dropped by to_rows
        q[:, : self.tr, :w] = feat[:, self.r0 : self.r0 + self.tr]
        return q.reshape(C, T, self.ntx, T).permute(2, 1, 3, 0).reshape(self.ntx, T * T, C)

    def to_rows(self, x: torch.Tensor, w: int) -> torch.Tensor:
        """ntx×T²×k (tile order) → (tr·w)×k (row-major order of the band's real queries)."""
        T = self.T
        k = x.shape[-1]
        x = x.reshape(self.ntx, T, T, k).permute(1, 0, 2, 3).reshape(T, self.ntx * T, k)
        return x[: self.tr, :w].reshape(self.tr * w, k)


def _tile_far_bias(T: int, rho: int, radius: float, device) -> torch.Tensor:
    """1×T²×K² float: −inf where the key (tile-local) is at distance ≥ radius from the query, else 0."""
    K = T + 2 * rho
    qy, qx = torch.arange(T, device=device).repeat_interleave(T), torch.arange(T, device=device).repeat(T)
    ky, kx = torch.arange(K, device=device).repeat_interleave(K), torch.arange(K, device=device).repeat(K)
    d2 = (qy[:, None] + rho - ky[None]) ** 2 + (qx[:, None] + rho - kx[None]) ** 2
    far = d2.float() >= float(radius) ** 2
    return torch.zeros(1, T * T, K * K, device=device).masked_fill_(far[None], float("-inf"))


def propagate_labels(
    ctx_feats: Sequence[torch.Tensor],
    ctx_labels: Sequence[torch.Tensor],
    target_feat: torch.Tensor,
    restricted: Sequence[bool],
    params: PropagationParams,
) -> torch.Tensor:
    """Soft labels of one target frame from its context (docs/protocol.md §2.6–2.7).

    ctx_feats: context feature maps (C×h×w each, L2-normalised already when the protocol says so);
    duplicates allowed and kept (they count twice in the top-k, as in the reference).
    ctx_labels: their soft labels (L×h×w each). target_feat: C×h×w. restricted: per context entry,
    whether the locality radius applies. Returns L×h×w (float32, on the target's device).

    Queries are processed in bands of T rows. Unrestricted frames: (band × all keys) score blocks,
    split by the memory budget. Restricted frames: the band is cut into T×T query tiles, each scored
    against only the (T+2ρ)² keys it can reach, all tiles in one batched matmul. Every block is
    reduced to its own top-k at once; the joint top-k is taken over these candidates.
    """
    if not (len(ctx_feats) == len(ctx_labels) == len(restricted)) or not ctx_feats:
        raise ValueError("propagate_labels: ctx_feats, ctx_labels, restricted must be non-empty and equally long")
    C, h, w = target_feat.shape
    HW = h * w
    L = ctx_labels[0].shape[0]
    dev = target_feat.device
    radius = float(params.radius)
    use_radius = radius > 0
    k = params.topk
    budget = params.memory_budget_mb

    # unique (tensor identity, restricted) entries: the same frame referenced twice is scored once
    keys: list[tuple[int, bool]] = []
    entry_key: list[tuple[int, bool]] = []
    for f, lab, r in zip(ctx_feats, ctx_labels, restricted):
        if f.shape != target_feat.shape:
            raise ValueError(f"context features {tuple(f.shape)} differ from target {tuple(target_feat.shape)}")
        if lab.shape != (L, h, w):
            raise ValueError(f"context labels {tuple(lab.shape)}, expected {(L, h, w)}")
        key = (id(f), bool(r) and use_radius)
        entry_key.append(key)
        if key not in keys:
            keys.append(key)
    by_id = {id(f): (f, lab) for f, lab in zip(ctx_feats, ctx_labels)}
    slot = {fid: n for n, fid in enumerate(by_id)}
    # labels are small (L channels): one (U·HW)×L table of the unique context frames, indexed at the end
    lab_table = torch.cat([lab.reshape(L, HW) for _, lab in by_id.values()], dim=1).t()

    any_restricted = any(r for _, r in keys)
    T = _tile_size(h, w, radius, C) if any_restricted else h
    rho = min(_reach(radius), max(h, w) - 1) if any_restricted else 0
    # small maps: a tile's key window would cover (most of) the map → score restricted frames densely
    tiled = any_restricted and (T + 2 * rho) ** 2 < HW // 2
    far_bias = _tile_far_bias(T, rho, radius, dev) if tiled else None
    tgt = target_feat.reshape(C, HW)
    out = torch.empty(L, HW, dtype=torch.float32, device=dev)
    if any_restricted and not tiled:
        yy = torch.arange(h, device=dev).repeat_interleave(w)
        xx = torch.arange(w, device=dev).repeat(h)

    for r0 in range(0, h, T):
        r1 = min(h, r0 + T)
        Q = (r1 - r0) * w
        cand: dict[tuple[int, bool], tuple[torch.Tensor, torch.Tensor]] = {}
        band = _Band(r0, T, rho, h, w, dev) if tiled else None
        qt = band.query_tiles(target_feat) if tiled else None
        step = _groups(Q, HW * 4 * 3, budget)  # queries per dense sub-chunk
        dense_bias: dict[int, torch.Tensor] = {}
        for key in keys:
            fid, restr = key
            feat, _ = by_id[fid]
            if not restr or not tiled:
                kf = feat.reshape(C, HW)
                kk = min(k, HW)
                vs, ids = [], []
                for q0 in range(0, Q, step):
                    a, b = r0 * w + q0, r0 * w + min(Q, q0 + step)
                    s = tgt[:, a:b].t() @ kf
                    if restr:
                        if q0 not in dense_bias:
                            d2 = (yy[a:b, None] - yy[None]) ** 2 + (xx[a:b, None] - xx[None]) ** 2
                            dense_bias[q0] = torch.zeros(b - a, HW, device=dev).masked_fill_(
                                d2.float() >= radius * radius, float("-inf"))
                        s.add_(dense_bias[q0])
                    v, i = s.topk(kk, dim=1)
                    del s
                    vs.append(v)
                    ids.append(i)
                v, i = (vs[0], ids[0]) if len(vs) == 1 else (torch.cat(vs), torch.cat(ids))
            else:
                K2 = band.K**2
                kk = min(k, K2)
                per_tile = (C * K2 + T * T * K2 * 3) * 4
                step = _groups(band.ntx, per_tile, budget)  # tiles per batched matmul
                vs, ids = [], []
                for t0 in range(0, band.ntx, step):
                    t1 = min(band.ntx, t0 + step)
                    s = torch.bmm(qt[t0:t1], band.key_tiles(feat, t0, t1))  # n×T²×K²
                    s.add_(band.bias(far_bias, t0, t1))
                    v, i = s.topk(kk, dim=2)
                    del s
                    vs.append(v)
                    ids.append(torch.gather(band.gidx[t0:t1], 1, i.reshape(t1 - t0, -1)).reshape(i.shape))
                v = band.to_rows(torch.cat(vs) if len(vs) > 1 else vs[0], w)
                i = band.to_rows(torch.cat(ids) if len(ids) > 1 else ids[0], w)
            cand[key] = (v, i + slot[fid] * HW)  # Q×kk values, rows of lab_table
        vals = torch.cat([cand[key][0] for key in entry_key], dim=1)
        rows = torch.cat([cand[key][1] for key in entry_key], dim=1)
        kk = min(k, vals.shape[1])
        v, i = vals.topk(kk, dim=1)
        wts = torch.softmax(v / params.temperature, dim=1)  # masked (-inf) entries get weight 0
        sel = lab_table[torch.gather(rows, 1, i)]  # Q×kk×L
        out[:, r0 * w : r1 * w] = torch.einsum("qk,qkl->lq", wts, sel.to(wts.dtype))
    return out.reshape(L, h, w)


def propagate_labels_naive(
    ctx_feats: Sequence[torch.Tensor],
    ctx_labels: Sequence[torch.Tensor],
    target_feat: torch.Tensor,
    restricted: Sequence[bool],
    params: PropagationParams,
) -> torch.Tensor:
    """Dense reference implementation, as the reference code does it: stack (copy) the context keys,
    one (hw × n·hw) affinity, additive −1e10 locality mask, /τ, top-k, softmax over k. In-place where
    that is free; still O(hw × n·hw) memory. For tests and benchmarks only."""
    C, h, w = target_feat.shape
    HW = h * w
    L = ctx_labels[0].shape[0]
    keys = torch.cat([f.reshape(C, HW) for f in ctx_feats], dim=1)  # C × E·HW (copy)
    labs = torch.cat([lab.reshape(L, HW) for lab in ctx_labels], dim=1)  # L × E·HW
    aff = target_feat.reshape(C, HW).t() @ keys  # HW × E·HW
    del keys
    if params.radius > 0 and any(restricted):
        bias = torch.zeros(HW, HW, device=target_feat.device)
        bias.masked_fill_(~locality_mask(h, w, params.radius, target_feat.device), -1e10)
        for e, r in enumerate(restricted):
            if r:
                aff[:, e * HW : (e + 1) * HW] += bias
        del bias
    aff /= params.temperature
    v, i = aff.topk(min(params.topk, aff.shape[1]), dim=1)
    del aff
    wts = torch.softmax(v, dim=1)
    return (labs[:, i] * wts[None]).sum(-1).reshape(L, h, w)


class LabelPropagator:
    """Recurrent propagation over a stream of frames (docs/protocol.md §2.5–2.7).

    ``start(feat0, labels0)`` sets frame 0 (its labels are ground truth); each ``step(feat)`` returns the
    soft labels of the next frame, which are stored (not hardened) and feed later frames. Only the
    long-term frames and the last ``n_context`` frames are kept, so memory does not grow with the video.
    """

    def __init__(self, params: PropagationParams):
        self.params = params
        self.t = -1
        self._feats: dict[int, torch.Tensor] = {}
        self._labels: dict[int, torch.Tensor] = {}

    def _prep(self, feat: torch.Tensor) -> torch.Tensor:
        feat = feat.float()
        if self.params.l2_normalize:
            feat = F.normalize(feat, dim=0)
        return feat

    def start(self, feat0: torch.Tensor, labels0: torch.Tensor) -> torch.Tensor:
        """Frame 0: features C×h×w and soft labels L×h×w (already at the feature resolution)."""
        if labels0.shape[-2:] != feat0.shape[-2:]:
            raise ValueError(f"labels {tuple(labels0.shape)} do not match the feature map {tuple(feat0.shape)}")
        self.t = 0
        self._feats = {0: self._prep(feat0)}
        self._labels = {0: labels0.to(device=feat0.device, dtype=torch.float32)}
        return self._labels[0]

    def step(self, feat: torch.Tensor) -> torch.Tensor:
        """Propagate to the next frame; returns its soft labels L×h×w."""
        if self.t < 0:
            raise RuntimeError("LabelPropagator.step() before start()")
        t = self.t + 1
        feat = self._prep(feat)
        ctx = context_frames(t, self.params.n_context, self.params.long_mem)
        pred = propagate_labels(
            [self._feats[i] for i, _ in ctx],
            [self._labels[i] for i, _ in ctx],
            feat,
            [r for _, r in ctx],
            self.params,
        )
        self.t = t
        self._feats[t] = feat
        self._labels[t] = pred
        keep = {m for m in self.params.long_mem} | {0} | set(range(t - self.params.n_context + 1, t + 1))
        for i in [i for i in self._feats if i not in keep]:
            del self._feats[i], self._labels[i]
        return pred


def resize_labels(labels: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """Bilinear resize (OpenCV INTER_LINEAR, no anti-aliasing) of an H×W×L float map to size_hw (docs/protocol.md §2.3)."""
    h, w = size_hw
    lab = np.ascontiguousarray(labels, dtype=np.float32)
    if lab.ndim == 2:
        return cv2.resize(lab, (w, h), interpolation=cv2.INTER_LINEAR)
    out = np.empty((h, w, lab.shape[2]), dtype=np.float32)
    for c0 in range(0, lab.shape[2], 128):  # OpenCV converts at most ~128 channels per array
        part = cv2.resize(np.ascontiguousarray(lab[:, :, c0 : c0 + 128]), (w, h), interpolation=cv2.INTER_LINEAR)
        out[:, :, c0 : c0 + 128] = part.reshape(h, w, -1)
    return out
