"""SOT primitives (unitrack.sot) and the SOT head end to end (heads/sot.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from unitrack import sot
from unitrack.sot import SOTConfig
from unitrack.utils import UnitrackError

# ------------------------------------------------------------------------------------------------- constants


def test_protocol_constants_appendix_c4():
    h = np.hanning(65)
    assert h[0] == 0 and h[-1] == 0 and h[32] == 1
    cw = sot.cosine_window(65)
    assert cw.shape == (65, 65) and cw[32, 32] == 1 and cw[0].max() == 0
    cfg = SOTConfig()
    assert sot.feature_size(cfg) == 65
    bg, ed = sot.template_bounds(65)
    assert (bg, ed) == (25, 39) and ed - bg == 14
    z = torch.zeros(4, 14, 14)
    assert sot.xcorr_response(torch.zeros(3, 4, 65, 65), z).shape == (3, 52, 52)
    np.testing.assert_allclose(sot.scale_factors(3, cfg.scale_step), [0.973236, 1, 1.0275], atol=1e-6)
    np.testing.assert_allclose(sot.scale_penalties(3, cfg.scale_penalty), [0.985, 1, 0.985])
    assert sot.dcf_sigma(cfg) == pytest.approx(1.444444, abs=1e-6)
    y = sot.gaussian_labels(65, sot.dcf_sigma(cfg))
    assert np.unravel_index(np.argmax(y), y.shape) == (0, 0) and y[0, 0] == 1
    assert y[0, 1] == pytest.approx(np.exp(-0.5 / sot.dcf_sigma(cfg) ** 2)) and y[0, -1] == y[0, 1]
    # smaller crops scale the same expressions: 264 px → 33 cells, template 13…18
    assert sot.feature_size(SOTConfig(crop_sz=264)) == 33 and sot.template_bounds(33) == (13, 19)


def _smooth_features(c=16, n=65, seed=0):
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    f = np.stack([gaussian_filter(rng.standard_normal((n, n)), 2, mode="wrap") for _ in range(c)])
    return torch.tensor(f, dtype=torch.float32)


def _dcf_decode(f, shift, faithful):
    n = f.shape[-1]
    bg, ed = sot.template_bounds(n)
    m = torch.zeros(n, n)
    m[bg:ed, bg:ed] = 1
    yf = torch.fft.rfft2(torch.tensor(sot.gaussian_labels(n, sot.dcf_sigma(SOTConfig())), dtype=torch.float32))
    zf, alphaf = sot.dcf_filter(f * m, yf, 1e-4)
    x = torch.roll(f, shift, dims=(1, 2))[None]
    resp = sot.dcf_response(torch.fft.rfft2(x), zf, alphaf, faithful)
    return resp.shape[-2:], sot.decode_dcf_peak(int(resp.flatten(1).argmax(1)[0]), n)


# Appendix C item 5: a pure circular shift (Δy, Δx) of the search features, decoded the reference's way
DCF_TABLE = {(0, 0): (0, 0), (0, 1): (0, 1), (1, 0): (0, -1), (1, 1): (1, 0), (-1, 0): (-2, 1),
             (0, -1): (0, -2), (2, 0): (1, -2), (0, 2): (0, 2), (3, -2): (3, -6), (5, 0): (4, -5)}


def test_dcf_irfft_quirk_displacement_table_appendix_c5():
    f = _smooth_features()
    for shift, expected in DCF_TABLE.items():
        shape, got = _dcf_decode(f, shift, faithful=True)
        assert tuple(shape) == (65, 64)
        assert got == expected, shift
        shape, got = _dcf_decode(f, shift, faithful=False)
        assert tuple(shape) == (65, 65) and got == shift


def test_xcorr_peak_and_displacement_rules():
    f = _smooth_features()
    bg, ed = sot.template_bounds(65)
    z = f[:, bg:ed, bg:ed]
    for dy, dx in [(0, 0), (3, -2), (-5, 4)]:
        resp = sot.xcorr_response(torch.roll(f, (dy, dx), dims=(1, 2))[None], z)
        r, c = divmod(int(resp.flatten().argmax()), resp.shape[-1])
        assert (r, c) == (bg + dy, bg + dx)
    window = np.array([90.0, 45.0])
    faithful = sot.XCorrTracker(SOTConfig(), lambda x: x)
    fixed = sot.XCorrTracker(SOTConfig(protocol="fixed"), lambda x: x)
    # the zero-motion peak (index 25): faithful moves by −1 cell of window/52; fixed does not move
    np.testing.assert_allclose(faithful.displacement(25, 25, 52, window), -window / 52)
    np.testing.assert_allclose(fixed.displacement(25, 25, 52, window), [0, 0])
    # 4 cells right, 2 down: faithful (idx − 26)·window/52 (1.25× gain), fixed 8·window/519 per cell
    np.testing.assert_allclose(faithful.displacement(27, 29, 52, window), np.array([3, 1]) * window / 52)
    np.testing.assert_allclose(fixed.displacement(27, 29, 52, window), np.array([4, 2]) * 8 * window / 519)
    dcf = sot.DCFTracker(SOTConfig(), lambda x: x)
    np.testing.assert_allclose(dcf.displacement(2, -3, window), np.array([-3, 2]) * window / 65)


# ------------------------------------------------------------------------------------------------- geometry


def test_box_state_round_trip_appendix_c11():
    box = np.array([205.0, 151.0, 17.0, 50.0])
    c, s = sot.box_to_state(box, "faithful")
    np.testing.assert_array_equal(c, [205 - 2 + 8.5, 151 - 2 + 25])
    np.testing.assert_array_equal(s, [17, 50])
    for proto in ("faithful", "fixed"):
        for b in (box, np.array([3.25, 7.5, 11.125, 9.0])):
            np.testing.assert_array_equal(sot.state_to_box(*sot.box_to_state(b, proto), proto), b)


def test_size_limits_swap_faithful_only():
    s0 = np.array([100.0, 30.0])
    mn, mx = sot.size_limits(s0, (120, 400), SOTConfig())  # image H=120, W=400
    np.testing.assert_allclose(mn, [20, 6])
    np.testing.assert_allclose(mx, [120, 150])  # width limited by H (the reference's swap)
    _, mx = sot.size_limits(s0, (120, 400), SOTConfig(protocol="fixed"))
    np.testing.assert_allclose(mx, [400, 120])
    mn, _ = sot.size_limits(np.array([10.0, 15.0]), (120, 400), SOTConfig())
    np.testing.assert_allclose(mn, [4, 4])


def test_warp_crops_maps_window_corners_and_pads_with_zero():
    h, w = 40, 60
    xs = torch.arange(w, dtype=torch.float32).expand(h, w)
    ys = torch.arange(h, dtype=torch.float32)[:, None].expand(h, w)
    img = torch.stack([xs, ys, torch.ones(h, w)])  # channel 0 = x, 1 = y, 2 = 1 inside the image
    crops = sot.warp_crops(img, np.array([[20.0, 10.0], [30.0, 20.0]]), np.array([[16.0, 8.0], [200.0, 200.0]]), 9)
    assert crops.shape == (2, 3, 9, 9)
    # crop 0: x from 12 to 28 in 9 samples (step 2), y from 6 to 14 (step 1)
    torch.testing.assert_close(crops[0, 0, 0], torch.arange(12, 29, 2, dtype=torch.float32))
    torch.testing.assert_close(crops[0, 1, :, 0], torch.arange(6, 15, dtype=torch.float32))
    # crop 1 reaches far outside the image: value 0 there (the mean colour after normalisation)
    assert crops[1, 2, 0, 0] == 0 and crops[1, 2, 4, 4] == 1


def test_bad_config_is_reported():
    with pytest.raises(UnitrackError, match="multiple of"):
        sot.check_config(SOTConfig(crop_sz=521))
    with pytest.raises(UnitrackError, match="sot.head"):
        sot.check_config(SOTConfig(head="siamrpn"))
    with pytest.raises(UnitrackError, match="sot.protocol"):
        sot.check_config(SOTConfig(protocol="exact"))
    tr = sot.XCorrTracker(SOTConfig(crop_sz=264), lambda x: torch.zeros(x.shape[0], 4, 32, 32))
    with pytest.raises(UnitrackError, match="33×33 features"):
        tr.init(torch.zeros(3, 50, 50), [10, 10, 10, 10])
    with pytest.raises(UnitrackError, match="w, h > 0"):
        tr.init(torch.zeros(3, 50, 50), [10, 10, 0, 10])


# ------------------------------------------------------------------------------------------------- trackers

class ToyFeatures:
    """A fixed random 8×8/stride-8 conv (a stand-in backbone) that records the batch size of every call."""

    def __init__(self, channels=32):
        g = torch.Generator().manual_seed(0)
        self.w = torch.randn(channels, 3, 8, 8, generator=g) / 8
        self.calls: list[int] = []

    def __call__(self, x):
        self.calls.append(x.shape[0])
        return F.relu(F.conv2d(x, self.w, stride=8))


def _moving_texture(T=8, h=96, w=128, step=(4.0, 2.0), seed=0):
    """A textured 20×24 patch moving over a smooth background; returns images and 1-based GT boxes."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    bg = np.stack([gaussian_filter(rng.standard_normal((h, w)), 4) for _ in range(3)])
    tex = np.stack([gaussian_filter(rng.standard_normal((24, 20)), 1) for _ in range(3)]) * 4
    imgs, gts = [], []
    for t in range(T):
        x0, y0 = int(30 + step[0] * t), int(30 + step[1] * t)
        im = bg.copy()
        im[:, y0:y0 + 24, x0:x0 + 20] = tex
        imgs.append(torch.tensor(im, dtype=torch.float32))
        gts.append([x0 + 1, y0 + 1, 20, 24])
    return imgs, np.array(gts, dtype=np.float64)


