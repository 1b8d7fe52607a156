"""VIP (Video Instance-level Parsing) reader, part-label writer, semantic mIoU and part-instance AP^r.

Layout (the VIP_Fine release; ``Annotations/`` may be left out, as in the layout the ATEN code uses)::

    <root>/Images/<video>/<frame>.jpg                        frames (VIP: 12-digit frame numbers)
    <root>[/Annotations]/Category_ids/<video>/<frame>.png    semantic part labels 0..19, 255 = ignore
    <root>[/Annotations]/Human_ids/<video>/<frame>.png       person ids 0 (background), 1..N     (optional)
    <root>[/Annotations]/Instance_ids/<video>/<frame>.png    part-instance ids, 0 = background   (optional)
    <root>[/Annotations]/Instance_ids/<video>/<frame>.txt    one line per part instance: "<id> <class> <person>"
    <root>/lists/val_videos.txt                              the videos of the split, one per line

Classes (index = label value), in the order of the dataset authors' code (ATEN ``vip.py`` and
``evaluate/test_inst_part_ap.py``; CIHP uses the same list): background, hat, hair, gloves,
sunglasses, upper-clothes, dress, coat, socks, pants, torso-skin, scarf, skirt, face, left-arm,
right-arm, left-leg, right-leg, left-shoe, right-shoe. (The TimeCycle/UVC ``eval_vip.py`` prints
another name order; only the names differ, the values are the dataset's.)

Frames and labels are paired by frame NAME (file stem), never by position. VIP_Fine's ``Images``
holds only the annotated key frames (one every 25 frames); a root whose ``Images`` holds more
frames than are labelled (e.g. the VIP_Sequence frames added) is propagated through every frame
and scored on the labelled ones. The first frame must be labelled.

Instance ids, as we read them: the ``Instance_ids`` PNG holds one opaque id per part instance (a
part class of one person); the side-car ``.txt`` gives, per id, its part class and its person
(columns ``part_instance_id part_id human_id``: the ATEN evaluation reads the first two, VIP loaders
the third; CIHP's generated ``Instance_part_val`` files use the same columns with
id = 20·(person − 1) + class). We never decode the id arithmetically: without a ``.txt`` the class of
an id is the ``Category_ids`` value under its pixels (an id covering two classes is an error) and its
person the ``Human_ids`` value there. Person ids need not be consistent over the frames of a VIP
video (one VIP user reports a swap in video 17); nothing here relies on them (AP matches masks).

Predictions: ``<pred>/<video>/<frame>.png`` indexed PNG (DAVIS palette) of part labels 0..19, and
for the instance level ``<pred>/<video>/instance_part/<frame>.png`` (part-instance ids 1..N, 8- or
16-bit grey) with ``<frame>.txt``: line i = ``<class> <score>`` of id i (ATEN's ``instance_part``
output, which its ``test_inst_part_ap.py`` reads).

Metrics (sources: the TimeCycle/UVC ``eval_vip.py`` and ATEN's ``evaluate/test_inst_part_ap.py``):

* ``mIoU``: one 20×20 confusion matrix (rows ground truth, columns prediction; ground-truth 255
  ignored) over every scored frame of every video; IoU per class = diag / (row + column − diag);
  mean over the 20 classes INCLUDING background, skipping classes with an empty union (NaN) — as the
  ``eval_vip.py`` UVC ships for its VIP numbers (copied from TimeCycle). ``mIoU-parts``: the mean over
  the 19 part classes that occur in the ground truth (background excluded). Per video, both from its
  own matrix. Differences: the reference scores every file of the results folder, we score the
  labelled frames (a missing prediction is an error); it resizes a prediction of another size, here
  that is an error.
* ``APr@θ`` (region AP of part instances) per part class: every predicted part instance of the class
  (over all scored frames, sorted by score) is a true positive when its largest IoU with a
  ground-truth instance of the same class in the same frame is STRICTLY greater than θ (the reference
  does no one-to-one matching: two predictions may hit the same ground truth); recall over all
  ground-truth instances of the class; AP = area under the monotone precision envelope (VOC, all
  points); ``PartAP(matching="voc")`` matches each ground truth once instead. The mean is over
  classes with ground-truth instances (the reference averages all 19 and
  gets NaN when a class is absent). ``APr_vol`` = mean over θ = 0.1, 0.2, …, 0.9 (the reference's
  ``IOU_THRE``; MHP defines AP^p_vol over the same thresholds; TimeCycle and UVC report AP^r_vol).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable
from collections.abc import Sequence as Seq
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from unitrack.eval.base import Sequence
from unitrack.eval.formats import list_frames, read_mask, write_mask
from unitrack.utils import UnitrackError

log = logging.getLogger("unitrack")

NUM_CLASSES = 20
IGNORE = 255
CLASSES = (
    "background", "hat", "hair", "gloves", "sunglasses", "upper-clothes", "dress", "coat", "socks", "pants",
    "torso-skin", "scarf", "skirt", "face", "left-arm", "right-arm", "left-leg", "right-leg", "left-shoe",
    "right-shoe",
)  # fmt: skip
AP_THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
FRAME_EXTS = (".jpg", ".jpeg", ".png")
INSTANCE_DIR = "instance_part"


def ap_key(th: float) -> str:
    """Metric key of the AP at IoU threshold ``th`` (``APr@0.5``)."""
    return f"APr@{float(th):g}"


# ----------------------------------------------------------------------------------------------
# label files
# ----------------------------------------------------------------------------------------------
def _header_size(path: Path) -> tuple[int, int]:
    try:
        with Image.open(path) as im:
            w, h = im.size
    except OSError as e:
        raise UnitrackError(f"{path}: cannot read image ({e})") from None
    return h, w


def check_part_values(arr: np.ndarray, path: Path, allow_ignore: bool = True) -> np.ndarray:
    """``arr`` unchanged when every value is a part label 0..19 (or 255 where allowed); else an error."""
    bad = arr >= NUM_CLASSES
    if allow_ignore:
        bad &= arr != IGNORE
    if bad.any():
        vals = sorted({int(v) for v in np.unique(arr[bad])})[:8]
        allowed = f"0..{NUM_CLASSES - 1}" + (f" or {IGNORE} (ignore)" if allow_ignore else "")
        raise UnitrackError(f"{path}: part label values {vals} outside {allowed}")
    return arr


def read_parts(path: str | Path, allow_ignore: bool = True) -> np.ndarray:
    """A part-label PNG (8-bit grey or palette) as H×W uint8 with values 0..19 (and 255 = ignore)."""
    path = Path(path)
    if not path.is_file():
        raise UnitrackError(f"{path}: part label file not found")
    return check_part_values(read_mask(path), path, allow_ignore)


def write_parts(path: str | Path, parts: np.ndarray) -> None:
    """Predicted part labels (H×W, values 0..19) as an indexed PNG with the DAVIS palette."""
    parts = np.asarray(parts)
    if parts.size and (parts.min() < 0 or parts.max() >= NUM_CLASSES):
        raise ValueError(f"write_parts: part labels must be 0..{NUM_CLASSES - 1}")
    write_mask(path, parts.astype(np.uint8))


def read_id_map(path: str | Path) -> np.ndarray:
    """An 8- or 16-bit grey (or palette) id PNG as H×W int64 (0 = background)."""
    path = Path(path)
    if not path.is_file():
        raise UnitrackError(f"{path}: file not found")
    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise UnitrackError(f"{path}: cannot read image")
    if arr.ndim == 3:  # palette PNGs decode to colour in OpenCV: read the indices with PIL
        arr = read_mask(path)
    return arr.astype(np.int64)


def write_id_map(path: str | Path, ids: np.ndarray) -> None:
    """Ids 0..65535 as a grey PNG (8-bit when they fit, else 16-bit)."""
    ids = np.asarray(ids)
    if ids.size and (ids.min() < 0 or ids.max() > 65535):
        raise ValueError("write_id_map: ids must be in 0..65535")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = ids.astype(np.uint8 if (not ids.size or ids.max() <= 255) else np.uint16)
    if not cv2.imwrite(str(path), arr):
        raise OSError(f"could not write {path}")


def _int_table(path: Path, min_cols: int, what: str) -> list[list[int]]:
    rows = []
    for ln, line in enumerate(path.read_text().splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        tok = s.split()
        try:
            vals = [int(t) for t in tok[:3]]
        except ValueError:
            raise UnitrackError(f"{path}:{ln}: expected {what}, got {s!r}") from None
        if len(vals) < min_cols:
            raise UnitrackError(f"{path}:{ln}: expected {what}, got {s!r}")
        rows.append(vals)
    return rows


@dataclass
class PartInstances:
    """The part instances of one frame: an id map and, per id, its part class, person and score."""

    ids: np.ndarray  # H×W int64, 0 = none
    classes: dict[int, int]
    persons: dict[int, int | None] = field(default_factory=dict)
    scores: dict[int, float] = field(default_factory=dict)


def read_gt_instances(png: Path, category: np.ndarray | None = None, humans: np.ndarray | None = None,
                      category_path: Path | None = None) -> PartInstances:
    """Ground-truth part instances: ``Instance_ids`` PNG plus its ``.txt`` (class and person per id);
    without a ``.txt`` the class (and person) of an id come from ``category`` (``humans``) under it."""
    ids = read_id_map(png)
    present = [int(v) for v in np.unique(ids) if v != 0]
    txt = png.with_suffix(".txt")
    classes: dict[int, int] = {}
    persons: dict[int, int | None] = {}
    if txt.is_file():
        for row in _int_table(txt, 2, "'<part instance id> <part class> [<person id>]'"):
            if not 1 <= row[1] < NUM_CLASSES:
                raise UnitrackError(f"{txt}: instance {row[0]} has part class {row[1]} outside 1..{NUM_CLASSES - 1}")
            classes[row[0]] = row[1]
            persons[row[0]] = row[2] if len(row) > 2 else None
        missing = [v for v in present if v not in classes]
        if missing:
            raise UnitrackError(f"{png}: instance id(s) {missing[:5]} are not listed in {txt.name}")
    else:
        if category is None:
            raise UnitrackError(f"{png}: no {txt.name} and no Category_ids label to tell the instances' classes")
        if category.shape != ids.shape:
            raise UnitrackError(f"{png}: {ids.shape[1]}x{ids.shape[0]}, its Category_ids label is "
                                f"{category.shape[1]}x{category.shape[0]}")
        for v in present:
            cls = {int(c) for c in np.unique(category[ids == v]) if 0 < c < NUM_CLASSES}
            if len(cls) != 1:
                where = category_path or "its Category_ids label"
                raise UnitrackError(f"{png}: instance {v} covers part classes {sorted(cls)} in {where} "
                                    f"(expected exactly one; add a {txt.name} to say which)")
            classes[v] = cls.pop()
            if humans is not None:
                h = humans[ids == v]
                h = h[h > 0]
                persons[v] = int(np.bincount(h).argmax()) if h.size else None
    return PartInstances(ids=ids, classes={v: classes[v] for v in present},
                         persons={v: persons.get(v) for v in present})


def write_instances(path: str | Path, inst: PartInstances) -> None:
    """Predicted part instances as ``<path>.png`` (ids 1..N) and ``<path>.txt`` (line i = "class score" of id i)."""
    path = Path(path).with_suffix(".png")
    n = len(inst.classes)
    if sorted(inst.classes) != list(range(1, n + 1)):
        raise ValueError("write_instances: instance ids must be 1..N")
    write_id_map(path, inst.ids)
    lines = [f"{inst.classes[i]} {inst.scores.get(i, 1.0):.6f}\n" for i in range(1, n + 1)]
    path.with_suffix(".txt").write_text("".join(lines))


def read_instances(path: str | Path) -> PartInstances:
    """Predicted part instances written by :func:`write_instances` (or ATEN's ``instance_part`` output)."""
    png = Path(path).with_suffix(".png")
    txt = png.with_suffix(".txt")
    if not png.is_file() or not txt.is_file():
        raise UnitrackError(f"{png if not png.is_file() else txt}: instance prediction file not found "
                            f"(expected <pred>/<video>/{INSTANCE_DIR}/<frame>.png and .txt)")
    ids = read_id_map(png)
    classes, scores = {}, {}
    for n, row in enumerate(_read_class_scores(txt), 1):
        classes[n], scores[n] = row
    present = [int(v) for v in np.unique(ids) if v != 0]
    bad = [v for v in present if v not in classes]
    if bad:
        raise UnitrackError(f"{png}: instance id(s) {bad[:5]} have no line in {txt.name} (line i describes id i)")
    return PartInstances(ids=ids, classes={v: classes[v] for v in present}, scores={v: scores[v] for v in present})


def _read_class_scores(txt: Path) -> list[tuple[int, float]]:
    out = []
    for ln, line in enumerate(txt.read_text().splitlines(), 1):
        tok = line.split()
        if not tok:
            continue
        try:
            cls, score = int(tok[0]), float(tok[1])
        except (ValueError, IndexError):
            raise UnitrackError(f"{txt}:{ln}: expected '<part class> <score>', got {line.strip()!r}") from None
        if not 1 <= cls < NUM_CLASSES or not math.isfinite(score):
            raise UnitrackError(f"{txt}:{ln}: part class {cls} outside 1..{NUM_CLASSES - 1} or score not finite")
        out.append((cls, score))
    return out


# ----------------------------------------------------------------------------------------------
# dataset
# ----------------------------------------------------------------------------------------------
@dataclass(init=False)
class VIPSequence(Sequence):
    """One VIP video: its frames in order and, per frame, its label files (None where not labelled)."""

    labels: list[Path | None]
    humans: list[Path | None]
    instances: list[Path | None]

    def __init__(self, name: str, frames: list[Path], size: tuple[int, int], labels: list[Path | None],
                 humans: list[Path | None] | None = None, instances: list[Path | None] | None = None) -> None:
        super().__init__(name=name, frames=frames, size=size)
        self.labels = labels
        self.humans = humans if humans is not None else [None] * len(frames)
        self.instances = instances if instances is not None else [None] * len(frames)

    @property
    def annotated(self) -> list[int]:
        """Indices of the labelled frames."""
        return [i for i, p in enumerate(self.labels) if p is not None]

    @property
    def has_instances(self) -> bool:
        return all(self.instances[i] is not None for i in self.annotated)

    def validate(self) -> None:
        """Every frame and label file has the size of the first frame; the first frame is labelled."""
        if self.labels[0] is None:
            raise UnitrackError(f"video {self.name}: its first frame {self.frames[0].name} has no Category_ids label "
                                "(propagation starts from the first frame)")
        H, W = self.size
        for p in self.frames[1:]:
            s = _header_size(p)
            if s != self.size:
                raise UnitrackError(f"{p}: frame is {s[1]}x{s[0]}, the first frame {self.frames[0].name} is {W}x{H}")
        for files in (self.labels, self.humans, self.instances):
            for p in files:
                if p is not None:
                    s = _header_size(p)
                    if s != self.size:
                        raise UnitrackError(f"{p}: label is {s[1]}x{s[0]}, the frames are {W}x{H}")

    def _check_size(self, arr: np.ndarray, path: Path) -> np.ndarray:
        if arr.shape != self.size:
            raise UnitrackError(f"{path}: label is {arr.shape[1]}x{arr.shape[0]}, the frames are "
                                f"{self.size[1]}x{self.size[0]}")
        return arr

    def read_label(self, i: int) -> np.ndarray:
        """Part labels of frame ``i`` (H×W uint8, 0..19, 255 = ignore)."""
        p = self.labels[i]
        if p is None:
            raise UnitrackError(f"video {self.name}: frame {self.frames[i].name} has no Category_ids label")
        return self._check_size(read_parts(p), p)

    def read_humans(self, i: int) -> np.ndarray | None:
        p = self.humans[i]
        return None if p is None else self._check_size(read_id_map(p), p)

    def read_instances(self, i: int) -> PartInstances | None:
        p = self.instances[i]
        if p is None:
            return None
        inst = read_gt_instances(p, self.read_label(i), self.read_humans(i), self.labels[i])
        self._check_size(inst.ids, p)
        return inst

    def first_labels(self) -> tuple[np.ndarray, np.ndarray | None]:
        """Frame 0: part labels (ignore → background) and person ids (None without instance annotation).

        Errors naming the file: no part label at all, or part labels without a person.
        """
        p = self.labels[0]
        lab = self.read_label(0).copy()
        lab[lab == IGNORE] = 0
        if not lab.any():
            raise UnitrackError(f"{p}: the first annotation of video {self.name} has no part label (only "
                                "background / ignore): nothing to propagate")
        persons = self.read_humans(0)
        if persons is None and self.instances[0] is not None:
            inst = self.read_instances(0)
            if any(v is None for v in inst.persons.values()):
                raise UnitrackError(f"{self.instances[0]}: the instances' persons are unknown (no Human_ids label "
                                    f"and no third column in {self.instances[0].with_suffix('.txt').name})")
            ids, inv = np.unique(inst.ids, return_inverse=True)
            lut = np.array([0 if v == 0 else int(inst.persons[int(v)]) for v in ids], np.int64)
            persons = lut[inv].reshape(inst.ids.shape)
        if persons is not None:
            persons = np.where(lab > 0, np.maximum(persons, 0), 0)
            if not persons.any():
                where = self.humans[0] or self.instances[0]
                raise UnitrackError(f"{where}: the first frame of video {self.name} has part labels but no person")
        return lab, persons


def vip_dirs(root: str | Path) -> tuple[Path, Path]:
    """(``Images`` folder, folder holding ``Category_ids``) of a VIP root; errors name what is missing."""
    root = Path(root)
    images = root / "Images"
    if not images.is_dir():
        raise UnitrackError(f"{root}: no Images folder (expected the VIP layout Images/<video>/<frame>.jpg, "
                            "[Annotations/]Category_ids/<video>/<frame>.png, lists/val_videos.txt)")
    for ann in (root / "Annotations", root):
        if (ann / "Category_ids").is_dir():
            return images, ann
    raise UnitrackError(f"{root}: no Category_ids folder (expected {root / 'Category_ids'} or "
                        f"{root / 'Annotations' / 'Category_ids'})")


def split_candidates(root: Path, split: str) -> list[Path]:
    lists = root / "lists"
    return [lists / f"{split}_videos.txt", lists / f"{split}_id.txt", lists / f"{split}.txt"]


def read_split(path: Path, images: Path) -> list[str]:
    """Video names of a VIP list file. A line is a video name, a path ending in one (UVC's
    ``val_videos.txt``), or ``<video>/<frame>`` (``val_id.txt``): the last path part naming a folder
    under ``Images`` is the video."""
    if not path.is_file():
        raise UnitrackError(f"{path}: split file not found")
    names: list[str] = []
    for ln, line in enumerate(path.read_text().splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        parts = [p for p in re.split(r"[\\/]", s.split()[0]) if p]
        hit = next((p for p in reversed(parts) if (images / p).is_dir()), None)
        if hit is None:
            raise UnitrackError(f"{path}:{ln}: {s!r} names no video folder under {images}")
        if hit not in names:
            names.append(hit)
    if not names:
        raise UnitrackError(f"{path}: split file lists no videos")
    return names


def _label_files(folder: Path, ext: str = ".png") -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in folder.iterdir() if p.suffix.lower() == ext and not p.name.startswith(".")}


def read_vip(root: str | Path, split: str = "val", split_file: str = "", videos: Iterable[str] | None = None,
             validate: bool = True) -> list[VIPSequence]:
    """Read (and validate) the videos of a VIP root: those of ``split_file`` (relative to the root, or
    absolute), else of ``lists/<split>_videos.txt`` (or ``_id.txt``, ``.txt``), or ``videos``.

    ``Human_ids`` / ``Instance_ids`` are optional as folders; where the folder exists, every labelled
    frame of every video needs its file. Errors (UnitrackError) name the file or folder.
    """
    root = Path(root)
    images, ann = vip_dirs(root)
    if videos is None:
        if split_file:
            sp = Path(split_file)
            sp = sp if sp.is_absolute() else root / sp
        else:
            cands = split_candidates(root, split)
            sp = next((c for c in cands if c.is_file()), None)
            if sp is None:
                raise UnitrackError(f"{root}: no list of the {split!r} videos; expected {cands[0]} (or "
                                    f"{cands[1].name}, {cands[2].name}); set vip.split_file")
        names = read_split(sp, images)
    else:
        names = list(videos)
    extra = {k: ann / k for k in ("Human_ids", "Instance_ids") if (ann / k).is_dir()}
    out = []
    for name in names:
        frames = list_frames(images / name, FRAME_EXTS, numbered=False)
        stems = {p.stem for p in frames}
        per_kind: dict[str, list[Path | None]] = {}
        labels = _label_files(ann / "Category_ids" / name)
        if not (ann / "Category_ids" / name).is_dir():
            raise UnitrackError(f"{ann / 'Category_ids' / name}: folder does not exist (labels of video {name})")
        orphans = sorted(set(labels) - stems)
        if orphans:
            raise UnitrackError(f"{labels[orphans[0]]}: label without a frame (no {orphans[0]}.* in {images / name})")
        lab_list = [labels.get(p.stem) for p in frames]
        for kind, folder in extra.items():
            d = folder / name
            if not d.is_dir():
                raise UnitrackError(f"{d}: folder does not exist ({kind} of video {name}; {folder} exists)")
            files = _label_files(d)
            lst = []
            for p, lab in zip(frames, lab_list):
                f = files.get(p.stem)
                if lab is not None and f is None:
                    raise UnitrackError(f"{d / (p.stem + '.png')}: missing ({kind} of the labelled frame {p.name})")
                lst.append(f if lab is not None else None)
            per_kind[kind] = lst
        seq = VIPSequence(name, frames, _header_size(frames[0]), lab_list, per_kind.get("Human_ids"),
                          per_kind.get("Instance_ids"))
        if validate:
            seq.validate()
        out.append(seq)
    return out


# ----------------------------------------------------------------------------------------------
# semantic mIoU
# ----------------------------------------------------------------------------------------------
def confusion(gt: np.ndarray, pred: np.ndarray, n: int = NUM_CLASSES) -> np.ndarray:
    """n×n pixel counts (rows ground truth, columns prediction); ground truth outside 0..n−1 (255) ignored."""
    if gt.shape != pred.shape:
        raise ValueError(f"confusion: shapes differ {gt.shape} vs {pred.shape}")
    g = gt.astype(np.int64).ravel()
    p = pred.astype(np.int64).ravel()
    k = (g >= 0) & (g < n)
    return np.bincount(n * g[k] + p[k], minlength=n * n).reshape(n, n)


def class_iou(hist: np.ndarray) -> np.ndarray:
    """Per-class IoU of a confusion matrix; NaN where a class is in neither ground truth nor prediction."""
    inter = np.diag(hist).astype(np.float64)
    union = hist.sum(1) + hist.sum(0) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / np.maximum(union, 1), np.nan)


