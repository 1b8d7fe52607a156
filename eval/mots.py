"""MOTS Challenge (MOTS20) text format: reader, writer, dataset layout and TrackEval scoring.

One row per object and frame: ``frame id class_id img_height img_width rle`` (space separated, frame
1-based, ``rle`` = COCO compressed RLE string, column-major as in pycocotools). Class 2 is pedestrian,
class 10 marks ignore regions in the ground truth (GT ids are ``class·1000 + instance``).

Every RLE string is validated *before* pycocotools touches it: pycocotools decodes a string whose run
lengths do not add up to ``h·w`` by writing past its buffer, so a malformed file must never reach it.
Output masks are made pixel-disjoint (TrackEval rejects overlapping masks): earlier masks win.

Layouts accepted (``root`` = ``--data`` / ``--gt``):
``<root>/<split>/<seq>/{img1,gt/gt.txt,det/det.txt,seqinfo.ini}`` (demo, MOTS20 download),
``<root>/images/<split>/<seq>/...`` (the reference repository), ``<root>/MOTS-<split>/<seq>/...``
(TrackEval's layout), ``<root>/<seq>/...`` directly, or one sequence folder.
Sequences come from ``<root>/seqmaps/MOTS-<split>.txt`` when it exists, otherwise every sub-folder
with ``img1/`` or ``gt/gt.txt``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from unitrack.eval.base import Sequence as _Sequence
from unitrack.eval.base import skipped_items
from unitrack.eval.formats import MOTSRow, list_frames, read_mots_txt, read_seqinfo, rle_counts_error  # noqa: F401
from unitrack.utils import UnitrackError, atomic_write_text

log = logging.getLogger("unitrack")

PEDESTRIAN = 2
IGNORE_CLASS = 10


# ---------------------------------------------------------------------------------------------------
# RLE helpers
# ---------------------------------------------------------------------------------------------------


def encode_mask(mask: np.ndarray) -> bytes:
    """COCO compressed RLE counts of one H×W binary mask."""
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return rle["counts"]


def decode_rles(rles: Sequence[dict], h: int, w: int) -> np.ndarray:
    """N×H×W uint8 masks from validated RLE dicts (``{'size': [h, w], 'counts': bytes}``); N may be 0."""
    from pycocotools import mask as mask_utils

    if not rles:
        return np.zeros((0, h, w), np.uint8)
    with warnings.catch_warnings():
        # pycocotools' Cython mask class predates NumPy 2's ``__array__(copy=...)``; the fallback it
        # triggers is correct (a copy is made), only the warning is noise
        warnings.filterwarnings("ignore", message=r"__array__ implementation doesn't accept a copy keyword",
                                category=DeprecationWarning)
        m = mask_utils.decode(list(rles))  # H×W×N, Fortran order
    return np.ascontiguousarray(m.transpose(2, 0, 1))


def make_disjoint(masks: np.ndarray) -> np.ndarray:
    """Pixel-disjoint copy of an N×H×W mask stack: a pixel belongs to the first mask that has it."""
    m = masks.astype(bool)
    if len(m) < 2 or m.sum(0, dtype=np.uint16).max() <= 1:  # already disjoint (the usual case)
        return m.astype(np.uint8)
    claimed = np.logical_or.accumulate(m, axis=0)
    out = m.copy()
    out[1:] &= ~claimed[:-1]
    return out.astype(np.uint8)


# ---------------------------------------------------------------------------------------------------
# Reader / writer
# ---------------------------------------------------------------------------------------------------


def overlap_error(rows: Sequence[MOTSRow], ignore_class: int | None = IGNORE_CLASS) -> str | None:
    """Why one frame's masks are not pixel-disjoint (None when they are), as TrackEval requires: object
    masks may not overlap each other nor, in the ground truth (``ignore_class``), the ignore regions
    (which may overlap each other: they are merged first)."""
    from pycocotools import mask as mask_utils

    objs = [r for r in rows if ignore_class is None or r.cls != ignore_class]
    ign = [r for r in rows if ignore_class is not None and r.cls == ignore_class]
    if len(objs) + (1 if ign else 0) < 2:
        return None
    rles = [r.rle for r in objs]
    if ign:
        rles.append(mask_utils.merge([r.rle for r in ign], intersect=False))
    areas = mask_utils.area(rles)
    union = mask_utils.area(mask_utils.merge(rles, intersect=False))
    if int(union) == int(np.sum(areas)):
        return None
    for i in range(len(objs)):  # name the first overlapping pair (error path only)
        for j in range(i + 1, len(rles)):
            if mask_utils.area(mask_utils.merge([rles[i], rles[j]], intersect=True)) > 0:
                other = f"id {objs[j].obj_id} (line {objs[j].line})" if j < len(objs) else "an ignore region (class 10)"
                return f"the mask of id {objs[i].obj_id} (line {objs[i].line}) overlaps {other}"
    return "masks overlap"  # pragma: no cover


def read_checked(path: str | Path, kind: str, n_frames: int | None = None, size: tuple[int, int] | None = None,
                 ) -> dict[int, list[MOTSRow]]:
    """Read a ground-truth (``kind="gt"``) or result (``"pred"``) MOTS file with :func:`read_mots_txt` and
    check what TrackEval would otherwise reject less clearly: pixel-disjoint masks per frame. Errors name
    this file, its line and frame, and say whether it is the ground truth or the prediction."""
    path = Path(path)
    frames = read_mots_txt(path, n_frames=n_frames, size=size)
    what = "ground truth" if kind == "gt" else "prediction"
    for fr, rows in sorted(frames.items()):
        err = overlap_error(rows, IGNORE_CLASS if kind == "gt" else None)
        if err:
            raise UnitrackError(f"{path}: frame {fr}: overlapping masks: {err} ({what} masks must be pixel-disjoint)")
    return frames


def frame_masks(rows: Sequence[MOTSRow], h: int, w: int) -> np.ndarray:
    """N×H×W uint8 masks of one frame's rows (0×H×W for a frame without objects)."""
    return decode_rles([r.rle for r in rows], h, w)


