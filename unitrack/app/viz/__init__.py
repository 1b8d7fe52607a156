"""Look at the tracking: draw the predictions of any task over the frames (MP4 / GIF / PNG).

``unitrack viz RESULT_DIR --out DIR`` reads a result folder (``result.json`` names the task and the
dataset root, ``pred/`` holds the benchmark-format predictions); the task's ``viz_loader`` (declared
by its :class:`~unitrack.tasks.TaskSpec`, next to its head) parses predictions and ground truth in
their native formats into :class:`~unitrack.eval.view.SequenceView` objects, which are rendered, per
sequence:

* SOT: predicted box (red) and ground-truth box (green);
* VOS: DAVIS-palette mask overlay with object contours;
* MOT: boxes with track ids in stable colours (hash of the id) and short trails;
* MOTS: masks with ids; PoseTrack / JHMDB: skeletons with ids;
* ground truth overlaid (white) or side by side on request;
* for association tasks (spec family ``association``), an error strip under the frames: ID switches, missed objects and false
  positives per frame from a motmetrics accumulator (IoU 0.5), with the failing ground-truth objects
  marked on the frame where they happen.

All drawing is on RGB ``uint8`` arrays with vectorised numpy / OpenCV calls; loops only run over
objects (boxes, skeletons), never over pixels. The package: :mod:`.draw` (colours and drawing
primitives), :mod:`.errors` (association events, error strip), :mod:`.render` (one sequence's
frames), :mod:`.writers` (MP4 / GIF / PNG); this module reads result folders and ties them together.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from unitrack.app.viz.draw import (
    FP_COLOR,
    GT_OVERLAY_COLOR,
    INFO_BG,
    MISS_COLOR,
    PALETTE,
    SOT_GT_COLOR,
    SOT_PRED_COLOR,
    STRIP_BG,
    SWITCH_COLOR,
    _box_corners,  # noqa: F401  (tests draw with it)
    colorize,
    davis_palette,
    draw_boxes,
    draw_contours,
    draw_skeletons,
    draw_trails,
    font_scale,
    id_colors,
    line_width,
    lut_for,
    mask_boundary,
    overlay_labels,
    put_tag,
    side_by_side,
)
from unitrack.app.viz.errors import Events, association_events, box_iou, error_strip, strip_cursor
from unitrack.app.viz.render import (
    GT_MODES,
    VizOptions,
    _select_frames,
    draw_gt_overlay,
    draw_objects,
    is_association,
    read_rgb,
    render_sequence,
)
from unitrack.app.viz.writers import FORMATS, write_frames, write_png
from unitrack.eval.view import Objects, SequenceView, kpts_to_boxes
from unitrack.tasks import get_spec
from unitrack.utils import UnitrackError, progress

log = logging.getLogger("unitrack")

GIF_MAX_WIDTH = 960  # default GIF width cap when --width is not given


# ------------------------------------------------------------------------------------------------
# result folders → videos
# ------------------------------------------------------------------------------------------------


@dataclass
class ResultInfo:
    task: str
    data_root: Path
    pred_dir: Path
    config: dict


def open_result(result_dir: str | Path, task: str | None = None, data: str | Path | None = None) -> ResultInfo:
    """Task, dataset root and prediction folder of a result folder (``result.json`` + ``pred/``).

    ``task`` / ``data`` override what result.json says (a moved dataset), or stand in for it when
    ``result_dir`` is a bare folder of predictions.
    """
    rd = Path(result_dir)
    if not rd.exists():
        raise UnitrackError(f"result folder {rd} does not exist")
    rf = rd / "result.json" if rd.is_dir() else rd
    cfg: dict = {}
    if rf.is_file():
        from unitrack.results import Result

        r = Result.load(rf)
        task = task or r.task
        data = data or r.fingerprint.get("data_root")
        cfg = r.config or {}
        pred = rf.parent / "pred"
        if data is None:
            raise UnitrackError(f"{rf}: no fingerprint.data_root; pass --data with the dataset root")
    else:
        if not task or not data:
            raise UnitrackError(f"{rd} holds no result.json; pass --task and --data to draw a bare prediction folder")
        pred = rd / "pred" if (rd / "pred").is_dir() else rd
    if get_spec(task).viz_loader is None:  # an unknown task is an error here too
        raise UnitrackError(f"task {task!r} cannot be drawn: its TaskSpec declares no viz_loader")
    root = Path(data)
    if str(data) == "demo":
        from unitrack.eval.demo import demo_task_root

        root = Path(demo_task_root(task))
    if not root.exists():
        raise UnitrackError(f"dataset root {root} (from {rf if rf.is_file() else '--data'}) does not exist; "
                            f"pass --data with its new location")
    if not pred.is_dir():
        raise UnitrackError(f"no prediction folder {pred}")
    return ResultInfo(task=task, data_root=root, pred_dir=pred, config=cfg)


def load_sequences(info: ResultInfo, seqs: list[str] | None = None) -> list[SequenceView]:
    """Every sequence with predictions (or the named ones), ready to draw (the task's ``viz_loader``)."""
    loader = get_spec(info.task).viz_loader
    if loader is None:
        raise UnitrackError(f"task {info.task!r} cannot be drawn: its TaskSpec declares no viz_loader")
    views = loader(info.data_root, info.pred_dir, info.config, seqs or None)
    if not views:
        raise UnitrackError(f"no predictions found under {info.pred_dir} for task {info.task}")
    return views


def _events_for(task: str, seq: SequenceView, opts: VizOptions) -> Events | None:
    if not opts.errors or not is_association(task):
        return None
    if not any(g is not None for g in seq.gt):
        return None
    return association_events(seq)


def visualise(result_dir: str | Path, out: str | Path, *, seqs: list[str] | None = None, fmt: str = "mp4",
              opts: VizOptions | None = None, fps: float | None = None, task: str | None = None,
              data: str | Path | None = None) -> list[Path]:
    """Draw every sequence of a result (or ``seqs``) into ``out``: ``<seq>.mp4|.gif`` or ``<seq>/NNNNN.png``,
    plus ``<seq>_errors.png`` (the error strip) for association tasks. Returns the paths written."""
    opts = opts or VizOptions()
    if fmt not in FORMATS:
        raise UnitrackError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    info = open_result(result_dir, task, data)
    views = load_sequences(info, seqs)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for seq in views:
        sopts = opts
        if fmt == "gif" and opts.width is None and seq.frames:
            w = _image_width(seq.frames[0])
            if w > GIF_MAX_WIDTH:  # a GIF of full-HD frames is hundreds of MB: draw it smaller
                log.info("%s: GIF drawn %d px wide (frames are %d px; --width to change)", seq.name, GIF_MAX_WIDTH, w)
                sopts = replace(opts, width=GIF_MAX_WIDTH)
        events = _events_for(info.task, seq, sopts)
        n = len(_select_frames(len(seq.frames), sopts))
        frames = progress(render_sequence(seq, info.task, sopts, events), total=n, desc=f"viz {seq.name}")
        target = out / (seq.name if fmt == "png" else f"{seq.name}.{fmt}")
        written.append(write_frames(frames, target, fmt, fps or seq.fps))
        if events is not None:
            strip = error_strip(events, max(640, min(4 * len(seq.frames), 2000)), 72)
            written.append(write_png(out / f"{seq.name}_errors.png", strip))
            tot = events.totals
            log.info("%s: %d ID switches, %d misses, %d false positives over %d GT objects", seq.name,
                     tot["id_switches"], tot["misses"], tot["false_positives"], tot["gt_objects"])
    return written


def _image_width(path: Path) -> int:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.size[0]
    except OSError:
        return 0


def render_preview(result_dir: str | Path, out_path: str | Path, max_frames: int = 24, width: int = 320,
                   seq: str | None = None, fps: float = 8.0) -> Path:
    """A small animated GIF of one sequence of a result (the first with predictions, or ``seq``):
    up to ``max_frames`` frames spread over the sequence, ``width`` px wide, error strip included
    for association tasks. Returns the GIF path (for the HTML report)."""
    info = open_result(result_dir)
    views = load_sequences(info, [seq] if seq else None)
    sv = views[0]
    T = len(sv.frames)
    idx = sorted(set(np.linspace(0, T - 1, min(T, max_frames)).round().astype(int).tolist()))
    opts = VizOptions(frame_indices=idx, width=width, trail=4, info=width >= 240)
    events = _events_for(info.task, sv, opts)
    out = Path(out_path)
    return write_frames(render_sequence(sv, info.task, opts, events), out, "gif", fps)



# ------------------------------------------------------------------------------------------------
# command line
# ------------------------------------------------------------------------------------------------


def cli(args: argparse.Namespace) -> int:
    """``unitrack viz RESULT_DIR --out DIR``."""
    opts = VizOptions(gt=getattr(args, "gt", None), trail=getattr(args, "trail", 10),
                      errors=not getattr(args, "no_errors", False), max_frames=getattr(args, "max_frames", None),
                      stride=getattr(args, "stride", 1) or 1, width=getattr(args, "width", None))
    paths = visualise(args.result_dir, args.out, seqs=getattr(args, "seq", None) or None,
                      fmt=getattr(args, "format", "mp4"), opts=opts, fps=getattr(args, "fps", None),
                      task=getattr(args, "task", None), data=getattr(args, "data", None))
    for p in paths:
        print(p)
    return 0


__all__ = [  # everything drawn or read here, importable from unitrack.app.viz
    "FORMATS", "GIF_MAX_WIDTH", "GT_MODES", "PALETTE", "Events", "Objects", "ResultInfo", "SequenceView",
    "VizOptions", "FP_COLOR", "GT_OVERLAY_COLOR", "INFO_BG", "MISS_COLOR", "SOT_GT_COLOR", "SOT_PRED_COLOR",
    "STRIP_BG", "SWITCH_COLOR", "association_events", "box_iou", "cli", "colorize", "davis_palette",
    "draw_boxes", "draw_contours", "draw_gt_overlay", "draw_objects", "draw_skeletons", "draw_trails",
    "error_strip", "font_scale", "id_colors", "is_association", "kpts_to_boxes", "line_width",
    "load_sequences", "lut_for", "mask_boundary", "open_result", "overlay_labels", "put_tag", "read_rgb",
    "render_preview", "render_sequence", "side_by_side", "strip_cursor", "visualise", "write_frames",
    "write_png",
]
