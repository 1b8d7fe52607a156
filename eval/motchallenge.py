"""MOTChallenge (MOT15/16/17/20) box format: dataset layout, reader, writer and TrackEval scoring.

Files are comma-separated, one row per box and frame (frames 1-based, boxes ``x, y, w, h`` in pixels
with the MOTChallenge 1-based top-left):

* ``gt/gt.txt``   ``frame,id,x,y,w,h,conf,class,visibility`` (MOT16/17/20, 9 columns) or the MOT15
  10-column form ``frame,id,x,y,w,h,conf,-1,-1,-1``; 6–10 columns are read (missing conf/class = 1).
* ``det/det.txt`` ``frame,-1,x,y,w,h,score`` with 7 (mot17-mini, some releases) or 10 columns.
* results        ``frame,id,x,y,w,h,conf,-1,-1,-1`` (what :func:`write_mot_results` writes; 6–10 read).

Layouts (``root`` = ``--data`` / ``--gt``): ``<root>/<split>/<seq>/`` (MOT16/17 download, demo),
``<root>/images/<split>/<seq>/`` (the reference repository) or ``<root>/<seq>/`` directly. A sequence
is a folder with ``img1/``, ``gt/gt.txt`` or ``seqinfo.ini``; seqmaps are generated, never required.

Documented handling of imperfect input (each warning is logged once per file, with counts, and
noted on the sequence with :meth:`~unitrack.eval.base.Sequence.skip`, so that it reaches
``result.json["skipped"]``):

* ``seqinfo.ini`` is checked against the images actually present: when ``seqLength`` disagrees
  with the number of frames in ``img1/`` (the mot17-mini trap: 600 declared, 4–8 present) the
  images win, and GT / detections / predictions are cut to them for tracking and scoring. Image
  names must be ``000001.jpg …`` without gaps. A wrong ``imWidth/imHeight`` is a warning.
* det rows: wrong column count, non-numbers, frame < 1 or beyond ``seqLength`` → :class:`UnitrackError`
  naming file and line, and so is an empty file; frames beyond the images present are ignored
  (warning); boxes with w ≤ 0 or h ≤ 0 are dropped (warning); rows need not be sorted; frames
  without rows simply have no detections.
* gt / prediction rows: the same column and number checks; ids must be integers; boxes need w, h > 0;
  the same (frame, id) twice → error; an empty gt.txt → error; frames beyond the images present but
  within ``seqLength`` are cut (warning), beyond ``seqLength`` → error.
* Scoring uses TrackEval's ``MotChallenge2DBox`` (HOTA, CLEAR, Identity) on a temporary layout of
  validated copies; ``benchmark`` selects its preprocessing (MOT16/17/20: class-1 GT only, predictions
  matched to distractor classes removed, zero-marked GT ignored; MOT15: no class filter).
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from unitrack.eval.base import Sequence as _Sequence
from unitrack.eval.base import skipped_items
from unitrack.eval.formats import IMAGE_EXTS, list_frames, read_mot_txt, read_seqinfo
from unitrack.utils import UnitrackError, atomic_write_text

log = logging.getLogger("unitrack")

BENCHMARKS = ("MOT15", "MOT16", "MOT17", "MOT20")
#: metrics reported per sequence and combined; ratios are fractions in [0, 1] as TrackEval gives them
METRIC_KEYS = ("IDF1", "HOTA", "MOTA", "IDSW", "FP", "FN", "DetA", "AssA", "LocA", "MOTP", "IDP", "IDR",
               "MT", "ML", "Frag", "GT_IDs", "IDs")


# ---------------------------------------------------------------------------------------------------
# sequences
# ---------------------------------------------------------------------------------------------------


@dataclass(init=False)
class MOTSequence(_Sequence):
    """One MOTChallenge sequence as found on disk (frames = the images present, when there are any).

    ``images`` is the historical name of ``frames`` (the same list); ``size`` is ``(height, width)`` when
    both are known. The constructor keeps its keywords and order (``name, path, images, …``).
    """

    name: str
    frames: list[Path]
    size: tuple[int, int] | None
    path: Path
    num_frames: int  # frames tracked and scored: images present, else seqinfo seqLength, else GT extent
    declared_length: int | None  # seqinfo.ini seqLength (may be larger: the mot17-mini trap)
    frame_rate: float
    width: int | None
    height: int | None
    gt_file: Path | None
    det_file: Path | None
    warnings: list[str] = field(default_factory=list)

    def __init__(self, name: str, path: Path, images: list[Path], num_frames: int, declared_length: int | None,
                 frame_rate: float, width: int | None, height: int | None, gt_file: Path | None,
                 det_file: Path | None, warnings: list[str] | None = None) -> None:
        super().__init__(name=name, frames=images,
                         size=(height, width) if height is not None and width is not None else None)
        self.path, self.num_frames, self.declared_length, self.frame_rate = path, num_frames, declared_length, frame_rate
        self.width, self.height, self.gt_file, self.det_file = width, height, gt_file, det_file
        self.warnings = [] if warnings is None else warnings

    @property
    def images(self) -> list[Path]:
        return self.frames

    @images.setter
    def images(self, value: list[Path]) -> None:
        self.frames = value

    @property
    def max_frame(self) -> int:
        """The largest frame number a file may legitimately mention (seqLength when it is larger)."""
        return max(self.num_frames, self.declared_length or 0)


def _int_field(info: dict, key: str, path: Path) -> int | None:
    if key.lower() not in info:
        return None
    v = info[key.lower()]
    try:
        f = float(v)
    except ValueError:
        raise UnitrackError(f"{path}: {key}={v!r} is not a number") from None
    if not f.is_integer() or f < 0:
        raise UnitrackError(f"{path}: {key}={v!r}: expected a non-negative integer")
    return int(f)


def _image_size(path: Path) -> tuple[int, int] | None:
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise UnitrackError(f"{path}: cannot read image")
    return img.shape[1], img.shape[0]


def load_sequence(folder: Path) -> MOTSequence:
    """Read one sequence folder, checking ``seqinfo.ini`` against the images that are really there."""
    folder = Path(folder)
    ini = folder / "seqinfo.ini"
    info = read_seqinfo(ini)
    warns: list[str] = []
    im_dir = folder / info.get("imdir", "img1")
    ext = info.get("imext")  # images must be frames 1…n without gaps; other extensions when none has imExt
    images = list_frames(im_dir, (ext,) if ext else IMAGE_EXTS, first=1, required=False)
    if not images and ext:
        images = list_frames(im_dir, first=1, required=False)
    declared = _int_field(info, "seqLength", ini)
    W, H = _int_field(info, "imWidth", ini), _int_field(info, "imHeight", ini)
    fr = info.get("framerate")
    try:
        frame_rate = float(fr) if fr is not None else None
    except ValueError:
        raise UnitrackError(f"{ini}: frameRate={fr!r} is not a number") from None
    if frame_rate is None or frame_rate <= 0:
        if images:
            warns.append(f"{ini}: no valid frameRate; assuming 30 fps")
        frame_rate = 30.0
    gt = folder / "gt" / "gt.txt"
    det = folder / "det" / "det.txt"
    if images:
        n = len(images)
        if declared is not None and declared != n:
            warns.append(f"{ini}: seqLength={declared} but {im_dir} holds {n} images; using the {n} frames "
                         f"present (ground truth, detections and predictions are cut to them)")
        real = _image_size(images[0])
        if W is not None and H is not None and real != (W, H):
            warns.append(f"{ini}: imWidth×imHeight={W}×{H} but {images[0].name} is {real[0]}×{real[1]}; using the image")
        W, H = real
    elif declared is not None:
        n = declared
    elif gt.is_file():
        n = _max_frame(gt)
        warns.append(f"{folder}: no images and no seqLength in seqinfo.ini; using the last GT frame ({n})")
    else:
        raise UnitrackError(f"{folder}: not a MOTChallenge sequence (no {im_dir.name}/ images, seqinfo.ini or gt/gt.txt)")
    for w in warns:
        log.warning(w)
    seq = MOTSequence(name=folder.name, path=folder, images=images, num_frames=n, declared_length=declared,
                      frame_rate=frame_rate, width=W, height=H, gt_file=gt if gt.is_file() else None,
                      det_file=det if det.is_file() else None, warnings=warns)
    seq.skipped += [{"item": f"sequence {seq.name}", "reason": w} for w in warns]  # logged above
    return seq


def _is_sequence(p: Path) -> bool:
    return p.is_dir() and ((p / "img1").is_dir() or (p / "gt" / "gt.txt").is_file() or (p / "seqinfo.ini").is_file())


def split_folder(root: Path, split: str = "train") -> Path:
    """The folder holding the sequence folders: ``root/split``, ``root/images/split`` or ``root``."""
    root = Path(root)
    for cand in (root / split, root / "images" / split, root):
        if cand.is_dir() and any(_is_sequence(p) for p in cand.iterdir()):
            return cand
    raise UnitrackError(
        f"{root}: no MOTChallenge sequences found; expected <root>/{split}/<seq>/{{img1/,gt/gt.txt,det/det.txt,"
        f"seqinfo.ini}} (or <root>/images/{split}/<seq>, or <root>/<seq>)")


def find_sequences(root: str | Path, split: str = "train", need_images: bool = False,
                   need_gt: bool = False, max_sequences: int | None = None) -> list[MOTSequence]:
    """All sequences under ``root`` (sorted by name), optionally only those with images / GT."""
    base = split_folder(Path(root), split)
    out = []
    for p in sorted(base.iterdir()):
        if not _is_sequence(p):
            continue
        if need_gt and not (p / "gt" / "gt.txt").is_file():
            continue
        s = load_sequence(p)
        if need_images and not s.images:
            raise UnitrackError(f"{p}: no images in {p / 'img1'} (needed to run the tracker)")
        out.append(s)
    if not out:
        what = "with gt/gt.txt " if need_gt else ""
        raise UnitrackError(f"{base}: no sequence folders {what}found")
    if max_sequences:
        out = out[:max_sequences]
    return out


# ---------------------------------------------------------------------------------------------------
# txt reader / writer
# ---------------------------------------------------------------------------------------------------


def _max_frame(path: Path) -> int:
    rows, _ = read_mot_txt(path, "gt")
    return int(rows[:, 0].max()) if len(rows) else 0


def _check_unique_ids(rows: np.ndarray, lines: np.ndarray, path: Path) -> None:
    """The same (frame, id) twice is an error (TrackEval would reject it less clearly)."""
    if len(rows) < 2:
        return
    key = rows[:, 0].astype(np.int64) * (1 << 32) + rows[:, 1].astype(np.int64)
    order = np.argsort(key, kind="stable")
    dup = np.flatnonzero(key[order][1:] == key[order][:-1])
    if len(dup):
        a, b = sorted((order[dup[0]], order[dup[0] + 1]))
        raise UnitrackError(f"{path}:{lines[b]}: id {int(rows[b, 1])} appears twice in frame {int(rows[b, 0])} "
                            f"(also line {lines[a]}); ids must be unique within a frame")


def _cut_frames(rows: np.ndarray, lines: np.ndarray, seq: MOTSequence, path: Path, kind: str,
                strict: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Drop rows of frames beyond the frames present, noted on ``seq``; with ``strict``, a frame beyond
    ``seqLength`` (or beyond the sequence, when seqinfo does not say more) is an error."""
    n = seq.num_frames
    beyond = rows[:, 0] > n
    if not beyond.any():
        return rows, lines
    if strict:
        hard = rows[:, 0] > seq.max_frame
        if hard.any():
            k = int(np.flatnonzero(hard)[0])
            raise UnitrackError(f"{path}:{lines[k]}: frame {int(rows[k, 0])} is beyond the sequence "
                                f"{seq.name} ({seq.max_frame} frames)")
    seq.skip(path, f"{int(beyond.sum())} {kind} rows in frames > {n} ignored (sequence {seq.name} has {n} frames"
                   f"{' present' if seq.images else ''}; seqLength={seq.declared_length})")
    return rows[~beyond], lines[~beyond]


