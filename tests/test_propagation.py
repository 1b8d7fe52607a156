"""Soft-label propagation primitive (docs/protocol.md §2.5–2.7): context, locality, top-k/softmax, chunking."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from unitrack.propagation import (
    LabelPropagator,
    PropagationParams,
    _tile_size,
    context_frames,
    locality_mask,
    propagate_labels,
    propagate_labels_naive,
    resize_labels,
)
from unitrack.utils import UnitrackError


def test_context_frames_match_reference_padding():
    # Appendix C item 2: t=0 → all copies of frame 0; t=7 → [0, 2, 3, 4, 5, 6]
    assert context_frames(0, 5) == [(0, False)] + [(0, True)] * 5
    assert context_frames(7, 5) == [(0, False), (2, True), (3, True), (4, True), (5, True), (6, True)]
    assert [i for i, _ in context_frames(2, 5)] == [0, 0, 0, 0, 0, 1]
    assert [i for i, _ in context_frames(30, 20)] == [0] + list(range(10, 30))


def test_locality_mask_interior_count():
    # Appendix C item 3: radius 12 (strict <) → 437 key cells around an interior query
    m = locality_mask(31, 31, 12.0)
    assert int(m[15 * 31 + 15].sum()) == 437
    assert int(m[0].sum()) == sum(1 for y in range(12) for x in range(12) if x * x + y * y < 144)


def test_topk_then_softmax_over_k_known_value():
    # one unrestricted context frame of 3 cells; cosine 1, 0.8, 0 to the query; k=2, τ=0.05
    keys = torch.tensor([[1.0, 0.8, 0.0], [0.0, 0.6, 1.0]]).reshape(2, 1, 3)
    labels = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]]).reshape(2, 1, 3)
    target = torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]).reshape(2, 1, 3)
    p = PropagationParams(topk=2, temperature=0.05)
    out = propagate_labels([keys], [labels], target, [False], p)
    w1 = 1.0 / (1.0 + math.exp(-4.0))  # softmax([20, 16])
    assert out.shape == (2, 1, 3)
    assert torch.allclose(out[:, 0, 0], torch.tensor([w1, 1 - w1]), atol=1e-6)
    # k = 1: the label of the most similar cell is copied
    out1 = propagate_labels([keys], [labels], target, [False], PropagationParams(topk=1))
    assert torch.equal(out1[:, 0, 0], torch.tensor([1.0, 0.0]))


def test_locality_restricts_short_term_frames_only():
    # 1×20 grid; the context frame matches the query cell 0 perfectly only at column 10 (far away)
    C, w = 2, 20
    f = torch.zeros(C, 1, w)
    f[1] = 1.0
    f[:, 0, 10] = torch.tensor([1.0, 0.0])
    f[:, 0, 1] = F.normalize(torch.tensor([0.3, 1.0]), dim=0)
    lab = torch.zeros(2, 1, w)
    lab[0] = 1.0
    lab[:, 0, 10] = torch.tensor([0.0, 1.0])  # label 1 only at the far cell
    tgt = torch.zeros(C, 1, w)
    tgt[0] = 1.0
    p = PropagationParams(topk=1, radius=3.0)
    near = propagate_labels([f], [lab], tgt, [True], p)  # restricted: cannot reach column 10 from 0
    far = propagate_labels([f], [lab], tgt, [False], p)  # unrestricted (long-term): can
    assert near[1, 0, 0] == 0.0 and near[0, 0, 0] == 1.0
    assert far[1, 0, 0] == 1.0
    assert near[1, 0, 10] == 1.0  # the query at column 10 still sees its own cell


@pytest.mark.parametrize(
    "radius,budget,hw",
    [(12.0, 512, (11, 13)), (3.0, 512, (11, 13)), (2.5, 1e-3, (11, 13)), (1.0, 1e-3, (11, 13)),
     (0.0, 1e-3, (11, 13)), (4.0, 0.02, (11, 13)), (30.0, 512, (11, 13)),
     (12.0, 512, (40, 61)), (12.0, 3.0, (40, 61)), (5.0, 512, (23, 30))],
)
def test_chunked_equals_dense_reference(radius, budget, hw):
    # small maps take the dense-with-mask path for restricted frames, larger ones the T×T tiles
    g = torch.Generator().manual_seed(1)
    C, L = 8, 3
    h, w = hw
    fs = [F.normalize(torch.randn(C, h, w, generator=g), dim=0) for _ in range(4)]
    ls = [torch.rand(L, h, w, generator=g) for _ in range(4)]
    tgt = F.normalize(torch.randn(C, h, w, generator=g), dim=0)
    ctx = [fs[0], fs[0], fs[1], fs[1], fs[2], fs[3]]  # duplicates kept, as for early targets
    lab = [ls[0], ls[0], ls[1], ls[1], ls[2], ls[3]]
    restr = [False, True, True, True, True, True]
    p = PropagationParams(radius=radius, memory_budget_mb=budget)
    a = propagate_labels(ctx, lab, tgt, restr, p)
    b = propagate_labels_naive(ctx, lab, tgt, restr, p)
    assert torch.allclose(a, b, atol=1e-5)


def test_tiles_follow_radius():
    # 480p at stride 8: 60×107 cells; radius 12 → 6×6 query tiles reaching (6+2·11)² = 784 keys up to
    # 512 channels, 12×12 tiles reaching 1156 keys beyond (fewer key-window copies)
    assert _tile_size(60, 107, 12.0) == 6
    assert _tile_size(60, 107, 12.0, channels=512) == 6
    assert _tile_size(60, 107, 12.0, channels=1024) == 12
    assert _tile_size(60, 107, 2.0) == 4
    assert _tile_size(3, 2, 12.0, channels=1024) == 3  # never larger than the map


def test_label_propagator_recurrence_and_bounded_memory():
    g = torch.Generator().manual_seed(2)
    C, h, w, L, T = 6, 7, 9, 3, 9
    feats = [torch.randn(C, h, w, generator=g) for _ in range(T)]
    lab0 = torch.softmax(torch.randn(L, h, w, generator=g), 0)
    p = PropagationParams(n_context=3, radius=4.0, topk=5)
    prop = LabelPropagator(p)
    preds = [prop.start(feats[0], lab0)]
    for t in range(1, T):
        preds.append(prop.step(feats[t]))
        assert len(prop._feats) <= p.n_context + 1  # frame 0 + the last n frames
    # manual recurrence with the functional primitive
    nf = [F.normalize(f, dim=0) for f in feats]
    labs = [lab0]
    for t in range(1, T):
        ctx = context_frames(t, 3, (0,))
        labs.append(propagate_labels([nf[i] for i, _ in ctx], [labs[i] for i, _ in ctx], nf[t],
                                     [r for _, r in ctx], p))
    for a, b in zip(preds, labs):
        assert torch.allclose(a, b, atol=1e-6)
    # soft labels stay a convex combination: channel sums stay 1
    assert torch.allclose(preds[-1].sum(0), torch.ones(h, w), atol=1e-5)


def test_params_validation_and_from_config():
    from unitrack.config import default_config

    with pytest.raises(UnitrackError, match="temperature"):
        PropagationParams(temperature=0)
    with pytest.raises(UnitrackError, match="topk"):
        PropagationParams(topk=0)
    p = PropagationParams.from_config(default_config("vos").section)
    assert (p.temperature, p.topk, p.radius, p.n_context, p.long_mem) == (0.05, 10, 12.0, 5, (0,))


def test_resize_labels_is_opencv_bilinear_any_channel_count():
    rng = np.random.default_rng(0)
    a = rng.random((6, 7, 600)).astype(np.float32)  # > 512 channels: resized in groups
    out = resize_labels(a, (12, 14))
    ref = np.stack([cv2.resize(a[:, :, c], (14, 12), interpolation=cv2.INTER_LINEAR) for c in range(600)], -1)
    assert out.shape == (12, 14, 600)
    assert np.allclose(out, ref, atol=1e-6)
    # downsampling blends only the 2×2 neighbours (no anti-aliasing): a lone pixel at an even
    # position of an 8× downsample never reaches the coarse grid
    m = np.zeros((16, 16, 1), np.float32)
    m[0, 0] = 1.0
    assert resize_labels(m, (2, 2)).max() == 0.0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_same_result_on_gpu():
    g = torch.Generator().manual_seed(3)
    C, h, w, L = 16, 20, 24, 4
    fs = [F.normalize(torch.randn(C, h, w, generator=g), dim=0) for _ in range(3)]
    ls = [torch.rand(L, h, w, generator=g) for _ in range(3)]
    p = PropagationParams(memory_budget_mb=0.05)
    a = propagate_labels(fs, ls, fs[0], [False, True, True], p)
    b = propagate_labels([f.cuda() for f in fs], [x.cuda() for x in ls], fs[0].cuda(), [False, True, True], p)
    assert torch.allclose(a, b.cpu(), atol=1e-5)
