"""Similarities / costs between N tracks and M detections (docs/protocol.md §4.4): cost = 1 − similarity.

:func:`rsm_cost` (Reconstruction Similarity Metric, docs/protocol.md §4.4.1, all pairs in one batched tensor program),
:func:`cosine_pooled_cost` and :func:`cosine_flat_cost` (the paper's ablation baselines, docs/protocol.md §4.4.2),
:func:`box_iou` / :func:`iou_cost` (docs/protocol.md §4.4.3) and :class:`IdolMemory` (IDOL-style temporally weighted
memory + bi-directional softmax). :data:`SIMILARITIES` names the stage-1 options of the tracker.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "SIMILARITIES",
    "IdolMemory",
    "box_iou",
    "cosine_flat_cost",
    "cosine_pooled_cost",
    "iou_cost",
    "rsm_cost",
]

#: Stage-1 similarity options of :class:`~unitrack.association.AssociationTracker` (config field ``similarity``).
SIMILARITIES = ("rsm", "cosine_pooled", "cosine_flat", "iou", "idol")


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
    """Reconstruction Similarity Metric cost ``1 − RSM`` for ALL track × detection pairs (docs/protocol.md §4.4.1).

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

    Literal transcription of docs/protocol.md §4.4.1, kept for tests and for the speed baseline of the benchmark.
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
    """``1 − cos`` of spatially average-pooled object features (the paper's pooled baseline, docs/protocol.md §4.4.2).

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
    """``1 − cos`` of the flattened object maps (the paper's flattened baseline, docs/protocol.md §4.4.2).

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
    """``1 − IoU`` (docs/protocol.md §4.4.3; association uses the +1 convention)."""
    return 1.0 - box_iou(tlbr_a, tlbr_b, plus_one)


class IdolMemory:
    """IDOL-style association memory (Wu et al., "In Defense of Online Models for VIS", ECCV 2022, its §3.3).

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
