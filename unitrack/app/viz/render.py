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
from unitrack.utils import UnitrackError, prefetch

GT_MODES = ("none", "overlay", "side")
ASSOCIATION_TASKS = ("mot", "mots", "posetrack")


# PoseTrack-18 (COCO order, 17 keypoints): the 'skeleton' of the PoseTrack-18 category, 0-based
POSETRACK18_LIMBS = [(15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7),
                     (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6)]
# PoseTrack-17 (15 joints: r-ankle, r-knee, r-hip, l-hip, l-knee, l-ankle, r-wrist, r-elbow, r-shoulder,
# l-shoulder, l-elbow, l-wrist, head-bottom, nose, head-top)
POSETRACK17_LIMBS = [(9, 10), (10, 11), (8, 7), (7, 6), (9, 12), (8, 12), (12, 14), (12, 13), (9, 3), (3, 4),
                     (4, 5), (8, 2), (2, 1), (1, 0), (2, 3)]
# JHMDB (15 joints: neck, belly, head, r-shoulder, l-shoulder, r-hip, l-hip, r-elbow, l-elbow, r-knee,
# l-knee, r-wrist, l-wrist, r-ankle, l-ankle)
JHMDB_LIMBS = [(0, 1), (0, 2), (0, 3), (0, 4), (1, 5), (1, 6), (3, 7), (4, 8), (5, 9), (6, 10), (7, 11),
               (8, 12), (9, 13), (10, 14)]


def limbs_for(task: str, num_joints: int) -> list[tuple[int, int]]:
    if num_joints == 17:
        return POSETRACK18_LIMBS
    if num_joints == 15:
        return JHMDB_LIMBS if task == "poseprop" else POSETRACK17_LIMBS
    return []



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


def _colour_fn(task: str) -> Callable[[np.ndarray], np.ndarray]:
    if task == "vos":
        return lambda ids: PALETTE[np.asarray(ids, np.int64) % 256]
    return id_colors


def draw_objects(img: np.ndarray, obj: Objects, task: str, *, alpha: float = 0.5, gt: bool = False,
                 min_score: float = 0.0, tags: bool = True) -> np.ndarray:
    """Draw one frame's objects in the task's style (masks, boxes, skeletons, id tags)."""
    th = line_width(img)
    if task == "sot":
        if obj.boxes is not None and len(obj.boxes):
            draw_boxes(img, obj.boxes, [SOT_GT_COLOR if gt else SOT_PRED_COLOR], th)
        return img
    colour_of = _colour_fn(task)
    lab = obj.label_map()
    if lab is not None:
        lut = lut_for(int(lab.max(initial=0)), obj.label_ids, colour_of)
        overlay_labels(img, lab, lut, alpha=alpha, contour=th)
    if not len(obj):
        return img
    cols = colour_of(obj.ids)
    if obj.kpts is not None:
        draw_skeletons(img, obj.kpts, limbs_for(task, obj.kpts.shape[1]), cols, min_score=min_score)
    elif obj.boxes is not None and lab is None:
        draw_boxes(img, obj.boxes, cols, th)
    if tags and task not in ("vos", "poseprop"):
        boxes = obj.object_boxes()
        for tid, b, c in zip(obj.ids, boxes, cols):
            if b[2] <= 0 and b[3] <= 0 and obj.kpts is not None:
                continue
            put_tag(img, str(int(tid)), b[0], b[1], c)
    return img


def draw_gt_overlay(img: np.ndarray, gt: Objects, task: str, min_score: float = 0.0) -> np.ndarray:
    """Ground truth over the predictions: green boxes for SOT, white outlines / contours / skeletons else."""
    th = max(1, line_width(img) - 1)
    if task == "sot":
        if gt.boxes is not None:
            draw_boxes(img, gt.boxes, [SOT_GT_COLOR], line_width(img))
        return img
    lab = gt.label_map()
    if lab is not None:
        draw_contours(img, lab, GT_OVERLAY_COLOR, th)
    elif gt.kpts is not None:
        draw_skeletons(img, gt.kpts, limbs_for(task, gt.kpts.shape[1]), [GT_OVERLAY_COLOR], th, radius=th,
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


def render_sequence(seq: SequenceView, task: str, opts: VizOptions | None = None,
                    events: Events | None = None) -> Iterator[np.ndarray]:
    """Yield the drawn frames (RGB uint8) of one sequence."""
    opts = opts or VizOptions()
    gt_mode = opts.gt or ("overlay" if task == "sot" else "none")
    if gt_mode not in GT_MODES:
        raise UnitrackError(f"--gt {gt_mode!r}: expected one of {', '.join(GT_MODES)}")
    T = len(seq.frames)
    frames = _select_frames(T, opts)
    trails: dict[int, deque] = {}
    last_seen: dict[int, int] = {}
    colour_of = _colour_fn(task)
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
        draw_objects(img, pred, task, alpha=opts.alpha, min_score=opts.min_score)
        if opts.trail > 0 and task in ASSOCIATION_TASKS and len(pred):
            bx = pred.object_boxes()
            centres = bx[:, :2] + bx[:, 2:] / 2
            for tid, c, b in zip(pred.ids.tolist(), centres, bx):
                if b[2] <= 0 and b[3] <= 0:
                    continue
                if tid not in trails or n - last_seen[tid] > opts.trail:
                    trails[tid] = deque(maxlen=opts.trail)
                trails[tid].append((float(c[0]), float(c[1])))
                last_seen[tid] = n
            live = {k: v for k, v in trails.items() if last_seen[k] == n}
            cols = dict(zip(live, colour_of(np.asarray(list(live), np.int64)))) if live else {}
            draw_trails(img, live, cols, max(1, line_width(img) - 1))
        if gt is not None and gt_mode == "overlay":
            draw_gt_overlay(img, gt, task, opts.min_score)
        if events is not None and gt is not None:
            _mark_errors(img, gt, events.miss_ids[t], events.switch_ids[t])
        if opts.info:
            put_tag(img, f"{seq.name}  {t + 1}/{T}", 0, 0, INFO_BG, above=False)
        if gt_mode == "side":
            assert base is not None
            if gt is not None:
                draw_objects(base, gt, task, alpha=opts.alpha, gt=True, min_score=opts.min_score)
            if opts.info:
                put_tag(base, "ground truth" if gt is not None else "ground truth (none)", 0, 0, INFO_BG, above=False)
            img = side_by_side(img, base)
        if events is not None:
            if strip is None:
                strip = error_strip(events, img.shape[1])
            img = np.concatenate([img, strip_cursor(strip, t, T)], 0)
        yield img