def miou(hist: np.ndarray) -> float:
    """The reference mIoU: nanmean of the per-class IoU over all classes, background included."""
    iu = class_iou(hist)
    return float(np.nanmean(iu)) if np.isfinite(iu).any() else float("nan")


def miou_parts(hist: np.ndarray) -> float:
    """Mean IoU over the part classes (1..n−1) that occur in the ground truth; NaN when none does."""
    iu = class_iou(hist)
    present = [c for c in range(1, hist.shape[0]) if hist[c].sum() > 0]
    return float(np.mean(iu[present])) if present else float("nan")


# ----------------------------------------------------------------------------------------------
# part-instance AP^r
# ----------------------------------------------------------------------------------------------
def voc_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """Area under the monotone (non-increasing) precision envelope, at every recall change (VOC ≥ 2010)."""
    mrec = np.concatenate(([0.0], np.asarray(recall, np.float64), [1.0]))
    mpre = np.concatenate(([0.0], np.asarray(precision, np.float64), [0.0]))
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    i = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def instance_ious(gt: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IoU of every predicted instance with every ground-truth instance of one frame.

    Returns (predicted ids, ground-truth ids, IoU matrix #pred × #gt), ids without 0.
    """
    if gt.shape != pred.shape:
        raise ValueError(f"instance_ious: shapes differ {gt.shape} vs {pred.shape}")
    gids, ginv = np.unique(gt.ravel(), return_inverse=True)
    pids, pinv = np.unique(pred.ravel(), return_inverse=True)
    joint = np.bincount(ginv * len(pids) + pinv, minlength=len(gids) * len(pids)).reshape(len(gids), len(pids))
    garea, parea = joint.sum(1), joint.sum(0)
    gk, pk = gids != 0, pids != 0
    inter = joint[np.ix_(gk, pk)].T.astype(np.float64)  # #pred × #gt
    union = parea[pk][:, None] + garea[gk][None, :] - inter
    return pids[pk], gids[gk], inter / np.maximum(union, 1)


AP_MATCHING = ("reference", "voc")


class PartAP:
    """Accumulates the part-instance AP^r of ATEN's ``test_inst_part_ap.py`` over frames (module docstring).

    ``matching = reference``: a prediction is a true positive when its best IoU with a ground-truth
    instance of its class exceeds θ, whether or not another prediction already hit that instance (so
    recall, and AP, can exceed 1 when several predictions hit one instance, as in the reference);
    ``voc``: predictions in score order take their best-IoU ground truth once (a second hit is a false
    positive), as PASCAL VOC.
    """

    def __init__(self, thresholds: Seq[float] = AP_THRESHOLDS, num_classes: int = NUM_CLASSES,
                 matching: str = "reference"):
        if matching not in AP_MATCHING:
            raise UnitrackError(f"AP matching must be one of {AP_MATCHING}, got {matching!r}")
        self.thresholds = tuple(float(t) for t in thresholds)
        self.num_classes = num_classes
        self.matching = matching
        self.n_gt = np.zeros(num_classes, np.int64)
        self.scores: list[list[float]] = [[] for _ in range(num_classes)]
        # per prediction: its IoU with the ground-truth instances of its class in its frame, and the
        # running index of the first of those instances
        self.rows: list[list[tuple[np.ndarray, int]]] = [[] for _ in range(num_classes)]

    def add(self, gt: PartInstances, pred: PartInstances) -> None:
        """One frame: ground-truth and predicted part instances (id maps of the same size)."""
        if gt.ids.shape != pred.ids.shape:
            raise ValueError(f"PartAP.add: shapes differ {gt.ids.shape} vs {pred.ids.shape}")
        p_ids, g_ids, iou = instance_ious(gt.ids, pred.ids)
        g_cls = np.array([gt.classes[int(g)] for g in g_ids], np.int64)
        p_cls = np.array([pred.classes[int(p)] for p in p_ids], np.int64)
        for c in range(1, self.num_classes):
            gsel, psel = g_cls == c, p_cls == c
            first = int(self.n_gt[c])
            self.n_gt[c] += int(gsel.sum())
            if not psel.any():
                continue
            sub = iou[np.ix_(psel, gsel)]
            self.rows[c] += [(row, first) for row in sub]
            self.scores[c] += [float(pred.scores.get(int(p), 1.0)) for p in p_ids[psel]]

    def class_ap(self, c: int, th: float) -> float:
        """AP of class ``c`` at IoU threshold ``th``; NaN when the class has no ground-truth instance."""
        if self.n_gt[c] == 0:
            return float("nan")
        s = np.asarray(self.scores[c], np.float64)
        if s.size == 0:
            return 0.0
        order = np.argsort(s, kind="stable")[::-1]  # the reference: np.argsort(scores)[::-1]
        tp = np.zeros(len(order))
        used = np.zeros(int(self.n_gt[c]), bool)
        for n, k in enumerate(order):
            row, first = self.rows[c][k]
            if not row.size:
                continue
            j = int(np.argmax(row))
            if row[j] > th and (self.matching == "reference" or not used[first + j]):
                tp[n] = 1.0
                used[first + j] = True
        ctp, cfp = np.cumsum(tp), np.cumsum(1.0 - tp)
        rec = ctp / float(self.n_gt[c])
        prec = ctp / np.maximum(ctp + cfp, np.finfo(np.float64).eps)
        return voc_ap(rec, prec)

    def per_class(self) -> dict[str, dict[str, float]]:
        """``{class name: {APr@θ: AP}}`` for the classes with ground-truth instances."""
        return {CLASSES[c] if c < len(CLASSES) else str(c): {ap_key(t): self.class_ap(c, t) for t in self.thresholds}
                for c in range(1, self.num_classes) if self.n_gt[c] > 0}

    def result(self) -> dict[str, float]:
        """``APr@θ`` (mean over classes with ground truth) per threshold and ``APr_vol`` (mean over θ)."""
        present = [c for c in range(1, self.num_classes) if self.n_gt[c] > 0]
        if not present:
            return {}
        out = {ap_key(t): float(np.mean([self.class_ap(c, t) for c in present])) for t in self.thresholds}
        out["APr_vol"] = float(np.mean(list(out.values())))
        return out


# ----------------------------------------------------------------------------------------------
# evaluation of a prediction folder
# ----------------------------------------------------------------------------------------------
@dataclass
class VIPScores:
    metrics: dict[str, float]
    per_sequence: dict[str, dict[str, float]]
    per_class_iou: dict[str, float]
    per_class_ap: dict[str, dict[str, float]]
    scored_frames: int
    instance_level: bool
    skipped: list[dict[str, str]] = field(default_factory=list)  # what was left out, for result.json


def scored_frames(seq: VIPSequence, score_first_frame: bool = True) -> list[int]:
    """The labelled frames that are scored (the reference scores the copied first annotation too)."""
    return [i for i in seq.annotated if score_first_frame or i != 0]


def read_prediction(pred_dir: Path, seq: VIPSequence, i: int) -> np.ndarray:
    p = Path(pred_dir) / seq.name / f"{seq.frames[i].stem}.png"
    if not p.is_file():
        raise UnitrackError(f"{p}: prediction missing (frame {seq.frames[i].name} of video {seq.name} is labelled)")
    pred = read_parts(p, allow_ignore=False)
    if pred.shape != seq.size:
        raise UnitrackError(f"{p}: prediction is {pred.shape[1]}x{pred.shape[0]}, the frames are "
                            f"{seq.size[1]}x{seq.size[0]}")
    return pred


def evaluate_vip(seqs: list[VIPSequence], pred_dir: str | Path, thresholds: Seq[float] = AP_THRESHOLDS,
                 score_first_frame: bool = True, matching: str = "reference") -> VIPScores:
    """Score ``<pred>/<video>/<frame>.png`` (and ``instance_part/``) against the labelled frames of ``seqs``.

    The instance level is scored when every video has ``Instance_ids`` and an ``instance_part`` folder
    of predictions; when no video has the folder it is left out (logged); a partial one is an error.
    """
    pred_dir = Path(pred_dir)
    gt_inst = bool(seqs) and all(s.has_instances for s in seqs)
    have = [(pred_dir / s.name / INSTANCE_DIR).is_dir() for s in seqs]
    if gt_inst and any(have) and not all(have):
        miss = next(s.name for s, h in zip(seqs, have) if not h)
        raise UnitrackError(f"{pred_dir / miss / INSTANCE_DIR}: missing (other videos have instance predictions)")
    inst_level = gt_inst and all(have)
    skipped = []
    if gt_inst and not inst_level:
        log.warning("vip: no instance predictions (<pred>/<video>/%s/); AP^r not computed", INSTANCE_DIR)
        skipped.append({"item": f"{pred_dir}/<video>/{INSTANCE_DIR}",
                        "reason": "no instance predictions: the part-instance AP^r is not computed"})
    hist = np.zeros((NUM_CLASSES, NUM_CLASSES), np.int64)
    ap = PartAP(thresholds, matching=matching)
    per_seq: dict[str, dict[str, float]] = {}
    n = 0
    for seq in seqs:
        h_seq = np.zeros_like(hist)
        idx = scored_frames(seq, score_first_frame)
        for i in idx:
            gt = seq.read_label(i)
            h_seq += confusion(gt, read_prediction(pred_dir, seq, i))
            if inst_level:
                pinst = read_instances(pred_dir / seq.name / INSTANCE_DIR / f"{seq.frames[i].stem}.png")
                if pinst.ids.shape != seq.size:
                    raise UnitrackError(f"{pred_dir / seq.name / INSTANCE_DIR / seq.frames[i].stem}.png: "
                                        f"{pinst.ids.shape[1]}x{pinst.ids.shape[0]}, the frames are "
                                        f"{seq.size[1]}x{seq.size[0]}")
                ap.add(seq.read_instances(i), pinst)
        hist += h_seq
        n += len(idx)
        per_seq[seq.name] = {"mIoU": miou(h_seq), "mIoU-parts": miou_parts(h_seq), "frames": len(idx)}
    metrics = {"mIoU": miou(hist), "mIoU-parts": miou_parts(hist)}
    if inst_level:
        metrics.update(ap.result())
    iu = class_iou(hist)
    return VIPScores(metrics=metrics, per_sequence=per_seq,
                     per_class_iou={CLASSES[c]: float(iu[c]) for c in range(NUM_CLASSES) if np.isfinite(iu[c])},
                     per_class_ap=ap.per_class() if inst_level else {}, scored_frames=n, instance_level=inst_level,
                     skipped=skipped)
