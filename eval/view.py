"""What a visualisation draws, independent of any task: the objects of one frame and a sequence of frames.

Each task's ``viz_loader`` (declared by its :class:`~unitrack.tasks.TaskSpec`) reads predictions and
ground truth in its benchmark's format and returns :class:`SequenceView` objects; ``unitrack.app.viz``
draws them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from unitrack.utils import UnitrackError


@dataclass
class Objects:
    """The objects of one frame (prediction or ground truth), in image pixels.

    ``labels`` is an H×W label map (or a zero-argument function returning one, read lazily):
    value 0 is background; value v is object ``label_ids[v-1]``, or object id v itself when
    ``label_ids`` is None (DAVIS). ``rles`` (COCO RLE per object) allow mask IoU without decoding.
    ``ignore_boxes`` / ``ignore_rles`` are regions whose false positives the metric does not count
    (MOT17 distractors, MOTS class-10 regions).
    """

    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    boxes: np.ndarray | None = None  # N×4 x, y, w, h
    labels: np.ndarray | Callable[[], np.ndarray] | None = None
    label_ids: np.ndarray | None = None
    kpts: np.ndarray | None = None  # N×K×3 x, y, visibility/score
    rles: list | None = None
    ignore_boxes: np.ndarray | None = None
    ignore_rles: list | None = None
    ignore_polys: list | None = None  # PoseTrack ignore regions (polygons, N×2 x,y)

    def __len__(self) -> int:
        return len(self.ids)

    def label_map(self) -> np.ndarray | None:
        if callable(self.labels):
            self.labels = self.labels()
        return self.labels

    def object_boxes(self) -> np.ndarray:
        """N×4 boxes: the given ones, else from the keypoints' extent (visible joints)."""
        if self.boxes is not None:
            return self.boxes
        if self.kpts is not None and len(self.kpts):
            return kpts_to_boxes(self.kpts)
        return np.zeros((len(self.ids), 4))

    def scaled(self, s: float, out_hw: tuple[int, int]) -> Objects:
        """Coordinates × s and the label map resized (nearest) to ``out_hw``."""
        if s == 1.0:
            return self
        lab = self.label_map()
        if lab is not None:
            lab = cv2.resize(lab, (out_hw[1], out_hw[0]), interpolation=cv2.INTER_NEAREST)
        kp = None
        if self.kpts is not None:
            kp = self.kpts.astype(np.float64, copy=True)
            kp[..., :2] *= s
        return replace(self, boxes=None if self.boxes is None else self.boxes * s, labels=lab, kpts=kp,
                       ignore_boxes=None if self.ignore_boxes is None else self.ignore_boxes * s)


def kpts_to_boxes(kpts: np.ndarray) -> np.ndarray:
    """N×K×3 keypoints → N×4 x,y,w,h boxes around the visible ones (zeros when none is visible)."""
    kpts = np.asarray(kpts, np.float64)
    vis = kpts[..., 2] > 0
    big = np.where(vis, kpts[..., 0], np.inf), np.where(vis, kpts[..., 1], np.inf)
    small = np.where(vis, kpts[..., 0], -np.inf), np.where(vis, kpts[..., 1], -np.inf)
    x0, y0 = big[0].min(1), big[1].min(1)
    x1, y1 = small[0].max(1), small[1].max(1)
    out = np.stack([x0, y0, x1 - x0, y1 - y0], 1)
    out[~vis.any(1)] = 0
    return out


COLOURS = ("ids", "palette", "pred_gt")


@dataclass
class SequenceView:
    """A sequence ready to draw: frame images, predictions and (optional) ground truth per frame.

    How it is drawn comes with it (the loader knows its task): ``colours`` = ``ids`` (a stable colour
    per track id), ``palette`` (the DAVIS palette colour of the object id) or ``pred_gt`` (one object:
    prediction red, ground truth green); ``tags`` = id tags next to the objects; ``limbs`` = skeleton
    edges (0-based joint pairs) by number of joints per skeleton; ``gt_mode`` = how ground truth is
    shown when the user does not say (``none`` | ``overlay`` | ``side``).
    """

    name: str
    frames: list[Path]
    pred: list[Objects]
    gt: list[Objects | None]
    fps: float = 15.0
    colours: str = "ids"
    tags: bool = True
    limbs: Mapping[int, Sequence[tuple[int, int]]] = field(default_factory=dict)
    gt_mode: str = "none"

    def __post_init__(self) -> None:
        if self.colours not in COLOURS:
            raise ValueError(f"SequenceView.colours must be one of {COLOURS}, got {self.colours!r}")


# ---------------------------------------------------------------------------------------------------
# small helpers the loaders share
# ---------------------------------------------------------------------------------------------------


def one_based(boxes: np.ndarray) -> np.ndarray:
    """1-based x,y (OTB, MOTChallenge: the top-left pixel is (1, 1)) → 0-based pixel coordinates."""
    b = np.array(boxes, np.float64, copy=True).reshape(-1, boxes.shape[-1] if boxes.ndim > 1 else 4)
    b[:, :2] -= 1.0
    return b


def prediction_names(pred_dir: Path, ext: str) -> list[str]:
    """Sequence names of the prediction files ``<name><ext>`` anywhere under ``pred_dir``, sorted."""
    return sorted({p.stem for p in Path(pred_dir).rglob(f"*{ext}") if not p.name.startswith(".")})


def find_prediction(pred_dir: Path, name: str, ext: str) -> Path:
    """``pred_dir/<name><ext>``, else the first such file below it; an error naming both when there is none."""
    pred_dir = Path(pred_dir)
    p = pred_dir / f"{name}{ext}"
    if p.exists():
        return p
    hits = sorted(pred_dir.rglob(f"{name}{ext}"))
    if not hits:
        raise UnitrackError(f"no prediction file {name}{ext} under {pred_dir}")
    return hits[0]