def _check_rows(rows: np.ndarray, lines: np.ndarray, path: Path, kind: str) -> None:
    """Integer ids and boxes with w, h > 0 (GT and predictions; TrackEval would score anything else)."""
    if not len(rows):
        return
    ids = rows[:, 1]
    bad = np.flatnonzero(ids != np.round(ids))
    if len(bad):
        k = int(bad[0])
        raise UnitrackError(f"{path}:{lines[k]}: id {ids[k]:g} is not an integer ({kind} ids are integers)")
    bad = np.flatnonzero((rows[:, 4] <= 0) | (rows[:, 5] <= 0))
    if len(bad):
        k = int(bad[0])
        raise UnitrackError(f"{path}:{lines[k]}: box width/height {rows[k, 4]:g}×{rows[k, 5]:g}; {kind} boxes "
                            f"x,y,w,h need w, h > 0")


def read_gt(seq: MOTSequence, benchmark: str = "MOT17") -> np.ndarray:
    """GT rows normalised to 9 columns ``frame,id,x,y,w,h,conf,class,vis``, cut to the sequence's frames.

    MOT15's 10-column rows (``conf,-1,-1,-1``) get class 1 (MOT15 has no classes).
    """
    if seq.gt_file is None:
        raise UnitrackError(f"{seq.path}: no gt/gt.txt")
    path = seq.gt_file
    raw, lines = read_mot_txt(path, "gt")
    if not len(raw):
        raise UnitrackError(f"{path}: no ground-truth rows (expected frame,id,x,y,w,h,conf,class,visibility)")
    out = np.ones((len(raw), 9))
    k = raw.shape[1] if len(raw) else 9
    out[:, : min(k, 9)] = raw[:, : min(k, 9)]
    if benchmark == "MOT15" or k == 10 or k < 8:
        out[:, 7] = 1
    if k < 9:
        out[:, 8] = 1
    if benchmark != "MOT15" and len(out):
        cls = out[:, 7]
        bad = np.flatnonzero((cls < 1) | (cls > 13) | (cls != np.round(cls)))
        if len(bad):
            i = int(bad[0])
            raise UnitrackError(f"{path}:{lines[i]}: class {cls[i]:g} is not a MOTChallenge class (1–13) under "
                                f"{benchmark} rules; for MOT15-style files use --set mot.benchmark=MOT15")
    _check_rows(out, lines, path, "ground-truth")
    _check_unique_ids(out, lines, path)
    return _cut_frames(out, lines, seq, path, "gt")[0]


