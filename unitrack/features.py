"""Frames → stride-8 feature maps: batching, device, mixed precision, optional on-disk cache.

Preprocessing is the published protocol's (docs/protocol.md §1.6): OpenCV reads BGR uint8, → RGB, /255, then
``(x − mean) / std`` with the backbone's statistics. Features come back as float32 on
``self.device``. With ``cache_dir`` set, :meth:`FeatureExtractor.from_files` stores one file per frame
keyed by (backbone fingerprint incl. weights sha256 and layer, frame path + mtime + size, input size,
precision), so re-running a head with other parameters skips the backbone. :func:`frame_features`
iterates one sequence's frames at full resolution (the MOTS and PoseTrack heads).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from unitrack.utils import UnitrackError, prefetch, resolve_device, sha256_json

log = logging.getLogger("unitrack.features")

CACHE_VERSION = 1


def read_rgb(path: str | Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """Read a frame with OpenCV as RGB uint8 ``H×W×3``; optional resize to ``size = (W, H)`` (bilinear)."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise UnitrackError(f"cannot read image {path} (missing or not an image OpenCV can decode)")
    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    if size is not None:
        w, h = int(size[0]), int(size[1])
        if (img.shape[1], img.shape[0]) != (w, h):
            img = cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)
    return img


def image_hw(path: str | Path) -> tuple[int, int]:
    """(height, width) of an image file from its header (no decoding)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return int(im.height), int(im.width)
    except (OSError, ValueError) as e:
        raise UnitrackError(f"cannot read image {path} ({e})") from None


class FeatureExtractor:
    """Run a frozen :class:`~unitrack.backbones.Backbone` over frames in batches under ``inference_mode``.

    ``amp``: mixed precision on CUDA (``True``/``"fp16"`` → float16, ``"bf16"`` → bfloat16); ignored on
    the CPU. ``channels_last``: None → on for ResNets (oneDNN's channels-last convolutions are about 1.3× faster
    on the CPU at the SOT and MOT input sizes, and faster on CUDA; features agree with the default layout to
    ~2e-6 relative). ``cache_dir``: on-disk feature cache for :meth:`from_files` and :meth:`cached`.
    """

    #: On the CPU a forward pass takes at most this many input pixels (whole frames, at least one). Measured
    #: for a channels-last ResNet-18 on a 2-core CPU, per frame: 480p 0.106 s alone vs 0.121 s in pairs
    #: (0.142 s in fours); SOT's 520² crops 0.076 s alone vs 0.082 s in threes; tiny frames (160²) still
    #: gain from batches. ``batch_size`` applies on CUDA.
    cpu_pixels_per_forward = 500_000

    def __init__(self, backbone: torch.nn.Module, device: str | torch.device = "auto", amp: bool | str = False,
                 batch_size: int = 8, channels_last: bool | None = None,
                 cache_dir: str | Path | None = None) -> None:
        if batch_size < 1:
            raise UnitrackError(f"batch_size must be ≥ 1, got {batch_size}")
        self.device = torch.device(resolve_device(str(device)) if not isinstance(device, torch.device) else device)
        self.backbone = backbone.to(self.device).eval()
        spec = getattr(backbone, "spec", None)
        self.mean = tuple(spec.mean) if spec is not None else (0.485, 0.456, 0.406)
        self.std = tuple(spec.std) if spec is not None else (0.229, 0.224, 0.225)
        self.batch_size = int(batch_size)
        self.amp_dtype = self._amp_dtype(amp)
        family = getattr(spec, "family", "")
        if channels_last is None:
            channels_last = family == "resnet"
        self.channels_last = bool(channels_last)
        if self.channels_last:
            self.backbone = self.backbone.to(memory_format=torch.channels_last)
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else None
        self.cache_hits = 0
        self.cache_misses = 0
        self._mean_t = torch.tensor(self.mean, dtype=torch.float32).view(1, 3, 1, 1)
        self._std_t = torch.tensor(self.std, dtype=torch.float32).view(1, 3, 1, 1)

    def _amp_dtype(self, amp: bool | str) -> torch.dtype | None:
        if not amp:
            return None
        if self.device.type != "cuda":
            log.info("mixed precision requested on %s: ignored (CUDA only), running float32", self.device)
            return None
        a = str(amp).lower()
        if a in ("bf16", "bfloat16"):
            return torch.bfloat16
        if a in ("true", "1", "fp16", "float16", "half"):
            return torch.float16
        raise UnitrackError(f"amp must be False, True, 'fp16' or 'bf16'; got {amp!r}")

    # -- identity ---------------------------------------------------------------------------------
    def fingerprint(self) -> dict[str, Any]:
        """Extraction settings that can change features (precision), for result fingerprints."""
        return {
            "precision": "fp32" if self.amp_dtype is None else str(self.amp_dtype).replace("torch.", ""),
            "device_type": self.device.type,
            "channels_last": self.channels_last,
        }

    # -- preprocessing ----------------------------------------------------------------------------
    def normalize(self, frames: Any) -> torch.Tensor:
        """RGB uint8 frame(s) (``H×W×3``, ``N×H×W×3`` or a list of equal-size frames) → float ``N×3×H×W``."""
        if isinstance(frames, torch.Tensor):
            arr = frames
        else:
            if isinstance(frames, np.ndarray):
                arr_np = frames
            else:
                frames = list(frames)
                if not frames:
                    raise UnitrackError("no frames given")
                shapes = {tuple(np.shape(f)) for f in frames}
                if len(shapes) != 1:
                    raise UnitrackError(f"frames of different sizes cannot be batched: {sorted(shapes)}")
                arr_np = np.stack([np.asarray(f) for f in frames])
            arr = torch.from_numpy(np.ascontiguousarray(arr_np))
        if arr.dim() == 3:
            arr = arr.unsqueeze(0)
        if arr.dim() != 4 or arr.shape[-1] != 3:
            raise UnitrackError(f"expected RGB frames H×W×3 or N×H×W×3, got shape {tuple(arr.shape)}")
        x = arr.permute(0, 3, 1, 2).to(torch.float32)
        if arr.dtype == torch.uint8:
            x = x / 255.0
        return (x - self._mean_t.to(x.device)) / self._std_t.to(x.device)

    # -- extraction -------------------------------------------------------------------------------
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised ``N×3×H×W`` (or ``N×3×T×H×W``) → float32 features on ``self.device``."""
        if x.dim() == 5:  # N×3×T×H×W: fold time into the batch (reference From3D)
            n, c, t, h, w = x.shape
            y = self(x.permute(0, 2, 1, 3, 4).reshape(n * t, c, h, w))
            return y.view(n, t, *y.shape[1:]).permute(0, 2, 1, 3, 4)
        if x.dim() != 4 or x.shape[1] != 3:
            raise UnitrackError(f"expected a normalised N×3×H×W batch, got shape {tuple(x.shape)}")
        outs = []
        step = self.batch_size
        if self.device.type == "cpu":  # big CPU batches spill the caches: cap the pixels per forward
            step = max(1, min(step, self.cpu_pixels_per_forward // max(1, x.shape[-2] * x.shape[-1])))
        with torch.inference_mode():
            for i in range(0, x.shape[0], step):
                b = x[i:i + step].to(self.device, dtype=torch.float32, non_blocking=True)
                if self.channels_last:
                    b = b.contiguous(memory_format=torch.channels_last)
                if self.amp_dtype is not None:
                    with torch.autocast(device_type=self.device.type, dtype=self.amp_dtype):
                        y = self.backbone(b)
                else:
                    y = self.backbone(b)
                if not bool(torch.isfinite(y).all()):
                    raise UnitrackError(
                        f"backbone {getattr(getattr(self.backbone, 'spec', None), 'name', '?')!r} produced NaN or "
                        f"infinite features for frames {i}..{i + b.shape[0] - 1} of this batch"
                        + (" under mixed precision (try without --amp)" if self.amp_dtype is not None else ""))
                outs.append(y.float().contiguous())
        if not outs:
            raise UnitrackError("no frames given")
        return outs[0] if len(outs) == 1 else torch.cat(outs)

    def extract(self, frames: Any) -> torch.Tensor:
        """RGB uint8 frames → features (``normalize`` then ``__call__``)."""
        return self(self.normalize(frames))

    # -- files + cache ----------------------------------------------------------------------------
    def _backbone_key(self) -> str:
        fp = self.backbone.fingerprint() if hasattr(self.backbone, "fingerprint") else {"module": repr(self.backbone)}
        return sha256_json({"v": CACHE_VERSION, "backbone": fp, "precision": self.fingerprint()["precision"],
                            "channels_last": self.channels_last})[:24]

    @staticmethod
    def _prep_key(size: tuple[int, int] | None, letterbox: tuple[int, int] | None = None) -> dict[str, Any]:
        key: dict[str, Any] = {"size": list(size) if size else None}
        if letterbox is not None:
            key["letterbox"] = [int(v) for v in letterbox]
        return key

    def _frame_key(self, path: Path, prep: dict[str, Any]) -> str:
        st = path.stat()
        return sha256_json({"path": str(path.resolve()), "mtime_ns": st.st_mtime_ns, "bytes": st.st_size,
                            **prep})[:32]

    def cache_path(self, path: str | Path, size: tuple[int, int] | None = None,
                   letterbox: tuple[int, int] | None = None, prep: dict[str, Any] | None = None) -> Path:
        """Where the cached features of one frame live (requires ``cache_dir``); ``prep`` names a
        preprocessing of :meth:`cached` (else the ``size``/``letterbox`` of :meth:`from_files`)."""
        if self.cache_dir is None:
            raise UnitrackError("feature cache is off (no cache_dir)")
        p = Path(path)
        key = prep if prep is not None else self._prep_key(size, letterbox)
        return self.cache_dir / self._backbone_key() / f"{self._frame_key(p, key)}.pt"

    def from_files(self, paths: Sequence[str | Path], size: tuple[int, int] | None = None,
                   letterbox: tuple[int, int] | None = None) -> torch.Tensor:
        """Read frames (OpenCV, BGR→RGB), optionally resize to ``size=(W, H)`` or letterbox them onto a
        ``letterbox=(W, H)`` canvas (aspect kept, grey padding: the MOT input, docs/protocol.md §4.1.1),
        return ``N×C×h×w`` features (through the feature cache when ``cache_dir`` is set)."""
        if size is not None and letterbox is not None:
            raise UnitrackError("from_files: give size or letterbox, not both")
        if letterbox is not None:
            from unitrack.association.objfeat import letterbox as _letterbox

            def read(p: Path) -> np.ndarray:
                return _letterbox(read_rgb(p), (int(letterbox[0]), int(letterbox[1])))[0]
        else:
            def read(p: Path) -> np.ndarray:
                return read_rgb(p, size)

        def load(chunk: list[Path]) -> torch.Tensor:
            rgbs = [read(p) for p in chunk]
            shapes = {f.shape for f in rgbs}
            if len(shapes) != 1:
                raise UnitrackError(f"frames of different sizes cannot be batched ({chunk[0]} …): {sorted(shapes)}; "
                                    "pass size=(W, H)")
            return self.normalize(rgbs)

        return self.cached(paths, self._prep_key(size, letterbox), load)

    def cached(self, paths: Sequence[str | Path], prep: dict[str, Any],
               load: Callable[[list[Path]], torch.Tensor]) -> torch.Tensor:
        """``N×C×h×w`` features of frame files through the feature cache (when ``cache_dir`` is set).

        ``load(chunk)`` turns up to ``batch_size`` files into a normalised ``n×3×H×W`` batch (a head's own
        preprocessing); ``prep`` is a JSON-able description of everything in ``load`` that changes the
        input (sizes, statistics, resize order): it is part of each frame's cache key.
        """
        paths = [Path(p) for p in paths]
        if not paths:
            raise UnitrackError("no frame files given")
        for p in paths:
            if not p.is_file():
                raise UnitrackError(f"frame file not found: {p}")
        if self.cache_dir is None:
            return self._compute(paths, load)
        cpaths = [self.cache_path(p, prep=prep) for p in paths]
        feats: list[torch.Tensor | None] = [None] * len(paths)
        todo = []
        for i, cp in enumerate(cpaths):
            if cp.is_file():
                try:
                    f = torch.load(cp, map_location="cpu", weights_only=True)
                except Exception as e:  # noqa: BLE001 - a corrupt cache entry is recomputed
                    log.warning("ignoring unreadable cache entry %s (%s)", cp, e)
                else:
                    if not isinstance(f, torch.Tensor) or not bool(torch.isfinite(f).all()):
                        raise UnitrackError(f"feature cache entry {cp} (frame {paths[i]}) holds NaN or infinite "
                                            "values or is not a tensor: delete it (or the cache folder "
                                            f"{self.cache_dir}) to recompute")
                    feats[i] = f
                    self.cache_hits += 1
                    continue
            todo.append(i)
        self.cache_misses += len(todo)
        if todo:
            new = self._compute([paths[i] for i in todo], load)
            for j, i in enumerate(todo):
                f = new[j].detach().to("cpu").clone()
                self._write_cache(cpaths[i], f)
                feats[i] = f
        shapes = {tuple(f.shape) for f in feats}  # type: ignore[union-attr]
        if len(shapes) != 1:
            raise UnitrackError(f"frames of different sizes cannot be batched: feature shapes {sorted(shapes)}")
        return torch.stack(feats).to(self.device)  # type: ignore[arg-type]

    def _compute(self, paths: list[Path], load: Callable[[list[Path]], torch.Tensor]) -> torch.Tensor:
        outs = [self(load(paths[i:i + self.batch_size])) for i in range(0, len(paths), self.batch_size)]
        if len({tuple(o.shape[1:]) for o in outs}) != 1:
            raise UnitrackError(f"frames of different sizes cannot be batched ({paths[0]} …); pass size=(W, H)")
        return outs[0] if len(outs) == 1 else torch.cat(outs)

    @staticmethod
    def _write_cache(dst: Path, t: torch.Tensor) -> None:
        dst.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent)
        os.close(fd)
        try:
            torch.save(t, tmp)
            os.replace(tmp, dst)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def frame_features(extractor, paths: list[Path], batch_size: int) -> Iterator[tuple[tuple[int, int], Any]]:
    """Yield ((H, W) of the frame, its C×h×w feature map on the extractor's device), frames batched.

    Full resolution (docs/protocol.md §1.6: no resize for MOTS / PoseTrack). Decoding of the next batch overlaps with
    the backbone on the current one; with a feature cache (``common.feature_cache``) cached frames
    skip the backbone.
    """
    bs = max(1, int(batch_size))
    chunks = [paths[i:i + bs] for i in range(0, len(paths), bs)]
    if getattr(extractor, "cache_dir", None) is not None:
        for chunk in chunks:
            sizes = [image_hw(p) for p in chunk]
            feats = extractor.from_files(chunk)
            for k, hw in enumerate(sizes):
                yield hw, feats[k]
        return

    def load(chunk: list[Path]):
        rgbs = [read_rgb(p) for p in chunk]
        shapes = {r.shape for r in rgbs}
        if len(shapes) > 1:
            raise UnitrackError(f"{chunk[0].parent}: frames of one sequence differ in size ({sorted(shapes)})")
        return [r.shape[:2] for r in rgbs], extractor.normalize(rgbs)

    for sizes, x in prefetch(chunks, load, depth=2):
        feats = extractor(x)
        for k, hw in enumerate(sizes):
            yield hw, feats[k]
