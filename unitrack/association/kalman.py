"""DeepSORT constant-velocity Kalman filter on boxes, vectorised over tracks (docs/protocol.md §4.3).

:class:`KalmanBoxFilter` works on ``xyah`` = (cx, cy, w/h, h) measurements; one call serves every
track of a frame. :data:`CHI2INV95` holds the χ² gating thresholds used by motion fusion (docs/protocol.md §4.4.4).
"""

from __future__ import annotations

import numpy as np

__all__ = ["CHI2INV95", "KalmanBoxFilter"]

#: 0.95 quantile of the χ² distribution by degrees of freedom (gating threshold, docs/protocol.md §4.3).
CHI2INV95 = {1: 3.8415, 2: 5.9915, 3: 7.8147, 4: 9.4877, 5: 11.070, 6: 12.592, 7: 14.067, 8: 15.507, 9: 16.919}


class KalmanBoxFilter:
    """DeepSORT constant-velocity Kalman filter on ``(cx, cy, a, h, vcx, vcy, va, vh)``, vectorised.

    Every method accepts one state (``mean`` (8,), ``cov`` (8, 8)) or a batch of K states
    (``(K, 8)``, ``(K, 8, 8)``) and returns the same layout: one numpy call serves all tracks of a
    frame, instead of a Python loop over per-track filters (see ``benchmarks/bench_association.py``).
    The noise scales with the current height estimate: σ_p = 1/20, σ_v = 1/160 (docs/protocol.md §4.3).
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
