"""Single-object tracking benchmarks: OTB-2015 / LaSOT / GOT-10k readers, result files, OPE metrics, plots.

Readers yield :class:`SOTSequence` (frame paths + ``x,y,w,h`` ground truth, 1-based OTB pixel convention).
Metrics follow the pysot OPE toolkit bundled with the reference (docs/protocol.md §3.5): success over 21
IoU thresholds (IoU **>** t, no +1 pixel), precision at 20 px (centres ``x + (w-1)/2``), normalised
precision at 0.2; per sequence, then averaged over sequences. Figures are in percent.
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from unitrack.eval.base import Metric, MetricSpec, Sequence
from unitrack.eval.formats import IMAGE_EXTS, frame_number, list_frames
from unitrack.utils import UnitrackError, atomic_write_text

log = logging.getLogger("unitrack")

SUCCESS_THRESHOLDS = np.arange(0, 1.05, 0.05)  # 21 values 0, 0.05, …, 1.0 (pysot)
PRECISION_THRESHOLDS = np.arange(0, 51, 1)  # pixels
NORM_PRECISION_THRESHOLDS = np.arange(0, 51, 1) / 100.0
METRIC_KEYS = ("AUC", "Precision@20", "NormPrecision@0.2")
PYSOT_JSONS = ("OTB2015.json", "OTB100.json", "OTB.json")

# OTB-2015 sequences whose annotated frames are not simply "all images from 0001": (first, last) frame
# numbers of the image files. Source: the OTB benchmark toolkit's configSeqs (tracker_benchmark v1.0,
# the same ranges as pytracking's OTB list, where Tiger1 is written as 1–354 with initOmit 5). The GT
# row count decides the alignment: if it equals last-first+1, GT row 0 is frame `first`; if it equals
# `last` (a GT file that starts at frame 1, e.g. Tiger1), the first `first-1` GT rows are dropped.
OTB_FRAME_RANGES: dict[str, tuple[int, int]] = {
    "David": (300, 770),
    "Football1": (1, 74),
    "Freeman3": (1, 460),
    "Freeman4": (1, 283),
    "Diving": (1, 215),
    "BlurCar1": (247, 988),
    "BlurCar3": (3, 359),
    "BlurCar4": (18, 397),
    "Tiger1": (6, 354),
}


@dataclass
class SOTSequence(Sequence):
    """One single-object sequence: frames, ground truth boxes (x, y, w, h per frame), provenance.

    Constructor as before: ``(name, frames, gt, gt_file, gt_first_line, start_frame, evaluable, attrs)``;
    the base's ``size`` (unknown to these readers) is keyword-only.
    """

    name: str
    frames: list[Path]
    gt: np.ndarray  # N×4 float64; rows without a box (all NaN, or w/h = 0) kept as they are (see validate)
    gt_file: Path
    gt_first_line: int = 1  # line number (1-based) in gt_file of gt[0], for error messages
    start_frame: int = 1
    evaluable: bool = True  # False when only the first frame is annotated (GOT-10k test)
    attrs: list[str] = field(default_factory=list)
    size: tuple[int, int] | None = field(default=None, kw_only=True)

    @property
    def init_box(self) -> np.ndarray:
        return self.gt[0]

    def validate(self) -> None:
        """Single-object tracking needs ground truth whose first box is valid (finite, w, h > 0); every
        other row is a box with finite x, y and w, h >= 0, or all four NaN (target absent, UAV123 style).
        Rows with w or h = 0 (LaSOT's 0,0,0,0 for an absent target) count as not annotated in the metrics."""
        if len(self.gt) == 0:
            raise UnitrackError(f"{self.gt_file}: no ground-truth rows (expected x,y,w,h per frame)")
        if not valid_box(self.gt[0]):
            raise UnitrackError(
                f"{self._where(0)}: the first-frame box {self.gt[0].tolist()} has zero/negative "
                f"size or is not a number; single-object tracking needs a valid initial box x,y,w,h with w,h > 0"
            )
        bad = box_rows_error(self.gt)
        if bad is not None:
            i, what = bad
            raise UnitrackError(f"{self._where(i)}: ground-truth box {self.gt[i].tolist()} {what}")

    def _where(self, i: int) -> str:
        """File and line (text GT) or file and row (pysot JSON) of ground-truth row ``i``."""
        if self.gt_file.suffix.lower() == ".json":
            return f"{self.gt_file} (video {self.name!r}, gt_rect[{i}])"
        return f"{self.gt_file}:{self.gt_first_line + i}"


# ------------------------------------------------------------------------------------------------- parsing

_SEP = re.compile(r"[,\s;]+")


def parse_boxes(text: str, source: str | Path, ncols: int = 4) -> tuple[np.ndarray, list[int]]:
    """Parse rows of ``ncols`` numbers separated by commas, tabs or spaces ('NaN' allowed).

    Returns (rows×ncols float64, 1-based line numbers). Blank lines are allowed only at the end.
    """
    rows, lines = [], []
    raw = text.splitlines()
    last = len(raw)
    while last > 0 and not raw[last - 1].strip():
        last -= 1
    for i, line in enumerate(raw[:last], start=1):
        s = line.strip()
        if not s:
            raise UnitrackError(f"{source}:{i}: empty line inside the file; expected {ncols} numbers x,y,w,h")
        toks = [t for t in _SEP.split(s) if t]
        try:
            vals = [float(t) for t in toks]
        except ValueError:
            vals = None
        if vals is None or len(vals) != ncols:
            raise UnitrackError(
                f"{source}:{i}: expected {ncols} numbers x,y,w,h separated by commas, tabs or spaces, got {s!r}"
            )
        rows.append(vals)
        lines.append(i)
    arr = np.asarray(rows, dtype=np.float64).reshape(-1, ncols)
    return arr, lines


def read_boxes(path: str | Path) -> np.ndarray:
    """Read a box file (GT or results); see :func:`parse_boxes`."""
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise UnitrackError(f"cannot read box file {path}: {e}") from None
    return parse_boxes(text, path)[0]


def write_boxes(path: str | Path, boxes: np.ndarray) -> None:
    """One comma-separated ``x,y,w,h`` line per frame (pysot/OTB result format), written atomically."""
    lines = [",".join(_fmt(v) for v in row) for row in np.asarray(boxes, dtype=np.float64)]
    atomic_write_text(path, "\n".join(lines) + "\n")


def _fmt(v: float) -> str:
    if not math.isfinite(v):
        return "nan"
    r = round(v, 4)
    return str(int(r)) if r == int(r) else f"{r:.4f}".rstrip("0")


def box_rows_error(boxes: np.ndarray) -> tuple[int, str] | None:
    """(first bad row, what is wrong) of x,y,w,h rows, None when all are usable: finite with w, h >= 0, or
    all four NaN (no box for that frame)."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    nan_row = np.isnan(b).all(1)
    finite = np.isfinite(b).all(1)
    with np.errstate(invalid="ignore"):
        neg = (b[:, 2] < 0) | (b[:, 3] < 0)
    bad = np.flatnonzero(~nan_row & (~finite | neg))
    if not len(bad):
        return None
    i = int(bad[0])
    if not finite[i]:
        return i, "mixes numbers with NaN/inf (a frame without a box is NaN,NaN,NaN,NaN)"
    return i, "has a negative width or height (expected x,y,w,h with w, h >= 0)"


def valid_box(box: np.ndarray) -> bool:
    """A usable first-frame box: finite, positive width and height."""
    b = np.asarray(box, dtype=np.float64)
    return bool(b.shape == (4,) and np.all(np.isfinite(b)) and b[2] > 0 and b[3] > 0)


# ------------------------------------------------------------------------------------------------- readers

def _images_in(folder: Path) -> list[Path]:
    """The numbered frames of ``folder`` ([] without images); any other image name is an error, since
    ground-truth rows are paired with frames by number."""
    return list_frames(folder, numbered=True, required=False)


def _numbered(images: list[Path]) -> dict[int, Path]:
    return {n: p for p in images if (n := frame_number(p)) is not None}


def _otb_gt_files(seq_dir: Path) -> list[tuple[str, Path]]:
    """(sequence name, GT file) pairs of an OTB folder; ``groundtruth_rect.K.txt`` → ``<Seq>-K``."""
    plain = seq_dir / "groundtruth_rect.txt"
    numbered = sorted(seq_dir.glob("groundtruth_rect.*.txt"), key=lambda p: p.name)
    numbered = [p for p in numbered if p.name.split(".")[1].isdigit()]
    if plain.is_file():
        return [(seq_dir.name, plain)] + [(f"{seq_dir.name}-{p.name.split('.')[1]}", p) for p in numbered]
    if len(numbered) == 1:  # e.g. Human4 (groundtruth_rect.2.txt only): pysot calls it "Human4"
        return [(seq_dir.name, numbered[0])]
    return [(f"{seq_dir.name}-{p.name.split('.')[1]}", p) for p in numbered]


def is_otb_sequence(folder: Path) -> bool:
    return bool(_otb_gt_files(folder)) and (folder / "img").is_dir()


def is_gt_sequence(folder: Path) -> bool:
    """LaSOT / GOT-10k style: ``groundtruth.txt`` with frames in ``img/`` or in the folder itself."""
    return (folder / "groundtruth.txt").is_file() and bool(_images_in(folder / "img") or _images_in(folder))


def _align_frames(name: str, folder: Path, gt: np.ndarray, gt_file: Path, ranges: dict[str, tuple[int, int]],
                  notes: list[tuple[str, str]] | None = None) -> tuple[list[Path], np.ndarray, int, int]:
    """Pick the image files that the GT rows annotate. Returns (frames, gt, first GT line, start frame).

    Frames are paired with GT rows by frame number: outside the OTB range table the GT must have one row
    per frame (else an error naming the GT file); a GT file that disagrees with its range is aligned from
    the range's first frame and noted in ``notes`` (item, reason)."""
    notes = [] if notes is None else notes
    images = _images_in(folder)
    if not images:
        raise UnitrackError(f"{folder}: no images ({', '.join(IMAGE_EXTS)}) for sequence {name}")
    num = _numbered(images)
    n = len(gt)
    base = name.split("-")[0] if name not in ranges else name
    if base in ranges and num:
        first, last = ranges[base]
        span = last - first + 1
        skip = 0
        if n == span:
            pass
        elif n == last and first > 1:
            skip = first - 1  # GT starts at frame 1 (e.g. Tiger1); drop the rows before `first`
        else:
            notes.append((str(gt_file), f"{n} GT rows do not match the OTB frame range {first}-{last} of {base}; "
                                        f"aligned from frame {first}"))
        gt = gt[skip:]
        wanted = range(first, first + len(gt))
        if all(k in num for k in wanted):
            return [num[k] for k in wanted], gt, 1 + skip, first
        if len(images) == len(gt):  # a renumbered copy holding just the annotated frames
            return images, gt, 1 + skip, 1
        missing = next(k for k in wanted if k not in num)
        raise UnitrackError(f"{name}: frame {missing} of the OTB range {first}-{last} is missing in {folder}"
                            f" (expected e.g. {folder / _like(images[0], missing)})")
    first = min(num)
    wanted = range(first, first + n)
    missing = [k for k in wanted if k not in num]
    if missing:
        raise UnitrackError(f"{name}: {gt_file} has {n} rows but frame {_like(images[0], missing[0])} is "
                            f"missing in {folder} ({len(images)} images found)")
    if len(images) > n:
        raise UnitrackError(f"{gt_file}: {n} rows but {len(images)} frames in {folder} ({images[0].name}…"
                            f"{images[-1].name}); expected one x,y,w,h row per frame (a sequence whose annotated "
                            f"frames are a sub-range belongs in the OTB frame-range table)")
    return [num[k] for k in wanted], gt, 1, first


def _like(example: Path, k: int) -> str:
    """File name of frame k with the zero padding and extension of an existing frame."""
    return f"{k:0{len(example.stem)}d}{example.suffix}"


def _check_first(seq: SOTSequence, notes: list[tuple[str, str]] = ()) -> SOTSequence:
    seq.validate()
    for item, reason in notes:
        seq.skip(item, reason)
    return seq


def read_otb_folder(seq_dir: str | Path, ranges: dict[str, tuple[int, int]] | None = None) -> list[SOTSequence]:
    """One OTB folder (``img/`` + ``groundtruth_rect[.K].txt``) → one sequence per GT file, sharing ``img/``."""
    seq_dir = Path(seq_dir)
    ranges = OTB_FRAME_RANGES if ranges is None else ranges
    out = []
    for name, gt_file in _otb_gt_files(seq_dir):
        gt = read_boxes(gt_file)
        notes: list[tuple[str, str]] = []
        frames, gt, first_line, start = _align_frames(name, seq_dir / "img", gt, gt_file, ranges, notes)
        out.append(_check_first(SOTSequence(name, frames, gt, gt_file, first_line, start), notes))
    return out


def read_gt_folder(seq_dir: str | Path) -> SOTSequence:
    """LaSOT / GOT-10k style folder: ``groundtruth.txt`` + frames in ``img/`` or the folder itself.

    A GT file with a single row for a longer sequence (GOT-10k test split) gives a sequence that is tracked
    but not scored (``evaluable=False``).
    """
    seq_dir = Path(seq_dir)
    gt_file = seq_dir / "groundtruth.txt"
    gt = read_boxes(gt_file)
    img_dir = seq_dir / "img" if _images_in(seq_dir / "img") else seq_dir
    images = _images_in(img_dir)
    if len(gt) == 1 and len(images) > 1:
        seq = SOTSequence(seq_dir.name, images, gt, gt_file, evaluable=False)
        return _check_first(seq)
    frames, gt, first_line, start = _align_frames(seq_dir.name, img_dir, gt, gt_file, {})
    return _check_first(SOTSequence(seq_dir.name, frames, gt, gt_file, first_line, start))


def read_pysot_json(root: str | Path, json_file: str | Path) -> list[SOTSequence]:
    """pysot annotation file (``{video: {video_dir, init_rect, img_names, gt_rect, attr}}``).

    Image paths are relative to ``root``. Jogging-1/2 and Skating2-1/2 are looked up in the shared
    ``Jogging/`` / ``Skating2/`` folders when no separate copy exists.
    """
    root, json_file = Path(root), Path(json_file)
    try:
        meta = json.loads(json_file.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise UnitrackError(f"cannot read {json_file}: {e}") from None
    if not isinstance(meta, dict):
        raise UnitrackError(f"{json_file}: expected a mapping video → {{img_names, gt_rect, ...}}")
    out = []
    for name, v in meta.items():
        where = f"{json_file} (video {name!r})"
        if not isinstance(v, dict) or "img_names" not in v or "gt_rect" not in v:
            raise UnitrackError(f"{where}: expected keys 'img_names' and 'gt_rect'")
        try:
            gt = np.asarray([[float(x) for x in r] for r in v["gt_rect"]], dtype=np.float64).reshape(-1, 4)
        except (TypeError, ValueError):
            raise UnitrackError(f"{where}: 'gt_rect' must be a list of [x, y, w, h] rows") from None
        frames = [_resolve_json_image(root, str(p), where) for p in v["img_names"]]
        if len(frames) != len(gt):
            raise UnitrackError(f"{where}: {len(frames)} img_names but {len(gt)} gt_rect rows")
        seq = SOTSequence(str(name), frames, gt, json_file, attrs=list(v.get("attr", []) or []))
        out.append(_check_first(seq))
    return out


def _resolve_json_image(root: Path, rel: str, where: str) -> Path:
    p = root / rel
    if p.is_file():
        return p
    parts = Path(rel).parts
    m = re.fullmatch(r"(.+)-\d+", parts[0]) if parts else None
    if m:  # Jogging-1/img/0001.jpg → Jogging/img/0001.jpg
        q = root / m.group(1) / Path(*parts[1:])
        if q.is_file():
            return q
    raise UnitrackError(f"{where}: frame {p} does not exist")


def find_sequence_dirs(root: Path, depth: int = 2) -> list[Path]:
    """Sequence folders under root (root itself, children, or grandchildren as in LaSOT's category/seq)."""
    if is_otb_sequence(root) or is_gt_sequence(root):
        return [root]
    found: list[Path] = []
    level = [root]
    for _ in range(depth):
        nxt = []
        for d in level:
            for c in sorted((p for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")),
                            key=lambda p: p.name.lower()):
                if is_otb_sequence(c) or is_gt_sequence(c):
                    found.append(c)
                elif (c / "img").is_dir() and _images_in(c / "img"):
                    raise UnitrackError(f"{c}: frames in img/ but no ground truth (groundtruth_rect.txt for OTB, "
                                        f"groundtruth.txt for LaSOT / GOT-10k); add it or move the folder out of {root}")
                else:
                    nxt.append(c)
        if found:
            return found
        level = nxt
    return found


def read_sot_dataset(root: str | Path, max_sequences: int | None = None,
                     ranges: dict[str, tuple[int, int]] | None = None) -> list[SOTSequence]:
    """Auto-detect the layout under ``root`` and read every sequence.

    Order of preference: a pysot JSON (``OTB2015.json``) in root; root itself being one sequence; OTB
    folders / LaSOT / GOT-10k folders one or two levels below root (GOT-10k ``list.txt`` sets the order).
    """
    root = Path(root)
    if not root.is_dir():
        raise UnitrackError(f"SOT data root {root} is not a folder")
    seqs: list[SOTSequence] = []
    js = next((root / j for j in PYSOT_JSONS if (root / j).is_file()), None)
    if js is not None:
        seqs = read_pysot_json(root, js)
    else:
        dirs = find_sequence_dirs(root)
        lst = root / "list.txt"
        if lst.is_file():  # GOT-10k order
            order = {n.strip(): i for i, n in enumerate(lst.read_text().split()) if n.strip()}
            dirs.sort(key=lambda d: (order.get(d.name, len(order)), d.name))
        for d in dirs:
            if is_otb_sequence(d):
                seqs.extend(read_otb_folder(d, ranges))
            else:
                seqs.append(read_gt_folder(d))
    if not seqs:
        raise UnitrackError(
            f"{root}: no SOT sequences found; expected OTB folders (<Seq>/img/*.jpg + groundtruth_rect.txt), "
            f"an OTB2015.json (pysot), or LaSOT/GOT-10k folders (<seq>/groundtruth.txt + frames)"
        )
    names = [s.name for s in seqs]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise UnitrackError(f"{root}: duplicate sequence names {sorted(dup)} (result files are named by sequence)")
    if max_sequences:
        seqs = seqs[:max_sequences]
    return seqs


# ------------------------------------------------------------------------------------------------- metrics

def overlap_ratio(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """IoU of x,y,w,h boxes row by row, boxes as [x, x+w) × [y, y+h) (no +1 pixel), clipped to [0, 1]."""
    left = np.maximum(gt[:, 0], pred[:, 0])
    right = np.minimum(gt[:, 0] + gt[:, 2], pred[:, 0] + pred[:, 2])
    top = np.maximum(gt[:, 1], pred[:, 1])
    bottom = np.minimum(gt[:, 1] + gt[:, 3], pred[:, 1] + pred[:, 3])
    inter = np.maximum(0, right - left) * np.maximum(0, bottom - top)
    union = gt[:, 2] * gt[:, 3] + pred[:, 2] * pred[:, 3] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / union
    return np.clip(np.nan_to_num(iou, nan=0.0), 0.0, 1.0)


def gt_valid_mask(gt: np.ndarray, rule: str = "xywh") -> np.ndarray:
    """Frames that count as annotated. 'xywh' (reference toolkit): all of x, y, w, h > 0; 'wh': w, h > 0."""
    with np.errstate(invalid="ignore"):
        if rule == "xywh":
            return np.sum(gt > 0, axis=1) == 4
        if rule == "wh":
            return np.sum(gt[:, 2:] > 0, axis=1) == 2
    raise ValueError(f"unknown GT validity rule {rule!r}")


def ope_curves(gt: np.ndarray, pred: np.ndarray, valid_rule: str = "xywh") -> dict[str, np.ndarray]:
    """Success (21), precision (51) and normalised-precision (51) curves of one sequence, as fractions.

    Frames whose GT is not valid (``valid_rule``) count as failures in all three curves. (The pysot
    toolkit gives them distance −1 in the precision curves, i.e. counts them as hits; we do not.)
    """
    gt = np.asarray(gt, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    n = len(gt)
    if pred.shape != gt.shape:
        raise ValueError(f"prediction shape {pred.shape} != ground truth shape {gt.shape}")
    mask = gt_valid_mask(gt, valid_rule) & np.all(np.isfinite(pred), axis=1)
    iou = np.full(n, -1.0)
    iou[mask] = overlap_ratio(gt[mask], pred[mask])
    gc = gt[:, :2] + (gt[:, 2:] - 1) / 2
    pc = pred[:, :2] + (pred[:, 2:] - 1) / 2
    dist = np.full(n, np.inf)
    ndist = np.full(n, np.inf)
    dist[mask] = np.sqrt(np.sum((gc[mask] - pc[mask]) ** 2, axis=1))
    wh = gt[mask, 2:] + 1e-16
    ndist[mask] = np.sqrt(np.sum(((gc[mask] - pc[mask]) / wh) ** 2, axis=1))
    return {
        "success": (iou[None, :] > SUCCESS_THRESHOLDS[:, None]).sum(1) / n,
        "precision": (dist[None, :] <= PRECISION_THRESHOLDS[:, None]).sum(1) / n,
        "norm_precision": (ndist[None, :] <= NORM_PRECISION_THRESHOLDS[:, None]).sum(1) / n,
    }


def curves_to_metrics(curves: dict[str, np.ndarray]) -> dict[str, float]:
    """AUC = mean success over the 21 thresholds; precision at 20 px; normalised precision at 0.2 (in %)."""
    return {
        "AUC": float(100 * np.mean(curves["success"])),
        "Precision@20": float(100 * curves["precision"][20]),
        "NormPrecision@0.2": float(100 * curves["norm_precision"][20]),
    }


@dataclass
class OPEResult:
    metrics: dict[str, float]
    per_sequence: dict[str, dict[str, float]]
    curves: dict[str, np.ndarray]  # mean curves over sequences
    per_sequence_curves: dict[str, dict[str, np.ndarray]]


class OPE(Metric):
    """One-pass evaluation (the OTB toolkit's success / precision curves) as an :class:`eval.base.Metric`.

    ``eval_sequence`` gives one sequence's curves; ``combine`` averages the curves over sequences and reads
    the metrics off the mean curve (the pysot way; not the mean of per-sequence AUCs — equal for AUC, not
    for the precision points). Rates are in percent, as the toolkit reports them.
    """

    fields = (
        MetricSpec("AUC", label="AUC", unit="percent", headline=True, description="area under the success curve"),
        MetricSpec("Precision@20", label="P@20", unit="percent", headline=True, description="centre error ≤ 20 px"),
        MetricSpec("NormPrecision@0.2", label="nP@0.2", unit="percent", headline=True,
                   description="normalised centre error ≤ 0.2"),
    )

    def __init__(self, valid_rule: str = "xywh"):
        self.valid_rule = valid_rule

    def eval_sequence(self, gt: np.ndarray, pred: np.ndarray) -> dict[str, np.ndarray]:
        return ope_curves(gt, pred, self.valid_rule)

    def combine_curves(self, per_curves: dict[str, dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        return {k: np.mean([c[k] for c in per_curves.values()], axis=0) for k in ("success", "precision",
                                                                                 "norm_precision")}

    def combine(self, per_sequence: dict[str, dict[str, np.ndarray]]) -> dict[str, float]:
        return curves_to_metrics(self.combine_curves(per_sequence))


assert tuple(f.key for f in OPE.fields) == METRIC_KEYS


def evaluate_ope(gts: dict[str, np.ndarray], preds: dict[str, np.ndarray], valid_rule: str = "xywh") -> OPEResult:
    """OPE over sequences: per-sequence curves, then the mean curve (the pysot way of averaging)."""
    if not gts:
        raise UnitrackError("no evaluable sequences to score")
    ope = OPE(valid_rule)
    per_curves = {name: ope.eval_sequence(gts[name], preds[name]) for name in gts}
    mean = ope.combine_curves(per_curves)
    return OPEResult(
        metrics=curves_to_metrics(mean),
        per_sequence={n: curves_to_metrics(c) for n, c in per_curves.items()},
        curves=mean,
        per_sequence_curves=per_curves,
    )


def read_predictions(pred_dir: str | Path, sequences: list[SOTSequence], allow_longer: bool = False
                     ) -> dict[str, np.ndarray]:
    """``<pred_dir>/<seq>.txt`` for every sequence, each with exactly one row per annotated frame
    (``allow_longer``: extra rows are ignored, for scoring the first frames only). Every row is a box
    with finite x, y and w, h >= 0, or NaN,NaN,NaN,NaN (no box: a failure in every curve)."""
    pred_dir = Path(pred_dir)
    out = {}
    for s in sequences:
        p = pred_dir / f"{s.name}.txt"
        if not p.is_file():
            raise UnitrackError(f"missing result file {p} for sequence {s.name} ({len(s)} frames)")
        boxes = read_boxes(p)
        bad = box_rows_error(boxes)
        if bad is not None:
            raise UnitrackError(f"{p}:{bad[0] + 1}: predicted box {boxes[bad[0]].tolist()} {bad[1]}")
        if allow_longer:
            boxes = boxes[:len(s.gt)]
        if len(boxes) != len(s.gt):
            raise UnitrackError(f"{p}: {len(boxes)} rows, expected one x,y,w,h row per frame ({len(s.gt)})")
        out[s.name] = boxes
    return out


def score_sot(gt_root: str | Path, pred_dir: str | Path, valid_rule: str = "xywh",
              max_sequences: int | None = None) -> OPEResult:
    """Score result files in the pysot/OTB format against the ground truth of a dataset root."""
    seqs = [s for s in read_sot_dataset(gt_root, max_sequences) if s.evaluable]
    preds = read_predictions(pred_dir, seqs)
    return evaluate_ope({s.name: s.gt for s in seqs}, preds, valid_rule)


# ------------------------------------------------------------------------------------------------- plots

def plot_ope(curves: dict[str, dict[str, np.ndarray]], out_dir: str | Path, title: str = "OPE",
             prefix: str = "") -> list[Path]:
    """Success and precision plots (PNG) of one or more trackers; legend sorted by AUC / precision@20.

    ``curves`` maps a label to a dict with 'success' (21) and 'precision' (51) curves as fractions.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    specs = (
        ("success", SUCCESS_THRESHOLDS, "Overlap threshold", "Success rate", f"Success plots of {title}",
         lambda c: 100 * float(np.mean(c)), "AUC"),
        ("precision", PRECISION_THRESHOLDS, "Location error threshold (px)", "Precision",
         f"Precision plots of {title}", lambda c: 100 * float(c[20]), "P@20"),
    )
    for key, xs, xl, yl, tt, summary, _ in specs:
        fig = Figure(figsize=(6, 4.5), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 1, 1)
        items = sorted(curves.items(), key=lambda kv: -summary(kv[1][key]))
        for label, c in items:
            ax.plot(xs, c[key], linewidth=2, label=f"{label} [{summary(c[key]):.1f}]")
        ax.set_xlim(xs[0], xs[-1])
        ax.set_ylim(0, 1.02)
        ax.set_xlabel(xl)
        ax.set_ylabel(yl)
        ax.set_title(tt)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="lower left" if key == "success" else "lower right", fontsize=9)
        fig.tight_layout()
        path = out_dir / f"{prefix}{key}_plot.png"
        tmp = path.with_name(f".{path.name}.tmp")
        fig.savefig(tmp, format="png")
        tmp.replace(path)
        written.append(path)
    return written