@pytest.mark.parametrize("head", ["xcorr", "dcf"])
@pytest.mark.parametrize("protocol", ["faithful", "fixed"])
def test_tracker_follows_moving_texture_one_batch_per_frame(head, protocol):
    from unitrack.eval.otb import ope_curves

    imgs, gt = _moving_texture()
    feats = ToyFeatures()
    tr = sot.make_tracker(SOTConfig(head=head, protocol=protocol, crop_sz=264), feats)
    tr.init(imgs[0], gt[0])
    np.testing.assert_allclose(tr.box, gt[0])
    out = [gt[0]] + [tr.track(im) for im in imgs[1:]]
    # scales go through the feature function as ONE batch; DCF adds one update crop per frame
    per_frame = [3] if head == "xcorr" else [3, 1]
    assert feats.calls == [1] + per_frame * (len(imgs) - 1)
    succ = ope_curves(gt, np.array(out))["success"]
    static = ope_curves(gt, np.repeat(gt[:1], len(gt), 0))["success"]
    assert succ.mean() > static.mean() + 0.25
    if protocol == "fixed":  # corrected geometry: every frame stays on the target
        assert succ[10] == 1.0  # IoU > 0.5 on all frames


def test_demo_end_to_end_beats_static_box(tmp_path):
    """`unitrack eval --task sot` on a tiny generated demo with random_r18, both heads (small crops for speed)."""
    from unitrack.api import evaluate
    from unitrack.app.cli import main
    from unitrack.eval.demo import generate_demo
    from unitrack.eval.otb import read_boxes

    root = generate_demo(tmp_path / "demo", seed=0, tasks=["sot"], num_sequences=2, num_frames=10, size=(96, 72))
    data = root / "otb"
    aucs = {}
    for head in ("xcorr", "dcf"):
        r = evaluate("sot", "random_r18", data, out=tmp_path / "res", sets=["sot.crop_sz=144"], head=head,
                     device="cpu")
        assert f"-{head}-" in r.path and set(r.metrics) == {"AUC", "Precision@20", "NormPrecision@0.2"}
        for seq in ("Demo01", "Demo02"):
            pred = read_boxes(r.pred_dir / f"{seq}.txt")
            gt = read_boxes(data / seq / "groundtruth_rect.txt")
            assert pred.shape == (10, 4)
            np.testing.assert_array_equal(pred[0], gt[0])  # first line = GT line
        assert (r.pred_dir.parent / "success_plot.png").is_file()
        aucs[head] = r.metrics["AUC"]
        static = r.extra["static_box_baseline"]["AUC"]
        assert r.metrics["AUC"] > static + 5, (head, r.metrics, static)
    # the stored predictions score to the same figures through `unitrack score`
    rc = main(["score", "--task", "sot", "--gt", str(data), "--pred", str(r.pred_dir), "--out",
               str(tmp_path / "score.json")])
    assert rc == 0
    assert json.loads((tmp_path / "score.json").read_text())["metrics"]["AUC"] == pytest.approx(aucs["dcf"])


