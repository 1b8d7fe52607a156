"""Association primitives shared by the MOT, MOTS and PoseTrack heads (UNITRACK_SPEC.md §4).

Everything an association head needs lives in this one flat module, with stable names:

* motion: :class:`KalmanBoxFilter` (DeepSORT model §4.3, vectorised over many tracks);
* assignment: :func:`assign` (``lap.lapjv(extend_cost=True, cost_limit=θ)`` semantics §4.5);
* similarities (cost = 1 − similarity, N tracks × M detections): :func:`rsm_cost` (§4.4.1, all
  pairs in one batched tensor program), :func:`cosine_pooled_cost`, :func:`cosine_flat_cost`
  (the paper's ablation baselines §4.4.2), :func:`iou_cost` (§4.4.3), :func:`fuse_motion` (§4.4.4),
  :class:`IdolMemory` (IDOL-style temporally weighted memory + bi-directional softmax);
* object features: :func:`letterbox` + :func:`box_features` (§4.1.1), :func:`mask_features` +
  :func:`mask2box` (§4.1.2), :func:`skeleton_to_mask` + :func:`skeleton_box` (§4.1.3),
  :func:`remove_duplicated_boxes` (§4.1.2 step 5);
* the JDE state machine: :class:`Observation` (one detection of a frame), :class:`Track` (§4.2),
  :class:`AssociationTracker` (§4.6 stages 1–5).

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

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import lap
import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "CHI2INV95",
    "SIMILARITIES",
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

#: 0.95 quantile of the χ² distribution by degrees of freedom (gating threshold, §4.3).
CHI2INV95 = {1: 3.8415, 2: 5.9915, 3: 7.8147, 4: 9.4877, 5: 11.070, 6: 12.592, 7: 14.067, 8: 15.507, 9: 16.919}

#: Stage-1 similarity options of :class:`AssociationTracker` (config field ``similarity``).
SIMILARITIES = ("rsm", "cosine_pooled", "cosine_flat", "iou", "idol")


# ---------------------------------------------------------------------------------------------
# box conversions


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
    """(…, 4) tlwh → centre x, centre y, aspect w/(h + 1e-6), h (the Kalman measurement, §4.3)."""
    b = np.array(tlwh, dtype=np.float64, copy=True)
    b[..., :2] += b[..., 2:] / 2
    b[..., 2] /= b[..., 3] + 1e-6
    return b


# ---------------------------------------------------------------------------------------------
# Kalman filter (§4.3)


class KalmanBoxFilter:
    """DeepSORT constant-velocity Kalman filter on ``(cx, cy, a, h, vcx, vcy, va, vh)``, vectorised.

    Every method accepts one state (``mean`` (8,), ``cov`` (8, 8)) or a batch of K states
    (``(K, 8)``, ``(K, 8, 8)``) and returns the same layout: one numpy call serves all tracks of a
    frame, instead of a Python loop over per-track filters (see ``benchmarks/bench_association.py``).
    The noise scales with the current height estimate: σ_p = 1/20, σ_v = 1/160 (§4.3).
    """

    ndim = 4

    def __init__(self, std_weight_position: float = 1.0 / 20, std_weight_velocity: float = 1.0 / 160):
        self.std_pos = std_weight_position
        self.std_vel = std_weight_velocity
        self.motion_mat = np.eye(8)
        self.motion_mat[:4, 4:] = np.eye(4)
        self.update_mat = np.eye(4, 8)

    @staticmethod
    def _batch(x: np.ndarray, nd: int) -> tuple[np.ndarray, bool]:
        x = np.asarray(x, dtype=np.float64)
        single = x.ndim == nd
        return (x[None] if single else x), single

    def initiate(self, measurement: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """New track(s) from xyah measurement(s): zero velocity, covariance scaled by the height."""
        z, single = self._batch(measurement, 1)
        h = z[:, 3]
        one = np.ones_like(h)
        mean = np.concatenate([z, np.zeros_like(z)], axis=1)
        std = np.stack([2 * self.std_pos * h, 2 * self.std_pos * h, 1e-2 * one, 2 * self.std_pos * h,
                        10 * self.std_vel * h, 10 * self.std_vel * h, 1e-5 * one, 10 * self.std_vel * h], axis=1)
        cov = _diag(std**2)
        return (mean[0], cov[0]) if single else (mean, cov)

    def predict(self, mean: np.ndarray, covariance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One constant-velocity step; the process noise uses the pre-prediction height."""
        m, single = self._batch(mean, 1)
        P, _ = self._batch(covariance, 2)
        h = m[:, 3]
        one = np.ones_like(h)
        std = np.stack([self.std_pos * h, self.std_pos * h, 1e-2 * one, self.std_pos * h,
                        self.std_vel * h, self.std_vel * h, 1e-5 * one, self.std_vel * h], axis=1)
        Fm = self.motion_mat
        m = m @ Fm.T
        P = Fm @ P @ Fm.T + _diag(std**2)
        return (m[0], P[0]) if single else (m, P)

    def project(self, mean: np.ndarray, covariance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """State(s) → measurement space: ``ẑ = H x``, ``S = H P Hᵀ + R``."""
        m, single = self._batch(mean, 1)
        P, _ = self._batch(covariance, 2)
        h = m[:, 3]
        std = np.stack([self.std_pos * h, self.std_pos * h, 1e-1 * np.ones_like(h), self.std_pos * h], axis=1)
        z = m[:, :4].copy()
        S = P[:, :4, :4] + _diag(std**2)
        return (z[0], S[0]) if single else (z, S)

    def update(self, mean: np.ndarray, covariance: np.ndarray,
               measurement: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Kalman correction with xyah measurement(s): ``K = P Hᵀ S⁻¹`` (Cholesky), ``P ← P − K S Kᵀ``."""
        m, single = self._batch(mean, 1)
        P, _ = self._batch(covariance, 2)
        z, _ = self._batch(measurement, 1)
        zp, S = self.project(m, P)
        L = np.linalg.cholesky(S)
        PHt = P[:, :, :4]  # P Hᵀ  (K, 8, 4)
        # K = P Hᵀ S⁻¹ = (S⁻¹ H P)ᵀ ; solve with the Cholesky factor: S⁻¹ = L⁻ᵀ L⁻¹
        Linv = np.linalg.inv(L)
        Sinv = np.swapaxes(Linv, 1, 2) @ Linv
        K = PHt @ Sinv
        m = m + np.einsum("kij,kj->ki", K, z - zp)
        P = P - K @ S @ np.swapaxes(K, 1, 2)
        return (m[0], P[0]) if single else (m, P)

    def gating_distance(self, mean: np.ndarray, covariance: np.ndarray, measurements: np.ndarray,
                        only_position: bool = False) -> np.ndarray:
        """Squared Mahalanobis distance between projected state(s) and M xyah measurements.

        One state → ``(M,)``; N states → ``(N, M)``. ``only_position`` uses (cx, cy) only (2 dof).
        """
        m, single = self._batch(mean, 1)
        P, _ = self._batch(covariance, 2)
        z = np.asarray(measurements, dtype=np.float64).reshape(-1, 4)
        zp, S = self.project(m, P)
        if only_position:
            zp, S, z = zp[:, :2], S[:, :2, :2], z[:, :2]
        Linv = np.linalg.inv(np.linalg.cholesky(S))  # (N, d, d)
        d = z[None, :, :] - zp[:, None, :]  # (N, M, d)
        y = np.einsum("nij,nmj->nmi", Linv, d)
        out = (y**2).sum(-1)
        return out[0] if single else out


def _diag(v: np.ndarray) -> np.ndarray:
    """(K, d) → (K, d, d) diagonal matrices."""
    out = np.zeros(v.shape + (v.shape[-1],), dtype=np.float64)
    idx = np.arange(v.shape[-1])
    out[..., idx, idx] = v
    return out


# ---------------------------------------------------------------------------------------------
# thresholded assignment (§4.5)


def assign(cost: np.ndarray, thresh: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Min-cost assignment where a pair is kept only if its cost is strictly below ``thresh``.

    Same semantics as ``lap.lapjv(cost, extend_cost=True, cost_limit=thresh)`` (which it calls):
    the matching that maximises Σ (θ − cost) over matched pairs; ∞/NaN entries are never matched.
    Returns ``(matches (K, 2) int [row, col], unmatched_rows, unmatched_cols)``.
    """
    cost = np.asarray(cost, dtype=np.float64)
    if cost.ndim != 2:
        raise ValueError(f"assign: cost must be 2-D, got shape {cost.shape}")
    n, m = cost.shape
    if n == 0 or m == 0:
        return np.empty((0, 2), dtype=np.int64), np.arange(n), np.arange(m)
    bad = ~np.isfinite(cost)
    c = cost
    if bad.any():  # never matchable: any finite value ≥ θ behaves like ∞ in the extended problem
        c = np.where(bad, max(float(thresh), 0.0) + 1e6, cost)
    _, x, _ = lap.lapjv(c, extend_cost=True, cost_limit=float(thresh))
    rows = np.flatnonzero(x >= 0)
    cols = x[rows].astype(np.int64)
    keep = cost[rows, cols] < thresh  # ties at exactly θ: unmatched (same objective value)
    rows, cols = rows[keep], cols[keep]
    matches = np.stack([rows, cols], axis=1).astype(np.int64) if len(rows) else np.empty((0, 2), np.int64)
    um_rows = np.setdiff1d(np.arange(n), rows)
    um_cols = np.setdiff1d(np.arange(m), cols)
    return matches, um_rows, um_cols


# ---------------------------------------------------------------------------------------------
# similarities / costs (§4.4)


def _as_points(f: torch.Tensor) -> torch.Tensor:
    """An object feature (C, n) / (C, h, w) / (C,) → (C, n)."""
    if f.dim() == 1:
        return f[:, None]
    return f.reshape(f.shape[0], -1)


def _pad_points(feats: Sequence[torch.Tensor], device, dtype) -> torch.Tensor:
    """List of (C, n_i) → zero-padded, point-normalised (K, n_max, C)."""
    pts = [_as_points(f).to(device=device, dtype=dtype).T for f in feats]  # (n_i, C)
    padded = torch.nn.utils.rnn.pad_sequence(pts, batch_first=True)  # zeros appended
    return F.normalize(padded, dim=2)  # zero columns stay zero


def _feature_device(feats: Sequence[torch.Tensor], device) -> torch.device:
    if device is not None:
        return torch.device(device)
    for f in feats:
        if isinstance(f, torch.Tensor):
            return f.device
    return torch.device("cpu")


@torch.no_grad()
def rsm_cost(track_feats: Sequence[torch.Tensor], det_feats: Sequence[torch.Tensor], inv_temp: float = 100.0,
             device: str | torch.device | None = None, max_elements: int = 1 << 24) -> np.ndarray:
    """Reconstruction Similarity Metric cost ``1 − RSM`` for ALL track × detection pairs (§4.4.1).

    ``track_feats[i]`` is ``C×n_i`` (or ``C×h×w``), ``det_feats[j]`` is ``C×m_j``. Objects are
    zero-padded to the widest one of their side, point vectors L2-normalised, ``S = T Dᵀ`` over all
    points of all objects; the t←d reconstruction uses the row softmax of ``inv_temp·S`` (over all
    detection points), the d←t one the column softmax (over all track points), each pair's
    sub-block is used without renormalisation, and RSM = ½(cos(T̂_ij, T_i) + cos(D̂_ji, D_j)) on the
    flattened maps. The reconstructions are never materialised: with ``A`` a softmax block,
    ``⟨T̂, T⟩ = Σ A ⊙ S`` and ``‖T̂‖² = Σ_s a_sᵀ G a_s`` with ``G`` the other side's Gram matrix (or the
    reconstruction itself when points outnumber channels). Work is chunked over tracks so that no
    intermediate exceeds ``max_elements`` (or one track's share when that alone is larger); runs on ``device`` (default: the features' device).
    Returns an ``N×M`` float64 numpy array (empty if N or M is 0).
    """
    N, M = len(track_feats), len(det_feats)
    if N == 0 or M == 0:
        return np.zeros((N, M), dtype=np.float64)
    dev = _feature_device(list(track_feats) + list(det_feats), device)
    dtype = torch.float32
    T = _pad_points(track_feats, dev, dtype)  # (N, nt, C)
    D = _pad_points(det_feats, dev, dtype)  # (M, nd, C)
    if T.shape[2] != D.shape[2]:
        raise ValueError(f"rsm_cost: tracks have {T.shape[2]} channels, detections {D.shape[2]}")
    nt, nd, C = T.shape[1], D.shape[1], T.shape[2]
    Tf = T.reshape(N * nt, C)
    Df = D.reshape(M * nd, C)
    t_norm = T.pow(2).sum((1, 2)).sqrt().clamp_min(1e-12)  # ‖vec T_i‖ (N,)
    d_norm = D.pow(2).sum((1, 2)).sqrt().clamp_min(1e-12)
    gram_d = torch.bmm(D, D.transpose(1, 2)) if nd <= C else None  # (M, nd, nd)

    per_track = nt * M * nd
    chunk = max(1, min(N, max_elements // max(per_track, 1)))
    starts = list(range(0, N, chunk))
    scale = float(inv_temp)

    # column-wise softmax normaliser (over ALL track points) for the d←t direction; with several
    # chunks it needs a first pass over all of them (the affinity is recomputed in the second pass)
    S_one = None
    col_lse = None
    for s0 in starts:
        S = (Tf[s0 * nt:(s0 + chunk) * nt] @ Df.T).mul_(scale)
        lse = torch.logsumexp(S, dim=0)
        col_lse = lse if col_lse is None else torch.logaddexp(col_lse, lse)
        if len(starts) == 1:
            S_one = S
        del S

    cos_td = torch.empty(N, M, device=dev, dtype=dtype)
    cos_dt = torch.empty(N, M, device=dev, dtype=dtype)
    for s0 in starts:
        Tc = T[s0:s0 + chunk]
        n_c = Tc.shape[0]
        if S_one is not None:
            S, S_one = S_one, None
        else:
            S = (Tc.reshape(n_c * nt, C) @ Df.T).mul_(scale)  # (n_c nt, M nd), scaled
        # Two S-sized work buffers (P, W) are reused in place: on the CPU the cost is dominated by
        # memory passes over these tensors, not by arithmetic.
        # d←t: P = column softmax (over all track points); layout (i, s, j·d)
        P = torch.sub(S, col_lse[None, :]).exp_()
        W = torch.mul(P, S)
        num_dt = W.view(n_c, nt, M, nd).sum((1, 3)) / scale  # ⟨D̂_ji, D_j⟩
        if nt <= C:  # ‖D̂_ji‖² = Σ_d p_dᵀ G_T p_d with G_T = T_i T_iᵀ
            Pv = P.view(n_c, nt, M * nd)
            torch.bmm(torch.bmm(Tc, Tc.transpose(1, 2)), Pv, out=W.view(n_c, nt, M * nd))
            nd2 = W.mul_(P).view(n_c, nt, M, nd).sum((1, 3))
        else:
            Dhat = torch.einsum("isx,isc->ixc", P.view(n_c, nt, M * nd), Tc)  # (n_c, M·nd, C)
            nd2 = Dhat.pow(2).view(n_c, M, nd * C).sum(2)
            del Dhat
        # t←d: A = row softmax (over all detection points of all detections), written into P
        torch.sub(S, S.amax(1, keepdim=True), out=P).exp_()
        P.div_(P.sum(1, keepdim=True))
        num_td = torch.mul(P, S, out=W).view(n_c, nt, M, nd).sum((1, 3)) / scale  # ⟨T̂_ij, T_i⟩
        del S
        Aj = W.view(M, n_c * nt, nd)
        Aj.copy_(P.view(n_c * nt, M, nd).transpose(0, 1))  # (M, n_c·nt, nd): batched over j
        if gram_d is not None:  # ‖T̂_ij‖² = Σ_s a_sᵀ G_D a_s with G_D = D_j D_jᵀ
            B = torch.bmm(Aj, gram_d, out=P.view(M, n_c * nt, nd))
            nt2 = B.mul_(Aj).sum(2).view(M, n_c, nt).sum(2).T
        else:
            That = torch.bmm(Aj, D)  # (M, n_c·nt, C)
            nt2 = That.pow(2).sum(2).view(M, n_c, nt).sum(2).T
            del That
        del P, W, Aj
        sl = slice(s0, s0 + n_c)
        cos_td[sl] = num_td / (nt2.clamp_min(0).sqrt().clamp_min(1e-12) * t_norm[sl, None])
        cos_dt[sl] = num_dt / (nd2.clamp_min(0).sqrt().clamp_min(1e-12) * d_norm[None, :])
    cost = 1.0 - 0.5 * (cos_td + cos_dt)
    return cost.double().cpu().numpy()


@torch.no_grad()
def _rsm_cost_pairloop(track_feats: Sequence[torch.Tensor], det_feats: Sequence[torch.Tensor],
                       inv_temp: float = 100.0, device=None) -> np.ndarray:
    """Reference RSM with an explicit Python loop over pairs and materialised reconstructions.

    Literal transcription of §4.4.1, kept for tests and for the speed baseline of the benchmark.
    """
    N, M = len(track_feats), len(det_feats)
    if N == 0 or M == 0:
        return np.zeros((N, M))
    dev = _feature_device(list(track_feats) + list(det_feats), device)
    T = _pad_points(track_feats, dev, torch.float32)
    D = _pad_points(det_feats, dev, torch.float32)
    nt, nd, C = T.shape[1], D.shape[1], T.shape[2]
    S = T.reshape(-1, C) @ D.reshape(-1, C).T
    A_td = torch.softmax(inv_temp * S, dim=1)
    A_dt = torch.softmax(inv_temp * S, dim=0).T
    cost = np.zeros((N, M))
    for i in range(N):
        for j in range(M):
            R_td = A_td[i * nt:(i + 1) * nt, j * nd:(j + 1) * nd]
            That = R_td @ D[j]
            R_dt = A_dt[j * nd:(j + 1) * nd, i * nt:(i + 1) * nt]
            Dhat = R_dt @ T[i]
            c1 = (That * T[i]).sum() / (That.norm().clamp_min(1e-12) * T[i].norm().clamp_min(1e-12))
            c2 = (Dhat * D[j]).sum() / (Dhat.norm().clamp_min(1e-12) * D[j].norm().clamp_min(1e-12))
            cost[i, j] = 1.0 - 0.5 * float(c1 + c2)
    return cost


def _pooled(feats: Sequence[torch.Tensor], device, dtype=torch.float32) -> torch.Tensor:
    """Average-pool each C×n feature over its points and L2-normalise → (K, C)."""
    v = torch.stack([_as_points(f).to(device=device, dtype=dtype).mean(1) for f in feats])
    return F.normalize(v, dim=1)


@torch.no_grad()
def cosine_pooled_cost(track_feats: Sequence[torch.Tensor], det_feats: Sequence[torch.Tensor],
                       device=None) -> np.ndarray:
    """``1 − cos`` of spatially average-pooled object features (the paper's pooled baseline, §4.4.2).

    Works with any point count (boxes, masks, poses); 1-D inputs are taken as already pooled.
    """
    N, M = len(track_feats), len(det_feats)
    if N == 0 or M == 0:
        return np.zeros((N, M))
    dev = _feature_device(list(track_feats) + list(det_feats), device)
    return (1.0 - _pooled(track_feats, dev) @ _pooled(det_feats, dev).T).double().cpu().numpy()


@torch.no_grad()
def cosine_flat_cost(track_feats: Sequence[torch.Tensor], det_feats: Sequence[torch.Tensor],
                     device=None) -> np.ndarray:
    """``1 − cos`` of the flattened object maps (the paper's flattened baseline, §4.4.2).

    Needs one fixed feature size for all objects (box RoI features); raises ValueError otherwise.
    """
    N, M = len(track_feats), len(det_feats)
    if N == 0 or M == 0:
        return np.zeros((N, M))
    dev = _feature_device(list(track_feats) + list(det_feats), device)
    sizes = {tuple(f.shape) for f in list(track_feats) + list(det_feats)}
    if len(sizes) != 1:
        raise ValueError(f"cosine_flat_cost needs one fixed object-feature size, got {sorted(sizes)} "
                         "(use rsm or cosine_pooled for variable-size mask/pose features)")
    t = F.normalize(torch.stack([f.to(dev, torch.float32).reshape(-1) for f in track_feats]), dim=1)
    d = F.normalize(torch.stack([f.to(dev, torch.float32).reshape(-1) for f in det_feats]), dim=1)
    return (1.0 - t @ d.T).double().cpu().numpy()


def box_iou(tlbr_a: np.ndarray, tlbr_b: np.ndarray, plus_one: bool = True) -> np.ndarray:
    """Pairwise IoU of (N, 4) and (M, 4) x1y1x2y2 boxes; ``plus_one`` = the ``cython_bbox`` +1-pixel convention."""
    a = np.asarray(tlbr_a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(tlbr_b, dtype=np.float64).reshape(-1, 4)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    o = 1.0 if plus_one else 0.0
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]) + o
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]) + o
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    inter = np.where((iw > 0) & (ih > 0), inter, 0.0)
    area_a = (a[:, 2] - a[:, 0] + o) * (a[:, 3] - a[:, 1] + o)
    area_b = (b[:, 2] - b[:, 0] + o) * (b[:, 3] - b[:, 1] + o)
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / union, 0.0)
    return iou


