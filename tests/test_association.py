"""Association primitives (docs/protocol.md §4, Appendix C items 6–8): hand-computed cases and
cross-checks against filterpy, lap-free brute force and a literal per-pair RSM."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest
import torch

from unitrack.association import (
    CHI2INV95,
    AssociationTracker,
    IdolMemory,
    KalmanBoxFilter,
    Observation,
    TrackState,
    assign,
    box_features,
    box_iou,
    cosine_flat_cost,
    cosine_pooled_cost,
    fuse_motion,
    iou_cost,
    letterbox,
    mask2box,
    mask_features,
    remove_duplicated_boxes,
    rsm_cost,
    skeleton_box,
    skeleton_to_mask,
    tlwh_to_xyah,
)
from unitrack.association.similarity import _rsm_cost_pairloop

# ----------------------------------------------------------------------------------------------
# Kalman filter


def test_kalman_initiate_appendix_c6():
    kf = KalmanBoxFilter()
    mean, cov = kf.initiate(np.array([5.0, 6.0, 0.5, 100.0]))
    np.testing.assert_allclose(mean, [5, 6, 0.5, 100, 0, 0, 0, 0])
    np.testing.assert_allclose(cov, np.diag(np.square([10, 10, 0.01, 10, 6.25, 6.25, 1e-5, 6.25])))


def _filterpy_track(kf: KalmanBoxFilter, z0):
    from filterpy.kalman import KalmanFilter

    f = KalmanFilter(dim_x=8, dim_z=4)
    f.F, f.H = kf.motion_mat.copy(), kf.update_mat.copy()
    f.x, f.P = kf.initiate(z0)
    return f


def test_kalman_matches_filterpy_batched():
    """Batched predict/update/project of 5 tracks over 6 frames equals per-track filterpy."""
    kf = KalmanBoxFilter()
    rng = np.random.default_rng(0)
    K = 5
    z = np.column_stack([rng.uniform(0, 500, K), rng.uniform(0, 300, K), rng.uniform(0.3, 0.7, K),
                         rng.uniform(40, 200, K)])
    mean, cov = kf.initiate(z)
    fps = [_filterpy_track(kf, z[k]) for k in range(K)]
    for step in range(6):
        mean, cov = kf.predict(mean, cov)
        z = z + rng.normal(0, 2, z.shape) * [1, 1, 0.01, 1]
        for f in fps:
            h = f.x[3]
            f.predict(Q=np.diag(np.square([h / 20, h / 20, 1e-2, h / 20, h / 160, h / 160, 1e-5, h / 160])))
        np.testing.assert_allclose(mean, np.stack([f.x for f in fps]), rtol=1e-10)
        np.testing.assert_allclose(cov, np.stack([f.P for f in fps]), rtol=1e-9, atol=1e-9)
        if step % 2 == 0:  # update on some frames only
            mean, cov = kf.update(mean, cov, z)
            for k, f in enumerate(fps):
                h = f.x[3]
                f.update(z[k], R=np.diag(np.square([h / 20, h / 20, 1e-1, h / 20])))
            np.testing.assert_allclose(mean, np.stack([f.x for f in fps]), rtol=1e-9, atol=1e-9)
            np.testing.assert_allclose(cov, np.stack([f.P for f in fps]), rtol=1e-7, atol=1e-8)
    # single-state calls give the batched rows
    m1, c1 = kf.predict(mean[2], cov[2])
    mb, cb = kf.predict(mean, cov)
    np.testing.assert_allclose(m1, mb[2])
    np.testing.assert_allclose(c1, cb[2])


def test_gating_distance_is_mahalanobis():
    kf = KalmanBoxFilter()
    mean, cov = kf.initiate(np.array([[100, 50, 0.5, 80], [300, 60, 0.4, 120.0]]))
    mean, cov = kf.predict(mean, cov)
    z = np.array([[101, 52, 0.5, 81], [140, 50, 0.5, 80], [300, 61, 0.41, 119]])
    g = kf.gating_distance(mean, cov, z)
    zp, S = kf.project(mean, cov)
    ref = np.array([[(zi - zp[i]) @ np.linalg.inv(S[i]) @ (zi - zp[i]) for zi in z] for i in range(2)])
    np.testing.assert_allclose(g, ref, rtol=1e-10)
    np.testing.assert_allclose(kf.gating_distance(mean[1], cov[1], z), ref[1], rtol=1e-10)
    gp = kf.gating_distance(mean, cov, z, only_position=True)
    ref2 = np.array([[(zi[:2] - zp[i, :2]) @ np.linalg.inv(S[i, :2, :2]) @ (zi[:2] - zp[i, :2]) for zi in z]
                     for i in range(2)])
    np.testing.assert_allclose(gp, ref2, rtol=1e-10)


# ----------------------------------------------------------------------------------------------
# assignment


def test_assign_appendix_c7():
    m, ur, uc = assign(np.array([[0.2, 0.69], [0.71, 0.9]]), 0.7)
    assert m.tolist() == [[0, 0]] and ur.tolist() == [1] and uc.tolist() == [1]
    m, ur, uc = assign(np.array([[0.69, 0.1], [0.1, 0.69]]), 0.7)
    assert sorted(m.tolist()) == [[0, 1], [1, 0]] and len(ur) == 0 and len(uc) == 0


def test_assign_edge_cases():
    m, ur, uc = assign(np.zeros((0, 3)), 0.7)
    assert m.shape == (0, 2) and len(ur) == 0 and uc.tolist() == [0, 1, 2]
    m, ur, uc = assign(np.array([[np.inf, 0.3], [np.nan, np.inf]]), 0.7)
    assert m.tolist() == [[0, 1]] and ur.tolist() == [1] and uc.tolist() == [0]
    m, _, _ = assign(np.array([[0.7]]), 0.7)  # strictly below θ only
    assert len(m) == 0


def test_assign_is_optimal_thresholded_matching():
    """Brute force over all partial matchings: maximise Σ (θ − cost) over pairs with cost < θ."""
    rng = np.random.default_rng(1)
    for _ in range(30):
        n, k = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        cost = rng.uniform(0, 1.2, (n, k))
        th = 0.7
        m, _, _ = assign(cost, th)
        got = sum(th - cost[i, j] for i, j in m)
        best = 0.0
        for perm in itertools.permutations(range(max(n, k)), n):
            val = sum(th - cost[i, j] for i, j in enumerate(perm) if j < k and cost[i, j] < th)
            best = max(best, val)
        assert got == pytest.approx(best, abs=1e-9)
        assert all(cost[i, j] < th for i, j in m)


# ----------------------------------------------------------------------------------------------
# similarities


def _orthogonal_pair(C=64, n=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.zeros(C, n)
    b = torch.zeros(C, n)
    a[: C // 2] = torch.randn(C // 2, n, generator=g)
    b[C // 2:] = torch.randn(C // 2, n, generator=g)
    return a, b


def test_rsm_appendix_c8():
    a, b = _orthogonal_pair(C=256)
    c = rsm_cost([a], [a])
    assert c.shape == (1, 1) and c[0, 0] == pytest.approx(0.0, abs=1e-5)
    c = rsm_cost([a], [a, b])
    assert c[0, 0] == pytest.approx(0.0, abs=1e-5)
    assert c[0, 1] == 1.0  # both cosines exactly 0
    assert rsm_cost([], [a]).shape == (0, 1) and rsm_cost([a], []).shape == (1, 0)


def test_rsm_batched_equals_pairloop_variable_sizes():
    g = torch.Generator().manual_seed(3)
    tracks = [torch.randn(32, n, generator=g) for n in (40, 9, 23)]
    dets = [torch.randn(32, n, generator=g) for n in (5, 40, 31, 2)]
    ref = _rsm_cost_pairloop(tracks, dets)
    np.testing.assert_allclose(rsm_cost(tracks, dets), ref, atol=2e-6)
    # chunked over tracks (tiny memory budget) gives the same numbers
    np.testing.assert_allclose(rsm_cost(tracks, dets, max_elements=50), ref, atol=2e-6)
    # more points than channels: the reconstruction-based norm path
    tracks = [torch.randn(6, n, generator=g) for n in (12, 3)]
    dets = [torch.randn(6, n, generator=g) for n in (10, 7, 1)]
    np.testing.assert_allclose(rsm_cost(tracks, dets, inv_temp=7.0), _rsm_cost_pairloop(tracks, dets, 7.0), atol=2e-6)
    # post-ReLU-like features (cosines near 1, scores far below the row maximum), tracks of mixed size
    # against equal-size detections (the batched key path), chunks that split an object's points
    tracks = [torch.rand(64, n, generator=g) for n in (40, 3, 17, 40)]
    dets = [torch.rand(64, 40, generator=g) for _ in range(3)]
    ref = _rsm_cost_pairloop(tracks, dets)
    np.testing.assert_allclose(rsm_cost(tracks, dets), ref, atol=2e-6)
    np.testing.assert_allclose(rsm_cost(tracks, dets, max_elements=7 * 120), ref, atol=2e-6)
    np.testing.assert_allclose(rsm_cost(dets, tracks), _rsm_cost_pairloop(dets, tracks), atol=2e-6)
    # an object without points (a mask that vanished in the max-area rescale) is zero padding only
    tracks = [torch.rand(16, n, generator=g) for n in (7, 0, 3)]
    dets = [torch.rand(16, n, generator=g) for n in (0, 5)]
    c = rsm_cost(tracks, dets)
    np.testing.assert_allclose(c, _rsm_cost_pairloop(tracks, dets), atol=2e-6)
    assert c[1].tolist() == [1.0, 1.0] and c[:, 0].tolist() == [1.0, 1.0, 1.0]
    assert rsm_cost([tracks[1]], [dets[0]]).tolist() == [[1.0]]
    # C×h×w maps are flattened like C×n
    t = torch.randn(16, 4, 10, generator=g)
    d = torch.randn(16, 4, 10, generator=g)
    np.testing.assert_allclose(rsm_cost([t], [d]), rsm_cost([t.reshape(16, 40)], [d.reshape(16, 40)]), atol=1e-7)


def test_rsm_properties():
    g = torch.Generator().manual_seed(4)
    tracks = [torch.randn(64, 40, generator=g) for _ in range(3)]
    dets = [t[:, torch.randperm(40, generator=g)] + 0.1 * torch.randn(64, 40, generator=g) for t in tracks]
    c = rsm_cost(tracks, dets[::-1])
    # each track is closest to its own (noisy, point-permuted) detection: anti-diagonal after the reversal
    assert c.argmin(1).tolist() == [2, 1, 0]
    assert np.all(c >= -1e-6) and np.all(c <= 2 + 1e-6)
    # permuting the points of an object does not change its costs
    p = torch.randperm(40, generator=g)
    np.testing.assert_allclose(rsm_cost([tracks[0][:, p]], dets), rsm_cost([tracks[0]], dets), atol=1e-6)
    # the global softmax: a detection that attracts part of the track's points changes the other pair's
    # cost (not a per-pair metric); an exact duplicate does not (attention halves, cosines are scale-free)
    c1 = rsm_cost(tracks[:1], dets[:1])
    assert rsm_cost(tracks[:1], dets[:1] + [dets[0]])[0, 0] == pytest.approx(c1[0, 0], abs=1e-6)
    c2 = rsm_cost(tracks[:1], dets[:1] + [tracks[0][:, :20]])
    assert c2[0, 0] - c1[0, 0] > 1e-3
    # zero padding lowers the similarity of objects smaller than the widest one (docs/protocol.md §7.1 #9)
    small = tracks[0][:, :10]
    alone = rsm_cost([small], [small])[0, 0]
    padded = rsm_cost([small, tracks[1]], [small])[0, 0]
    assert padded > alone + 1e-3


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_rsm_cuda_matches_cpu():
    g = torch.Generator().manual_seed(5)
    tracks = [torch.randn(128, n, generator=g) for n in (40, 17)]
    dets = [torch.randn(128, n, generator=g) for n in (40, 3, 25)]
    np.testing.assert_allclose(rsm_cost(tracks, dets, device="cuda"), rsm_cost(tracks, dets), atol=1e-4)


def test_cosine_baselines():
    a = torch.tensor([[1.0, 3.0], [0.0, 0.0]])  # pooled (2, 0)
    b = torch.tensor([[0.0, 0.0], [1.0, 1.0]])  # pooled (0, 1)
    c = torch.tensor([[1.0, 1.0], [1.0, 1.0]])  # pooled (1, 1)
    np.testing.assert_allclose(cosine_pooled_cost([a], [b, c]), [[1.0, 1 - 1 / np.sqrt(2)]], atol=1e-6)
    # flattened: (1,3,0,0)·(1,1,1,1) / (√10 · 2)
    np.testing.assert_allclose(cosine_flat_cost([a], [c]), [[1 - 4 / (np.sqrt(10) * 2)]], atol=1e-6)
    with pytest.raises(ValueError, match="fixed object-feature size"):
        cosine_flat_cost([a], [torch.ones(2, 3)])
    assert cosine_pooled_cost([a], [torch.ones(2, 7)]).shape == (1, 1)  # variable sizes are fine


def test_iou_plus_one_convention():
    a = np.array([[0, 0, 9, 9.0]])
    b = np.array([[5, 5, 14, 14.0], [20, 20, 30, 30.0]])
    np.testing.assert_allclose(box_iou(a, b), [[25 / 175, 0.0]])
    np.testing.assert_allclose(box_iou(a, b, plus_one=False), [[16 / 146, 0.0]])
    np.testing.assert_allclose(iou_cost(a, b), [[1 - 25 / 175, 1.0]])
    assert iou_cost(np.zeros((0, 4)), b).shape == (0, 2)


class _T:
    def __init__(self, mean, cov):
        self.mean, self.covariance = mean, cov


def test_fuse_motion_gating_and_lambda():
    kf = KalmanBoxFilter()
    m, c = kf.initiate(tlwh_to_xyah(np.array([100, 100, 40, 80.0])))
    dets = [Observation(tlwh=[101, 100, 40, 80], score=1), Observation(tlwh=[300, 100, 40, 80], score=1)]
    cost = np.array([[0.3, 0.2]])
    g = kf.gating_distance(m, c, np.stack([d.xyah for d in dets]))
    assert g[0] < CHI2INV95[4] < g[1]
    out = fuse_motion(kf, cost, [_T(m, c)], dets, lam=0.98, gated=True)
    assert out[0, 0] == pytest.approx(0.98 * 0.3 + 0.02 * g[0]) and np.isinf(out[0, 1])
    out = fuse_motion(kf, cost, [_T(m, c)], dets, lam=0.9, gated=False)
    np.testing.assert_allclose(out, 0.9 * cost + 0.1 * g[None])
    assert cost[0, 1] == 0.2  # input untouched


def test_idol_memory_weights_and_bisoftmax():
    mem = IdolMemory(length=3, inv_temp=10.0)
    e = torch.eye(4)
    for v, s in ((e[0], 1.0), (e[1], 0.5), (e[2], 1.0), (e[3], 0.0)):  # oldest e[0] drops out
        mem.update(7, v[:, None].repeat(1, 5), s)
    w = np.array([0.5 + 1 / 3, 1.0 + 2 / 3, 0.0 + 1.0])  # score + k/L, k = 1..3
    ref = np.array([0, w[0], w[1], w[2]]) / w.sum()
    np.testing.assert_allclose(mem.embeddings([7])[0].numpy(), ref / np.linalg.norm(ref), atol=1e-6)
    mem.update(8, e[0], 1.0)
    f = mem.score([7, 8], [e[0], e[2]])
    assert f.shape == (2, 2) and float(f.min()) >= 0 and float(f.max()) <= 1
    assert float(f[1, 0]) > 0.5 and float(f[1, 1]) < 0.5  # track 8 = e0 ↔ det e0
    one = IdolMemory()
    one.update(1, e[0])
    assert float(one.score([1], [e[3]])[0, 0]) == pytest.approx(1.0)  # a lone pair always scores 1
    mem.prune([8])
    assert 7 not in mem and 8 in mem


def test_idol_centering_handles_common_component():
    """Frozen post-ReLU features share a big common direction: centring on the running mean restores contrast."""
    g = torch.Generator().manual_seed(0)
    common = 10 * torch.ones(64)
    ids = [common + torch.randn(64, generator=g) for _ in range(3)]
    scores = {}
    for center in (False, True):
        mem = IdolMemory(length=5, inv_temp=10.0, center=center)
        for k, v in enumerate(ids):
            mem.update(k, v)
        dets = [v + 0.1 * torch.randn(64, generator=g) for v in ids[::-1]]
        scores[center] = mem.score([0, 1, 2], dets)
    assert float(scores[False].max()) < 0.5  # nearly uniform: nothing passes IDOL's 0.5 threshold
    assert scores[True].argmax(1).tolist() == [2, 1, 0] and float(scores[True].diagonal().min()) < 0.5
    assert float(scores[True][[0, 1, 2], [2, 1, 0]].min()) > 0.9


# ----------------------------------------------------------------------------------------------
# object features


def test_letterbox_geometry_and_pad_quirk():
    canvas, ratio, (dw, dh) = letterbox(np.zeros((480, 640, 3), np.uint8), (1088, 608))
    assert canvas.shape == (608, 1088, 3)
    assert ratio == pytest.approx(608 / 480) and dh == 0 and dw == 138.5
    # left pad round(138.4) = 138, right pad round(138.6) = 139: the 811-px image spans columns 138…948
    assert (canvas[300, 137] == 128).all() and (canvas[300, 138] == 0).all()
    assert (canvas[300, 948] == 0).all() and (canvas[300, 949] == 128).all()
    canvas, ratio, (dw, dh) = letterbox(np.zeros((1080, 1920, 3), np.uint8), (1088, 608))
    assert canvas.shape == (608, 1088, 3) and dw == 3.5 and ratio == pytest.approx(608 / 1080)


def test_box_features_roi_align_bins():
    # feature value = column index; a canvas box (0,0)-(80,32) is 10×4 cells at stride 8: one cell per bin,
    # sampled at the bin centre (aligned=False) → value j + 0.5 in column j
    fmap = torch.arange(20, dtype=torch.float32).repeat(3, 8, 1)  # 3×8×20
    out = box_features(fmap, np.array([[0, 0, 80, 32.0], [8, 8, 88, 40]]), stride=8)
    assert out.shape == (2, 3, 4, 10)
    np.testing.assert_allclose(out[0, 1].numpy(), np.tile(np.arange(10) + 0.5, (4, 1)), atol=1e-5)
    np.testing.assert_allclose(out[1, 0].numpy(), np.tile(np.arange(10) + 1.5, (4, 1)), atol=1e-5)
    assert box_features(fmap, np.zeros((0, 4))).shape == (0, 3, 4, 10)


def test_mask2box_appendix_c9():
    m = np.zeros((30, 40), np.uint8)
    m[5:15, 3:23] = 1  # 10×20 cells, top-left (row 5, col 3)
    np.testing.assert_allclose(mask2box(m[None])[0], [2.5, 4.5, 22.5, 14.5])
    one = np.zeros((1, 30, 40), np.uint8)
    one[0, 10, 10] = 1  # MAD 0 → floored at 1 → half-extent 2
    np.testing.assert_allclose(mask2box(one)[0], [8, 8, 12, 12])
    np.testing.assert_allclose(mask2box(np.zeros((1, 5, 5)))[0], [-1, -1, 10, 10])


def test_mask_features_area_cap_and_empty():
    C, h, w = 4, 20, 30
    fmap = torch.arange(C * h * w, dtype=torch.float32).reshape(C, h, w)
    masks = np.zeros((3, 160, 240), np.uint8)  # image 8× the map: nearest resize picks every 8th pixel
    masks[0, 8:40, 16:64] = 1  # 4×6 = 24 cells
    masks[1, :, :] = 1  # 600 cells > 200 → rescaled by sqrt(200/600)
    g = torch.Generator().manual_seed(0)
    feats, boxes = mask_features(fmap, masks, max_mask_area=200, generator=g)
    assert feats[0].shape == (C, 24)
    np.testing.assert_allclose(feats[0].numpy(), fmap[:, 1:5, 2:8].reshape(C, -1).numpy())
    assert 150 <= feats[1].shape[1] <= 200  # floor(20·s) × floor(30·s) = 11 × 17 = 187 cells
    assert feats[1].shape[1] == 11 * 17
    assert feats[2].shape == (C, 40)  # empty mask → random C×40 (seeded)
    g2 = torch.Generator().manual_seed(0)
    np.testing.assert_allclose(mask_features(fmap, masks, 200, generator=g2)[0][2].numpy(), feats[2].numpy())
    np.testing.assert_allclose(boxes[2], [-1, -1, 10, 10])
    assert remove_duplicated_boxes(boxes).tolist() == [0, 1]


def test_remove_duplicated_boxes_greedy_in_order():
    b = np.array([[0, 0, 10, 10], [0, 0, 10, 11], [20, 20, 30, 30], [-1, -1, 10, 10], [0, 0, 10, 10.5]])
    assert remove_duplicated_boxes(b, 0.7).tolist() == [0, 2]


def test_skeleton_to_mask_line_width_appendix_c10():
    # 300 px tall skeleton → limb thickness max(⌊300/20⌋, 8) = 15 px
    sk = {12: (100, 50), 14: (100, 350)}
    m = skeleton_to_mask(sk, 400, 200)
    ref = np.zeros((400, 200), np.uint8)
    cv2.line(ref, (100, 50), (100, 350), 1, 15)
    np.testing.assert_array_equal(m, ref)
    ref8 = np.zeros_like(ref)
    cv2.line(ref8, (100, 50), (100, 350), 1, 8)
    assert (ref8 != m).any() and m[200].sum() > ref8[200].sum()
    # small skeleton → minimum 8; trunk polygon through ≥ 3 trunk joints (2, 3, 9)
    arr = np.full((15, 2), np.nan)
    arr[[2, 3, 9]] = [(20, 40), (40, 40), (40, 10)]
    m = skeleton_to_mask(arr, 60, 60)
    poly = np.zeros((60, 60), np.uint8)
    cv2.fillConvexPoly(poly, np.array([(20, 40), (40, 40), (40, 10)], np.int32), 1)
    cv2.line(poly, (40, 10), (40, 40), 1, 8)  # limb 9–3
    np.testing.assert_array_equal(m, poly)
    assert skeleton_to_mask({}, 10, 10).sum() == 0


def test_skeleton_box():
    np.testing.assert_allclose(skeleton_box({0: (10.7, 5.2), 3: (30.1, 5.9)}), [10, 5, 30, 15])  # y degenerate +10
    r1 = skeleton_box({}, np.random.default_rng(3))
    r2 = skeleton_box({}, np.random.default_rng(3))
    np.testing.assert_array_equal(r1, r2)
    assert r1[0] == -1 and r1[1] == -1 and 1 <= r1[2] <= 39 and 1 <= r1[3] <= 69


# ----------------------------------------------------------------------------------------------
# tracker state machine


def _feat(k: int, C: int = 64, noise: float = 0.0, seed: int = 0) -> torch.Tensor:
    """Identity k: points scattered around one random direction (objects' points are correlated)."""
    g = torch.Generator().manual_seed(1000 + k)
    f = torch.randn(C, 1, generator=g) + 0.3 * torch.randn(C, 40, generator=g)
    if noise:
        f = f + noise * torch.randn(C, 40, generator=torch.Generator().manual_seed(seed))
    return f


def _obs(objs, frame):
    """objs: list of (identity, x, y) → observations of 40×80 boxes with identity features."""
    return [Observation(tlwh=[x, y, 40, 80], score=0.9, feature=_feat(k, noise=0.05, seed=frame), det_index=i)
            for i, (k, x, y) in enumerate(objs)]


def test_tracker_births_confirmation_and_stable_ids():
    tr = AssociationTracker(similarity="rsm", frame_rate=30)
    out = tr.update(_obs([(0, 10, 10), (1, 200, 10)], 1))
    assert sorted(t.track_id for t in out) == [1, 2]  # frame 1: confirmed at once
    ids = {}
    for f in range(2, 8):
        objs = [(0, 10 + 5 * f, 10), (1, 200 - 5 * f, 10)]
        if f >= 4:
            objs.append((2, 400, 300))
        out = tr.update(_obs(objs, f))
        got = {t.det_index: t.track_id for t in out}
        assert got[0] == 1 and got[1] == 2
        if f == 4:
            assert 2 not in got  # born unconfirmed: not output in its birth frame
        if f >= 5:
            ids.setdefault("new", got[2])
            assert got[2] == ids["new"] == 3
    t = {t.track_id: t for t in out}[1]
    # the output box is the Kalman posterior, close to the last detection
    np.testing.assert_allclose(t.tlwh, [45, 10, 40, 80], atol=2.0)


def test_tracker_lost_buffer_linger_and_reset():
    # frame_rate 30, track_buffer 2 → max_time_lost 2
    def run(reappear):
        tr = AssociationTracker(similarity="rsm", track_buffer=2, frame_rate=30)
        tr.update(_obs([(0, 10, 10)], 1))
        for _ in range(2, reappear):
            assert tr.update([]) == []
        out = tr.update(_obs([(0, 10, 10)], reappear))
        return tr, [t.track_id for t in out]

    tr, ids = run(4)  # lost 2 frames: re-found by appearance
    assert ids == [1]
    tr, ids = run(5)  # removed at frame 4 (4 − 1 > 2) but lingers one frame in the pool: revived
    assert ids == [1]
    tr, ids = run(6)  # gone for good: a new (unconfirmed) track, not output in its birth frame
    assert ids == [] and [t.track_id for t in tr.tracked] == [2]
    assert tr.tracked[0].state == TrackState.Tracked and not tr.tracked[0].is_activated
    tr.reset()
    assert tr.update(_obs([(0, 10, 10)], 1))[0].track_id == 1  # ids restart per sequence (docs/protocol.md §7.2 #30)


def test_tracker_buffer_from_frame_rate():
    assert AssociationTracker(frame_rate=14, track_buffer=30).max_time_lost == 14
    assert AssociationTracker(frame_rate=25, track_buffer=30).max_time_lost == 25
    assert AssociationTracker(frame_rate=6, track_buffer=30).max_time_lost == 6


def test_tracker_appearance_survives_crossing_where_iou_switches():
    """Two look-alike-free objects swap places between frames: appearance keeps ids, IoU follows boxes."""
    def run(**kw):
        tr = AssociationTracker(frame_rate=30, **kw)
        tr.update(_obs([(0, 100, 10), (1, 130, 10)], 1))
        out = tr.update(_obs([(0, 130, 10), (1, 100, 10)], 2))  # identities swap positions
        return {t.det_index: t.track_id for t in out}

    assert run(similarity="rsm") == {0: 1, 1: 2}
    assert run(similarity="cosine_pooled") == {0: 1, 1: 2}
    assert run(similarity="idol") == {0: 1, 1: 2}
    assert run(similarity="iou", use_kalman=False) == {0: 2, 1: 1}


def test_tracker_motion_gate_blocks_far_jump():
    tr = AssociationTracker(similarity="rsm", asso_with_motion=True, frame_rate=30)
    tr.update(_obs([(0, 10, 10)], 1))
    tr.update(_obs([(0, 12, 10)], 2))
    out = tr.update(_obs([(0, 600, 400)], 3))  # same appearance, impossible jump: gated → new track
    assert out == [] and [t.track_id for t in tr.tracked] == [2] and not tr.tracked[0].is_activated
    assert [t.track_id for t in tr.lost] == [1] and tr.lost[0].state == TrackState.Lost
    tr2 = AssociationTracker(similarity="rsm", asso_with_motion=False, frame_rate=30)
    tr2.update(_obs([(0, 10, 10)], 1))
    tr2.update(_obs([(0, 12, 10)], 2))
    assert [t.track_id for t in tr2.update(_obs([(0, 600, 400)], 3))] == [1]  # appearance only: re-linked


def test_tracker_duplicate_removal_keeps_older():
    """Tracked-vs-lost pairs with IoU > 0.85: the younger track is dropped, whichever list it is in."""
    tr = AssociationTracker(similarity="rsm", frame_rate=30)
    for f in range(1, 5):
        tr.update(_obs([(0, 10, 10)], f))
    assert tr.update([]) == [] and [t.track_id for t in tr.lost] == [1]
    # an unrelated identity is born on top of the (older) lost track: the newborn is dropped at once
    assert tr.update(_obs([(5, 10, 10)], 6)) == []
    assert tr.tracked == [] and [t.track_id for t in tr.lost] == [1]

    tr = AssociationTracker(similarity="rsm", frame_rate=30)
    tr.update(_obs([(0, 200, 10), (1, 201, 10)], 1))  # two identities on (almost) the same box
    out = tr.update(_obs([(0, 200, 10)], 2))  # identity 1 vanishes: lost with age 0 under the older track
    assert [t.track_id for t in out] == [1] and tr.lost == []  # the older tracked one wins


def test_tracker_without_kalman_and_empty_frames():
    tr = AssociationTracker(similarity="rsm", use_kalman=False, frame_rate=30)
    assert tr.update([]) == []
    out = tr.update(_obs([(0, 10, 10)], 2))
    assert [t.track_id for t in out] == [1]  # born confirmed without Kalman (no stage 3 to confirm it)
    np.testing.assert_allclose(out[0].tlwh, [10, 10, 40, 80], atol=1e-5)
    out = tr.update(_obs([(0, 30, 10)], 3))
    assert out[0].mean is None
    np.testing.assert_allclose(out[0].tlwh, [30, 10, 40, 80])  # box = last detection, no prediction
    # low-score detections are never born
    tr2 = AssociationTracker(conf_thres=0.5)
    assert tr2.update([Observation(tlwh=[0, 0, 10, 20], score=0.4, feature=_feat(0))]) == []
    assert tr2.tracked == []


def test_tracker_faithful_reactivate_keeps_pose():
    def run(faithful):
        tr = AssociationTracker(similarity="rsm", frame_rate=30, faithful=faithful)
        o = _obs([(0, 10, 10)], 1)[0]
        o.pose, o.activated = "p1", True
        tr.update([o])
        tr.update([])
        o = _obs([(0, 10, 10)], 3)[0]
        o.pose, o.activated = "p3", True
        return tr.update([o])[0].pose

    assert run(True) == "p1" and run(False) == "p3"  # docs/protocol.md §7.1 #12