def format_mots_lines(frame: int, ids: Sequence[int], masks: np.ndarray, cls: int = PEDESTRIAN,
                      disjoint: bool = True) -> list[str]:
    """Lines of one frame; masks are made disjoint first (in the given order) and empty ones dropped."""
    if len(ids) != len(masks):
        raise ValueError("ids and masks differ in length")
    if len(masks) == 0:
        return []
    m = make_disjoint(masks) if disjoint else masks.astype(np.uint8)
    h, w = m.shape[1:]
    lines = []
    for oid, mk in zip(ids, m):
        if not mk.any():
            continue
        lines.append(f"{frame} {int(oid)} {cls} {h} {w} {encode_mask(mk).decode('ascii')}")
    return lines


def write_mots_txt(path: str | Path, frames: Mapping[int, tuple[Sequence[int], np.ndarray]],
                   cls: int = PEDESTRIAN) -> None:
    """Write {frame: (ids, N×H×W masks)} atomically; masks of a frame are made disjoint (first wins)."""
    lines: list[str] = []
    for frame in sorted(frames):
        ids, masks = frames[frame]
        lines += format_mots_lines(frame, ids, masks, cls)
    atomic_write_text(path, "".join(line + "\n" for line in lines))


# ---------------------------------------------------------------------------------------------------
# Dataset layout
# ---------------------------------------------------------------------------------------------------