def test_unreadable_frame_is_named(tmp_path):
    from unitrack.api import evaluate
    from unitrack.eval.demo import generate_demo

    root = generate_demo(tmp_path / "demo", seed=1, tasks=["sot"], num_sequences=1, num_frames=10, size=(64, 64))
    bad = root / "otb" / "Demo01" / "img" / "0003.jpg"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(UnitrackError, match=r"0003\.jpg"):
        evaluate("sot", "random_r18", root / "otb", out=tmp_path / "res", sets=["sot.crop_sz=72"], device="cpu")
    assert not any((tmp_path / "res").rglob("result.json"))


def test_datasets_check(tmp_path, capsys):
    from unitrack.app.cli import main

    d = tmp_path / "otb" / "Walk"
    (d / "img").mkdir(parents=True)
    for k in range(1, 4):
        (d / "img" / f"{k:04d}.jpg").touch()
    (d / "groundtruth_rect.txt").write_text("1,1,5,5\n1,1,5,5\n1,1,5,5\n")
    assert main(["datasets", "check", "--task", "sot", "--data", str(tmp_path / "otb")]) == 0
    out = capsys.readouterr().out
    assert "sequences: 1" in out and "frames: 3" in out and "OTB folders" in out
    assert main(["datasets", "check", "--task", "sot", "--data", str(d), "--set", "sot.max_frames=2"]) == 0
    assert "frames: 2" in capsys.readouterr().out
    assert main(["datasets", "check", "--task", "sot", "--data", str(d), "--set", "sot.max_frames=1"]) == 2
    assert "sot.max_frames=1" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------- real data

