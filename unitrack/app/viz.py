"""Look at the tracking: draw the predictions of any task over the frames (MP4 / GIF / PNG).

``unitrack viz RESULT_DIR --out DIR`` reads a result folder (``result.json`` names the task and the
dataset root, ``pred/`` holds the benchmark-format predictions), parses predictions and ground truth
in their native formats and renders, per sequence:

* SOT: predicted box (red) and ground-truth box (green);
* VOS: DAVIS-palette mask overlay with object contours;
* MOT: boxes with track ids in stable colours (hash of the id) and short trails;
* MOTS: masks with ids; PoseTrack / JHMDB: skeletons with ids;
* ground truth overlaid (white) or side by side on request;
* for association tasks, an error strip under the frames: ID switches, missed objects and false
  positives per frame from a motmetrics accumulator (IoU 0.5), with the failing ground-truth objects
  marked on the frame where they happen.

All drawing is on RGB ``uint8`` arrays with vectorised numpy / OpenCV calls; loops only run over
objects (boxes, skeletons), never over pixels.
"""

from __future__ import annotations

import argparse
import configparser
import contextlib
import json
import logging
import math
import os
import re
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from unitrack.utils import UnitrackError, prefetch, progress

log = logging.getLogger("unitrack")

FORMATS = ("mp4", "gif", "png")
GT_MODES = ("none", "overlay", "side")
ASSOCIATION_TASKS = ("mot", "mots", "posetrack")
GIF_MAX_WIDTH = 960  # default GIF width cap when --width is not given

# ------------------------------------------------------------------------------------------------
# colours
# ------------------------------------------------------------------------------------------------

SOT_PRED_COLOR = (255, 48, 48)  # red
SOT_GT_COLOR = (48, 230, 48)  # green
GT_OVERLAY_COLOR = (255, 255, 255)  # white: ground truth drawn over predictions
MISS_COLOR = (255, 150, 0)  # orange
SWITCH_COLOR = (255, 0, 0)  # red
FP_COLOR = (60, 140, 255)  # blue
STRIP_BG = (28, 28, 28)
INFO_BG = (0, 0, 0)


def davis_palette(n: int = 256) -> np.ndarray:
    """The DAVIS / PASCAL-VOC palette (``n``×3 RGB uint8): index 1 = (128,0,0), 2 = (0,128,0), …"""
    i = np.arange(n, dtype=np.int64)
    pal = np.zeros((n, 3), np.int64)
    for j in range(8):  # 8 bit planes, each gives one bit of r, g and b
        c = i >> (3 * j)
        for ch in range(3):
            pal[:, ch] |= ((c >> ch) & 1) << (7 - j)
    return pal.astype(np.uint8)


PALETTE = davis_palette()


def id_colors(ids: Sequence[int] | np.ndarray) -> np.ndarray:
    """Stable, well separated bright colours for track ids (N×3 RGB uint8), from a hash of the id.

    Hue is the Fibonacci hash of the id (fractional part of id × golden ratio), so consecutive ids —
    the ones that meet in a scene — are ~137° apart on the colour wheel; saturation and value come from
    a splitmix64 hash. The same id gets the same colour in every frame, sequence and run.
    """
    ids = np.asarray(ids).astype(np.int64).ravel()
    if not len(ids):
        return np.zeros((0, 3), np.uint8)
    hue = (np.mod(ids.astype(np.float64) * 0.6180339887498949, 1.0) * 180.0).astype(np.uint8) % 180
    x = ids.view(np.uint64)
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    sat = (180 + (x & np.uint64(0xFF)) % np.uint64(76)).astype(np.uint8)
    val = (215 + ((x >> np.uint64(8)) & np.uint64(0xFF)) % np.uint64(41)).astype(np.uint8)
    hsv = np.stack([hue, sat, val], axis=1)[:, None, :]
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[:, 0, :]


def _tuple(c: Any) -> tuple[int, int, int]:
    return tuple(int(v) for v in c)  # type: ignore[return-value]


# ------------------------------------------------------------------------------------------------
# skeletons
# ------------------------------------------------------------------------------------------------

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


# ------------------------------------------------------------------------------------------------
# what is drawn in one frame
# ------------------------------------------------------------------------------------------------


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


@dataclass
class SequenceView:
    """A sequence ready to draw: frame images, predictions and (optional) ground truth per frame."""

    name: str
    frames: list[Path]
    pred: list[Objects]
    gt: list[Objects | None]
    fps: float = 15.0


# ------------------------------------------------------------------------------------------------
# drawing primitives (in place on RGB uint8 images; all return the image)
# ------------------------------------------------------------------------------------------------


def line_width(img: np.ndarray) -> int:
    """Line thickness that reads well at the image's size: 1 px up to ~360 px, 2 at 480p, 4 at 1080p."""
    return max(1, int(round(min(img.shape[:2]) / 250)))


def font_scale(img: np.ndarray) -> float:
    return max(0.3, min(img.shape[:2]) / 900)