@dataclass(init=False)
class MOTSSequence(_Sequence):
    """One MOTS sequence on disk: frames, size, frame rate and where its GT / observations live.

    ``size`` is ``(height, width)`` when both are known (0 = unknown). The constructor keeps its order
    ``(name, folder, frames, height, width, fps, length, gt_path, det_path, extra)``.
    """

    name: str
    frames: list[Path]
    size: tuple[int, int] | None
    folder: Path
    height: int
    width: int
    fps: float
    length: int  # frames the sequence has for scoring (seqinfo seqLength, else images / GT)
    gt_path: Path | None
    det_path: Path | None
    extra: dict = field(default_factory=dict)

    def __init__(self, name: str, folder: Path, frames: list[Path], height: int, width: int, fps: float,
                 length: int, gt_path: Path | None, det_path: Path | None, extra: dict | None = None) -> None:
        super().__init__(name=name, frames=frames, size=(height, width) if height and width else None)
        self.folder, self.height, self.width, self.fps, self.length = folder, height, width, fps, length
        self.gt_path, self.det_path = gt_path, det_path
        self.extra = {} if extra is None else extra


def split_folder(root: Path, split: str) -> Path:
    """The folder holding the sequence folders of ``split`` under a MOTS root (see module doc)."""
    root = Path(root)
    for cand in (root / split, root / "images" / split, root / f"MOTS-{split}", root / f"MOTS20-{split}"):
        if cand.is_dir():
            return cand
    return root


def _seqmap_names(root: Path, split: str) -> list[str] | None:
    sm = root / "seqmaps"
    cands = [sm / f"MOTS-{split}.txt", sm / f"MOTS20-{split}.txt"]
    if sm.is_dir():
        cands += sorted(sm.glob(f"*MOTS*-{split}.txt"))
    for cand in cands:
        if cand.is_file():
            names = []
            for i, line in enumerate(cand.read_text().splitlines()):
                tok = line.strip().split(",")[0].split()[0] if line.strip() else ""
                if i == 0 and tok.lower() == "name":
                    continue
                if tok:
                    names.append(tok)
            return names
    return None


def _gt_max_frame(path: Path) -> int:
    """Largest frame number in a MOTS txt file (cheap scan of the first column)."""
    mx = 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for ln, line in enumerate(f, 1):
            s = line.split(None, 1)
            if not s:
                continue
            try:
                mx = max(mx, int(s[0]))
            except ValueError:
                raise UnitrackError(f"{path}:{ln}: frame number {s[0]!r} is not an integer") from None
    return mx


def load_sequence(folder: Path) -> MOTSSequence:
    """Read one sequence folder (images optional: scoring needs only gt/gt.txt and seqinfo.ini)."""
    folder = Path(folder)
    info = read_seqinfo(folder / "seqinfo.ini")
    imdir = folder / info.get("imdir", "img1")
    frames = list_frames(imdir, first=1, required=False)  # images 1…n without gaps (none: scoring only)
    gt = folder / "gt" / "gt.txt"
    det = folder / "det" / "det.txt"
    try:
        h = int(info["imheight"]) if "imheight" in info else 0
        w = int(info["imwidth"]) if "imwidth" in info else 0
        fps = float(info.get("framerate", 30))
        seqlen = int(info["seqlength"]) if "seqlength" in info else None
    except ValueError as e:
        raise UnitrackError(f"{folder / 'seqinfo.ini'}: {e}") from None
    notes = []
    if frames:  # the images win over seqinfo.ini (masks must have the size of the images)
        from PIL import Image

        try:
            with Image.open(frames[0]) as im:
                iw, ih = im.size
        except OSError as e:
            raise UnitrackError(f"{frames[0]}: cannot read image ({e})") from None
        if h and w and (h, w) != (ih, iw):
            notes.append(f"seqinfo.ini says imWidth×imHeight={w}×{h} but {frames[0].name} is {iw}×{ih}; "
                         "using the image size")
        h, w = ih, iw
    if seqlen is not None and frames and seqlen != len(frames):
        notes.append(f"seqinfo.ini says seqLength={seqlen} but {len(frames)} images exist")
    if seqlen is None:
        seqlen = len(frames) if frames else (_gt_max_frame(gt) if gt.is_file() else 0)
    seq = MOTSSequence(folder.name, folder, frames, h, w, fps, seqlen, gt if gt.is_file() else None,
                       det if det.is_file() else None)
    for n in notes:
        seq.skip(f"sequence {folder.name}", n)
    return seq


