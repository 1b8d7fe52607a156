"""DAVIS reader, indexed-PNG writer and J&F exactly as the official semi-supervised evaluation.

Layouts: DAVIS-2017 (``JPEGImages/<res>/<seq>/00000.jpg``, ``Annotations/<res>/<seq>/00000.png``
palette PNGs, ``ImageSets/<year>/<split>.txt`` with one sequence per line) and DAVIS-2016
(``ImageSets/<res>/<split>.txt`` with ``/JPEGImages/... /Annotations/...`` frame lines, binary masks).
Object ids are the palette indices of the annotation (never colours); non-contiguous ids are kept.

J&F follows ``davis2017-evaluation`` (semi-supervised): first and last annotated frames excluded;
objects of a sequence are 1..max(id in the first annotation) (absent ids in between are evaluated as
objects that never appear); J = IoU (1 when both masks are empty); F = boundary F-measure of
``_seg2bmap`` boundaries matched within ceil(0.008·image diagonal) px (disk dilation); per object
mean / recall (fraction > 0.5) / decay (mean of the first minus the last of 4 overlapping
``linspace`` bins); dataset figures = means over all objects of all sequences,
J&F-Mean = (J-Mean + F-Mean) / 2. Void (255) in the ground truth is background, as upstream.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

from unitrack.eval.base import Metric, MetricSpec, Sequence
from unitrack.eval.formats import PALETTE_FLAT, list_frames, mask_palette, read_mask, write_mask  # noqa: F401
from unitrack.utils import UnitrackError, progress

log = logging.getLogger("unitrack")

VOID = 255
BOUND_TH = 0.008


# ----------------------------------------------------------------------------------------------
# palette, annotation I/O (unitrack.eval.formats.davis_png; names re-exported here)
# ----------------------------------------------------------------------------------------------
def davis_palette() -> list[int]:
    """The DAVIS / PASCAL-VOC colour map as a flat RGB list (256 entries, PIL's ``putpalette`` form)."""
    return list(PALETTE_FLAT)


def read_frame(path: str | Path) -> np.ndarray:
    """RGB uint8 H×W×3 (decoded with OpenCV like the reference)."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise UnitrackError(f"{path}: cannot read image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _image_size(path: Path) -> tuple[int, int]:
    """(H, W) from the file header."""
    return _image_header(path)[:2]


def _image_header(path: Path) -> tuple[int, int, str]:
    """(H, W, PIL mode) from the file header."""
    try:
        with Image.open(path) as im:
            w, h = im.size
            mode = im.mode
    except OSError as e:
        raise UnitrackError(f"{path}: cannot read image ({e})") from None
    return h, w, mode


_COLOUR_MODES = ("RGB", "RGBA", "LA", "CMYK", "YCbCr", "HSV")


# ----------------------------------------------------------------------------------------------
# dataset
# ----------------------------------------------------------------------------------------------
@dataclass(init=False)
class DavisSequence(Sequence):
    """One DAVIS video: frames, per-frame annotation paths (None where not annotated), size.

    The constructor keeps its order ``(name, frames, annotations, size, binarize, palette)``, which a
    generated dataclass ``__init__`` cannot (the base's fields come first), hence the explicit one.
    """

    name: str
    frames: list[Path]
    size: tuple[int, int]  # (H, W)
    annotations: list[Path | None]
    binarize: bool = False  # DAVIS-2016 semantics: every non-zero pixel is object 1
    palette: list[int] | None = field(default=None, repr=False)

    def __init__(self, name: str, frames: list[Path], annotations: list[Path | None], size: tuple[int, int],
                 binarize: bool = False, palette: list[int] | None = None) -> None:
        super().__init__(name=name, frames=frames, size=size)
        self.annotations, self.binarize, self.palette = annotations, binarize, palette

    def validate(self) -> None:
        """Every frame and annotation has the size of the first frame and every annotation is an indexed
        (palette or grey) PNG (both read from the file headers); the first annotation is not all void."""
        size, frames = self.size, self.frames
        for p in frames[1:]:
            s = _image_size(p)
            if s != size:
                raise UnitrackError(f"{p}: frame is {s[1]}x{s[0]}, first frame {frames[0].name} is {size[1]}x{size[0]}")
        for p in self.annotations:
            if p is not None:
                h, w, mode = _image_header(p)
                if (h, w) != size:
                    raise UnitrackError(f"{p}: annotation is {w}x{h}, frames are {size[1]}x{size[0]}")
                if mode in _COLOUR_MODES:
                    read_mask(p)  # its error says how to convert colour masks
        first = self.read_annotation(0)
        if first.size and (first == VOID).all():
            raise UnitrackError(f"{self.annotations[0]}: the first-frame annotation is all void ({VOID}); it must "
                                f"hold the objects to track (palette indices 1, 2, …) on background 0")

    @property
    def frame_names(self) -> list[str]:
        return [p.stem for p in self.frames]

    @property
    def fully_annotated(self) -> bool:
        return all(a is not None for a in self.annotations)

    def read_frame(self, i: int) -> np.ndarray:
        return read_frame(self.frames[i])

    def read_annotation(self, i: int) -> np.ndarray:
        p = self.annotations[i]
        if p is None:
            raise UnitrackError(f"sequence {self.name}: frame {self.frames[i].name} has no annotation")
        m = read_mask(p, self.binarize)
        if m.shape != self.size:
            raise UnitrackError(f"{p}: mask is {m.shape[1]}x{m.shape[0]}, frames are {self.size[1]}x{self.size[0]}")
        return m

    def object_ids(self) -> list[int]:
        """Ids present in the first-frame annotation (void 255 excluded), sorted."""
        m = self.read_annotation(0)
        return [int(v) for v in np.unique(m) if v not in (0, VOID)]


def split_file_candidates(root: Path, split: str, year: str, resolution: str) -> list[Path]:
    return [root / "ImageSets" / str(year) / f"{split}.txt", root / "ImageSets" / resolution / f"{split}.txt"]


def read_split(path: Path) -> list[str]:
    """Sequence names from a DAVIS ImageSets file (2017: a name per line; 2016: frame-path pairs)."""
    names: list[str] = []
    seen = set()
    for ln, line in enumerate(path.read_text().splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        tok = s.split()
        if len(tok) == 1 and "/" not in tok[0]:
            name = tok[0]
        elif "/" in tok[0]:
            parts = [p for p in re.split(r"[\\/]", tok[0]) if p]
            if len(parts) < 2:
                raise UnitrackError(f"{path}:{ln}: cannot find a sequence name in {s!r}")
            name = parts[-2]
        else:
            raise UnitrackError(
                f"{path}:{ln}: expected a sequence name (DAVIS-2017) or '/JPEGImages/<res>/<seq>/<frame>.jpg "
                f"/Annotations/<res>/<seq>/<frame>.png' (DAVIS-2016), got {s!r}"
            )
        if name not in seen:
            seen.add(name)
            names.append(name)
    if not names:
        raise UnitrackError(f"{path}: split file lists no sequences")
    return names


def read_davis(
    root: str | Path,
    split: str = "val",
    year: str = "2017",
    resolution: str = "480p",
    sequences: Iterable[str] | None = None,
    binarize: bool | None = None,
) -> list[DavisSequence]:
    """Read and validate a DAVIS root; returns the sequences of the split (or ``sequences``) in order.

    Errors (UnitrackError, naming the file): missing folders or split file, a sequence without frames,
    a missing first-frame annotation, annotations without a frame, sizes that disagree.
    Partially annotated sequences (only the first frame, as in test-dev) can be run but not scored.
    """
    root = Path(root)
    img_dir = root / "JPEGImages" / resolution
    ann_dir = root / "Annotations" / resolution
    for d, what in ((img_dir, "frames"), (ann_dir, "annotations")):
        if not d.is_dir():
            raise UnitrackError(f"{root}: no {what} folder {d.relative_to(root)} (expected the DAVIS layout "
                                f"JPEGImages/{resolution}/<seq>, Annotations/{resolution}/<seq>)")
    if binarize is None:
        binarize = str(year) == "2016"
    if sequences is None:
        cands = split_file_candidates(root, split, year, resolution)
        split_path = next((c for c in cands if c.is_file()), None)
        if split_path is None:
            raise UnitrackError(f"{root}: no split file; expected {cands[0]} (DAVIS-2017) or {cands[1]} "
                                "(DAVIS-2016); set vos.split / vos.year")
        names = read_split(split_path)
    else:
        names = list(sequences)
    out = []
    for name in names:
        out.append(_read_sequence(root, img_dir, ann_dir, name, binarize))
    return out


def _read_sequence(root: Path, img_dir: Path, ann_dir: Path, name: str, binarize: bool) -> DavisSequence:
    fdir, adir = img_dir / name, ann_dir / name
    if not fdir.is_dir():
        raise UnitrackError(f"sequence {name}: frame folder {fdir} does not exist")
    frames = list_frames(fdir, numbered=False)
    anns = {p.stem: p for p in adir.glob("*.png")} if adir.is_dir() else {}
    stems = [p.stem for p in frames]
    if stems[0] not in anns:
        raise UnitrackError(f"sequence {name}: missing first-frame annotation {adir / (stems[0] + '.png')}")
    orphans = sorted(set(anns) - set(stems))
    if orphans:
        raise UnitrackError(f"sequence {name}: {len(orphans)} annotation(s) without a frame, e.g. "
                            f"{adir / (orphans[0] + '.png')} (frames: {len(frames)} in {fdir})")
    annotations = [anns.get(s) for s in stems]
    n_ann = sum(a is not None for a in annotations)
    seq = DavisSequence(name=name, frames=frames, annotations=annotations, size=_image_size(frames[0]),
                        binarize=binarize)
    seq.validate()
    if n_ann < len(frames):
        missing = [s for s, a in zip(stems, annotations) if a is None]
        what = ("only the first frame is annotated (test-dev style)" if n_ann == 1 else
                f"{n_ann} of {len(frames)} frames annotated (missing e.g. {adir / (missing[0] + '.png')})")
        seq.skip(f"sequence {name}", f"{what}; it can be run but not scored")
    seq.palette = mask_palette(annotations[0])
    return seq


# ----------------------------------------------------------------------------------------------
# measures (davis2017-evaluation semantics)
# ----------------------------------------------------------------------------------------------
def db_eval_iou(annotation: np.ndarray, segmentation: np.ndarray) -> np.ndarray | float:
    """Region similarity J (IoU) of binary masks, over the last two axes; 1 where both are empty."""
    a = np.asarray(annotation).astype(bool)
    s = np.asarray(segmentation).astype(bool)
    if a.shape != s.shape:
        raise ValueError(f"annotation {a.shape} and segmentation {s.shape} differ in shape")
    inter = np.sum(a & s, axis=(-2, -1))
    union = np.sum(a | s, axis=(-2, -1))
    with np.errstate(divide="ignore", invalid="ignore"):
        j = inter / union
    if np.ndim(j) == 0:
        return 1.0 if union == 0 else float(j)
    j[union == 0] = 1.0
    return j


def seg2bmap(seg: np.ndarray) -> np.ndarray:
    """One-pixel-wide boundary map of a binary mask (Martin et al.; offset ½ px towards the origin)."""
    seg = np.asarray(seg).astype(bool)
    e = np.zeros_like(seg)
    s = np.zeros_like(seg)
    se = np.zeros_like(seg)
    e[:, :-1] = seg[:, 1:]
    s[:-1, :] = seg[1:, :]
    se[:-1, :-1] = seg[1:, 1:]
    b = (seg ^ e) | (seg ^ s) | (seg ^ se)
    b[-1, :] = seg[-1, :] ^ e[-1, :]
    b[:, -1] = seg[:, -1] ^ s[:, -1]
    b[-1, -1] = False
    return b


def disk(radius: float) -> np.ndarray:
    """Disk structuring element, identical to ``skimage.morphology.disk``: x² + y² <= r²."""
    ax = np.arange(-radius, radius + 1)
    return ((ax[None, :] ** 2 + ax[:, None] ** 2) <= radius**2).astype(np.uint8)


def boundary_tolerance(shape: tuple[int, int], bound_th: float = BOUND_TH) -> float:
    """Matching distance in pixels: bound_th itself if >= 1, else ceil(bound_th · image diagonal)."""
    return float(bound_th) if bound_th >= 1 else float(np.ceil(bound_th * np.linalg.norm(shape)))


def f_measure(foreground_mask: np.ndarray, gt_mask: np.ndarray, bound_th: float = BOUND_TH) -> float:
    """Boundary F-measure of a predicted (foreground) mask against a ground-truth mask."""
    bound_pix = boundary_tolerance(foreground_mask.shape, bound_th)
    fg_b = seg2bmap(foreground_mask)
    gt_b = seg2bmap(gt_mask)
    kernel = disk(bound_pix)
    fg_dil = cv2.dilate(fg_b.astype(np.uint8), kernel)
    gt_dil = cv2.dilate(gt_b.astype(np.uint8), kernel)
    n_fg = int(fg_b.sum())
    n_gt = int(gt_b.sum())
    if n_fg == 0 and n_gt > 0:
        precision, recall = 1.0, 0.0
    elif n_fg > 0 and n_gt == 0:
        precision, recall = 0.0, 1.0
    elif n_fg == 0 and n_gt == 0:
        precision, recall = 1.0, 1.0
    else:
        precision = float(np.sum(fg_b & (gt_dil > 0))) / n_fg
        recall = float(np.sum(gt_b & (fg_dil > 0))) / n_gt
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def db_eval_boundary(annotation: np.ndarray, segmentation: np.ndarray, bound_th: float = BOUND_TH) -> np.ndarray:
    """Per-frame F of N×H×W binary stacks (or one float for H×W)."""
    if annotation.shape != segmentation.shape:
        raise ValueError(f"annotation {annotation.shape} and segmentation {segmentation.shape} differ in shape")
    if annotation.ndim == 2:
        return np.float64(f_measure(segmentation, annotation, bound_th))
    return np.array([f_measure(segmentation[i], annotation[i], bound_th) for i in range(annotation.shape[0])])


def db_statistics(per_frame_values: np.ndarray) -> tuple[float, float, float]:
    """Mean, recall (fraction > 0.5) and decay of per-frame values, as davis2017-evaluation.

    Decay = mean of the first minus mean of the last of 4 bins whose edges are
    ``round(linspace(1, n, 5)) - 1`` (inclusive on both ends, so neighbouring bins share a frame).
    """
    v = np.asarray(per_frame_values, dtype=np.float64)
    if v.size == 0:
        return float("nan"), float("nan"), float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        m = np.nanmean(v)
        r = np.nanmean(v > 0.5)
    ids = (np.round(np.linspace(1, len(v), 5) + 1e-10) - 1).astype(np.int64)
    bins = [v[ids[i] : ids[i + 1] + 1] for i in range(4)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        d = np.nanmean(bins[0]) - np.nanmean(bins[3])
    return float(m), float(r), float(d)


def evaluate_masks(gt: np.ndarray, pred: np.ndarray, n_objects: int, where: str = "") -> tuple[np.ndarray, np.ndarray]:
    """J and F (n_objects × T) of T evaluated frames of id maps (T×H×W), objects 1..n_objects.

    Objects the prediction never mentions count as empty masks (zero padding); an id above
    ``n_objects`` in the prediction is an error, as in the official evaluation.
    """
    if gt.shape != pred.shape:
        raise UnitrackError(f"{where}: prediction {pred.shape} and ground truth {gt.shape} differ in shape")
    pmax = int(pred.max()) if pred.size else 0
    if pmax > n_objects:
        raise UnitrackError(f"{where}: prediction contains object id {pmax} but the first-frame annotation has "
                            f"only {n_objects} object(s)")
    T = gt.shape[0]
    J = np.zeros((n_objects, T))
    Fm = np.zeros((n_objects, T))
    for o in range(1, n_objects + 1):
        g = gt == o
        p = pred == o
        J[o - 1] = db_eval_iou(g, p)
        Fm[o - 1] = db_eval_boundary(g, p)
    return J, Fm


@dataclass
class DavisScores:
    metrics: dict[str, float]
    per_sequence: dict[str, dict[str, float]]
    per_object: dict[str, dict[str, float]]
    per_frame: dict[str, dict[str, list[float]]]


def _load_pred(pred_dir: Path, seq: DavisSequence, stem: str, shape: tuple[int, int]) -> np.ndarray:
    p = pred_dir / seq.name / f"{stem}.png"
    if not p.is_file():
        raise UnitrackError(f"missing prediction {p} (expected <pred>/<sequence>/<frame>.png for every "
                            "annotated frame)")
    m = read_mask(p)
    if m.shape != shape:
        raise UnitrackError(f"{p}: prediction is {m.shape[1]}x{m.shape[0]}, ground truth is {shape[1]}x{shape[0]}")
    return m


def score_sequence(seq: DavisSequence, pred_dir: str | Path, objects: str = "official") -> tuple[np.ndarray, np.ndarray, list[int]]:
    """J, F (objects × evaluated frames) of one sequence and the object ids they refer to."""
    pred_dir = Path(pred_dir)
    if not seq.fully_annotated:
        missing = next(a for a, p in zip(seq.frames, seq.annotations) if p is None)
        raise UnitrackError(f"sequence {seq.name}: cannot score, frame {missing} has no annotation")
    first = seq.read_annotation(0)
    first = np.where(first == VOID, 0, first)
    present = [int(v) for v in np.unique(first) if v != 0]
    if objects == "official":
        ids = list(range(1, (max(present) if present else 0) + 1))
        absent = sorted(set(ids) - set(present))
        if absent:
            seq.skip(f"sequence {seq.name}", f"ids {absent} are absent from the first annotation but below the "
                     "largest id; evaluated as objects that never appear (official DAVIS rule; "
                     "vos.score_objects=present leaves them out)")
    elif objects == "present":
        ids = present
    else:
        raise UnitrackError(f"vos.score_objects must be 'official' or 'present', got {objects!r}")
    if not ids:
        seq.skip(seq.annotations[0], "the first-frame annotation has no object; the sequence contributes no objects")
    idx = list(range(1, len(seq) - 1))  # first and last frame excluded
    if not idx and ids:
        seq.skip(f"sequence {seq.name}", f"{len(seq)} frame(s): nothing is evaluated between the first and the "
                 "last frame; the sequence contributes no objects")
        ids = []
    gt = np.zeros((len(idx), *seq.size), dtype=np.uint8)
    pr = np.zeros_like(gt)
    for n, i in enumerate(idx):
        g = seq.read_annotation(i)
        g[g == VOID] = 0
        if objects == "present":
            g = np.where(np.isin(g, ids), g, 0)
        gt[n] = g
        pr[n] = _load_pred(pred_dir, seq, seq.frames[i].stem, seq.size)
    if objects == "present":
        # relabel to 1..K so that evaluate_masks sees contiguous ids; ids not in the first frame → error
        lut = np.zeros(256, dtype=np.int64)
        lut[ids] = np.arange(1, len(ids) + 1)
        extra = sorted(set(np.unique(pr).tolist()) - set(ids) - {0})
        if extra:
            raise UnitrackError(f"sequence {seq.name}: prediction contains id(s) {extra} absent from the first "
                                "annotation")
        gt, pr = lut[gt].astype(np.uint8), lut[pr].astype(np.uint8)
    J, Fm = evaluate_masks(gt, pr, len(ids), where=f"{pred_dir / seq.name}")
    return J, Fm, ids


STAT_KEYS = ("J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay")


class JandF(Metric):
    """Region similarity J and boundary accuracy F of the DAVIS evaluation, as an :class:`eval.base.Metric`.

    ``eval_sequence`` scores one sequence's objects (per-frame J and F, then mean / recall / decay per
    object); ``combine`` averages over all objects of all sequences (not over sequences), as the official
    davis2017-evaluation does; J&F is the mean of J-Mean and F-Mean.
    """

    fields = (
        MetricSpec("J&F-Mean", label="J&F", headline=True),
        MetricSpec("J-Mean", label="J", headline=True),
        MetricSpec("J-Recall", label="J-Recall"),
        MetricSpec("J-Decay", label="J-Decay", higher_is_better=False),
        MetricSpec("F-Mean", label="F"),
        MetricSpec("F-Recall", label="F-Recall"),
        MetricSpec("F-Decay", label="F-Decay", higher_is_better=False),
    )

    def __init__(self, objects: str = "official"):
        self.objects = objects

    def eval_sequence(self, seq: DavisSequence, pred_dir: str | Path) -> dict[str, Any]:
        """``{"objects": {id: {J-Mean, …, F-Decay}}, "J": per-object per-frame J, "F": …}`` of one sequence."""
        J, Fm, ids = score_sequence(seq, Path(pred_dir), self.objects)
        objs = {}
        for o, oid in enumerate(ids):
            objs[oid] = dict(zip(STAT_KEYS, (*db_statistics(J[o]), *db_statistics(Fm[o])), strict=True))
        return {"objects": objs, "J": J, "F": Fm}

    def combine(self, per_sequence: dict[str, dict[str, Any]]) -> dict[str, float]:
        stats = {k: [o[k] for r in per_sequence.values() for o in r["objects"].values()] for k in STAT_KEYS}
        if not stats["J-Mean"]:
            return {}
        out = {k: float(np.mean(v)) for k, v in stats.items()}
        return {"J&F-Mean": (out["J-Mean"] + out["F-Mean"]) / 2, **out}


def evaluate_davis(sequences: list[DavisSequence], pred_dir: str | Path, objects: str = "official") -> DavisScores:
    """J&F of predictions ``<pred_dir>/<seq>/<frame>.png`` against the sequences' annotations."""
    metric = JandF(objects)
    per_raw: dict[str, dict[str, Any]] = {}
    per_seq: dict[str, dict[str, float]] = {}
    per_obj: dict[str, dict[str, float]] = {}
    per_frame: dict[str, dict[str, list[float]]] = {}
    for seq in progress(sequences, desc="J&F", unit="seq"):
        r = per_raw[seq.name] = metric.eval_sequence(seq, pred_dir)
        for o, (oid, st) in enumerate(r["objects"].items()):
            per_obj[f"{seq.name}_{oid}"] = st
            per_frame[f"{seq.name}_{oid}"] = {"J": r["J"][o].tolist(), "F": r["F"][o].tolist()}
        if r["objects"]:
            jm = float(np.mean([st["J-Mean"] for st in r["objects"].values()]))
            fm = float(np.mean([st["F-Mean"] for st in r["objects"].values()]))
            per_seq[seq.name] = {"J&F-Mean": (jm + fm) / 2, "J-Mean": jm, "F-Mean": fm, "objects": len(r["objects"])}
    metrics = metric.combine(per_raw)
    if not metrics:
        firsts = ", ".join(str(q.annotations[0]) for q in sequences[:5]) + (" …" if len(sequences) > 5 else "")
        raise UnitrackError(f"nothing to evaluate: no objects in the first annotations of {len(sequences)} "
                            f"sequence(s) ({firsts})")
    metrics = {k: metrics[k] for k in ("J&F-Mean", "J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay")}
    return DavisScores(metrics=metrics, per_sequence=per_seq, per_object=per_obj, per_frame=per_frame)
