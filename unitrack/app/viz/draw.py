"""Drawing primitives and colours: in place on RGB ``uint8`` images, vectorised with numpy / OpenCV
(loops run over objects — boxes, skeletons — never over pixels). Every function returns the image.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import cv2
import numpy as np

from unitrack.eval.formats import PALETTE, davis_palette  # noqa: F401  (the DAVIS palette, re-exported)

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


