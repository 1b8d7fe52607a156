"""Rendering one sequence: every frame with its predictions (and ground truth, trails, error marks)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from unitrack.app.viz.draw import (
    GT_OVERLAY_COLOR,
    INFO_BG,
    MISS_COLOR,
    PALETTE,
    SOT_GT_COLOR,
    SOT_PRED_COLOR,
    SWITCH_COLOR,
    draw_boxes,
    draw_contours,
    draw_skeletons,
    draw_trails,
    id_colors,
    line_width,
    lut_for,
    overlay_labels,
    put_tag,
    side_by_side,
)
from unitrack.app.viz.errors import Events, error_strip, strip_cursor
from unitrack.eval.view import Objects, SequenceView
from unitrack.tasks import get_spec
from unitrack.utils import UnitrackError, prefetch

GT_MODES = ("none", "overlay", "side")


@dataclass
class VizOptions:
    """How to draw: ground truth mode, trails, error strip, frame range and output size."""

    gt: str | None = None  # none | overlay | side (None: the task's default: overlay for SOT, else none)
    trail: int = 10  # frames of trail behind each track (0 = off)
    errors: bool = True  # error strip + markers for association tasks (needs ground truth)
    alpha: float = 0.5  # mask tint
    max_frames: int | None = None
    stride: int = 1
    frame_indices: list[int] | None = None  # explicit frames (overrides max_frames / stride)
    width: int | None = None  # output width (None: native)
    info: bool = True  # sequence name and frame number in the corner
    min_score: float = 0.0  # keypoints drawn when their score/visibility is above this


def read_rgb(path: str | Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise UnitrackError(f"cannot read image {path}")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def is_association(task: str | None) -> bool:
    """Whether ``task`` associates objects over time (its spec's family): trails and the error strip."""
    return task is not None and get_spec(task).family == "association"


def _colour_fn(view: SequenceView) -> Callable[[np.ndarray], np.ndarray]:
    if view.colours == "palette":
        return lambda ids: PALETTE[np.asarray(ids, np.int64) % 256]
    return id_colors


def _limbs(view: SequenceView, num_joints: int):
    return view.limbs.get(num_joints, ())


def draw_objects(img: np.ndarray, obj: Objects, view: SequenceView, *, alpha: float = 0.5, gt: bool = False,
                 min_score: float = 0.0, tags: bool = True) -> np.ndarray:
    """Draw one frame's objects in the style of their sequence ``view`` (masks, boxes, skeletons, id tags)."""
    th = line_width(img)
    if view.colours == "pred_gt":
        if obj.boxes is not None and len(obj.boxes):
            draw_boxes(img, obj.boxes, [SOT_GT_COLOR if gt else SOT_PRED_COLOR], th)
        return img
    colour_of = _colour_fn(view)
    lab = obj.label_map()
    if lab is not None:
        lut = lut_for(int(lab.max(initial=0)), obj.label_ids, colour_of)
        overlay_labels(img, lab, lut, alpha=alpha, contour=th)
    if not len(obj):
        return img
    cols = colour_of(obj.ids)
    if obj.kpts is not None:
        draw_skeletons(img, obj.kpts, _limbs(view, obj.kpts.shape[1]), cols, min_score=min_score)
    elif obj.boxes is not None and lab is None:
        draw_boxes(img, obj.boxes, cols, th)
    if tags and view.tags:
        boxes = obj.object_boxes()
        for tid, b, c in zip(obj.ids, boxes, cols):
            if b[2] <= 0 and b[3] <= 0 and obj.kpts is not None:
                continue
            put_tag(img, str(int(tid)), b[0], b[1], c)
    return img


def draw_gt_overlay(img: np.ndarray, gt: Objects, view: SequenceView, min_score: float = 0.0) -> np.ndarray:
    """Ground truth over the predictions: green boxes for one object (SOT), white outlines / contours /
    skeletons else."""
    th = max(1, line_width(img) - 1)
    if view.colours == "pred_gt":
        if gt.boxes is not None:
            draw_boxes(img, gt.boxes, [SOT_GT_COLOR], line_width(img))
        return img
    lab = gt.label_map()
    if lab is not None:
        draw_contours(img, lab, GT_OVERLAY_COLOR, th)
    elif gt.kpts is not None:
        draw_skeletons(img, gt.kpts, _limbs(view, gt.kpts.shape[1]), [GT_OVERLAY_COLOR], th, radius=th,
                       min_score=min_score)
    elif gt.boxes is not None:
        draw_boxes(img, gt.boxes, [GT_OVERLAY_COLOR], th, dashed=True)
    return img


def _mark_errors(img: np.ndarray, gt: Objects, miss_ids: np.ndarray, switch_ids: np.ndarray) -> None:
    """Outline the ground-truth objects that are missed (orange, dashed) or switched id (red) in this frame."""
    if not len(gt) or (not len(miss_ids) and not len(switch_ids)):
        return
    boxes = gt.object_boxes()
    th = line_width(img)
    for ids, col, text, dashed in ((miss_ids, MISS_COLOR, "miss", True), (switch_ids, SWITCH_COLOR, "IDsw", False)):
        sel = np.isin(gt.ids, ids)
        if not sel.any():
            continue
        draw_boxes(img, boxes[sel], [col], th + (0 if dashed else 1), dashed=dashed)
        for b in boxes[sel]:
            put_tag(img, text, b[0], b[1] + b[3], col, above=False)


def _select_frames(T: int, opts: VizOptions) -> list[int]:
    if opts.frame_indices is not None:
        return [i for i in opts.frame_indices if 0 <= i < T]
    idx = list(range(0, T, max(1, opts.stride)))
    return idx[: opts.max_frames] if opts.max_frames else idx


def render_sequence(seq: SequenceView, task: str | None = None, opts: VizOptions | None = None,
                    events: Events | None = None) -> Iterator[np.ndarray]:
    """Yield the drawn frames (RGB uint8) of one sequence; ``task`` (its name) gives association tasks
    their trails, ``events`` the error marks and strip."""
    opts = opts or VizOptions()
    gt_mode = opts.gt or seq.gt_mode
    if gt_mode not in GT_MODES:
        raise UnitrackError(f"--gt {gt_mode!r}: expected one of {', '.join(GT_MODES)}")
    T = len(seq.frames)
    frames = _select_frames(T, opts)
    trails: dict[int, deque] = {}
    last_seen: dict[int, int] = {}
    colour_of = _colour_fn(seq)
    trail = opts.trail if is_association(task) else 0
    strip = None
    for n, (t, img) in enumerate(zip(frames, prefetch([seq.frames[t] for t in frames], read_rgb, depth=4, workers=2))):
        h0, w0 = img.shape[:2]
        s = 1.0
        if opts.width and opts.width != w0:
            s = opts.width / w0
            img = cv2.resize(img, (opts.width, max(1, round(h0 * s))), interpolation=cv2.INTER_AREA)
        hw = img.shape[:2]
        base = img.copy() if gt_mode == "side" else None
        pred = seq.pred[t].scaled(s, hw)
        gt = seq.gt[t].scaled(s, hw) if seq.gt[t] is not None else None
        draw_objects(img, pred, seq, alpha=opts.alpha, min_score=opts.min_score)
        if trail > 0 and len(pred):
            bx = pred.object_boxes()
            centres = bx[:, :2] + bx[:, 2:] / 2
            for tid, c, b in zip(pred.ids.tolist(), centres, bx):
                if b[2] <= 0 and b[3] <= 0:
                    continue
                if tid not in trails or n - last_seen[tid] > trail:
                    trails[tid] = deque(maxlen=trail)
                trails[tid].append((float(c[0]), float(c[1])))
                last_seen[tid] = n
            live = {k: v for k, v in trails.items() if last_seen[k] == n}
            cols = dict(zip(live, colour_of(np.asarray(list(live), np.int64)))) if live else {}
            draw_trails(img, live, cols, max(1, line_width(img) - 1))
        if gt is not None and gt_mode == "overlay":
            draw_gt_overlay(img, gt, seq, opts.min_score)
        if events is not None and gt is not None:
            _mark_errors(img, gt, events.miss_ids[t], events.switch_ids[t])
        if opts.info:
            put_tag(img, f"{seq.name}  {t + 1}/{T}", 0, 0, INFO_BG, above=False)
        if gt_mode == "side":
            assert base is not None
            if gt is not None:
                draw_objects(base, gt, seq, alpha=opts.alpha, gt=True, min_score=opts.min_score)
            if opts.info:
                put_tag(base, "ground truth" if gt is not None else "ground truth (none)", 0, 0, INFO_BG, above=False)
            img = side_by_side(img, base)
        if events is not None:
            if strip is None:
                strip = error_strip(events, img.shape[1])
            img = np.concatenate([img, strip_cursor(strip, t, T)], 0)
        yield img