def find_sequences(root: str | Path, split: str = "train", need_images: bool = False,
                   max_sequences: int | None = None) -> list[MOTSSequence]:
    """All sequences of ``split`` under a MOTS root (seqmap order when present, else sorted names)."""
    root = Path(root)
    if not root.is_dir():
        raise UnitrackError(f"{root}: MOTS root folder does not exist")
    if (root / "gt" / "gt.txt").is_file() or (root / "img1").is_dir():  # one sequence folder
        return [load_sequence(root)]
    base = split_folder(root, split)
    names = _seqmap_names(root, split)
    if names is None:
        names = sorted(p.name for p in base.iterdir()
                       if p.is_dir() and ((p / "img1").is_dir() or (p / "gt" / "gt.txt").is_file()))
    if not names:
        raise UnitrackError(f"{root}: no MOTS sequences found (expected <root>/{split}/<seq>/img1 or gt/gt.txt)")
    if max_sequences:
        names = names[:max_sequences]
    seqs = []
    for n in names:
        folder = base / n
        if not folder.is_dir():
            raise UnitrackError(f"{folder}: sequence listed in the seqmap does not exist")
        s = load_sequence(folder)
        if need_images and not s.frames:
            raise UnitrackError(f"{folder}: no images in img1/ (numbered 000001.jpg, ...)")
        seqs.append(s)
    return seqs


def observation_file(seq: MOTSSequence, obs_root: str | Path | None, split: str = "train") -> Path | list[Path]:
    """Where the mask observations of ``seq`` live.

    ``obs_root`` None → the benchmark's ``<seq>/det/det.txt``; otherwise a user folder with
    ``<seq>.txt`` (one MOTS txt per sequence), or the reference layout of one file per frame
    ``[<split>/]<seq>/img1/<frame:06d>.txt`` (returned as a list of files).
    """
    if obs_root is None:
        if seq.det_path is None:
            raise UnitrackError(f"{seq.folder}: no det/det.txt with mask observations (or set mots.observations)")
        return seq.det_path
    o = Path(obs_root)
    for cand in (o / f"{seq.name}.txt", o / split / f"{seq.name}.txt", o / seq.name / "det" / "det.txt"):
        if cand.is_file():
            return cand
    for cand in (o / seq.name / "img1", o / split / seq.name / "img1"):
        if cand.is_dir():
            return sorted(cand.glob("*.txt"))
    raise UnitrackError(f"{o}: no observations for sequence {seq.name} (expected {seq.name}.txt or {seq.name}/img1/*.txt)")


def read_observations(seq: MOTSSequence, obs_root: str | Path | None, split: str = "train",
                      n_frames: int | None = None) -> dict[int, list[MOTSRow]]:
    """Pedestrian (class 2) observation masks per frame, validated against the sequence size.

    Frame numbers must lie in 1..``n_frames`` (default: the larger of seqinfo's ``seqLength`` and the
    number of images), else the file and line are reported. Callers drop rows of frames without an
    image (a sliced sequence) themselves.
    """
    src = observation_file(seq, obs_root, split)
    size = (seq.height, seq.width) if seq.height and seq.width else None
    n = n_frames if n_frames is not None else (max(seq.length, len(seq.frames)) or None)
    files = src if isinstance(src, list) else [src]
    out: dict[int, list[MOTSRow]] = {}
    for f in files:
        for fr, rows in read_mots_txt(f, n_frames=n, size=size, classes=[PEDESTRIAN], unique_ids=False).items():
            out.setdefault(fr, []).extend(rows)
    return out


# ---------------------------------------------------------------------------------------------------
# Scoring with TrackEval
# ---------------------------------------------------------------------------------------------------