def lut_for(labels_max: int, label_ids: np.ndarray | None, colour_of: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Colour per label value (index 0 = background, black)."""
    if label_ids is None:
        lut = colour_of(np.arange(labels_max + 1))
    else:
        lut = np.concatenate([np.zeros((1, 3), np.uint8), colour_of(np.asarray(label_ids))], 0)
        if len(lut) <= labels_max:  # label values beyond label_ids: grey
            lut = np.concatenate([lut, np.full((labels_max + 1 - len(lut), 3), 128, np.uint8)], 0)
    lut = np.asarray(lut, np.uint8).copy()
    lut[0] = 0
    return lut


def mask_boundary(labels: np.ndarray, width: int = 1) -> np.ndarray:
    """Object pixels with a 4-neighbour of another label (thickened inwards to ``width`` px)."""
    lab = labels
    b = np.zeros(lab.shape, bool)
    b[:, 1:] |= lab[:, 1:] != lab[:, :-1]
    b[:, :-1] |= lab[:, :-1] != lab[:, 1:]
    b[1:] |= lab[1:] != lab[:-1]
    b[:-1] |= lab[:-1] != lab[1:]
    fg = lab > 0
    b &= fg
    if width > 1:
        k = np.ones((2 * (width - 1) + 1,) * 2, np.uint8)
        b = (cv2.dilate(b.view(np.uint8), k) > 0) & fg
    return b


def overlay_labels(img: np.ndarray, labels: np.ndarray, lut: np.ndarray, alpha: float = 0.5,
                   contour: int = 1, contour_lut: np.ndarray | None = None) -> np.ndarray:
    """Tint every labelled pixel with its colour (``alpha`` blend) and draw the object contours.

    ``lut`` maps label value → RGB; contour pixels get the full colour (or ``contour_lut``).
    """
    labels = np.asarray(labels)
    if labels.shape != img.shape[:2]:
        raise ValueError(f"label map {labels.shape} does not match image {img.shape[:2]}")
    if labels.max(initial=0) >= len(lut):
        lut = np.concatenate([lut, np.full((int(labels.max()) + 1 - len(lut), 3), 128, np.uint8)], 0)
    fg = (labels > 0).view(np.uint8)
    if not fg.any():
        return img
    col = colorize(labels, lut)
    blend = cv2.addWeighted(img, 1.0 - alpha, col, alpha, 0.0)
    cv2.copyTo(blend, fg, img)
    if contour > 0:
        b = mask_boundary(labels, contour).view(np.uint8)
        cv2.copyTo(col if contour_lut is None else colorize(labels, contour_lut), b, img)
    return img


def colorize(labels: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """Label map → RGB image through a colour table (cv2.LUT for 8-bit labels)."""
    if labels.dtype == np.uint8 and len(lut) <= 256:
        table = np.zeros((256, 1, 3), np.uint8)
        table[: len(lut), 0] = lut
        return cv2.LUT(cv2.merge([labels, labels, labels]), table)
    return np.take(lut, labels.astype(np.intp, copy=False), axis=0)


def draw_contours(img: np.ndarray, labels: np.ndarray, color: tuple[int, int, int], width: int = 1) -> np.ndarray:
    """Only the contours of a label map, in one colour (ground truth over predictions)."""
    b = mask_boundary(np.asarray(labels), width)
    img[b] = color
    return img


def _box_corners(boxes: np.ndarray) -> np.ndarray:
    """0-based x,y,w,h → integer x0,y0,x1,y1: the first and last pixel columns / rows of the box, where
    the outline is drawn (a box with top-left pixel (x0, y0) and size w×h spans x0 … x0+w−1)."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    x0, y0 = np.round(b[:, 0]), np.round(b[:, 1])
    x1 = np.maximum(x0, np.round(b[:, 0] + b[:, 2]) - 1)  # last pixel column / row inside the box
    y1 = np.maximum(y0, np.round(b[:, 1] + b[:, 3]) - 1)
    out = np.stack([x0, y0, x1, y1], 1)
    return np.clip(out, -1e6, 1e6).astype(np.int64)


def draw_boxes(img: np.ndarray, boxes: np.ndarray, colors: np.ndarray | Sequence, thickness: int | None = None,
               dashed: bool = False) -> np.ndarray:
    """Box outlines (x,y,w,h), one colour per box (or one for all)."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    if not len(boxes):
        return img
    th = thickness or line_width(img)
    cols = np.asarray(colors).reshape(-1, 3)
    if len(cols) == 1:
        cols = np.repeat(cols, len(boxes), 0)
    for (x0, y0, x1, y1), c in zip(_box_corners(boxes), cols):
        if dashed:
            segs = _dashed_rect(x0, y0, x1, y1, dash=max(4, 3 * th))
            cv2.polylines(img, segs, False, _tuple(c), th, cv2.LINE_8)
        else:
            cv2.rectangle(img, (int(x0), int(y0)), (int(x1), int(y1)), _tuple(c), th, cv2.LINE_8)
    return img


def _dashed_rect(x0: int, y0: int, x1: int, y1: int, dash: int) -> list[np.ndarray]:
    segs = []
    for (ax, ay), (bx, by) in (((x0, y0), (x1, y0)), ((x1, y0), (x1, y1)), ((x1, y1), (x0, y1)), ((x0, y1), (x0, y0))):
        n = max(1, int(math.hypot(bx - ax, by - ay) // (2 * dash)))
        t = np.linspace(0, 1, 2 * n + 1)
        pts = np.stack([ax + (bx - ax) * t, ay + (by - ay) * t], 1).round().astype(np.int32)
        segs.extend(pts[i:i + 2] for i in range(0, 2 * n, 2))
    return segs


def put_tag(img: np.ndarray, text: str, x: float, y: float, bg: Sequence[int], scale: float | None = None,
            above: bool = True) -> np.ndarray:
    """A small filled label (``text`` on colour ``bg``) with its bottom-left at (x, y), kept inside the image."""
    scale = scale or font_scale(img)
    th = 1 if scale < 0.8 else 2
    (tw, tht), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, th)
    h, w = img.shape[:2]
    pad = max(1, int(2 * scale))
    bw, bh = tw + 2 * pad, tht + base + 2 * pad
    x0 = int(np.clip(round(x), 0, max(0, w - bw)))
    y0 = int(round(y)) - bh if above else int(round(y))
    y0 = int(np.clip(y0, 0, max(0, h - bh)))
    cv2.rectangle(img, (x0, y0), (x0 + bw - 1, y0 + bh - 1), _tuple(bg), -1)
    lum = 0.299 * bg[0] + 0.587 * bg[1] + 0.114 * bg[2]
    fg = (0, 0, 0) if lum > 140 else (255, 255, 255)
    cv2.putText(img, text, (x0 + pad, y0 + pad + tht), cv2.FONT_HERSHEY_SIMPLEX, scale, fg, th, cv2.LINE_AA)
    return img


def draw_trails(img: np.ndarray, trails: dict[int, Sequence[tuple[float, float]]], colors: dict[int, Sequence[int]],
                thickness: int | None = None) -> np.ndarray:
    """Polylines through the recent centres of each track."""
    th = thickness or line_width(img)
    for tid, pts in trails.items():
        if len(pts) < 2:
            continue
        p = np.round(np.asarray(pts, np.float64)).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(img, [p], False, _tuple(colors[tid]), th, cv2.LINE_AA)
    return img


def draw_skeletons(img: np.ndarray, kpts: np.ndarray, limbs: Sequence[tuple[int, int]], colors: np.ndarray | Sequence,
                   thickness: int | None = None, radius: int | None = None, min_score: float = 0.0) -> np.ndarray:
    """Limbs (lines between visible joint pairs) and joints (dots) of N skeletons (N×K×3)."""
    kpts = np.asarray(kpts, np.float64)
    if kpts.ndim != 3 or not len(kpts):
        return img
    th = thickness or line_width(img)
    r = radius if radius is not None else th + 1
    cols = np.asarray(colors).reshape(-1, 3)
    if len(cols) == 1:
        cols = np.repeat(cols, len(kpts), 0)
    vis = kpts[..., 2] > min_score
    xy = np.round(kpts[..., :2]).astype(np.int32)
    lim = np.asarray([(a, b) for a, b in limbs if a < kpts.shape[1] and b < kpts.shape[1]], np.int64).reshape(-1, 2)
    for k in range(len(kpts)):
        c = _tuple(cols[k])
        if len(lim):
            ok = vis[k, lim[:, 0]] & vis[k, lim[:, 1]]
            segs = np.stack([xy[k, lim[ok, 0]], xy[k, lim[ok, 1]]], 1)
            if len(segs):
                cv2.polylines(img, list(segs), False, c, th, cv2.LINE_AA)
        for x, y in xy[k, vis[k]]:
            cv2.circle(img, (int(x), int(y)), r, c, -1, cv2.LINE_AA)
    return img


def side_by_side(left: np.ndarray, right: np.ndarray, gap: int = 4) -> np.ndarray:
    """[left | gap | right] (right resized to left's height if needed)."""
    if right.shape[0] != left.shape[0]:
        s = left.shape[0] / right.shape[0]
        right = cv2.resize(right, (max(1, round(right.shape[1] * s)), left.shape[0]), interpolation=cv2.INTER_AREA)
    sep = np.full((left.shape[0], gap, 3), 255, np.uint8)
    return np.concatenate([left, sep, right], 1)


# ------------------------------------------------------------------------------------------------
# association errors (motmetrics) and the per-frame error strip
# ------------------------------------------------------------------------------------------------


@dataclass
class Events:
    """Per-frame error counts of an association result, from the metric's matching (IoU ≥ 0.5)."""

    n_gt: np.ndarray  # (T,) ground-truth objects evaluated per frame
    miss: np.ndarray  # (T,) missed ground-truth objects
    switch: np.ndarray  # (T,) identity switches
    fp: np.ndarray  # (T,) false positives
    evaluated: np.ndarray  # (T,) bool: the frame has ground truth
    miss_ids: list[np.ndarray]  # ground-truth ids missed in each frame
    switch_ids: list[np.ndarray]  # ground-truth ids whose hypothesis changed in each frame

    @property
    def totals(self) -> dict[str, int]:
        return {"id_switches": int(self.switch.sum()), "misses": int(self.miss.sum()), "false_positives": int(self.fp.sum()),
                "gt_objects": int(self.n_gt.sum())}


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every pair of x,y,w,h boxes (N×M)."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    ax1, ay1 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx1, by1 = b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.clip(np.minimum(ax1[:, None], bx1[None]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(ay1[:, None], by1[None]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = iw * ih
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def _pair_iou(gt: Objects, pred: Objects) -> np.ndarray:
    if not len(gt) or not len(pred):
        return np.zeros((len(gt), len(pred)))
    if gt.rles is not None and pred.rles is not None:
        from pycocotools import mask as mask_utils

        return np.asarray(mask_utils.iou(gt.rles, pred.rles, [0] * len(pred.rles)), np.float64).reshape(len(gt), len(pred))
    return box_iou(gt.object_boxes(), pred.object_boxes())


def _drop_ignored(gt: Objects, pred: Objects, iou_thr: float) -> np.ndarray:
    """Mask of predictions kept after removing those on ignored regions (as the benchmarks' preprocessing)."""
    keep = np.ones(len(pred), bool)
    if not len(pred):
        return keep
    if pred.rles is not None and gt.ignore_rles:
        from pycocotools import mask as mask_utils

        # iscrowd=1: intersection / area(prediction)
        frac = np.asarray(mask_utils.iou(pred.rles, gt.ignore_rles, [1] * len(gt.ignore_rles)), np.float64)
        keep &= ~(frac.reshape(len(pred), -1) > 0.5).any(1)
    if pred.kpts is not None and gt.ignore_polys:
        keep &= (joints_outside(pred.kpts, gt.ignore_polys)[..., 2] > 0).any(1)
    if gt.ignore_boxes is not None and len(gt.ignore_boxes):
        from scipy.optimize import linear_sum_assignment

        # TrackEval MOT17: one Hungarian match of predictions to valid + distractor GT (IoU ≥ 0.5);
        # predictions matched to a distractor are removed
        allg = np.concatenate([gt.object_boxes().reshape(-1, 4), gt.ignore_boxes.reshape(-1, 4)], 0)
        iou = box_iou(allg, pred.object_boxes())
        score = np.where(iou >= iou_thr - 1e-9, iou, 0.0)
        r, c = linear_sum_assignment(-score)
        ok = score[r, c] > 0
        drop = c[ok & (r >= len(gt))]
        keep[drop] = False
    return keep


def association_events(seq: SequenceView, iou_thr: float = 0.5) -> Events:
    """Per-frame ID switches, misses and false positives of ``seq.pred`` against ``seq.gt``.

    One ``motmetrics.MOTAccumulator`` over the frames that have ground truth, distance 1 − IoU
    (box IoU, mask IoU for RLE masks, keypoint-extent boxes for poses), pairs below ``iou_thr``
    excluded — the CLEAR-MOT matching that MOTA / ID-switch counts come from.
    """
    import motmetrics as mm

    T = len(seq.frames)
    acc = mm.MOTAccumulator(auto_id=False)
    n_gt = np.zeros(T, np.int64)
    evaluated = np.zeros(T, bool)
    for t in range(T):
        gt, pred = seq.gt[t], seq.pred[t]
        if gt is None:
            continue
        evaluated[t] = True
        keep = _drop_ignored(gt, pred, iou_thr)
        iou = _pair_iou(gt, pred)[:, keep]
        dist = np.where(iou >= iou_thr - 1e-9, 1.0 - iou, np.nan)
        n_gt[t] = len(gt)
        acc.update(list(gt.ids.tolist()), list(np.asarray(pred.ids)[keep].tolist()), dist, frameid=t)
    ev = acc.mot_events
    miss = np.zeros(T, np.int64)
    switch = np.zeros(T, np.int64)
    fp = np.zeros(T, np.int64)
    miss_ids: list[np.ndarray] = [np.zeros(0, np.int64) for _ in range(T)]
    switch_ids: list[np.ndarray] = [np.zeros(0, np.int64) for _ in range(T)]
    if len(ev):
        frame = ev.index.get_level_values(0).to_numpy().astype(np.int64)
        typ = ev["Type"].to_numpy()
        oid = ev["OId"].to_numpy()
        for name, counts, lists in (("MISS", miss, miss_ids), ("SWITCH", switch, switch_ids), ("FP", fp, None)):
            sel = typ == name
            counts[:] = np.bincount(frame[sel], minlength=T)[:T]
            if lists is not None and sel.any():
                f, o = frame[sel], oid[sel].astype(np.int64)
                order = np.argsort(f, kind="stable")
                f, o = f[order], o[order]
                cuts = np.searchsorted(f, np.arange(T + 1))
                for t in np.unique(f):
                    lists[t] = o[cuts[t]:cuts[t + 1]]
    return Events(n_gt=n_gt, miss=miss, switch=switch, fp=fp, evaluated=evaluated, miss_ids=miss_ids,
                  switch_ids=switch_ids)


def error_strip(ev: Events, width: int, height: int | None = None, labels: bool | None = None) -> np.ndarray:
    """A strip with one column per frame: ID switches (red), missed objects (orange bars, fraction of
    the ground truth) and false positives (blue bars), rows labelled on the left. Frames without
    ground truth are dark. Use :func:`strip_cursor` to mark the current frame."""
    T = len(ev.n_gt)
    height = height or max(30, min(72, width // 12))
    img = np.empty((height, width, 3), np.uint8)
    img[:] = STRIP_BG
    lw, scale = _strip_layout(width, height, labels)
    rows = [(0, height // 3), (height // 3, 2 * height // 3), (2 * height // 3, height)]
    if lw:
        for (r0, r1), name, col in zip(rows, ("IDsw", "miss", "FP"), (SWITCH_COLOR, MISS_COLOR, FP_COLOR)):
            cv2.putText(img, name, (2, r1 - max(1, (r1 - r0) // 5)), cv2.FONT_HERSHEY_SIMPLEX, scale, col, 1, cv2.LINE_AA)
    x = _strip_x(T, width, lw)
    right = np.maximum(x[1:], x[:-1] + 1)  # right edge (exclusive) of each frame's column block
    cols = np.arange(width)
    fidx = np.searchsorted(right, cols, side="right")  # frame index of each pixel column
    valid = (cols >= lw) & (fidx < T)
    fidx = np.clip(fidx, 0, T - 1)
    img[:, ev.evaluated[fidx] & valid] = (48, 48, 48)  # frames with ground truth: lighter background
    for (r0, r1), frac, col in (
        (rows[0], (ev.switch > 0).astype(np.float64), SWITCH_COLOR),
        (rows[1], ev.miss / max(1, int(ev.miss.max(initial=0))), MISS_COLOR),
        (rows[2], ev.fp / max(1, int(ev.fp.max(initial=0))), FP_COLOR),
    ):
        rh = r1 - r0 - 2
        bar = np.ceil(np.clip(frac, 0, 1) * rh).astype(np.int64)  # bar height per frame
        bar = np.where(frac > 0, np.maximum(bar, min(rh, 3)), 0)
        bar_px = np.where(valid, bar[fidx], 0)
        yy = np.arange(r0 + 1, r1 - 1)[:, None]
        band = img[r0 + 1:r1 - 1]
        band[yy >= (r1 - 1 - bar_px[None, :])] = col
    return img


def _strip_layout(width: int, height: int, labels: bool | None) -> tuple[int, float]:
    """(width of the label column, its font scale); no labels on narrow strips (previews)."""
    if not (width >= 320 if labels is None else labels):
        return 0, 0.0
    (tw, th), _ = cv2.getTextSize("IDsw", cv2.FONT_HERSHEY_SIMPLEX, 1.0, 1)
    scale = float(np.clip(0.6 * (height / 3) / th, 0.3, 0.9))
    return int(tw * scale) + 6, scale


def _strip_x(T: int, width: int, lw: int) -> np.ndarray:
    return np.floor(lw + np.arange(T + 1) * (width - lw) / max(T, 1)).astype(np.int64)


def strip_cursor(strip: np.ndarray, t: int, T: int, labels: bool | None = None) -> np.ndarray:
    """A copy of the strip with a white frame cursor over frame ``t``."""
    out = strip.copy()
    width = strip.shape[1]
    lw, _ = _strip_layout(width, strip.shape[0], labels)
    x = _strip_x(T, width, lw)
    a, b = int(x[t]), int(max(x[t + 1], x[t] + 1))
    c = (a + b) // 2
    out[:, max(lw, c - 1):min(width, c + 1)] = 255
    return out


# ------------------------------------------------------------------------------------------------
# rendering a sequence
# ------------------------------------------------------------------------------------------------


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


# ------------------------------------------------------------------------------------------------
# writers
# ------------------------------------------------------------------------------------------------


def _even(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    if h % 2 or w % 2:
        img = np.pad(img, ((0, h % 2), (0, w % 2), (0, 0)))
    return img


def _fit(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Pad / crop to (h, w) so every frame of a video has the first frame's size."""
    h, w = size
    if img.shape[:2] == (h, w):
        return img
    out = np.zeros((h, w, 3), np.uint8)
    hh, ww = min(h, img.shape[0]), min(w, img.shape[1])
    out[:hh, :ww] = img[:hh, :ww]
    return out


def write_frames(frames: Iterable[np.ndarray], out: str | Path, fmt: str = "mp4", fps: float = 15.0) -> Path:
    """Write RGB frames as an MP4 (OpenCV, mp4v), an animated GIF (Pillow) or a folder of PNGs.

    ``out`` is the file (mp4/gif) or the folder (png). Written to a temporary sibling first and
    renamed, so an interrupted run never leaves a half-written video. Returns the path written.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt not in FORMATS:
        raise UnitrackError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    fps = float(fps) if fps and fps > 0 else 15.0
    if fmt == "png":
        import shutil
        from concurrent.futures import ThreadPoolExecutor

        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
        try:
            n = 0
            with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:  # PNG encoding releases the GIL
                pending: deque = deque()
                for i, f in enumerate(frames):
                    pending.append(pool.submit(cv2.imwrite, str(tmp / f"{i:05d}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR),
                                               [cv2.IMWRITE_PNG_COMPRESSION, 1]))
                    n += 1
                    while len(pending) > 8:
                        pending.popleft().result()
                for fut in pending:
                    fut.result()
            if n == 0:
                raise UnitrackError(f"no frames to write to {out}")
            if out.exists():
                shutil.rmtree(out)
            os.replace(tmp, out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return out
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=f".tmp.{fmt}", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if fmt == "mp4":
            _write_mp4(frames, tmp, fps)
        else:
            _write_gif(frames, tmp, fps)
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return out


def _write_mp4(frames: Iterable[np.ndarray], path: Path, fps: float) -> None:
    writer = None
    size = None
    try:
        for f in frames:
            f = _even(f)
            if writer is None:
                size = f.shape[:2]
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (size[1], size[0]))
                if not writer.isOpened():
                    raise UnitrackError(f"OpenCV cannot open an MP4 writer for {path} (codec mp4v); try --format gif or png")
            writer.write(cv2.cvtColor(_fit(f, size), cv2.COLOR_RGB2BGR))
    finally:
        if writer is not None:
            writer.release()
    if writer is None:
        raise UnitrackError(f"no frames to write to {path}")


def _write_gif(frames: Iterable[np.ndarray], path: Path, fps: float) -> None:
    from PIL import Image

    ims = []
    size = None
    for f in frames:
        if size is None:
            size = f.shape[:2]
        ims.append(Image.fromarray(_fit(f, size)).quantize(colors=255, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE))
    if not ims:
        raise UnitrackError(f"no frames to write to {path}")
    ims[0].save(path, format="GIF", save_all=True, append_images=ims[1:], duration=max(20, int(round(1000 / fps))),
                loop=0, disposal=1, optimize=False)


# ------------------------------------------------------------------------------------------------
# readers: predictions and ground truth in the benchmarks' native formats
# ------------------------------------------------------------------------------------------------


def _read_table(path: Path, min_cols: int, what: str) -> np.ndarray:
    """Numeric CSV / whitespace table → float array (rows × cols); errors name the file and line."""
    try:
        text = path.read_text()
    except OSError as e:
        raise UnitrackError(f"cannot read {path}: {e}") from None
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return np.zeros((0, min_cols))
    rows = [re.split(r"[,\s]+", ln.strip()) for ln in lines]
    n = min(len(r) for r in rows)
    if n < min_cols:
        bad = next(i for i, r in enumerate(rows) if len(r) < min_cols)
        raise UnitrackError(f"{path}:{bad + 1}: expected {what} ({min_cols}+ numbers), got {lines[bad]!r}")
    try:
        return np.asarray([r[:n] for r in rows], np.float64)
    except ValueError:
        for i, r in enumerate(rows):
            try:
                [float(v) for v in r[:n]]
            except ValueError:
                raise UnitrackError(f"{path}:{i + 1}: expected {what}, got {lines[i]!r}") from None
        raise


def _sorted_images(folder: Path) -> list[Path]:
    exts = {".jpg", ".jpeg", ".png", ".bmp"}
    files = [p for p in folder.iterdir() if p.suffix.lower() in exts and not p.name.startswith(".")]

    def key(p: Path):
        m = re.search(r"\d+", p.stem)
        return (int(m.group()) if m else -1, p.name)

    return sorted(files, key=key)


def _frame_number(p: Path) -> int:
    m = re.search(r"\d+", p.stem)
    return int(m.group()) if m else -1


def _find_pred(pred_dir: Path, name: str, ext: str) -> Path | None:
    p = pred_dir / f"{name}{ext}"
    if p.exists():
        return p
    hits = sorted(pred_dir.rglob(f"{name}{ext}"))
    return hits[0] if hits else None


def _pred_names(pred_dir: Path, ext: str) -> list[str]:
    return sorted({p.stem for p in pred_dir.rglob(f"*{ext}") if not p.name.startswith(".")})


def _seqinfo_fps(seq_dir: Path, default: float) -> float:
    ini = seq_dir / "seqinfo.ini"
    if ini.is_file():
        cp = configparser.ConfigParser()
        with contextlib.suppress(configparser.Error, ValueError):
            cp.read(ini)
            return float(cp.get("Sequence", "frameRate", fallback=str(default)))
    return default


# ---------------------------------------------------------------------- SOT (OTB-style folders)


def _load_sot(root: Path, pred_dir: Path, cfg: dict, seqs: list[str] | None) -> list[SequenceView]:
    """OTB / LaSOT / GOT-10k layouts through :mod:`unitrack.eval.otb` (frame ranges, pysot JSON);
    predictions ``pred/<seq>.txt``. Boxes are 1-based like OTB's, shifted to 0-based pixels here."""
    from unitrack.eval.otb import read_boxes, read_sot_dataset

    names = seqs or _pred_names(pred_dir, ".txt")
    data = {q.name: q for q in read_sot_dataset(root)}
    out = []
    for name in names:
        if name not in data:
            raise UnitrackError(f"SOT sequence {name} not found under {root}")
        q = data[name]
        pf = _find_pred(pred_dir, name, ".txt")
        if pf is None:
            raise UnitrackError(f"no prediction file {name}.txt under {pred_dir}")
        pred = _one_based(read_boxes(pf)[:, :4])
        gt = _one_based(np.asarray(q.gt, np.float64)[:, :4])
        T = min(len(q.frames), len(pred))
        if len(pred) != len(q.frames):
            log.warning("%s: %d predicted boxes for %d frames; drawing the first %d", name, len(pred), len(q.frames), T)
        preds = [Objects(ids=np.array([1]), boxes=pred[t:t + 1]) for t in range(T)]
        gts: list[Objects | None] = [
            Objects(ids=np.array([1]), boxes=gt[t:t + 1]) if t < len(gt) and np.isfinite(gt[t]).all() else None
            for t in range(T)
        ]
        out.append(SequenceView(name=name, frames=list(q.frames[:T]), pred=preds, gt=gts, fps=30.0))
    return out


def _one_based(boxes: np.ndarray) -> np.ndarray:
    """1-based x,y (OTB, MOTChallenge: the top-left pixel is (1, 1)) → 0-based pixel coordinates."""
    b = np.array(boxes, np.float64, copy=True).reshape(-1, boxes.shape[-1] if boxes.ndim > 1 else 4)
    b[:, :2] -= 1.0
    return b


# ---------------------------------------------------------------------- VOS (DAVIS)


def read_index_png(path: Path) -> np.ndarray:
    """Indexed (palette) PNG → label map (uint8). Non-indexed RGB PNGs are mapped through the DAVIS palette."""
    from PIL import Image

    try:
        im = Image.open(path)
        im.load()
    except OSError as e:
        raise UnitrackError(f"cannot read mask {path}: {e}") from None
    if im.mode in ("P", "L", "I", "I;16"):
        return np.asarray(im).astype(np.uint8 if im.mode in ("P", "L") else np.uint16)
    if im.mode in ("RGB", "RGBA"):
        rgb = np.asarray(im.convert("RGB")).astype(np.int64)
        code = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
        pal = PALETTE.astype(np.int64)
        pcode = (pal[:, 0] << 16) | (pal[:, 1] << 8) | pal[:, 2]
        order = np.argsort(pcode, kind="stable")
        pos = np.searchsorted(pcode[order], code)
        pos = np.clip(pos, 0, len(order) - 1)
        hit = pcode[order][pos] == code
        if not hit.all():
            raise UnitrackError(f"{path}: RGB mask with colours outside the DAVIS palette; expected an indexed PNG")
        return order[pos].astype(np.uint8)
    raise UnitrackError(f"{path}: unsupported PNG mode {im.mode}; expected an indexed (palette) PNG")


def _davis_dirs(root: Path, cfg: dict) -> tuple[Path, Path]:
    res = (cfg.get("vos") or {}).get("resolution", "480p")
    img_root = root / "JPEGImages" / res
    ann_root = root / "Annotations" / res
    if not img_root.is_dir():
        cands = sorted(p for p in (root / "JPEGImages").glob("*") if p.is_dir()) if (root / "JPEGImages").is_dir() else []
        if not cands:
            raise UnitrackError(f"{root}: not a DAVIS folder (expected JPEGImages/{res}/<sequence>/)")
        img_root, ann_root = cands[0], root / "Annotations" / cands[0].name
    return img_root, ann_root


def _load_vos(root: Path, pred_dir: Path, cfg: dict, seqs: list[str] | None) -> list[SequenceView]:
    img_root, ann_root = _davis_dirs(root, cfg)
    names = seqs or sorted(p.name for p in pred_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    out = []
    for name in names:
        if not (img_root / name).is_dir():
            raise UnitrackError(f"VOS sequence {name}: no frames folder {img_root / name}")
        frames = _sorted_images(img_root / name)
        pdir = pred_dir / name
        if not pdir.is_dir():
            raise UnitrackError(f"no predictions for sequence {name} (expected folder {pdir})")
        preds, gts = [], []
        for f in frames:
            pp = pdir / f"{f.stem}.png"
            gp = ann_root / name / f"{f.stem}.png"
            preds.append(Objects(labels=(lambda p=pp: read_index_png(p))) if pp.is_file() else Objects())
            gts.append(Objects(labels=(lambda p=gp: read_index_png(p))) if gp.is_file() else None)
        out.append(SequenceView(name=name, frames=frames, pred=preds, gt=gts, fps=24.0))
    return out


# ---------------------------------------------------------------------- MOT (MOTChallenge)


def _mot_seq_root(root: Path, cfg: dict, task: str) -> Path:
    split = (cfg.get(task) or {}).get("split", "train")
    for cand in (root / split, root / "images" / split, root):
        if cand.is_dir() and any((p / "img1").is_dir() for p in cand.iterdir() if p.is_dir()):
            return cand
    raise UnitrackError(f"{root}: no MOTChallenge sequences found (expected {root / split}/<seq>/img1/)")


def _mot_boxes(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ids, 0-based x,y,w,h) of MOTChallenge rows (whose boxes are 1-based)."""
    return rows[:, 1].astype(np.int64), _one_based(rows[:, 2:6])


def read_mot_gt(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """MOTChallenge gt.txt → (valid rows, distractor rows) following TrackEval's MOT17 preprocessing:
    valid = class 1 (pedestrian) with the consider flag set; distractors = classes 2, 7, 8, 12
    (person on vehicle, static person, distractor, reflection). Files without class columns (MOT15,
    or -1 there) keep every row."""
    rows = _read_table(path, 6, "frame,id,x,y,w,h[,flag,class,visibility]")
    if rows.shape[1] >= 8 and (rows[:, 7] > 0).any():
        cls = rows[:, 7].astype(np.int64)
        flag = rows[:, 6]
        valid = (cls == 1) & (flag != 0)
        distract = np.isin(cls, (2, 7, 8, 12))
        return rows[valid], rows[distract]
    if rows.shape[1] >= 7 and (rows[:, 6] == 0).any() and (rows[:, 6] >= 0).all():
        return rows[rows[:, 6] != 0], rows[:0]
    return rows, rows[:0]


def _group_by_frame(rows: np.ndarray) -> dict[int, np.ndarray]:
    """Rows of a frame-indexed table (first column = frame number) grouped by frame."""
    if not len(rows):
        return {}
    f = rows[:, 0].astype(np.int64)
    order = np.argsort(f, kind="stable")
    f, rows = f[order], rows[order]
    uniq, starts = np.unique(f, return_index=True)
    ends = np.append(starts[1:], len(f))
    return {int(u): rows[s:e] for u, s, e in zip(uniq, starts, ends)}


def _mot_style_sequences(root: Path, pred_dir: Path, cfg: dict, seqs: list[str] | None, task: str):
    """(name, sequence folder, prediction file, frame paths) of each MOT/MOTS sequence to draw."""
    seq_root = _mot_seq_root(root, cfg, task)
    names = seqs or [n for n in _pred_names(pred_dir, ".txt") if (seq_root / n).is_dir()]
    for name in names:
        sdir = seq_root / name
        if not sdir.is_dir():
            raise UnitrackError(f"{task.upper()} sequence {name}: folder {sdir} does not exist")
        pf = _find_pred(pred_dir, name, ".txt")
        if pf is None:
            raise UnitrackError(f"no prediction file {name}.txt under {pred_dir}")
        yield name, sdir, pf, _sorted_images(sdir / "img1")


def _load_mot(root: Path, pred_dir: Path, cfg: dict, seqs: list[str] | None) -> list[SequenceView]:
    out = []
    for name, sdir, pf, frames in _mot_style_sequences(root, pred_dir, cfg, seqs, "mot"):
        fnum = [_frame_number(p) for p in frames]
        pred = _group_by_frame(_read_table(pf, 6, "frame,id,x,y,w,h,conf,..."))
        gtf = sdir / "gt" / "gt.txt"
        gt_rows = dis_rows = None
        if gtf.is_file():
            g, d = read_mot_gt(gtf)
            gt_rows, dis_rows = _group_by_frame(g), _group_by_frame(d)
        preds, gts = [], []
        empty = np.zeros((0, 10))
        for n in fnum:
            ids, boxes = _mot_boxes(pred.get(n, empty))
            preds.append(Objects(ids=ids, boxes=boxes))
            if gt_rows is None:
                gts.append(None)
            else:
                gi, gb = _mot_boxes(gt_rows.get(n, empty))
                dis = _one_based(dis_rows.get(n, empty)[:, 2:6]) if dis_rows else np.zeros((0, 4))
                gts.append(Objects(ids=gi, boxes=gb, ignore_boxes=dis))
        out.append(SequenceView(name=name, frames=frames, pred=preds, gt=gts, fps=_seqinfo_fps(sdir, 15.0)))
    return out


# ---------------------------------------------------------------------- MOTS (MOTS txt with RLE)


def read_mots_txt(path: Path) -> dict[int, list[tuple[int, int, dict]]]:
    """MOTS txt (``frame id class h w rle`` per line) → {frame: [(id, class, coco_rle), …]}."""
    try:
        lines = path.read_text().splitlines()
    except OSError as e:
        raise UnitrackError(f"cannot read {path}: {e}") from None
    out: dict[int, list] = {}
    for i, ln in enumerate(lines):
        if not ln.strip():
            continue
        parts = ln.split(" ")
        if len(parts) < 6:
            raise UnitrackError(f"{path}:{i + 1}: expected 'frame id class height width rle', got {ln[:80]!r}")
        try:
            f, tid, cls, h, w = (int(float(v)) for v in parts[:5])
        except ValueError:
            raise UnitrackError(f"{path}:{i + 1}: expected integers frame id class height width, got {ln[:80]!r}") from None
        out.setdefault(f, []).append((tid, cls, {"size": [h, w], "counts": parts[5].strip().encode()}))
    return out


def _mots_objects(entries: list[tuple[int, int, dict]], keep_class: Callable[[int], bool],
                  ignore_class: int | None = None) -> Objects:
    from pycocotools import mask as mask_utils

    objs = [(tid, rle) for tid, cls, rle in entries if keep_class(cls)]
    ign = [rle for _, cls, rle in entries if ignore_class is not None and cls == ignore_class]
    ids = np.asarray([o[0] for o in objs], np.int64)
    rles = [o[1] for o in objs]
    boxes = np.asarray(mask_utils.toBbox(rles), np.float64).reshape(-1, 4) if rles else np.zeros((0, 4))

    def decode(rles=rles, ign=ign):
        ref = rles or ign
        if not ref:
            return None
        h, w = ref[0]["size"]
        lab = np.zeros((h, w), np.uint16)
        if rles:
            m = mask_utils.decode(rles)  # H×W×N
            for k in range(m.shape[2]):  # objects, not pixels
                lab[m[:, :, k] > 0] = k + 1
        return lab

    return Objects(ids=ids, boxes=boxes, labels=decode if rles else None, label_ids=ids, rles=rles,
                   ignore_rles=ign or None)


def _load_mots(root: Path, pred_dir: Path, cfg: dict, seqs: list[str] | None) -> list[SequenceView]:
    out = []
    for name, sdir, pf, frames in _mot_style_sequences(root, pred_dir, cfg, seqs, "mots"):
        pred = read_mots_txt(pf)
        gtf = sdir / "gt" / "gt.txt"
        gt = read_mots_txt(gtf) if gtf.is_file() else None
        preds, gts = [], []
        for p in frames:
            n = _frame_number(p)
            preds.append(_mots_objects(pred.get(n, []), lambda c: c != 10))
            gts.append(None if gt is None else _mots_objects(gt.get(n, []), lambda c: c == 2, ignore_class=10))
        out.append(SequenceView(name=name, frames=frames, pred=preds, gt=gts, fps=_seqinfo_fps(sdir, 15.0)))
    return out


# ---------------------------------------------------------------------- PoseTrack (18 and 17 JSON)


@dataclass
class PoseFile:
    """A PoseTrack JSON, reduced to what is drawn: image names in order, people per image (track id,
    K×3 keypoints), which images are labelled, and ignore-region polygons per image."""

    order: list[str]
    people: dict[str, list[tuple[int, np.ndarray]]]
    labeled: set[str]
    ignore: dict[str, list[np.ndarray]]


def read_posetrack_json(path: Path) -> PoseFile:
    """PoseTrack JSON (2018 COCO-style, or 2017 ``annolist``). Missing track ids are -1."""
    try:
        d = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise UnitrackError(f"cannot read PoseTrack JSON {path}: {e}") from None
    per: dict[str, list] = {}
    ignore: dict[str, list[np.ndarray]] = {}
    if isinstance(d, dict) and "images" in d:
        try:
            names = {im["id"]: im["file_name"] for im in d["images"]}
            order = [im["file_name"] for im in d["images"]]
            labeled = {im["file_name"] for im in d["images"] if im.get("is_labeled", True)}
            for im in d["images"]:
                xs, ys = im.get("ignore_regions_x") or [], im.get("ignore_regions_y") or []
                polys = [np.stack([np.asarray(x, float), np.asarray(y, float)], 1) for x, y in zip(xs, ys) if len(x) >= 3]
                if polys:
                    ignore[im["file_name"]] = polys
            for a in d.get("annotations", []):
                kp = np.asarray(a.get("keypoints") or [], np.float64).reshape(-1, 3)
                if not len(kp):
                    continue
                tid = a.get("track_id", -1)
                tid = -1 if tid is None else int(tid[0] if isinstance(tid, list) else tid)
                per.setdefault(names[a["image_id"]], []).append((tid, kp))
        except (KeyError, TypeError, ValueError) as e:
            raise UnitrackError(f"{path}: not a PoseTrack-18 file (images/annotations with keypoints): {e!r}") from None
        return PoseFile(order, per, labeled, ignore)
    annolist = d.get("annolist") if isinstance(d, dict) else d
    if not isinstance(annolist, list):
        raise UnitrackError(f"{path}: expected a PoseTrack-18 JSON ('images', 'annotations') or PoseTrack-17 'annolist'")
    order, labeled = [], set()
    try:
        for entry in annolist:
            img = entry["image"][0]["name"] if isinstance(entry["image"], list) else entry["image"]["name"]
            order.append(img)
            lab = entry.get("is_labeled")
            if (_first(lab) if lab is not None else entry.get("annorect") is not None):
                labeled.add(img)
            polys = []
            for reg in entry.get("ignore_regions") or []:
                pts = reg.get("point", [])
                if len(pts) >= 3:
                    polys.append(np.asarray([(float(_first(p["x"])), float(_first(p["y"]))) for p in pts]))
            if polys:
                ignore[img] = polys
            for r in entry.get("annorect", []) or []:
                pts = (r.get("annopoints") or [{}])[0].get("point", []) if r.get("annopoints") else []
                kp = np.zeros((15, 3))
                for p in pts:
                    k = int(_first(p["id"]))
                    if 0 <= k < 15:
                        kp[k] = (float(_first(p["x"])), float(_first(p["y"])), float(_first(p.get("score", [1.0]))) or 1e-3)
                tid = r.get("track_id", [-1])
                per.setdefault(img, []).append((int(_first(tid)), kp))
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise UnitrackError(f"{path}: malformed PoseTrack-17 annolist entry: {e!r}") from None
    return PoseFile(order, per, labeled, ignore)


def joints_outside(kpts: np.ndarray, polys: list[np.ndarray]) -> np.ndarray:
    """N×K×3 keypoints with the joints inside any ignore polygon made invisible (score 0)."""
    kp = np.array(kpts, np.float64, copy=True)
    if not polys or not kp.size:
        return kp
    from matplotlib.path import Path as MplPath

    xy = kp[..., :2].reshape(-1, 2)
    inside = np.zeros(len(xy), bool)
    for poly in polys:
        inside |= MplPath(poly).contains_points(xy)
    kp[..., 2][inside.reshape(kp.shape[:2])] = 0
    return kp


def _outside_ignore(items: list[tuple[int, np.ndarray]], polys: list[np.ndarray]) -> list[tuple[int, np.ndarray]]:
    """poseval's rule: joints inside ignore regions are removed, people left without joints dropped."""
    if not polys or not items:
        return items
    out = []
    for tid, kp in items:
        kp = joints_outside(kp[None], polys)[0]
        if (kp[:, 2] > 0).any():
            out.append((tid, kp))
    return out


def _first(v):
    return v[0] if isinstance(v, list) else v


def _pose_objects(items: list[tuple[int, np.ndarray]]) -> Objects:
    if not items:
        return Objects(kpts=np.zeros((0, 17, 3)))
    K = max(len(k) for _, k in items)
    kp = np.zeros((len(items), K, 3))
    for i, (_, k) in enumerate(items):
        kp[i, :len(k)] = k
    return Objects(ids=np.asarray([t for t, _ in items], np.int64), kpts=kp)


def _load_posetrack(root: Path, pred_dir: Path, cfg: dict, seqs: list[str] | None) -> list[SequenceView]:
    split = (cfg.get("posetrack") or {}).get("split", "val")
    ann_dir = root / "annotations" / split
    names = seqs or _pred_names(pred_dir, ".json")
    out = []
    for name in names:
        pf = _find_pred(pred_dir, name, ".json")
        if pf is None:
            raise UnitrackError(f"no prediction file {name}.json under {pred_dir}")
        gf = ann_dir / f"{name}.json"
        pfile = read_posetrack_json(pf)
        gfile = read_posetrack_json(gf) if gf.is_file() else None
        order = gfile.order if gfile is not None and gfile.order else pfile.order
        frames = []
        for fn in order:
            cand = root / fn
            if not cand.is_file():
                cand = root / "images" / split / name / Path(fn).name
            frames.append(cand)
        keep = [i for i, f in enumerate(frames) if f.is_file()]
        if not keep:
            raise UnitrackError(f"PoseTrack sequence {name}: none of its images exist under {root}")
        by_base = {Path(k).name: v for k, v in pfile.people.items()}
        preds, gts = [], []
        for i in keep:
            fn = order[i]
            polys = gfile.ignore.get(fn, []) if gfile is not None else []
            preds.append(_pose_objects(pfile.people.get(fn, by_base.get(Path(fn).name, []))))
            if gfile is not None and fn in gfile.labeled:
                g = _pose_objects(_outside_ignore(gfile.people.get(fn, []), polys))
                g.ignore_polys = polys
                gts.append(g)
            else:
                gts.append(None)
        out.append(SequenceView(name=name, frames=[frames[i] for i in keep], pred=preds, gt=gts, fps=10.0))
    return out


# ---------------------------------------------------------------------- JHMDB pose propagation


def _load_poseprop(root: Path, pred_dir: Path, cfg: dict, seqs: list[str] | None) -> list[SequenceView]:
    """JHMDB through :mod:`unitrack.eval.jhmdb`: predictions ``pred/<index>.dat`` (2×15×T feature-grid
    coordinates, −1 = failed joint) mapped to image pixels as the PCK evaluation does."""
    from unitrack.eval.jhmdb import grid_to_image, read_jhmdb, read_prediction

    sec = cfg.get("poseprop") or {}
    crop, stride = int(sec.get("crop_size", 320)), int(sec.get("down_factor", 8))
    videos = read_jhmdb(root, sec.get("split_file", "split.txt"))
    by_name = {v.name: v for v in videos}
    if seqs:
        bad = [n for n in seqs if n not in by_name]
        if bad:
            raise UnitrackError(f"JHMDB video(s) {bad} not in the split file under {root}")
        videos = [by_name[n] for n in seqs]
    else:
        videos = [v for v in videos if (pred_dir / f"{v.index}.dat").is_file()]
    out = []
    for v in videos:
        pf = pred_dir / f"{v.index}.dat"
        if not pf.is_file():
            raise UnitrackError(f"no pose prediction {pf} for video {v.name}")
        p = grid_to_image(read_prediction(pf), v.size, crop, stride)  # 2×J×T
        pred = np.concatenate([p.transpose(2, 1, 0), (p[0] >= 0).T[..., None].astype(np.float64)], 2)
        g = np.asarray(v.joints, np.float64)
        gt = np.concatenate([g.transpose(2, 1, 0), np.ones(g.shape[2:0:-1] + (1,))], 2)
        T = min(len(v.frames), len(pred))
        preds = [Objects(ids=np.array([1]), kpts=pred[t:t + 1]) for t in range(T)]
        gts: list[Objects | None] = [Objects(ids=np.array([1]), kpts=gt[t:t + 1]) if t < len(gt) else None for t in range(T)]
        out.append(SequenceView(name=v.name, frames=list(v.frames[:T]), pred=preds, gt=gts, fps=15.0))
    return out


LOADERS: dict[str, Callable[[Path, Path, dict, list[str] | None], list[SequenceView]]] = {
    "sot": _load_sot,
    "vos": _load_vos,
    "poseprop": _load_poseprop,
    "mot": _load_mot,
    "mots": _load_mots,
    "posetrack": _load_posetrack,
}


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
    if task not in LOADERS:
        raise UnitrackError(f"unknown task {task!r} (tasks: {', '.join(LOADERS)})")
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
    """Every sequence with predictions (or the named ones), ready to draw."""
    views = LOADERS[info.task](info.data_root, info.pred_dir, info.config, seqs or None)
    if not views:
        raise UnitrackError(f"no predictions found under {info.pred_dir} for task {info.task}")
    return views


def _events_for(task: str, seq: SequenceView, opts: VizOptions) -> Events | None:
    if not opts.errors or task not in ASSOCIATION_TASKS:
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
            sp = out / f"{seq.name}_errors.png"
            _atomic_png(sp, strip)
            written.append(sp)
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


def _atomic_png(path: Path, img: np.ndarray) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp.png", dir=path.parent)
    os.close(fd)
    try:
        if not cv2.imwrite(tmp, cv2.cvtColor(img, cv2.COLOR_RGB2BGR)):
            raise UnitrackError(f"cannot write {path}")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


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