@pytest.mark.integration
@pytest.mark.slow
def test_crossing_runs_and_reports_auc(sample_data, tmp_path):

    from unitrack.app.cli import main

    # the real folder through the CLI; 25 frames and 168-px crops keep it quick on a CPU (the full protocol
    # numbers on Crossing are in the issue report)
    rc = main(["eval", "--task", "sot", "--head", "dcf", "--backbone", "random_r18", "--data",
               str(sample_data / "otb" / "Crossing"), "--out", str(tmp_path), "--device", "cpu",
               "--set", "sot.crop_sz=168", "--set", "sot.max_frames=25", "--json"])
    assert rc == 0
    (rf,) = tmp_path.rglob("result.json")
    r = json.loads(rf.read_text())
    assert r["dataset"] == "otb-crossing" and "-dcf-" in str(rf)
    assert r["per_sequence"]["Crossing"]["AUC"] == r["metrics"]["AUC"]
    assert r["metrics"]["AUC"] > r["extra"]["static_box_baseline"]["AUC"] + 20
    pred = rf.parent / "pred" / "Crossing.txt"
    assert pred.read_text().splitlines()[0] == "205,151,17,50" and len(pred.read_text().splitlines()) == 25
    # scoring the stored predictions again gives the same figure
    out = tmp_path / "score.json"
    assert main(["score", "--task", "sot", "--gt", str(sample_data / "otb"), "--pred", str(pred.parent),
                 "--set", "sot.max_frames=25", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["metrics"]["AUC"] == pytest.approx(r["metrics"]["AUC"])