def split_gt_classes(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of a gt.txt (as :func:`read_mot_txt` reads them) → (evaluated rows, distractor rows), following
    TrackEval's MOT17 preprocessing: evaluated = class 1 (pedestrian) with the consider flag set;
    distractors = classes 2, 7, 8, 12 (person on vehicle, static person, distractor, reflection). Files
    without class columns (MOT15, or -1 there) keep every row whose consider flag is not 0."""
    if rows.shape[1] >= 8 and (rows[:, 7] > 0).any():
        cls = rows[:, 7].astype(np.int64)
        flag = rows[:, 6]
        valid = (cls == 1) & (flag != 0)
        distract = np.isin(cls, (2, 7, 8, 12))
        return rows[valid], rows[distract]
    if rows.shape[1] >= 7 and (rows[:, 6] == 0).any() and (rows[:, 6] >= 0).all():
        return rows[rows[:, 6] != 0], rows[:0]
    return rows, rows[:0]


def read_detections(path: Path, seq: MOTSequence) -> dict[int, np.ndarray]:
    """det.txt → {frame: (K, 5) tlwh + score}, frames 1…num_frames only, invalid boxes dropped (noted)."""
    rows, lines = read_mot_txt(path, "det")
    if not len(rows):
        raise UnitrackError(f"{path}: no detections (empty file); expected frame,-1,x,y,w,h,score rows")
    return _det_rows_to_frames(rows, lines, path, seq)


def _det_rows_to_frames(rows: np.ndarray, lines: np.ndarray, path: Path, seq: MOTSequence) -> dict[int, np.ndarray]:
    if len(rows) == 0:
        return {}
    rows, lines = _cut_frames(rows, lines, seq, path, "detection")
    if len(rows) == 0:
        return {}
    bad = (rows[:, 4] <= 0) | (rows[:, 5] <= 0)
    if bad.any():
        seq.skip(path, f"{int(bad.sum())} boxes with zero or negative width/height dropped (first at line "
                       f"{int(lines[np.flatnonzero(bad)[0]])})")
        rows = rows[~bad]
    order = np.argsort(rows[:, 0], kind="stable")
    rows = rows[order]
    frames, starts = np.unique(rows[:, 0].astype(np.int64), return_index=True)
    chunks = np.split(rows[:, [2, 3, 4, 5, 6]], starts[1:])
    return {int(f): c for f, c in zip(frames, chunks)}


def gt_observations(seq: MOTSequence, benchmark: str = "MOT17") -> dict[int, np.ndarray]:
    """GT boxes as observations (``mot.gt_as_observations``): {frame: (K, 5) tlwh + score 1}.

    Keeps what the benchmark evaluates: rows with conf ≠ 0 and, except for MOT15, class 1 (pedestrian).
    """
    gt = read_gt(seq, benchmark)
    keep = gt[:, 6] != 0
    if benchmark != "MOT15":
        keep &= gt[:, 7] == 1
    gt = gt[keep & (gt[:, 4] > 0) & (gt[:, 5] > 0)]
    rows = np.concatenate([gt[:, :6], np.ones((len(gt), 1))], axis=1)
    return _det_rows_to_frames(rows, np.arange(1, len(rows) + 1), seq.gt_file, seq) if len(rows) else {}


def _frame_txts(folder: Path, seq: MOTSequence) -> dict[int, np.ndarray]:
    """The paper's per-frame observation files ``img1/<frame:06d>.txt``: ``cx cy w h score`` normalised."""
    if seq.width is None or seq.height is None:
        raise UnitrackError(f"{folder}: normalised observations need the image size of {seq.name}")
    out = {}
    for f in range(1, seq.num_frames + 1):
        p = folder / f"{f:06d}.txt"
        if not p.is_file():
            continue
        lines = [ln for ln in p.read_text().splitlines() if ln.strip()]
        if not lines:
            continue
        vals = []
        for i, ln in enumerate(lines):
            parts = ln.replace(",", " ").split()
            if len(parts) != 5:
                raise UnitrackError(f"{p}:{i + 1}: expected 5 values 'cx cy w h score' (normalised), got {len(parts)}")
            try:
                vals.append([float(x) for x in parts])
            except ValueError:
                raise UnitrackError(f"{p}:{i + 1}: not a number in {ln.strip()[:80]!r}") from None
        a = np.asarray(vals)
        if not np.isfinite(a).all():
            i = int(np.flatnonzero(~np.isfinite(a).all(1))[0])
            raise UnitrackError(f"{p}:{i + 1}: NaN or infinite value in {lines[i].strip()[:80]!r}")
        w, h = a[:, 2] * seq.width, a[:, 3] * seq.height
        box = np.stack([a[:, 0] * seq.width - w / 2, a[:, 1] * seq.height - h / 2, w, h, a[:, 4]], 1)
        box = box[(w > 0) & (h > 0)]
        if len(box):
            out[f] = box
    return out


def observation_source(seq: MOTSequence, obs_root: str | Path | None, split: str = "train") -> Path:
    """Where the observations of ``seq`` come from: its ``det/det.txt`` or a user folder.

    A user folder may hold ``<seq>.txt`` or ``<seq>/det/det.txt`` (MOTChallenge det format) or the
    paper's ``<seq>/img1/<frame:06d>.txt`` (normalised ``cx cy w h score``), optionally under ``<split>/``.
    """
    if obs_root is None:
        if seq.det_file is None:
            raise UnitrackError(f"{seq.path}: no det/det.txt; give observations with --set mot.observations=DIR "
                                "or use the GT boxes with --set mot.gt_as_observations=true")
        return seq.det_file
    root = Path(obs_root).expanduser()
    if not root.is_dir():
        raise UnitrackError(f"mot.observations={obs_root}: folder does not exist")
    for base in (root, root / split):
        for cand in (base / f"{seq.name}.txt", base / seq.name / "det" / "det.txt", base / seq.name / "img1"):
            if cand.exists():
                return cand
    raise UnitrackError(f"mot.observations={root}: no observations for {seq.name} (expected {seq.name}.txt, "
                        f"{seq.name}/det/det.txt or {seq.name}/img1/<frame:06d>.txt)")


def read_observations(seq: MOTSequence, obs_root: str | Path | None = None, split: str = "train",
                      gt_as_observations: bool = False, benchmark: str = "MOT17") -> dict[int, np.ndarray]:
    """{frame: (K, 5) tlwh + score} of one sequence from the configured source."""
    if gt_as_observations:
        return gt_observations(seq, benchmark)
    src = observation_source(seq, obs_root, split)
    if src.is_dir():
        return _frame_txts(src, seq)
    return read_detections(src, seq)


def format_mot_rows(rows: Sequence[Sequence[float]]) -> str:
    """``frame,id,x,y,w,h,1,-1,-1,-1`` lines (rows of frame, id, x, y, w, h), sorted by frame then id."""
    rows = sorted(rows, key=lambda r: (int(r[0]), int(r[1])))
    return "".join(f"{int(f)},{int(i)},{x:.2f},{y:.2f},{w:.2f},{h:.2f},1,-1,-1,-1\n" for f, i, x, y, w, h in rows)


def write_mot_results(path: str | Path, rows: Sequence[Sequence[float]]) -> None:
    """Write one sequence's tracking result atomically (an empty file when there are no rows)."""
    atomic_write_text(path, format_mot_rows(rows))


def read_predictions(path: Path, seq: MOTSequence) -> np.ndarray:
    """A result file → rows normalised to ``frame,id,x,y,w,h,conf,-1,-1,-1`` for TrackEval."""
    raw, lines = read_mot_txt(path, "pred")
    out = -np.ones((len(raw), 10))
    if len(raw):
        out[:, :6] = raw[:, :6]
        out[:, 6] = raw[:, 6] if raw.shape[1] >= 7 else 1.0
    _check_rows(out, lines, path, "predicted")
    _check_unique_ids(out, lines, path)
    return _cut_frames(out, lines, seq, path, "prediction")[0]


# ---------------------------------------------------------------------------------------------------
# TrackEval scoring
# ---------------------------------------------------------------------------------------------------


def _fmt_rows(rows: np.ndarray) -> str:
    rows = np.asarray(rows)
    if len(rows) == 0:
        return ""
    order = np.lexsort((rows[:, 1], rows[:, 0]))
    return "".join(",".join(f"{v:.10g}" for v in r) + "\n" for r in rows[order])


def summarise(res: Mapping) -> dict[str, float]:
    """TrackEval's per-class result dict → our flat metric names."""
    h, c, i = res["HOTA"], res["CLEAR"], res["Identity"]
    return {
        "IDF1": float(i["IDF1"]), "HOTA": float(np.mean(h["HOTA"])), "MOTA": float(c["MOTA"]),
        "IDSW": int(c["IDSW"]), "FP": int(c["CLR_FP"]), "FN": int(c["CLR_FN"]),
        "DetA": float(np.mean(h["DetA"])), "AssA": float(np.mean(h["AssA"])), "LocA": float(np.mean(h["LocA"])),
        "MOTP": float(c["MOTP"]), "IDP": float(i["IDP"]), "IDR": float(i["IDR"]),
        "MT": int(c["MT"]), "ML": int(c["ML"]), "Frag": int(c["Frag"]),
        "GT_IDs": int(res["Count"]["GT_IDs"]), "IDs": int(res["Count"]["IDs"]),
    }  # fmt: skip


def score_sequences(sequences: Sequence[MOTSequence], pred_files: Mapping[str, Path],
                    benchmark: str = "MOT17") -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Score prediction files against GT with TrackEval (HOTA, CLEAR, Identity; IoU 0.5).

    Returns ``(combined metrics, {sequence: metrics})``. GT and predictions are validated, cut to the
    sequence's frames and written into a temporary TrackEval layout with a generated seqmap.
    """
    import trackeval

    benchmark = benchmark.upper()
    if benchmark not in BENCHMARKS:
        raise UnitrackError(f"mot.benchmark={benchmark!r}: expected one of {', '.join(BENCHMARKS)}")
    if not sequences:
        raise UnitrackError("no sequences to score")
    with tempfile.TemporaryDirectory(prefix="unitrack-trackeval-") as tmp:
        tmp = Path(tmp)
        gt_dir, tr_dir = tmp / "gt", tmp / "trackers" / "unitrack" / "data"
        tr_dir.mkdir(parents=True)
        for s in sequences:
            if s.name not in pred_files:
                raise UnitrackError(f"no prediction file for sequence {s.name}")
            gt = read_gt(s, benchmark)
            pr = read_predictions(Path(pred_files[s.name]), s)
            (gt_dir / s.name / "gt").mkdir(parents=True)
            (gt_dir / s.name / "gt" / "gt.txt").write_text(_fmt_rows(gt))
            (gt_dir / s.name / "seqinfo.ini").write_text(
                f"[Sequence]\nname={s.name}\nseqLength={s.num_frames}\nframeRate={s.frame_rate:g}\n")
            (tr_dir / f"{s.name}.txt").write_text(_fmt_rows(pr))
        seqmap = tmp / "seqmap.txt"
        seqmap.write_text("name\n" + "".join(f"{s.name}\n" for s in sequences))
        ev_cfg = trackeval.Evaluator.get_default_eval_config()
        ev_cfg.update({"USE_PARALLEL": False, "BREAK_ON_ERROR": True, "LOG_ON_ERROR": None, "PRINT_RESULTS": False,
                       "PRINT_CONFIG": False, "TIME_PROGRESS": False, "OUTPUT_SUMMARY": False,
                       "OUTPUT_DETAILED": False, "PLOT_CURVES": False, "OUTPUT_EMPTY_CLASSES": False})
        ds_cfg = trackeval.datasets.MotChallenge2DBox.get_default_dataset_config()
        ds_cfg.update({"GT_FOLDER": str(gt_dir), "TRACKERS_FOLDER": str(tmp / "trackers"),
                       "OUTPUT_FOLDER": str(tmp / "out"), "TRACKERS_TO_EVAL": ["unitrack"], "BENCHMARK": benchmark,
                       "SPLIT_TO_EVAL": "train", "SKIP_SPLIT_FOL": True, "SEQMAP_FILE": str(seqmap),
                       "DO_PREPROC": benchmark != "MOT15", "TRACKER_SUB_FOLDER": "data", "PRINT_CONFIG": False})
        buf = io.StringIO()
        try:
            with contextlib.redirect_stdout(buf):
                evaluator = trackeval.Evaluator(ev_cfg)
                dataset = trackeval.datasets.MotChallenge2DBox(ds_cfg)
                metrics = [trackeval.metrics.HOTA({"PRINT_CONFIG": False}),
                           trackeval.metrics.CLEAR({"PRINT_CONFIG": False, "THRESHOLD": 0.5}),
                           trackeval.metrics.Identity({"PRINT_CONFIG": False, "THRESHOLD": 0.5})]
                res, _ = evaluator.evaluate([dataset], metrics)
        except trackeval.utils.TrackEvalException as e:
            msg = str(e).replace(str(tmp), "<temporary copy>")
            files = ", ".join(str(s.gt_file) for s in sequences)
            raise UnitrackError(f"TrackEval rejected the validated copies of the ground truth ({files}) and the "
                                f"predictions: {msg}") from None
        finally:
            log.debug("TrackEval output:\n%s", buf.getvalue())
    r = res["MotChallenge2DBox"]["unitrack"]
    per_seq = {s.name: summarise(r[s.name]["pedestrian"]) for s in sequences}
    return summarise(r["COMBINED_SEQ"]["pedestrian"]), per_seq


def score_dir(gt_root: str | Path, pred_dir: str | Path, benchmark: str = "MOT17", split: str = "train",
              max_sequences: int | None = None, notes: list[dict[str, str]] | None = None
              ) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """``unitrack score --task mot``: every GT sequence under ``gt_root`` against ``pred_dir/<seq>.txt``.

    ``notes`` (a list) receives what was left out, as ``{"item", "reason"}`` entries (``TaskOutput.skipped``)."""
    pred_dir = Path(pred_dir)
    if not pred_dir.is_dir():
        raise UnitrackError(f"--pred {pred_dir}: not a folder of <sequence>.txt result files")
    seqs = find_sequences(gt_root, split, need_gt=True, max_sequences=max_sequences)
    files = {p.stem: p for p in pred_dir.glob("*.txt")}
    if not files and (pred_dir / "data").is_dir():  # a TrackEval tracker folder
        files = {p.stem: p for p in (pred_dir / "data").glob("*.txt")}
    missing = [s.name for s in seqs if s.name not in files]
    if missing:
        raise UnitrackError(f"--pred {pred_dir}: no result file for sequence(s) {', '.join(missing)} "
                            f"(expected {pred_dir}/<sequence>.txt for every GT sequence under {gt_root})")
    base = split_folder(Path(gt_root), split)
    known = {p.name for p in base.iterdir()}  # incl. those cut by max_sequences
    no_gt = sorted(p for p in base.iterdir() if _is_sequence(p) and not (p / "gt" / "gt.txt").is_file())
    left_out_gt = [{"item": f"sequence {p.name}", "reason": f"no {p / 'gt' / 'gt.txt'}: not scored"} for p in no_gt]
    extra = sorted(e for e in set(files) - known if re.match(r"^[A-Za-z0-9]", e))
    left_out = [{"item": str(files[e]), "reason": "no ground-truth sequence of that name: not scored"} for e in extra]
    if extra:
        log.warning("--pred %s: ignoring result files without GT sequence: %s", pred_dir, ", ".join(extra[:10]))
    result = score_sequences(seqs, files, benchmark)
    if notes is not None:
        notes += skipped_items(seqs) + left_out_gt + left_out
    return result