def iou_cost(tlbr_a: np.ndarray, tlbr_b: np.ndarray, plus_one: bool = True) -> np.ndarray:
    """``1 − IoU`` (§4.4.3; association uses the +1 convention)."""
    return 1.0 - box_iou(tlbr_a, tlbr_b, plus_one)


def fuse_motion(kf: KalmanBoxFilter, cost: np.ndarray, tracks: Sequence[Any], dets: Sequence[Any],
                lam: float = 0.98, gated: bool = True, only_position: bool = False) -> np.ndarray:
    """Motion fusion (§4.4.4): ``cost ← λ·cost + (1 − λ)·g`` with g the squared Mahalanobis distance.

    ``tracks`` need ``.mean``/``.covariance`` (Kalman state), ``dets`` ``.xyah`` (or ``.tlwh``).
    With ``gated``, entries with g > χ²₀.₉₅ (9.4877 for 4 dof) become ∞ first. Returns a new array.
    """
    cost = np.array(cost, dtype=np.float64, copy=True)
    if cost.size == 0:
        return cost
    means = np.stack([t.mean for t in tracks])
    covs = np.stack([t.covariance for t in tracks])
    z = np.stack([d.xyah if hasattr(d, "xyah") else tlwh_to_xyah(d.tlwh) for d in dets])
    g = kf.gating_distance(means, covs, z, only_position=only_position)  # (N, M)
    if gated:
        cost[g > CHI2INV95[2 if only_position else 4]] = np.inf
    return lam * cost + (1.0 - lam) * g


