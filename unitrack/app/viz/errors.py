"""Association errors of a drawn sequence and the per-frame error strip.

:func:`association_events` matches predictions to ground truth frame by frame with a motmetrics
accumulator (IoU ≥ 0.5, the CLEAR-MOT matching behind MOTA and ID-switch counts) and returns per-frame
ID switches, misses and false positives; :func:`error_strip` draws them as a strip under the frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from unitrack.app.viz.draw import FP_COLOR, MISS_COLOR, STRIP_BG, SWITCH_COLOR
from unitrack.eval.posetrack import joints_outside
from unitrack.eval.view import Objects, SequenceView


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


