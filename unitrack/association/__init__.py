"""Association primitives shared by the MOT, MOTS and PoseTrack heads (docs/protocol.md §4).

One subpackage, one module per concern; every public name is re-exported here, so
``from unitrack.association import X`` is the stable way to import them:

* :mod:`~unitrack.association.kalman` — motion: :class:`KalmanBoxFilter` (DeepSORT model docs/protocol.md §4.3,
  vectorised over many tracks), :data:`CHI2INV95`;
* :mod:`~unitrack.association.assignment` — :func:`assign` (``lap.lapjv(extend_cost=True,
  cost_limit=θ)`` semantics docs/protocol.md §4.5), :func:`fuse_motion` (docs/protocol.md §4.4.4);
* :mod:`~unitrack.association.similarity` — costs (cost = 1 − similarity, N tracks × M detections):
  :func:`rsm_cost` (docs/protocol.md §4.4.1, all pairs in one batched tensor program), :func:`cosine_pooled_cost`,
  :func:`cosine_flat_cost` (the paper's ablation baselines docs/protocol.md §4.4.2), :func:`box_iou` /
  :func:`iou_cost` (docs/protocol.md §4.4.3), :class:`IdolMemory` (IDOL-style temporally weighted memory +
  bi-directional softmax), :data:`SIMILARITIES`;
* :mod:`~unitrack.association.objfeat` — object features: :func:`letterbox` + :func:`box_features`
  (docs/protocol.md §4.1.1), :func:`mask_features` + :func:`mask2box` (docs/protocol.md §4.1.2), :func:`skeleton_to_mask` +
  :func:`skeleton_box` (docs/protocol.md §4.1.3), :func:`remove_duplicated_boxes` (docs/protocol.md §4.1.2 step 5), box conversions;
* :mod:`~unitrack.association.tracker` — the JDE state machine: :class:`Observation` (one detection
  of a frame), :class:`Track` (docs/protocol.md §4.2), :class:`AssociationTracker` (docs/protocol.md §4.6 stages 1–5),
  :class:`AssociationConfig`.

Conventions: boxes ``tlwh`` = (left, top, w, h), ``tlbr`` = (x1, y1, x2, y2), ``xyah`` = (cx, cy,
w/h, h). Object features are ``C×n`` tensors (n points; boxes n = 4·10 = 40, masks/poses variable).
A head builds one :class:`Observation` per detection and calls ``tracker.update(observations)``
once per frame (also for frames without detections); it owns reading, feature extraction and writing.
Typical use (MOTS / PoseTrack):

    tracker = AssociationTracker.from_config(cfg.section, frame_rate=fps, device=device)
    feats, boxes = mask_features(fmap, masks, cfg.section.max_mask_area, generator=g)
    obs = [Observation(tlwh=tlbr_to_tlwh(b), score=1.0, feature=f, mask=m, activated=True, det_index=i)
           for i, (f, b, m) in enumerate(zip(feats, boxes, masks))]
    for t in tracker.update(obs): ...  # t.track_id, t.tlwh, t.mask, t.pose, t.det_index
"""

from __future__ import annotations

from unitrack.association.assignment import assign, fuse_motion
from unitrack.association.kalman import CHI2INV95, KalmanBoxFilter
from unitrack.association.objfeat import (
    box_features,
    letterbox,
    letterbox_geometry,
    mask2box,
    mask_features,
    remove_duplicated_boxes,
    skeleton_box,
    skeleton_to_mask,
    tlbr_to_tlwh,
    tlwh_to_tlbr,
    tlwh_to_xyah,
)
from unitrack.association.similarity import (
    SIMILARITIES,
    IdolMemory,
    box_iou,
    cosine_flat_cost,
    cosine_pooled_cost,
    iou_cost,
    rsm_cost,
)
from unitrack.association.tracker import AssociationConfig, AssociationTracker, Observation, Track, TrackState

__all__ = [
    "CHI2INV95",
    "SIMILARITIES",
    "AssociationConfig",
    "AssociationTracker",
    "IdolMemory",
    "KalmanBoxFilter",
    "Observation",
    "Track",
    "TrackState",
    "assign",
    "box_features",
    "box_iou",
    "cosine_flat_cost",
    "cosine_pooled_cost",
    "fuse_motion",
    "iou_cost",
    "letterbox",
    "letterbox_geometry",
    "mask2box",
    "mask_features",
    "remove_duplicated_boxes",
    "rsm_cost",
    "skeleton_box",
    "skeleton_to_mask",
    "tlbr_to_tlwh",
    "tlwh_to_tlbr",
    "tlwh_to_xyah",
]