class IdolMemory:
    """IDOL-style association memory (Wu et al., "In Defense of Online Models for VIS", ECCV 2022, §3.3).

    Beyond the UniTrack paper. Each track keeps its last ``length`` embeddings (average-pooled,
    L2-normalised object features of any frozen backbone) with the observation scores; its memory
    embedding is the weighted mean with weights ``score_k + k/L`` (k = 1…L, oldest → newest: recent
    frames count more, as IDOL's temporal weighting), re-normalised. Track i and detection j are
    scored with the bi-directional softmax ``f = ½(softmax_over_dets(s)_ij + softmax_over_tracks(s)_ij)``
    of ``s = inv_temp · ⟨e_i, d_j⟩``; IDOL associates when f > ``threshold`` (0.5). ``cost = 1 − f``,
    so the assignment threshold is ``1 − threshold``.

    Adaptation to frozen features: IDOL's embeddings are trained contrastively; pooled frozen
    (post-ReLU) features share a large common component (cosines of unrelated objects ≈ 0.9+), which
    flattens the softmaxes. With ``center`` (default) both sides are centred on the running mean of all
    embeddings stored in this sequence and re-normalised before the dot product, and ``inv_temp``
    (default 10) sharpens the result — a scale-free stand-in for the learned embedding space.
    """

    def __init__(self, length: int = 10, inv_temp: float = 10.0, threshold: float = 0.5, center: bool = True):
        if length < 1:
            raise ValueError("IdolMemory: length must be ≥ 1")
        self.length = int(length)
        self.inv_temp = float(inv_temp)
        self.threshold = float(threshold)
        self.center = bool(center)
        self._bank: dict[int, deque] = {}
        self._mean: torch.Tensor | None = None
        self._count = 0

    def reset(self) -> None:
        """Forget every track and the running mean (a new sequence)."""
        self._bank.clear()
        self._mean, self._count = None, 0

    def __len__(self) -> int:
        return len(self._bank)

    def __contains__(self, track_id: int) -> bool:
        return track_id in self._bank

    @staticmethod
    def embed(feature: torch.Tensor) -> torch.Tensor:
        """An object feature (C×n, C×h×w or C) → its pooled unit vector (C,)."""
        return F.normalize(_as_points(feature).float().mean(1), dim=0)

    def update(self, track_id: int, feature: torch.Tensor, score: float = 1.0) -> None:
        """Append one observation of a track (oldest dropped beyond ``length``)."""
        q = self._bank.setdefault(int(track_id), deque(maxlen=self.length))
        e = self.embed(feature)
        q.append((e, float(score)))
        self._count += 1
        self._mean = e.clone() if self._mean is None else self._mean + (e.to(self._mean.device) - self._mean) / self._count

    def remove(self, track_id: int) -> None:
        self._bank.pop(int(track_id), None)

    def prune(self, keep_ids) -> None:
        """Forget every track whose id is not in ``keep_ids``."""
        keep = {int(i) for i in keep_ids}
        for k in [k for k in self._bank if k not in keep]:
            del self._bank[k]

    def embeddings(self, track_ids: Sequence[int]) -> torch.Tensor:
        """Temporally weighted memory embeddings (N, C), unit norm."""
        out = []
        for tid in track_ids:
            q = self._bank[int(tid)]
            L = len(q)
            e = torch.stack([x for x, _ in q])
            w = torch.tensor([s for _, s in q], dtype=e.dtype, device=e.device)
            w = w + torch.arange(1, L + 1, dtype=e.dtype, device=e.device) / L
            out.append((e * w[:, None]).sum(0) / w.sum())
        return F.normalize(torch.stack(out), dim=1)

    @torch.no_grad()
    def score(self, track_ids: Sequence[int], det_feats: Sequence[torch.Tensor]) -> torch.Tensor:
        """Bi-directional softmax scores (N tracks × M detections) in [0, 1]."""
        N, M = len(track_ids), len(det_feats)
        if N == 0 or M == 0:
            return torch.zeros(N, M)
        e = self.embeddings(track_ids)
        d = torch.stack([self.embed(f).to(e.device) for f in det_feats])
        if self.center and self._mean is not None:
            mu = self._mean.to(e.device)
            e, d = F.normalize(e - mu, dim=1), F.normalize(d - mu, dim=1)
        s = self.inv_temp * (e @ d.T)
        return 0.5 * (torch.softmax(s, dim=1) + torch.softmax(s, dim=0))

    def cost(self, track_ids: Sequence[int], det_feats: Sequence[torch.Tensor]) -> np.ndarray:
        """``1 − score`` as a float64 numpy array."""
        return (1.0 - self.score(track_ids, det_feats)).double().cpu().numpy()


