"""JHMDB pose propagation: reader, belief maps, top-3 read-out, PCK and the head (docs/protocol.md §2.8, docs/protocol.md §7.2 #20–23)."""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch

from unitrack.eval.jhmdb import (
    belief_maps,
    grid_to_image,
    joints_to_grid,
    pck,
    pck_distances,
    read_jhmdb,
    read_prediction,
    readout_keypoints,
    write_prediction,
)
from unitrack.utils import UnitrackError


def _draw_reference(coords: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """Spec docs/protocol.md §2.8 drawing, joint by joint with explicit windows (independent of the vectorised code)."""
    h, w = hw
    J = coords.shape[1]
    sigma = max(0.5, 0.015 * float((coords.max(1) - coords.min(1)).max()))
    size = 6 * sigma + 1
    u = np.arange(0, size, 1.0)
    k0 = size // 2
    g = np.exp(-((u[None, :] - k0) ** 2 + (u[:, None] - k0) ** 2) / (2 * sigma**2))
    out = np.zeros((J, h, w))
    for j in range(J):
        x, y = coords[:, j]
        ux, uy = int(x - 3 * sigma), int(y - 3 * sigma)
        bx, by = int(x + 3 * sigma + 1), int(y + 3 * sigma + 1)
        if ux >= w or uy >= h or bx < 0 or by < 0:
            continue
        for r in range(max(0, uy), min(by, h)):
            for c in range(max(0, ux), min(bx, w)):
                out[j, r, c] = g[r - uy, c - ux]
    return out


def test_belief_map_known_values():
    c = np.zeros((2, 15))
    c[:, :] = [[20.0], [20.0]]
    c[:, 0] = [10.3, 5.6]  # extent ≈ 14.4 cells → σ = max(0.5, 0.216) = 0.5, 4×4 patch
    m = belief_maps(c, (40, 40))
    assert m.shape == (16, 40, 40)
    j0 = m[1]
    # window rows [int(4.1), int(8.1)) = 4..7, cols [int(8.8), int(12.8)) = 8..11, peak at kernel (2, 2)
    assert np.count_nonzero(j0) == 16 and j0[4:8, 8:12].all()
    assert j0[6, 10] == pytest.approx(1.0)
    assert j0[6, 11] == pytest.approx(math.exp(-2.0))
    assert j0[7, 11] == pytest.approx(math.exp(-4.0))
    assert j0[4, 8] == pytest.approx(math.exp(-16.0))
    # background = 1 exactly where no joint map is non-zero (binary, not 1 − max)
    assert set(np.unique(m[0]).tolist()) == {0.0, 1.0}
    assert np.array_equal(m[0] == 1, m[1:].sum(0) == 0)


def test_belief_maps_match_explicit_drawing_including_borders():
    rng = np.random.default_rng(0)
    for spread in (2.0, 10.0, 60.0, 120.0):  # σ from 0.5 up to ~1.8 cells
        for _ in range(10):
            c = rng.uniform(-4, 44, size=(2, 1)) + rng.normal(0, spread / 4, size=(2, 15))
            m = belief_maps(c, (40, 40))
            assert np.allclose(m[1:], _draw_reference(c, (40, 40)), atol=1e-7)


def test_readout_top3_weighted_and_failures():
    pred = torch.zeros(3, 5, 6)
    pred[0] = 1.0
    pred[1, 2, 3], pred[1, 2, 4], pred[1, 3, 3], pred[1, 0, 0] = 0.5, 0.3, 0.2, 0.1
    # channel 2 empty → −1
    xy = readout_keypoints(pred, topk=3)
    assert xy.shape == (2, 2)
    assert xy[0, 0].item() == pytest.approx(3 * 0.5 + 4 * 0.3 + 3 * 0.2)
    assert xy[1, 0].item() == pytest.approx(2 * 0.5 + 2 * 0.3 + 3 * 0.2)
    assert xy[:, 1].tolist() == [-1.0, -1.0]


def test_pck_hand_computed():
    # 2 joints, 3 frames; gt box per frame from the visible joints: (0,0)-(30,40) → norm 0.6·50 = 30
    gt = np.zeros((2, 2, 3))
    gt[:, 1, :] = [[30.0], [40.0]]
    pred = gt.copy()
    pred[0, 0, 1] += 3.0  # d = 3 → 0.1
    pred[0, 1, 1] += 9.0  # d = 9 → 0.3
    pred[1, 0, 2] += 6.0  # d = 6 → 0.2
    pred[0, 1, 2] = -1.0  # failed: excluded, and the box of frame 2 shrinks to joint 0 alone → norm 0
    pred[:, :, 0] = 1000.0  # frame 0 is never evaluated
    d, ok = pck_distances(pred, gt)
    assert ok.tolist() == [[False, True, True], [False, True, False]]
    assert d[0, 1] == pytest.approx(0.1) and d[1, 1] == pytest.approx(0.3)
    assert np.isinf(d[0, 2])  # 6 / 0 → counted as a miss, as in the reference
    res = pck([d], [ok], (0.1, 0.2, 0.3))
    # joint 0: {0.1, inf}; joint 1: {0.3}
    assert res["PCK@0.1"] == pytest.approx((50.0 + 0.0) / 2)
    assert res["PCK@0.2"] == pytest.approx((50.0 + 0.0) / 2)
    assert res["PCK@0.3"] == pytest.approx((50.0 + 100.0) / 2)


def test_coordinate_conventions():
    # grid → image is x·W/40 for crop 320 (eval_pck.py), the inverse of (pos − 1)·320/W/8
    img = np.array([[[100.0]], [[50.0]]])
    g = joints_to_grid(img, (240, 320), 320)
    assert g[:, 0, 0].tolist() == pytest.approx([12.5, 50 * 320 / 240 / 8])
    back = grid_to_image(g, (240, 320), 320)
    assert back[:, 0, 0].tolist() == pytest.approx([100.0, 50.0])
    assert grid_to_image(np.full((2, 1, 1), -1.0), (240, 320), 320)[0, 0, 0] == -1.0


def _make_jhmdb(root: Path, n_frames=6, T=None, lines=None) -> Path:
    import cv2

    rng = np.random.default_rng(0)
    (root / "Frames/v0").mkdir(parents=True)
    (root / "joint_positions/v0").mkdir(parents=True)
    for t in range(n_frames):
        cv2.imwrite(str(root / f"Frames/v0/{t + 1:05d}.png"), (rng.random((48, 64, 3)) * 255).astype(np.uint8))
    pos = rng.uniform(5, 40, size=(2, 15, T or n_frames)) + 1
    scipy.io.savemat(root / "joint_positions/v0/joint_positions.mat", {"pos_img": pos})
    (root / "split.txt").write_text(lines or "joint_positions/v0/joint_positions.mat Frames/v0\n")
    return root


def test_reader_relative_split_and_bad_input(tmp_path, caplog):
    root = _make_jhmdb(tmp_path / "ok")
    (v,) = read_jhmdb(root)
    assert v.name == "v0" and len(v) == 6 and v.size == (48, 64) and v.joints.shape == (2, 15, 6)
    raw = scipy.io.loadmat(root / "joint_positions/v0/joint_positions.mat")["pos_img"]
    assert np.allclose(v.joints, raw - 1)  # stored 1-based → 0-based
    with pytest.raises(UnitrackError, match=r"split.txt:1: expected '<joint_positions.mat> <frame folder>'"):
        read_jhmdb(_make_jhmdb(tmp_path / "bad", lines="only_one_token\n"))
    with pytest.raises(UnitrackError, match="does not exist"):
        read_jhmdb(_make_jhmdb(tmp_path / "miss", lines="nope.mat Frames/v0\n"))
    bad = _make_jhmdb(tmp_path / "shape")
    scipy.io.savemat(bad / "joint_positions/v0/joint_positions.mat", {"pos_img": np.zeros((3, 15, 6))})
    with pytest.raises(UnitrackError, match="pos_img has shape"):
        read_jhmdb(bad)
    # count disagreement: logged and truncated to the common length
    (v,) = read_jhmdb(_make_jhmdb(tmp_path / "count", n_frames=6, T=4))
    assert len(v) == 4 and v.joints.shape[2] == 4
    assert "4 annotated frames but 6 frames" in caplog.text


def test_prediction_files_npy_and_reference_pickle(tmp_path):
    a = np.arange(2 * 15 * 3, dtype=np.float64).reshape(2, 15, 3)
    write_prediction(tmp_path / "0.dat", a)
    assert np.array_equal(np.load(tmp_path / "0.dat", allow_pickle=True), a)  # what eval_pck.py does
    assert np.array_equal(read_prediction(tmp_path / "0.dat"), a)
    with open(tmp_path / "1.dat", "wb") as f:  # reference: ndarray.dump → pickle
        pickle.dump(a, f)
    assert np.array_equal(read_prediction(tmp_path / "1.dat"), a)


def test_config_section_exists_and_crop_must_be_positive(tmp_path):
    # docs/protocol.md §7.2 #20: a poseprop section with the propagation values; #23: crop ≤ 0 is a clear error
    from unitrack.config import default_config
    from unitrack.heads.poseprop import TASK

    cfg = default_config("poseprop")
    s = cfg.section
    assert (s.crop_size, s.topk, s.radius, s.n_context, s.temperature, s.readout_topk) == (320, 10, 12.0, 5, 0.05, 3)
    s.crop_size = 0
    with pytest.raises(UnitrackError, match="crop_size must be > 0"):
        TASK._crop(cfg)


@pytest.fixture(scope="module")
def tiny_jhmdb(tmp_path_factory):
    from unitrack.eval.demo import generate_demo

    out = tmp_path_factory.mktemp("posedemo")
    return generate_demo(out, seed=0, tasks=["poseprop"], num_sequences=2, num_frames=10, size=(128, 96)) / "jhmdb"


def test_head_end_to_end_on_demo(tiny_jhmdb, tmp_path):
    from unitrack.api import evaluate, score
    from unitrack.heads.poseprop import first_frame_pose_baseline

    r = evaluate("poseprop", "random_r18", tiny_jhmdb, out=tmp_path / "res", device="cpu",
                 sets=["poseprop.crop_size=128"])
    assert r.dataset == "jhmdb"
    assert list(r.metrics) == ["PCK@0.1", "PCK@0.2", "PCK@0.3", "PCK@0.4", "PCK@0.5"]
    vals = list(r.metrics.values())
    assert all(0.0 <= v <= 100.0 for v in vals) and vals == sorted(vals)  # monotone in α
    assert r.metrics["PCK@0.5"] > 50.0
    vids = read_jhmdb(tiny_jhmdb)
    for v in vids:
        p = read_prediction(r.pred_dir / f"{v.index}.dat")
        assert p.shape == (2, 15, len(v))
        assert (((p >= 0) & (p <= 15)).all(0) | (p == -1).all(0)).all()  # 16×16 grid cells or failure
        assert set(r.per_sequence[v.name]) == set(r.metrics)
    again = score("poseprop", tiny_jhmdb, r.pred_dir, sets=["poseprop.crop_size=128"])
    assert again.metrics == pytest.approx(r.metrics)
    from unitrack.config import load_config

    base = first_frame_pose_baseline(tiny_jhmdb, tmp_path / "base", load_config("poseprop", sets=["poseprop.crop_size=128"]))
    assert set(base.metrics) == set(r.metrics)


def test_feature_cache_same_pck_and_warm_rerun_skips_the_backbone(tiny_jhmdb, tmp_path):
    from unitrack.api import evaluate

    sets = ["poseprop.crop_size=128"]
    plain = evaluate("poseprop", "random_r18", tiny_jhmdb, out=tmp_path / "plain", device="cpu", sets=sets)
    cache = tmp_path / "cache"
    sets_c = [*sets, f"common.feature_cache={cache}"]
    cold = evaluate("poseprop", "random_r18", tiny_jhmdb, out=tmp_path / "cold", device="cpu", sets=sets_c)
    entries = sorted(cache.rglob("*.pt"))
    assert len(entries) == sum(len(v) for v in read_jhmdb(tiny_jhmdb)) == 20
    assert cold.metrics == pytest.approx(plain.metrics, abs=1e-12)
    stamps = [p.stat().st_mtime_ns for p in entries]
    warm = evaluate("poseprop", "random_r18", tiny_jhmdb, out=tmp_path / "warm", device="cpu",
                    sets=[*sets_c, "poseprop.topk=5"])
    assert sorted(cache.rglob("*.pt")) == entries and [p.stat().st_mtime_ns for p in entries] == stamps
    assert set(warm.metrics) == set(plain.metrics)
    # the preprocessing is part of the key: another crop size is another entry per frame
    evaluate("poseprop", "random_r18", tiny_jhmdb, out=tmp_path / "other", device="cpu",
             sets=["poseprop.crop_size=96", f"common.feature_cache={cache}"])
    assert len(list(cache.rglob("*.pt"))) == 40


@pytest.mark.integration
def test_real_jhmdb_sample_frames_read(sample_data):
    """The JHMDB sample holds palette-mode PNG frames: they must decode to RGB and resize to crop×crop."""
    from unitrack.heads.poseprop import load_frames

    frames = sorted((sample_data / "jhmdb-sample").glob("*/00001.png"))
    assert len(frames) == 3
    x = load_frames(frames, 320, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    assert x.shape == (3, 3, 320, 320) and torch.isfinite(x).all()
    assert float(x.std()) > 0.1
