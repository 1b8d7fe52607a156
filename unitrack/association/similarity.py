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


def _ragged_points(feats: Sequence[torch.Tensor], device, dtype) -> tuple[torch.Tensor, list[int]]:
    """List of (C, n_i) → the point-normalised points of all objects stacked (Σn_i, C), and the n_i."""
    pts = [_as_points(f).to(device=device, dtype=dtype).T for f in feats]
    return F.normalize(torch.cat(pts), dim=1), [int(p.shape[0]) for p in pts]


def _rsm_direction(Q: torch.Tensor, q_sizes: list[int], K: torch.Tensor, k_sizes: list[int], scale: float,
                   max_elements: int, scores: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One reconstruction direction of RSM (query objects reconstructed from key objects), on real points only.

    Returns ``(num, norm2)``, both (n_q_objects × n_k_objects): ``num[i, j] = ⟨Q̂_ij, Q_i⟩`` and
    ``norm2[i, j] = ‖Q̂_ij‖²``, where ``Q̂_ij = A[i-rows, j-cols] · K_j`` and ``A`` is the row softmax of
    ``scale·Q Kᵀ`` over all key points *including* the zero padding the published algorithm appends to
    every object up to the widest one of its side. That padding is never materialised:

    * a padded key point has score 0, so it only adds ``e⁰ = 1`` per padded key to each row's softmax
      normaliser: the softmax over the real keys is rescaled by ``Z/(Z + p)`` (p padded keys);
    * a padded query point has score 0 with every key: its softmax row is uniform, ``1/K_total``, so it
      reconstructs to ``Σ_{d∈j} K_d / K_total`` and adds ``‖Σ_{d∈j} K_d‖² / K_total²`` to ``norm2[i, j]``
      (and nothing to ``num``, its own vector being zero).

    The softmax is the fused kernel (an explicit ``exp`` of the very negative scores that ``scale = 100``
    produces falls into a slow path for results in the subnormal range). Query points are processed in
    chunks of at most ``max_elements`` scores. ``‖Q̂_ij‖²`` is ``Σ_s a_sᵀ G_j a_s`` with the Gram matrix
    ``G_j = K_j K_jᵀ`` when object j has no more points than channels, else from the reconstruction itself.
    ``scores``: the whole scaled score matrix ``scale·Q Kᵀ`` when the caller has it (it is overwritten).
    """
    dev, dtype = Q.device, Q.dtype
    nq, nk = len(q_sizes), len(k_sizes)
    C = K.shape[1]
    n_keys = K.shape[0]
    if n_keys == 0:  # no key object has a point: nothing is reconstructed (the padded layout gives zeros too)
        z = torch.zeros(nq, nk, device=dev, dtype=dtype)
        return z, z.clone()
    k_total = nk * max(k_sizes)  # key points of the padded layout
    k_pad = k_total - n_keys
    k_starts = [0]
    for m in k_sizes:
        k_starts.append(k_starts[-1] + m)
    uniform = len(set(k_sizes)) == 1
    m0 = k_sizes[0]
    if uniform:
        Kb = K.view(nk, m0, C)
        aux = torch.bmm(Kb, Kb.transpose(1, 2)) if m0 <= C else Kb  # Gram matrices or the points
    else:
        aux = [K[a:b] @ K[a:b].T if (b - a) <= C else K[a:b] for a, b in zip(k_starts[:-1], k_starts[1:])]
    q_obj = torch.repeat_interleave(torch.arange(nq, device=dev), torch.tensor(q_sizes, device=dev))
    num = torch.zeros(nq, nk, device=dev, dtype=dtype)
    norm2 = torch.zeros(nq, nk, device=dev, dtype=dtype)
    step = Q.shape[0] if scores is not None else max(1, max_elements // max(1, n_keys))
    for r0 in range(0, Q.shape[0], step):
        r1 = min(Q.shape[0], r0 + step)
        x = scores if scores is not None else (Q[r0:r1] @ K.T).mul_(scale)  # (R, n_keys) scaled scores
        A = torch.softmax(x, dim=1)
        if k_pad:
            top, idx = x.max(1)
            a_top = A.gather(1, idx[:, None])[:, 0]  # = 1 / Σ exp(x − top)
            # Z_real / (Z_real + p) = 1 / (1 + p · e^{−top} · a_top), in float64 (e^{−top} may exceed float32)
            f = 1.0 / (1.0 + k_pad * torch.exp(-top.double()) * a_top.double())
            if bool((f != 1.0).any()):
                A.mul_(f.to(dtype)[:, None])
        W = x.mul_(A)  # A ⊙ x (x is not needed any more)
        R = r1 - r0
        if uniform:
            c_num = W.view(R, nk, m0).sum(2)
            Aj = A.view(R, nk, m0).transpose(0, 1)  # (nk, R, m0)
            if m0 <= C:
                c_nrm = torch.bmm(Aj, aux).mul_(Aj).sum(2).T
            else:
                c_nrm = torch.bmm(Aj, aux).pow_(2).sum(2).T
        else:
            c_num = torch.empty(R, nk, device=dev, dtype=dtype)
            c_nrm = torch.empty(R, nk, device=dev, dtype=dtype)
            for j, (a, b) in enumerate(zip(k_starts[:-1], k_starts[1:])):
                aj = A[:, a:b]
                c_num[:, j] = W[:, a:b].sum(1)
                if (b - a) <= C:
                    c_nrm[:, j] = (aj @ aux[j]).mul_(aj).sum(1)
                else:
                    c_nrm[:, j] = (aj @ aux[j]).pow_(2).sum(1)
        del x, A, W
        num.index_add_(0, q_obj[r0:r1], c_num)
        norm2.index_add_(0, q_obj[r0:r1], c_nrm)
    num /= scale
    q_pad = max(q_sizes) - torch.tensor(q_sizes, device=dev, dtype=dtype)
    if bool((q_pad > 0).any()):
        k_sum = torch.stack([K[a:b].sum(0) for a, b in zip(k_starts[:-1], k_starts[1:])])  # (nk, C)
        norm2 += q_pad[:, None] * (k_sum.pow(2).sum(1) / float(k_total) ** 2)[None, :]
    return num, norm2


@torch.no_grad()
def rsm_cost(track_feats: Sequence[torch.Tensor], det_feats: Sequence[torch.Tensor], inv_temp: float = 100.0,
             device: str | torch.device | None = None, max_elements: int = 1 << 24) -> np.ndarray:
    """Reconstruction Similarity Metric cost ``1 − RSM`` for ALL track × detection pairs (docs/protocol.md §4.4.1).

    ``track_feats[i]`` is ``C×n_i`` (or ``C×h×w``), ``det_feats[j]`` is ``C×m_j``. The published algorithm
    zero-pads objects to the widest one of their side, L2-normalises point vectors, forms ``S = T Dᵀ`` over
    all points of all objects; the t←d reconstruction uses the row softmax of ``inv_temp·S`` (over all
    detection points), the d←t one the column softmax (over all track points), each pair's sub-block is used
    without renormalisation, and RSM = ½(cos(T̂_ij, T_i) + cos(D̂_ji, D_j)) on the flattened maps.

    Computed exactly that way but on the real points only (the padding's effect on the softmaxes and
    norms is added in closed form, see :func:`_rsm_direction`), with the reconstructions never
    materialised: ``⟨T̂, T⟩ = Σ A ⊙ S`` and ``‖T̂‖² = Σ_s a_sᵀ G a_s``. When ``S`` has at most
    ``max_elements`` entries it is computed once for both directions, else each direction is chunked over
    its query points so that no score block exceeds that; runs on ``device`` (default: the features' device).
    Returns an ``N×M`` float64 numpy array (empty if N or M is 0).
    """
    N, M = len(track_feats), len(det_feats)
    if N == 0 or M == 0:
        return np.zeros((N, M), dtype=np.float64)
    dev = _feature_device(list(track_feats) + list(det_feats), device)
    dtype = torch.float32
    T, t_sizes = _ragged_points(track_feats, dev, dtype)
    D, d_sizes = _ragged_points(det_feats, dev, dtype)
    if T.shape[1] != D.shape[1]:
        raise ValueError(f"rsm_cost: tracks have {T.shape[1]} channels, detections {D.shape[1]}")
    t_obj = torch.repeat_interleave(torch.arange(N, device=dev), torch.tensor(t_sizes, device=dev))
    d_obj = torch.repeat_interleave(torch.arange(M, device=dev), torch.tensor(d_sizes, device=dev))
    t_norm = torch.zeros(N, device=dev).index_add_(0, t_obj, T.pow(2).sum(1)).sqrt().clamp_min(1e-12)  # ‖vec T_i‖
    d_norm = torch.zeros(M, device=dev).index_add_(0, d_obj, D.pow(2).sum(1)).sqrt().clamp_min(1e-12)
    scale = float(inv_temp)
    if T.shape[0] * D.shape[0] <= max_elements:  # one score matrix serves both directions
        S = (T @ D.T).mul_(scale)
        num_dt, nd2 = _rsm_direction(D, d_sizes, T, t_sizes, scale, max_elements, scores=S.T.contiguous())
        num_td, nt2 = _rsm_direction(T, t_sizes, D, d_sizes, scale, max_elements, scores=S)
        del S
    else:
        num_td, nt2 = _rsm_direction(T, t_sizes, D, d_sizes, scale, max_elements)
        num_dt, nd2 = _rsm_direction(D, d_sizes, T, t_sizes, scale, max_elements)
    cos_td = num_td / (nt2.clamp_min(0).sqrt().clamp_min(1e-12) * t_norm[:, None])
    cos_dt = (num_dt / (nd2.clamp_min(0).sqrt().clamp_min(1e-12) * d_norm[:, None])).T
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