METRIC_KEYS = ("IDF1", "HOTA", "sMOTSA", "MOTSA", "IDSW", "DetA", "AssA", "MOTSP", "IDP", "IDR")


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.symlink(src.resolve(), dst)
    except OSError:
        shutil.copyfile(src, dst)


def _summarise(r: dict) -> dict[str, float]:
    hota, clear, ident = r["HOTA"], r["CLEAR"], r["Identity"]
    return {
        "IDF1": float(ident["IDF1"]),
        "HOTA": float(np.mean(hota["HOTA"])),
        "sMOTSA": float(clear["sMOTA"]),
        "MOTSA": float(clear["MOTA"]),
        "IDSW": int(clear["IDSW"]),
        "DetA": float(np.mean(hota["DetA"])),
        "AssA": float(np.mean(hota["AssA"])),
        "MOTSP": float(clear["MOTP"]),
        "IDP": float(ident["IDP"]),
        "IDR": float(ident["IDR"]),
        "TP": int(clear["CLR_TP"]),
        "FP": int(clear["CLR_FP"]),
        "FN": int(clear["CLR_FN"]),
    }


def evaluate_mots(sequences: Sequence[tuple[str, Path, int]], pred_dir: str | Path,
                  gt_lines: Mapping[str, str] | None = None, sizes: Mapping[str, tuple[int, int]] | None = None,
                  ) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Score ``<pred_dir>/<seq>.txt`` against GT with TrackEval's MOTSChallenge (HOTA, CLEAR, Identity).

    ``sequences`` = (name, gt.txt path, number of frames). ``gt_lines`` optionally replaces a
    sequence's GT file content (e.g. GT cut to the frames that exist). ``sizes`` = (H, W) of a
    sequence's images, which every mask must have. Every file is validated with :func:`read_checked`
    first (RLE, frames, classes, sizes, pixel-disjoint masks) so that errors name the ground-truth or
    the prediction file and its line. Returns (combined, per sequence); fractions as TrackEval reports them.
    """
    import trackeval

    pred_dir = Path(pred_dir)
    sizes = sizes or {}
    missing = [n for n, _, _ in sequences if not (pred_dir / f"{n}.txt").is_file()]
    if missing:
        raise UnitrackError(f"{pred_dir}: missing result files {', '.join(m + '.txt' for m in missing)}")
    for name, gt_path, length in sequences:
        cut = gt_lines is not None and name in gt_lines
        gt = read_checked(gt_path, "gt", n_frames=None if cut else length, size=sizes.get(name))
        pr = read_checked(pred_dir / f"{name}.txt", "pred", n_frames=length, size=sizes.get(name))
        gsz = next((r.h, r.w) for rows in gt.values() for r in rows) if gt else None
        psz = next((r.h, r.w) for rows in pr.values() for r in rows) if pr else None
        if gsz and psz and gsz != psz:
            raise UnitrackError(f"{pred_dir / f'{name}.txt'}: masks are {psz[0]}x{psz[1]} (height x width), the "
                                f"ground truth {gt_path} has {gsz[0]}x{gsz[1]}")

    with tempfile.TemporaryDirectory(prefix="unitrack_mots_") as tmp:
        tmp = Path(tmp)
        for name, gt_path, _ in sequences:
            dst = tmp / "gt" / name / "gt" / "gt.txt"
            if gt_lines is not None and name in gt_lines:
                dst.parent.mkdir(parents=True, exist_ok=True)
                dst.write_text(gt_lines[name])
            else:
                _link_or_copy(Path(gt_path), dst)
            _link_or_copy(pred_dir / f"{name}.txt", tmp / "trackers" / "pred" / "data" / f"{name}.txt")
        ds_cfg = {
            "GT_FOLDER": str(tmp / "gt"),
            "TRACKERS_FOLDER": str(tmp / "trackers"),
            "OUTPUT_FOLDER": str(tmp / "out"),
            "TRACKERS_TO_EVAL": ["pred"],
            "CLASSES_TO_EVAL": ["pedestrian"],
            "SEQ_INFO": {name: int(length) for name, _, length in sequences},
            "SKIP_SPLIT_FOL": True,
            "PRINT_CONFIG": False,
        }
        ev_cfg = {
            "USE_PARALLEL": False, "BREAK_ON_ERROR": True, "RETURN_ON_ERROR": False, "LOG_ON_ERROR": None,
            "PRINT_RESULTS": False, "PRINT_ONLY_COMBINED": True, "PRINT_CONFIG": False, "TIME_PROGRESS": False,
            "DISPLAY_LESS_PROGRESS": True, "OUTPUT_SUMMARY": False, "OUTPUT_EMPTY_CLASSES": False,
            "OUTPUT_DETAILED": False, "PLOT_CURVES": False,
        }
        sink = io.StringIO()
        try:
            with contextlib.redirect_stdout(sink):
                evaluator = trackeval.Evaluator(ev_cfg)
                dataset = trackeval.datasets.MOTSChallenge(ds_cfg)
                metrics = [trackeval.metrics.HOTA({"PRINT_CONFIG": False}),
                           trackeval.metrics.CLEAR({"PRINT_CONFIG": False}),
                           trackeval.metrics.Identity({"PRINT_CONFIG": False})]
                res, _ = evaluator.evaluate([dataset], metrics)
        except trackeval.utils.TrackEvalException as e:
            msg = str(e).replace(str(tmp), "<temporary copy>")
            files = ", ".join(str(gt_path) for _, gt_path, _ in sequences)
            raise UnitrackError(f"TrackEval rejected the validated ground truth ({files}) and predictions: {msg}"
                                ) from None
    r = res["MOTSChallenge"]["pred"]
    per_seq = {name: _summarise(r[name]["pedestrian"]) for name, _, _ in sequences}
    return _summarise(r["COMBINED_SEQ"]["pedestrian"]), per_seq


def gt_cut_to(path: Path, n_frames: int) -> tuple[str, int]:
    """GT text keeping only frames 1..n_frames (and the number of rows dropped)."""
    kept, dropped = [], 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            s = line.split(None, 1)
            if not s:
                continue
            try:
                fr = int(s[0])
            except ValueError:
                kept.append(line)  # let the validating reader report it
                continue
            if fr <= n_frames:
                kept.append(line if line.endswith("\n") else line + "\n")
            else:
                dropped += 1
    return "".join(kept), dropped


def score_dir(gt_root: str | Path, pred_dir: str | Path, split: str = "train",
              max_sequences: int | None = None, notes: list[dict[str, str]] | None = None,
              ) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Score every sequence of ``split`` with a ``gt/gt.txt`` under ``gt_root`` (see :func:`evaluate_mots`).

    ``notes`` (a list) receives what was left out, as ``{"item", "reason"}`` entries (``TaskOutput.skipped``)."""
    found = find_sequences(gt_root, split, max_sequences=max_sequences)
    seqs = [s for s in found if s.gt_path is not None]
    if not seqs:
        raise UnitrackError(f"{gt_root}: no sequence has gt/gt.txt")
    pred_dir = Path(pred_dir)
    # accept the results folder itself or a folder holding <seq>.txt one level down (e.g. pred/data)
    if not any((pred_dir / f"{s.name}.txt").is_file() for s in seqs) and (pred_dir / "data").is_dir():
        pred_dir = pred_dir / "data"
    result = evaluate_mots([(s.name, s.gt_path, s.length) for s in seqs], pred_dir,
                           sizes={s.name: s.size for s in seqs if s.size})
    if notes is not None:
        notes += skipped_items(found)
        notes += [{"item": f"sequence {s.name}", "reason": f"no {s.folder / 'gt' / 'gt.txt'}: not scored"}
                  for s in found if s.gt_path is None]
    return result