# ---------------------------------------------------------------------------------------------
# object features (§4.1)


def letterbox(img: np.ndarray, size: tuple[int, int] = (1088, 608),
              color: tuple[float, float, float] = (127.5, 127.5, 127.5)) -> tuple[np.ndarray, float, tuple[float, float]]:
    """Resize keeping the aspect (``INTER_AREA``) and pad to ``size`` = (width, height) (§4.1.1).

    Returns ``(canvas, ratio, (dw, dh))`` where a point maps as ``x·ratio + dw``. The pads are the
    *unrounded* halves; the canvas itself is padded ``round(d − 0.1)`` before and ``round(d + 0.1)``
    after (the reference's rounding quirk, §7.1 #15). Works for any channel order.
    """
    import cv2

    H, W = img.shape[:2]
    width, height = size
    ratio = min(float(height) / H, float(width) / W)
    new_w, new_h = round(W * ratio), round(H * ratio)
    dw, dh = (width - new_w) / 2, (height - new_h) / 2
    resized = cv2.resize(img, (new_w, new_h), interpolation=cv2.INTER_AREA)
    top, bottom = round(dh - 0.1), round(dh + 0.1)
    left, right = round(dw - 0.1), round(dw + 0.1)
    canvas = cv2.copyMakeBorder(resized, top, bottom, left, right, cv2.BORDER_CONSTANT, value=color)
    return canvas, ratio, (dw, dh)


