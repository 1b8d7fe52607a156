"""Thresholded assignment and cost fusion (docs/protocol.md §4.4.4, docs/protocol.md §4.5).

:func:`assign` is min-cost matching with ``lap.lapjv(extend_cost=True, cost_limit=θ)`` semantics;
:func:`fuse_motion` mixes an appearance cost with the (χ²-gated) Kalman Mahalanobis distance.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lap
import numpy as np

from unitrack.association.kalman import CHI2INV95, KalmanBoxFilter
from unitrack.association.objfeat import tlwh_to_xyah

__all__ = ["assign", "fuse_motion"]


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


def fuse_motion(kf: KalmanBoxFilter, cost: np.ndarray, tracks: Sequence[Any], dets: Sequence[Any],
                lam: float = 0.98, gated: bool = True, only_position: bool = False) -> np.ndarray:
    """Motion fusion (docs/protocol.md §4.4.4): ``cost ← λ·cost + (1 − λ)·g`` with g the squared Mahalanobis distance.

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
