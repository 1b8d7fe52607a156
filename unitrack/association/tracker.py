"""The JDE state machine (docs/protocol.md §4.2, docs/protocol.md §4.6): observations, tracks, the association cascade.

:class:`Observation` (one detection of a frame), :class:`Track` (``New → Tracked ⇄ Lost → Removed``),
:class:`AssociationTracker` (stages 1–5) and :class:`AssociationConfig` (the config fields the MOT,
MOTS and PoseTrack sections share).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from unitrack.association.assignment import assign, fuse_motion
from unitrack.association.kalman import KalmanBoxFilter
from unitrack.association.objfeat import tlwh_to_tlbr, tlwh_to_xyah
from unitrack.association.similarity import (
    SIMILARITIES,
    IdolMemory,
    _as_points,
    cosine_flat_cost,
    cosine_pooled_cost,
    iou_cost,
    rsm_cost,
)

__all__ = ["AssociationConfig", "AssociationTracker", "Observation", "Track", "TrackState"]


@dataclass
class Observation:
    """One detection of the current frame, as a head hands it to :meth:`AssociationTracker.update`.

    ``tlwh`` is in the Kalman coordinate frame of the task (MOT/PoseTrack image pixels, MOTS feature
    cells); ``feature`` is the ``C×n`` object feature; ``activated`` = born confirmed (masks and poses,
    docs/protocol.md §4.1.2 step 6); ``det_index`` lets the head find its detection again (e.g. to copy its mask).
    """

    tlwh: np.ndarray
    score: float
    feature: torch.Tensor | None = None
    mask: Any = None
    pose: Any = None
    activated: bool = False
    det_index: int = -1
    category: int | None = None

    def __post_init__(self):
        self.tlwh = np.asarray(self.tlwh, dtype=np.float64).reshape(4)
        self.score = float(self.score)

    @property
    def tlbr(self) -> np.ndarray:
        return tlwh_to_tlbr(self.tlwh)

    @property
    def xyah(self) -> np.ndarray:
        return tlwh_to_xyah(self.tlwh)


class TrackState:
    New = 0
    Tracked = 1
    Lost = 2
    Removed = 3


class Track:
    """A track of the JDE state machine ``New → Tracked ⇄ Lost → Removed`` (docs/protocol.md §4.2).

    ``curr_feat`` is the last observation's feature (what RSM uses), ``smooth_feat`` its EMA
    (α = 0.9, kept only while shapes match; used by ``cosine_flat``), ``pooled_feat`` the EMA of the
    average-pooled vector (used by ``cosine_pooled``; equals pooling ``smooth_feat`` for boxes).
    ``mean``/``covariance`` are the Kalman state (None without Kalman); ``tlwh`` is derived from it.
    ``mask``/``pose``/``det_index`` are those of the last matched observation.
    """

    alpha = 0.9

    def __init__(self, obs: Observation):
        self.track_id = 0
        self.is_activated = bool(obs.activated)
        self.state = TrackState.New
        self.score = obs.score
        self.category = obs.category
        self.mean: np.ndarray | None = None
        self.covariance: np.ndarray | None = None
        self._tlwh = obs.tlwh.copy()
        self.curr_feat = None
        self.smooth_feat = None
        self.pooled_feat = None
        self.mask = obs.mask
        self.pose = obs.pose
        self.det_index = obs.det_index
        self.frame_id = 0
        self.start_frame = 0
        self.tracklet_len = 0
        self.update_features(obs.feature)

    def __repr__(self) -> str:
        return f"Track(id={self.track_id}, state={self.state}, frames {self.start_frame}-{self.frame_id})"

    # features ---------------------------------------------------------------------------------
    def update_features(self, feat: torch.Tensor | None) -> None:
        if feat is None:
            return
        self.curr_feat = feat
        pooled = F.normalize(_as_points(feat).float().mean(1), dim=0)
        if self.smooth_feat is None:
            self.smooth_feat = feat
        elif self.smooth_feat.shape == feat.shape:
            self.smooth_feat = self.alpha * self.smooth_feat + (1 - self.alpha) * feat
        self.pooled_feat = pooled if self.pooled_feat is None else self.alpha * self.pooled_feat + (1 - self.alpha) * pooled

    # geometry ---------------------------------------------------------------------------------
    @property
    def tlwh(self) -> np.ndarray:
        """Current box: the Kalman (posterior / predicted) state when there is one, else the last box."""
        if self.mean is None:
            return self._tlwh.copy()
        cx, cy, a, h = self.mean[:4]
        w = a * h
        return np.array([cx - w / 2, cy - h / 2, w, h])

    @property
    def tlbr(self) -> np.ndarray:
        return tlwh_to_tlbr(self.tlwh)

    @property
    def xyah(self) -> np.ndarray:
        return tlwh_to_xyah(self.tlwh)

    @property
    def end_frame(self) -> int:
        return self.frame_id

    # transitions ------------------------------------------------------------------------------
    def activate(self, kf: KalmanBoxFilter | None, frame_id: int, track_id: int) -> None:
        """Birth: new id, Kalman initiation; confirmed at once only in frame 1 (or if born activated)."""
        self.track_id = track_id
        if kf is not None:
            self.mean, self.covariance = kf.initiate(tlwh_to_xyah(self._tlwh))
        self.tracklet_len = 0
        self.state = TrackState.Tracked
        if frame_id == 1:
            self.is_activated = True
        self.frame_id = frame_id
        self.start_frame = frame_id

    def _set_box(self, obs: Observation, mean, cov) -> None:
        if mean is not None:
            self.mean, self.covariance = mean, cov
        else:  # no Kalman: copy the detection's box
            self._tlwh = obs.tlwh.copy()
            self.mean = self.covariance = None

    def update(self, obs: Observation, frame_id: int, mean=None, cov=None) -> None:
        """Matched while Tracked: box (Kalman posterior given as mean/cov), score, features, mask, pose."""
        self.frame_id = frame_id
        self.tracklet_len += 1
        self._set_box(obs, mean, cov)
        self.state = TrackState.Tracked
        self.is_activated = True
        self.score = obs.score
        self.category = obs.category
        self.update_features(obs.feature)
        self.det_index = obs.det_index
        if obs.mask is not None:
            self.mask = obs.mask
        if obs.pose is not None:
            self.pose = obs.pose

    def re_activate(self, obs: Observation, frame_id: int, mean=None, cov=None, faithful: bool = True) -> None:
        """Matched while Lost (or lingering Removed). ``faithful`` keeps the reference's omission of
        pose/score/category (docs/protocol.md §7.1 #12); ``faithful=False`` copies them too."""
        self._set_box(obs, mean, cov)
        self.update_features(obs.feature)
        self.tracklet_len = 0
        self.state = TrackState.Tracked
        self.is_activated = True
        self.frame_id = frame_id
        self.det_index = obs.det_index
        if obs.mask is not None:
            self.mask = obs.mask
        if not faithful:
            self.score = obs.score
            self.category = obs.category
            if obs.pose is not None:
                self.pose = obs.pose

    def mark_lost(self) -> None:
        self.state = TrackState.Lost

    def mark_removed(self) -> None:
        self.state = TrackState.Removed


def _joint(a: list[Track], b: list[Track]) -> list[Track]:
    seen = {t.track_id for t in a}
    return a + [t for t in b if t.track_id not in seen]


def _sub(a: list[Track], ids: set[int]) -> list[Track]:
    return [t for t in a if t.track_id not in ids]


def _tlbrs(tracks: Sequence[Any]) -> np.ndarray:
    return np.stack([t.tlbr for t in tracks]) if len(tracks) else np.zeros((0, 4))


@dataclass
class AssociationConfig:
    """Config fields shared by the association tasks (docs/protocol.md §4, docs/protocol.md §6): the MOT, MOTS and PoseTrack sections
    inherit them and :meth:`AssociationTracker.from_config` consumes them."""

    similarity: str = "rsm"  # rsm | cosine_pooled | cosine_flat | iou | idol
    rsm_inv_temperature: float = 100.0
    feat_size: list[int] = field(default_factory=lambda: [4, 10])
    track_buffer: int = 30
    conf_thres: float = 0.5
    first_stage_thres: float = 0.7
    dup_iou_thres: float = 0.15
    confirm_iou_thres: float = 0.7
    use_kalman: bool = True
    asso_with_motion: bool = False  # Tables 1–2 use the *_womotion setting
    motion_lambda: float = 0.98
    motion_gated: bool = True
    idol_memory: int = 10  # IDOL-style option: embeddings remembered per track
    idol_threshold: float = 0.5
    idol_inv_temperature: float = 10.0  # sharpening of the bi-softmax on unit-norm frozen features
    observations: str | None = None  # folder of user observations; None = the benchmark's det files
    faithful: bool = True  # reproduce docs/protocol.md §7.1 quirks (e.g. #12 PoseTrack re_activate not copying the pose)


class AssociationTracker:
    """The JDE / UniTrack association cascade (docs/protocol.md §4.6), one instance per sequence (ids start at 1).

    Per frame: stage 1 appearance cost (``similarity``: rsm | cosine_pooled | cosine_flat | iou |
    idol) over active ∪ lost tracks, optionally fused with Kalman motion (``asso_with_motion``:
    λ = ``motion_lambda``, χ² gating if ``motion_gated``) and assigned with θ = ``first_stage_thres``
    (0.7; for idol θ = 1 − ``idol_threshold``); with ``use_kalman``: stage 2 IoU (θ 0.5) on the
    still-unmatched Tracked tracks, stage 3 IoU (θ ``confirm_iou_thres``) for unconfirmed tracks
    (unmatched ones are removed); stage 4 births for detections with score ≥ ``conf_thres``;
    stage 5 bookkeeping (lost for > ``int(frame_rate/30·track_buffer)`` frames → removed, removed
    tracks linger one frame in the lost pool as in JDE, tracked-vs-lost duplicates with
    ``1 − IoU < dup_iou_thres`` resolved in favour of the older track).

    Without Kalman (``use_kalman=False``) births are confirmed at once (no stage 3 exists to
    confirm them) and boxes are the last matched detection's.
    """

    def __init__(
        self,
        similarity: str = "rsm",
        first_stage_thres: float = 0.7,
        conf_thres: float = 0.5,
        track_buffer: int = 30,
        frame_rate: float = 30.0,
        dup_iou_thres: float = 0.15,
        confirm_iou_thres: float = 0.7,
        stage2_iou_thres: float = 0.5,
        use_kalman: bool = True,
        asso_with_motion: bool = False,
        motion_lambda: float = 0.98,
        motion_gated: bool = True,
        inv_temp: float = 100.0,
        idol_memory: int = 10,
        idol_threshold: float = 0.5,
        idol_inv_temp: float = 10.0,
        use_category: bool = False,
        faithful: bool = True,
        device: str | torch.device | None = None,
    ):
        if similarity not in SIMILARITIES:
            raise ValueError(f"unknown similarity {similarity!r}; expected one of {', '.join(SIMILARITIES)}")
        self.similarity = similarity
        self.first_stage_thres = float(first_stage_thres)
        self.det_thresh = float(conf_thres)
        self.buffer_size = int(frame_rate / 30.0 * track_buffer)
        self.max_time_lost = self.buffer_size
        self.dup_iou_thres = float(dup_iou_thres)
        self.confirm_iou_thres = float(confirm_iou_thres)
        self.stage2_iou_thres = float(stage2_iou_thres)
        self.use_kalman = bool(use_kalman)
        self.asso_with_motion = bool(asso_with_motion)
        self.motion_lambda = float(motion_lambda) if asso_with_motion else 1.0
        self.motion_gated = bool(motion_gated) if asso_with_motion else False
        self.inv_temp = float(inv_temp)
        self.use_category = bool(use_category)
        self.faithful = bool(faithful)
        self.device = torch.device(device) if device is not None else None
        self.kf = KalmanBoxFilter()
        self.memory = IdolMemory(idol_memory, idol_inv_temp, idol_threshold) if similarity == "idol" else None
        self.reset()

    @classmethod
    def from_config(cls, section: Any, frame_rate: float, device=None, **overrides) -> AssociationTracker:
        """Build from an ``_AssociationConfig`` subclass (MOTConfig, MOTSConfig, PoseTrackConfig)."""
        kw = dict(
            similarity=section.similarity,
            first_stage_thres=section.first_stage_thres,
            conf_thres=section.conf_thres,
            track_buffer=section.track_buffer,
            frame_rate=frame_rate,
            dup_iou_thres=section.dup_iou_thres,
            confirm_iou_thres=section.confirm_iou_thres,
            use_kalman=section.use_kalman,
            asso_with_motion=section.asso_with_motion,
            motion_lambda=section.motion_lambda,
            motion_gated=section.motion_gated,
            inv_temp=section.rsm_inv_temperature,
            idol_memory=section.idol_memory,
            idol_threshold=section.idol_threshold,
            idol_inv_temp=getattr(section, "idol_inv_temperature", 10.0),
            faithful=section.faithful,
            device=device,
        )
        kw.update(overrides)
        return cls(**kw)

    def reset(self) -> None:
        """Forget all tracks; the next frame is frame 1 and the next id is 1 (docs/protocol.md §7.2 #30)."""
        self.frame_id = 0
        self.tracked: list[Track] = []
        self.lost: list[Track] = []
        self._removed_ids: set[int] = set()
        self._count = 0
        if self.memory is not None:
            self.memory.reset()

    def _next_id(self) -> int:
        self._count += 1
        return self._count

    # ---------------------------------------------------------------------------------------
    @property
    def stage1_thresh(self) -> float:
        if self.similarity == "idol":
            return 1.0 - self.memory.threshold
        return self.first_stage_thres

    def appearance_cost(self, tracks: Sequence[Track], dets: Sequence[Observation]) -> np.ndarray:
        """Stage-1 cost matrix of the configured similarity (before motion fusion)."""
        if len(tracks) == 0 or len(dets) == 0:
            return np.zeros((len(tracks), len(dets)))
        s = self.similarity
        if s == "iou":
            return iou_cost(_tlbrs(tracks), _tlbrs(dets))
        if any(d.feature is None for d in dets):
            raise ValueError(f"similarity {s!r} needs an object feature on every observation")
        det_f = [d.feature for d in dets]
        if s == "rsm":
            return rsm_cost([t.curr_feat for t in tracks], det_f, self.inv_temp, self.device)
        if s == "cosine_pooled":
            return cosine_pooled_cost([t.pooled_feat for t in tracks], det_f, self.device)
        if s == "cosine_flat":
            return cosine_flat_cost([t.smooth_feat for t in tracks], det_f, self.device)
        return self.memory.cost([t.track_id for t in tracks], det_f)

    def _predict(self, tracks: Sequence[Track]) -> None:
        ts = [t for t in tracks if t.mean is not None]
        if not ts:
            return
        means = np.stack([t.mean for t in ts])
        covs = np.stack([t.covariance for t in ts])
        lost = np.array([t.state != TrackState.Tracked for t in ts])
        means[lost, 7] = 0.0
        means, covs = self.kf.predict(means, covs)
        for t, m, c in zip(ts, means, covs):
            t.mean, t.covariance = m, c

    def _apply(self, tracks, dets, matches, activated, refound) -> None:
        """Batched Kalman correction of the matched tracks, then update / re-activate each one."""
        if len(matches) == 0:
            return
        tr = [tracks[i] for i in matches[:, 0]]
        ds = [dets[j] for j in matches[:, 1]]
        means = covs = None
        if self.use_kalman:
            means, covs = self.kf.update(np.stack([t.mean for t in tr]), np.stack([t.covariance for t in tr]),
                                         np.stack([d.xyah for d in ds]))
        for k, (t, d) in enumerate(zip(tr, ds)):
            m = means[k] if means is not None else None
            c = covs[k] if covs is not None else None
            if t.state == TrackState.Tracked:
                t.update(d, self.frame_id, m, c)
                activated.append(t)
            else:
                t.re_activate(d, self.frame_id, m, c, faithful=self.faithful)
                refound.append(t)
            if self.memory is not None and d.feature is not None:
                self.memory.update(t.track_id, d.feature, d.score)

    def update(self, observations: Sequence[Observation]) -> list[Track]:
        """Associate one frame's observations; returns the confirmed tracked tracks (docs/protocol.md §4.6)."""
        self.frame_id += 1
        dets = list(observations)
        activated: list[Track] = []
        refound: list[Track] = []
        newly_lost: list[Track] = []
        newly_removed: list[Track] = []

        unconfirmed = [t for t in self.tracked if not t.is_activated]
        active = [t for t in self.tracked if t.is_activated]
        pool = _joint(active, self.lost)

        # Stage 1 — appearance (+ motion)
        if self.use_kalman:
            self._predict(pool)
        cost = self.appearance_cost(pool, dets)
        if self.use_kalman and self.asso_with_motion and cost.size:
            cost = fuse_motion(self.kf, cost, pool, dets, self.motion_lambda, self.motion_gated)
        if self.use_category and cost.size:
            tc = np.array([t.category if t.category is not None else -1 for t in pool], dtype=np.float64)
            dc = np.array([d.category if d.category is not None else -1 for d in dets], dtype=np.float64)
            cost = cost + np.abs(tc[:, None] - dc[None, :])
        matches, u_trk, u_det = assign(cost, self.stage1_thresh)
        self._apply(pool, dets, matches, activated, refound)

        if self.use_kalman:
            # Stage 2 — IoU on still-unmatched Tracked tracks (lost ones excluded)
            pool2 = [pool[i] for i in u_trk if pool[i].state == TrackState.Tracked]
            dets2 = [dets[j] for j in u_det]
            cost = iou_cost(_tlbrs(pool2), _tlbrs(dets2))
            matches, u_trk2, u_det2 = assign(cost, self.stage2_iou_thres)
            self._apply(pool2, dets2, matches, activated, refound)
            # Stage 3 — unconfirmed tracks vs the remaining detections
            dets3 = [dets2[j] for j in u_det2]
            cost = iou_cost(_tlbrs(unconfirmed), _tlbrs(dets3))
            matches, u_unc, u_det3 = assign(cost, self.confirm_iou_thres)
            self._apply(unconfirmed, dets3, matches, activated, refound)
            for i in u_unc:
                unconfirmed[i].mark_removed()
                newly_removed.append(unconfirmed[i])
            leftover = [pool2[i] for i in u_trk2]
            remaining = [dets3[j] for j in u_det3]
        else:
            leftover = [pool[i] for i in u_trk]
            remaining = [dets[j] for j in u_det]
        for t in leftover:
            if t.state != TrackState.Lost:
                t.mark_lost()
                newly_lost.append(t)

        # Stage 4 — births
        for d in remaining:
            if d.score < self.det_thresh:
                continue
            t = Track(d)
            if not self.use_kalman:
                t.is_activated = True
            t.activate(self.kf, self.frame_id, self._next_id())
            activated.append(t)
            if self.memory is not None and d.feature is not None:
                self.memory.update(t.track_id, d.feature, d.score)

        # Stage 5 — bookkeeping
        for t in self.lost:
            if self.frame_id - t.end_frame > self.max_time_lost:
                t.mark_removed()
                newly_removed.append(t)
        self.tracked = [t for t in self.tracked if t.state == TrackState.Tracked]
        self.tracked = _joint(self.tracked, activated)
        self.tracked = _joint(self.tracked, refound)
        self.lost = _sub(self.lost, {t.track_id for t in self.tracked})
        self.lost.extend(newly_lost)
        self.lost = _sub(self.lost, self._removed_ids)  # removed *before* this frame: JDE's one-frame linger
        self._removed_ids.update(t.track_id for t in newly_removed)
        self.tracked, self.lost = self._remove_duplicates(self.tracked, self.lost)
        if self.memory is not None:
            self.memory.prune([t.track_id for t in self.tracked] + [t.track_id for t in self.lost])
        return [t for t in self.tracked if t.is_activated]

    def _remove_duplicates(self, tracked: list[Track], lost: list[Track]) -> tuple[list[Track], list[Track]]:
        """Tracked-vs-lost pairs with ``1 − IoU < dup_iou_thres``: drop the younger (ties: the tracked one)."""
        if not tracked or not lost:
            return tracked, lost
        d = iou_cost(_tlbrs(tracked), _tlbrs(lost))
        p, q = np.nonzero(d < self.dup_iou_thres)
        if len(p) == 0:
            return tracked, lost
        age_p = np.array([t.frame_id - t.start_frame for t in tracked])[p]
        age_q = np.array([t.frame_id - t.start_frame for t in lost])[q]
        drop_q = set(q[age_p > age_q].tolist())
        drop_p = set(p[~(age_p > age_q)].tolist())
        return ([t for i, t in enumerate(tracked) if i not in drop_p],
                [t for i, t in enumerate(lost) if i not in drop_q])

