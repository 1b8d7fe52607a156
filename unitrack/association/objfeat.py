"""Object features and box geometry (docs/protocol.md §4.1).

* box conversions: ``tlwh`` = (left, top, w, h), ``tlbr`` = (x1, y1, x2, y2), ``xyah`` = (cx, cy,
  w/h, h): :func:`tlwh_to_tlbr`, :func:`tlbr_to_tlwh`, :func:`tlwh_to_xyah`;
* boxes (docs/protocol.md §4.1.1): :func:`letterbox` + :func:`box_features` (RoIAlign);
* masks (docs/protocol.md §4.1.2): :func:`mask_features` (mask pooling with max-area rescaling) + :func:`mask2box`,
  :func:`remove_duplicated_boxes`;
* poses (docs/protocol.md §4.1.3): :func:`skeleton_to_mask` + :func:`skeleton_box`.

Object features are ``C×n`` tensors (n points; boxes n = 4·10 = 40, masks/poses variable).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from unitrack.association.similarity import box_iou

__all__ = [
    "SKELETON_LIMBS",
    "SKELETON_TRUNK",
    "box_features",
    "letterbox",
    "letterbox_geometry",
    "mask2box",
    "mask_features",
    "remove_duplicated_boxes",
    "skeleton_box",
    "skeleton_to_mask",
    "tlbr_to_tlwh",
    "tlwh_to_tlbr",
    "tlwh_to_xyah",
]


def tlwh_to_tlbr(tlwh: np.ndarray) -> np.ndarray:
    """(…, 4) left, top, w, h → x1, y1, x2, y2."""
    b = np.array(tlwh, dtype=np.float64, copy=True)
    b[..., 2:] += b[..., :2]
    return b


def tlbr_to_tlwh(tlbr: np.ndarray) -> np.ndarray:
    """(…, 4) x1, y1, x2, y2 → left, top, w, h."""
    b = np.array(tlbr, dtype=np.float64, copy=True)
    b[..., 2:] -= b[..., :2]
    return b


def tlwh_to_xyah(tlwh: np.ndarray) -> np.ndarray:
    """(…, 4) tlwh → centre x, centre y, aspect w/(h + 1e-6), h (the Kalman measurement, docs/protocol.md §4.3)."""
    b = np.array(tlwh, dtype=np.float64, copy=True)
    b[..., :2] += b[..., 2:] / 2
    b[..., 2] /= b[..., 3] + 1e-6
    return b


def letterbox_geometry(hw: tuple[int, int], size: tuple[int, int] = (1088, 608)) -> tuple[float, tuple[float, float]]:
    """``(ratio, (dw, dh))`` of :func:`letterbox` for an image of ``hw = (height, width)``, without the image."""
    H, W = int(hw[0]), int(hw[1])
    width, height = size
    ratio = min(float(height) / H, float(width) / W)
    return ratio, ((width - round(W * ratio)) / 2, (height - round(H * ratio)) / 2)


def letterbox(img: np.ndarray, size: tuple[int, int] = (1088, 608),
              color: tuple[float, float, float] = (127.5, 127.5, 127.5)) -> tuple[np.ndarray, float, tuple[float, float]]:
    """Resize keeping the aspect (``INTER_AREA``) and pad to ``size`` = (width, height) (docs/protocol.md §4.1.1).

    Returns ``(canvas, ratio, (dw, dh))`` where a point maps as ``x·ratio + dw``. The pads are the
    *unrounded* halves; the canvas itself is padded ``round(d − 0.1)`` before and ``round(d + 0.1)``
    after (the reference's rounding quirk, docs/protocol.md §7.1 #15). Works for any channel order.
    """
    import cv2

    H, W = img.shape[:2]
    width, height = size
    ratio, (dw, dh) = letterbox_geometry((H, W), size)
    new_w, new_h = round(W * ratio), round(H * ratio)
    resized = cv2.resize(img, (new_w, new_h), interpolation=cv2.INTER_AREA)
    top, bottom = round(dh - 0.1), round(dh + 0.1)
    left, right = round(dw - 0.1), round(dw + 0.1)
    canvas = cv2.copyMakeBorder(resized, top, bottom, left, right, cv2.BORDER_CONSTANT, value=color)
    return canvas, ratio, (dw, dh)


def box_features(feat_map: torch.Tensor, boxes_xyxy: np.ndarray | torch.Tensor, stride: float = 8,
                 out_size: tuple[int, int] = (4, 10)) -> torch.Tensor:
    """RoIAlign object features (docs/protocol.md §4.1.1): ``K×C×rows×cols`` from a ``C×h×w`` map.

    ``boxes_xyxy`` are in input (letterboxed canvas) pixels and are scaled by ``1/stride``;
    ``sampling_ratio=-1`` (adaptive), ``aligned=False``, as the reference.
    """
    from torchvision.ops import roi_align

    if feat_map.dim() != 3:
        raise ValueError(f"box_features: expected a C×h×w map, got shape {tuple(feat_map.shape)}")
    b = torch.as_tensor(np.asarray(boxes_xyxy, dtype=np.float32) if not isinstance(boxes_xyxy, torch.Tensor)
                        else boxes_xyxy, dtype=feat_map.dtype, device=feat_map.device).reshape(-1, 4)
    C = feat_map.shape[0]
    if b.shape[0] == 0:
        return feat_map.new_zeros((0, C, *out_size))
    rois = torch.cat([b.new_zeros(b.shape[0], 1), b / float(stride)], dim=1)
    return roi_align(feat_map[None], rois, output_size=tuple(out_size), spatial_scale=1.0,
                     sampling_ratio=-1, aligned=False)


def mask2box(masks: torch.Tensor | np.ndarray) -> np.ndarray:
    """Boxes of (N, h, w) binary masks in their own grid units (docs/protocol.md §4.1.2 step 4).

    Centre = mean cell coordinate; half-extent = 2·max(mean |coord − mean|, 1) per axis. Empty mask →
    (−1, −1, 10, 10). Returns (N, 4) x1, y1, x2, y2 (float64).
    """
    m = torch.as_tensor(np.asarray(masks) if not isinstance(masks, torch.Tensor) else masks)
    if m.dim() == 2:
        m = m[None]
    m = (m > 0).double()
    N, h, w = m.shape
    if N == 0:
        return np.zeros((0, 4))
    a = m.sum((1, 2))
    safe = a.clamp_min(1)
    col = m.sum(1)  # (N, w) counts per column
    row = m.sum(2)  # (N, h)
    xs = torch.arange(w, dtype=m.dtype, device=m.device)
    ys = torch.arange(h, dtype=m.dtype, device=m.device)
    cx = (col * xs).sum(1) / safe
    cy = (row * ys).sum(1) / safe
    madx = (col * (xs[None] - cx[:, None]).abs()).sum(1) / safe
    mady = (row * (ys[None] - cy[:, None]).abs()).sum(1) / safe
    hx = 2 * madx.clamp_min(1)
    hy = 2 * mady.clamp_min(1)
    box = torch.stack([cx - hx, cy - hy, cx + hx, cy + hy], 1)
    box[a == 0] = torch.tensor([-1.0, -1.0, 10.0, 10.0], dtype=box.dtype, device=box.device)
    return box.cpu().numpy()


@torch.no_grad()
def mask_features(feat_map: torch.Tensor, masks: torch.Tensor | np.ndarray, max_mask_area: int = 200,
                  generator: torch.Generator | None = None,
                  empty_size: int = 40) -> tuple[list[torch.Tensor], np.ndarray]:
    """Mask-pooled object features (docs/protocol.md §4.1.2 steps 2–4) → (list of ``C×K_i``, boxes (N, 4) in grid units).

    Each full-resolution mask is nearest-resized to the ``h×w`` map; its cells are the object's
    points. If the mask covers more than ``max_mask_area`` cells, the masked map is rescaled
    bilinearly (and the mask nearest) by ``s = sqrt(max_mask_area / area)`` and the points at
    ``m' ≥ 0.5`` kept (so ``K_i ≲ max_mask_area``). An empty mask gets an i.i.d. N(0, 1) feature of
    ``C×empty_size`` drawn from ``generator`` (seed it: docs/protocol.md §7.2 #29) and the box (−1, −1, 10, 10);
    callers usually drop those (see :func:`remove_duplicated_boxes`). Boxes come from :func:`mask2box`.
    """
    if feat_map.dim() != 3:
        raise ValueError(f"mask_features: expected a C×h×w map, got shape {tuple(feat_map.shape)}")
    C, h, w = feat_map.shape
    mk = torch.as_tensor(np.asarray(masks) if not isinstance(masks, torch.Tensor) else masks)
    if mk.dim() == 2:
        mk = mk[None]
    if mk.shape[0] == 0:
        return [], np.zeros((0, 4))
    mk = (mk > 0).to(torch.uint8)
    small = F.interpolate(mk[None], size=(h, w), mode="nearest")[0].to(feat_map.device)  # (N, h, w) uint8
    boxes = mask2box(small)
    areas = small.flatten(1).sum(1).tolist()
    feats: list[torch.Tensor] = []
    for i, a in enumerate(areas):
        if a == 0:
            r = torch.randn(C, empty_size, generator=generator) if generator is not None else torch.randn(C, empty_size)
            feats.append(r.to(device=feat_map.device, dtype=feat_map.dtype))
            continue
        if a <= max_mask_area:  # the mask's cells themselves (feature × 1 is the feature: no masked copy)
            feats.append(feat_map[:, small[i] > 0])
            continue
        m = small[i].to(feat_map.dtype)
        g = feat_map * m
        s = math.sqrt(max_mask_area / a)
        g = F.interpolate(g[None], scale_factor=s, mode="bilinear", align_corners=False)[0]
        m = F.interpolate(m[None, None], scale_factor=s, mode="nearest")[0, 0]
        feats.append(g[:, m >= 0.5])
    return feats, boxes


def remove_duplicated_boxes(boxes_xyxy: np.ndarray, iou_th: float = 0.7) -> np.ndarray:
    """Greedy suppression in input order (docs/protocol.md §4.1.2 step 5): indices of the boxes to keep.

    Drops the (−1, −1, 10, 10) empty-mask boxes, then for each kept box every later box with
    IoU > ``iou_th`` (IoU without the +1 convention, as torchvision).
    """
    b = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
    if len(b) == 0:
        return np.zeros(0, dtype=np.int64)
    empty = np.all(np.isclose(b, [-1, -1, 10, 10]), axis=1)
    iou = box_iou(b, b, plus_one=False)
    alive = ~empty
    keep = []
    for i in range(len(b)):
        if not alive[i]:
            continue
        keep.append(i)
        sup = iou[i] > iou_th
        sup[: i + 1] = False
        alive &= ~sup
    return np.asarray(keep, dtype=np.int64)


# PoseTrack-17 15-joint ids: 0 r-ankle, 1 r-knee, 2 r-hip, 3 l-hip, 4 l-knee, 5 l-ankle, 6 r-wrist,
# 7 r-elbow, 8 r-shoulder, 9 l-shoulder, 10 l-elbow, 11 l-wrist, 12 neck, 13 nose, 14 head-top
SKELETON_TRUNK = (2, 3, 9, 12, 8)
SKELETON_LIMBS = ((9, 10), (10, 11), (8, 7), (7, 6), (9, 12), (8, 12), (12, 14), (9, 3), (3, 4), (4, 5),
                  (8, 2), (2, 1), (1, 0))


def _joints(skeleton) -> dict[int, tuple[int, int]]:
    """{id: (x, y)} with integer coordinates from a dict, a (K, 2|3) array (NaN = missing) or (id, x, y) rows."""
    if isinstance(skeleton, dict):
        items = skeleton.items()
    else:
        arr = np.asarray(skeleton, dtype=np.float64)
        if arr.size == 0:
            return {}
        if arr.ndim != 2 or arr.shape[1] < 2:
            raise ValueError(f"skeleton: expected (K, 2) joint array, got shape {arr.shape}")
        items = ((k, arr[k, :2]) for k in range(arr.shape[0]))
    out = {}
    for k, xy in items:
        x, y = float(xy[0]), float(xy[1])
        if math.isfinite(x) and math.isfinite(y):
            out[int(k)] = (int(x), int(y))
    return out


def skeleton_to_mask(skeleton, height: int, width: int) -> np.ndarray:
    """Rasterise a 15-joint PoseTrack skeleton into a binary ``H×W`` uint8 mask (docs/protocol.md §4.1.3).

    ``skeleton``: ``{joint_id: (x, y)}`` or a (15, 2) array with NaN for missing joints; every
    listed joint is used regardless of its score. Trunk polygon through joints (2, 3, 9, 12, 8) when
    ≥ 3 exist; limbs as lines of thickness ``max(⌊max(x_range, y_range)/20⌋, 8)`` px.
    """
    import cv2

    mask = np.zeros((int(height), int(width)), dtype=np.uint8)
    j = _joints(skeleton)
    if not j:
        return mask
    trunk = [j[k] for k in SKELETON_TRUNK if k in j]
    if len(trunk) >= 3:
        cv2.fillConvexPoly(mask, np.asarray(trunk, dtype=np.int32), 1)
    xs = np.array([p[0] for p in j.values()])
    ys = np.array([p[1] for p in j.values()])
    thick = max(int(max(xs.max() - xs.min(), ys.max() - ys.min()) / 20), 8)
    for a, b in SKELETON_LIMBS:
        if a in j and b in j:
            cv2.line(mask, j[a], j[b], 1, thick)
    return mask


def skeleton_box(skeleton, rng: np.random.Generator | None = None) -> np.ndarray:
    """x1, y1, x2, y2 of a skeleton in image pixels (docs/protocol.md §4.1.3): min/max of integer joint coordinates.

    A degenerate extent gets +10 on the max side. Empty skeleton → ``[−1, −1, U{1..39}, U{1..69}]``
    drawn from ``rng`` (seed it; callers should rather drop empty observations, docs/protocol.md §7.2 #29).
    """
    j = _joints(skeleton)
    if not j:
        rng = rng if rng is not None else np.random.default_rng(0)
        return np.array([-1.0, -1.0, float(rng.integers(1, 40)), float(rng.integers(1, 70))])
    xs = np.array([p[0] for p in j.values()], dtype=np.float64)
    ys = np.array([p[1] for p in j.values()], dtype=np.float64)
    x1, x2, y1, y2 = xs.min(), xs.max(), ys.min(), ys.max()
    if x1 == x2:
        x2 += 10
    if y1 == y2:
        y2 += 10
    return np.array([x1, y1, x2, y2])