def box_features(feat_map: torch.Tensor, boxes_xyxy: np.ndarray | torch.Tensor, stride: float = 8,
                 out_size: tuple[int, int] = (4, 10)) -> torch.Tensor:
    """RoIAlign object features (§4.1.1): ``K×C×rows×cols`` from a ``C×h×w`` map.

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
    """Boxes of (N, h, w) binary masks in their own grid units (§4.1.2 step 4).

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
    """Mask-pooled object features (§4.1.2 steps 2–4) → (list of ``C×K_i``, boxes (N, 4) in grid units).

    Each full-resolution mask is nearest-resized to the ``h×w`` map; its cells are the object's
    points. If the mask covers more than ``max_mask_area`` cells, the masked map is rescaled
    bilinearly (and the mask nearest) by ``s = sqrt(max_mask_area / area)`` and the points at
    ``m' ≥ 0.5`` kept (so ``K_i ≲ max_mask_area``). An empty mask gets an i.i.d. N(0, 1) feature of
    ``C×empty_size`` drawn from ``generator`` (seed it: §7.2 #29) and the box (−1, −1, 10, 10);
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
        m = small[i].to(feat_map.dtype)
        g = feat_map * m
        if a > max_mask_area:
            s = math.sqrt(max_mask_area / a)
            g = F.interpolate(g[None], scale_factor=s, mode="bilinear", align_corners=False)[0]
            m = F.interpolate(m[None, None], scale_factor=s, mode="nearest")[0, 0]
        feats.append(g[:, m >= 0.5])
    return feats, boxes


def remove_duplicated_boxes(boxes_xyxy: np.ndarray, iou_th: float = 0.7) -> np.ndarray:
    """Greedy suppression in input order (§4.1.2 step 5): indices of the boxes to keep.

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
    """Rasterise a 15-joint PoseTrack skeleton into a binary ``H×W`` uint8 mask (§4.1.3).

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
    """x1, y1, x2, y2 of a skeleton in image pixels (§4.1.3): min/max of integer joint coordinates.

    A degenerate extent gets +10 on the max side. Empty skeleton → ``[−1, −1, U{1..39}, U{1..69}]``
    drawn from ``rng`` (seed it; callers should rather drop empty observations, §7.2 #29).
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


# ---------------------------------------------------------------------------------------------
# observations, tracks, tracker (§4.2, §4.6)


@dataclass
class Observation:
    """One detection of the current frame, as a head hands it to :meth:`AssociationTracker.update`.

    ``tlwh`` is in the Kalman coordinate frame of the task (MOT/PoseTrack image pixels, MOTS feature
    cells); ``feature`` is the ``C×n`` object feature; ``activated`` = born confirmed (masks and poses,
    §4.1.2 step 6); ``det_index`` lets the head find its detection again (e.g. to copy its mask).
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
    """A track of the JDE state machine ``New → Tracked ⇄ Lost → Removed`` (§4.2).

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
        pose/score/category (§7.1 #12); ``faithful=False`` copies them too."""
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
    """Config fields shared by the association tasks (§4, §6): the MOT, MOTS and PoseTrack sections
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
    faithful: bool = True  # reproduce §7.1 quirks (e.g. #12 PoseTrack re_activate not copying the pose)


class AssociationTracker:
    """The JDE / UniTrack association cascade (§4.6), one instance per sequence (ids start at 1).

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
        """Forget all tracks; the next frame is frame 1 and the next id is 1 (§7.2 #30)."""
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
        """Associate one frame's observations; returns the confirmed tracked tracks (§4.6)."""
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

