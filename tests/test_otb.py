"""OTB / LaSOT / GOT-10k readers, result files, OPE metrics and plots (unitrack.eval.otb)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from unitrack.eval.otb import (
    OTB_FRAME_RANGES,
    SUCCESS_THRESHOLDS,
    curves_to_metrics,
    evaluate_ope,
    ope_curves,
    parse_boxes,
    plot_ope,
    read_boxes,
    read_predictions,
    read_sot_dataset,
    score_sot,
    write_boxes,
)
from unitrack.utils import UnitrackError


def make_otb_seq(root: Path, name: str, gt_rows: list[str], n_images: int | None = None, first: int = 1,
                 gt_name: str = "groundtruth_rect.txt", nz: int = 4, skip: tuple[int, ...] = ()) -> Path:
    """An OTB folder with empty image files (readers only need the names) and a GT file."""
    d = root / name
    (d / "img").mkdir(parents=True, exist_ok=True)
    n = len(gt_rows) if n_images is None else n_images
    for k in range(first, first + n):
        if k not in skip:
            (d / "img" / f"{k:0{nz}d}.jpg").touch()
    (d / gt_name).write_text("\n".join(gt_rows) + "\n")
    return d


ROWS = ["10,20,30,40", "11\t21\t30\t40", "12 22 30 40", "13, 23,\t30  40"]


# ------------------------------------------------------------------------------------------------- parsing

def test_parse_mixed_separators_and_nan():
    arr, lines = parse_boxes("1,2,3,4\n5\t6\t7\t8\n9 10 11 12\nNaN,NaN,NaN,NaN\n\n\n", "gt.txt")
    assert arr.shape == (4, 4)
    np.testing.assert_array_equal(arr[:3], [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]])
    assert np.isnan(arr[3]).all()
    assert lines == [1, 2, 3, 4]


@pytest.mark.parametrize("text,line", [("1,2,3,4\n1,2,3\n", 2), ("1,2,3,4\nx,2,3,4\n", 2),
                                       ("1,2,3,4,5\n", 1), ("1,2,3,4\n\n1,2,3,4\n", 2)])
def test_parse_bad_rows_name_file_and_line(text, line):
    with pytest.raises(UnitrackError, match=rf"gt\.txt:{line}: .*x,y,w,h"):
        parse_boxes(text, "gt.txt")


def test_write_read_roundtrip(tmp_path):
    boxes = np.array([[1, 2, 3, 4], [1.5, 2.25, 30.125, 4.0], [np.nan, 0, 0, 0]])
    write_boxes(tmp_path / "a.txt", boxes)
    assert (tmp_path / "a.txt").read_text().splitlines()[:2] == ["1,2,3,4", "1.5,2.25,30.125,4"]
    np.testing.assert_array_equal(read_boxes(tmp_path / "a.txt"), boxes)


# ------------------------------------------------------------------------------------------------- readers

def test_otb_folder_any_separator(tmp_path):
    make_otb_seq(tmp_path, "Crossing", ROWS)
    (s,) = read_sot_dataset(tmp_path)
    assert s.name == "Crossing" and len(s) == 4 and s.frames[0].name == "0001.jpg"
    np.testing.assert_array_equal(s.gt[:, 0], [10, 11, 12, 13])
    # the root may be the sequence folder itself (e.g. --data <samples>/otb/Crossing)
    (s2,) = read_sot_dataset(tmp_path / "Crossing")
    assert s2.frames == s.frames


def test_jogging_two_gt_files_share_img(tmp_path):
    d = make_otb_seq(tmp_path, "Jogging", ROWS, gt_name="groundtruth_rect.1.txt")
    (d / "groundtruth_rect.2.txt").write_text("\n".join(r.replace("10", "50") for r in ROWS) + "\n")
    make_otb_seq(tmp_path, "Human4", ROWS, gt_name="groundtruth_rect.2.txt")
    seqs = read_sot_dataset(tmp_path)
    assert [s.name for s in seqs] == ["Human4", "Jogging-1", "Jogging-2"]
    j1, j2 = seqs[1], seqs[2]
    assert j1.frames == j2.frames and j1.frames[0].parent == d / "img"
    assert j1.gt[0, 0] == 10 and j2.gt[0, 0] == 50
    assert len(list(tmp_path.iterdir())) == 2  # no copied folders


def test_otb_frame_ranges_aligned_by_gt_rows(tmp_path):
    assert OTB_FRAME_RANGES["David"] == (300, 770) and OTB_FRAME_RANGES["BlurCar1"] == (247, 988)
    # BlurCar3: frames 3–359 annotated (357 rows) among images 0001–0359
    make_otb_seq(tmp_path, "BlurCar3", ["5,5,10,10"] * 357, n_images=359)
    # Tiger1: GT starts at frame 1 (354 rows) but OTB evaluates frames 6–354
    make_otb_seq(tmp_path, "Tiger1", [f"{k},5,10,10" for k in range(1, 355)])
    # Diving: more images than annotated frames
    make_otb_seq(tmp_path, "Diving", ["5,5,10,10"] * 215, n_images=231)
    seqs = {s.name: s for s in read_sot_dataset(tmp_path)}
    b = seqs["BlurCar3"]
    assert len(b) == 357 and b.frames[0].name == "0003.jpg" and b.frames[-1].name == "0359.jpg"
    t = seqs["Tiger1"]
    assert len(t) == 349 and t.frames[0].name == "0006.jpg" and t.gt[0, 0] == 6 and t.gt_first_line == 6
    d = seqs["Diving"]
    assert len(d) == 215 and d.frames[-1].name == "0215.jpg"


def test_five_digit_names_and_custom_ranges(tmp_path):
    make_otb_seq(tmp_path, "Board", ["5,5,10,10"] * 5, nz=5)
    make_otb_seq(tmp_path, "Late", ["5,5,10,10"] * 3, n_images=8)
    seqs = {s.name: s for s in read_sot_dataset(tmp_path, ranges={"Late": (4, 6)})}
    assert seqs["Board"].frames[0].name == "00001.jpg"
    assert [f.name for f in seqs["Late"].frames] == ["0004.jpg", "0005.jpg", "0006.jpg"]


def test_missing_frame_is_named(tmp_path):
    make_otb_seq(tmp_path, "Gap", ["5,5,10,10"] * 6, skip=(4,))
    with pytest.raises(UnitrackError, match=r"0004\.jpg"):
        read_sot_dataset(tmp_path)


def test_first_box_zero_size_is_an_error(tmp_path):
    make_otb_seq(tmp_path, "Zero", ["5,5,0,10", "5,5,10,10"])
    with pytest.raises(UnitrackError, match=r"groundtruth_rect\.txt:1: .*zero"):
        read_sot_dataset(tmp_path)


def test_bad_gt_row_names_file_and_line(tmp_path):
    make_otb_seq(tmp_path, "Bad", ["5,5,10,10", "5,5,10", "5,5,10,10"])
    with pytest.raises(UnitrackError, match=r"Bad/groundtruth_rect\.txt:2:"):
        read_sot_dataset(tmp_path)


def test_pysot_json_with_shared_jogging_folder(tmp_path):
    make_otb_seq(tmp_path, "Jogging", ROWS, gt_name="groundtruth_rect.1.txt")
    make_otb_seq(tmp_path, "Crossing", ROWS[:2])
    meta = {
        "Crossing": {"video_dir": "Crossing", "init_rect": [10, 20, 30, 40], "attr": ["SV"],
                     "img_names": ["Crossing/img/0001.jpg", "Crossing/img/0002.jpg"],
                     "gt_rect": [[10, 20, 30, 40], [11, 21, 30, 40]]},
        "Jogging-2": {"video_dir": "Jogging-2", "init_rect": [1, 2, 3, 4], "attr": [],
                      "img_names": [f"Jogging-2/img/000{k}.jpg" for k in range(1, 5)],
                      "gt_rect": [[1, 2, 3, 4]] * 4},
    }
    (tmp_path / "OTB2015.json").write_text(json.dumps(meta))
    seqs = read_sot_dataset(tmp_path)
    assert [s.name for s in seqs] == ["Crossing", "Jogging-2"]
    assert seqs[1].frames[0] == tmp_path / "Jogging" / "img" / "0001.jpg"
    assert seqs[0].attrs == ["SV"]
    meta["Crossing"]["img_names"][1] = "Crossing/img/0009.jpg"
    (tmp_path / "OTB2015.json").write_text(json.dumps(meta))
    with pytest.raises(UnitrackError, match=r"0009\.jpg does not exist"):
        read_sot_dataset(tmp_path)


def test_lasot_and_got10k_layouts(tmp_path):
    lasot = tmp_path / "lasot"
    for name in ("airplane-1", "airplane-2"):
        d = lasot / "airplane" / name
        (d / "img").mkdir(parents=True)
        for k in range(1, 4):
            (d / "img" / f"{k:08d}.jpg").touch()
        (d / "groundtruth.txt").write_text("1,2,3,4\n1,2,3,4\n0,0,0,0\n")
        (d / "full_occlusion.txt").write_text("0,0,1\n")
    seqs = read_sot_dataset(lasot)
    assert [s.name for s in seqs] == ["airplane-1", "airplane-2"] and len(seqs[0]) == 3

    got = tmp_path / "got10k"
    for name in ("GOT-10k_Test_000002", "GOT-10k_Test_000001"):
        d = got / name
        d.mkdir(parents=True)
        for k in range(1, 6):
            (d / f"{k:08d}.jpg").touch()
        (d / "groundtruth.txt").write_text("1,2,3,4\n")  # test split: first frame only
    (got / "list.txt").write_text("GOT-10k_Test_000002\nGOT-10k_Test_000001\n")
    seqs = read_sot_dataset(got)
    assert [s.name for s in seqs] == ["GOT-10k_Test_000002", "GOT-10k_Test_000001"]
    assert len(seqs[0]) == 5 and not seqs[0].evaluable


def test_empty_root_explains_layouts(tmp_path):
    with pytest.raises(UnitrackError, match="no SOT sequences found"):
        read_sot_dataset(tmp_path)


# ------------------------------------------------------------------------------------------------- metrics

def test_metrics_hand_computed():
    gt = np.array([[10, 10, 20, 10]] * 4, dtype=float)
    perfect = ope_curves(gt, gt)
    m = curves_to_metrics(perfect)
    # IoU = 1 beats every threshold but 1.0 itself (IoU > t): 20 of 21
    assert m["AUC"] == pytest.approx(100 * 20 / 21) and m["Precision@20"] == 100 and m["NormPrecision@0.2"] == 100
    shifted = gt + [10, 0, 0, 0]  # half the width: IoU = 100/300 = 1/3, centre error 10 px, normalised 0.5
    m = curves_to_metrics(ope_curves(gt, shifted))
    assert m["AUC"] == pytest.approx(100 * 7 / 21)  # thresholds 0 … 0.30 are below 1/3
    assert m["Precision@20"] == 100 and m["NormPrecision@0.2"] == 0
    assert SUCCESS_THRESHOLDS.shape == (21,)


def test_invalid_gt_frames_are_failures():
    gt = np.array([[10, 10, 20, 10], [np.nan] * 4, [0, 10, 20, 10], [10, 10, 0, 10]], dtype=float)
    m = curves_to_metrics(ope_curves(gt, gt, "xywh"))  # reference toolkit: x, y, w, h all > 0
    assert m["AUC"] == pytest.approx(100 * 20 / 21 / 4) and m["Precision@20"] == 25
    m = curves_to_metrics(ope_curves(gt, gt, "wh"))  # fixed protocol: a box at x = 0 is valid
    assert m["AUC"] == pytest.approx(100 * 20 / 21 / 2) and m["Precision@20"] == 50


def test_sequence_average_and_read_predictions(tmp_path):
    gts = {"a": np.array([[1, 1, 10, 10]] * 2, float), "b": np.array([[1, 1, 10, 10]] * 4, float)}
    preds = {"a": gts["a"].copy(), "b": gts["b"] + [100, 0, 0, 0]}
    r = evaluate_ope(gts, preds)
    assert r.metrics["AUC"] == pytest.approx(100 * 20 / 21 / 2)  # mean over sequences, not frames
    assert r.per_sequence["b"]["AUC"] == 0 and set(r.metrics) == {"AUC", "Precision@20", "NormPrecision@0.2"}

    make_otb_seq(tmp_path / "gt", "Seq", ["1,1,10,10"] * 3)
    seqs = read_sot_dataset(tmp_path / "gt")
    with pytest.raises(UnitrackError, match=r"missing result file .*Seq\.txt"):
        read_predictions(tmp_path / "pred", seqs)
    write_boxes(tmp_path / "pred" / "Seq.txt", np.ones((2, 4)))
    with pytest.raises(UnitrackError, match=r"Seq\.txt: 2 rows, expected .* \(3\)"):
        read_predictions(tmp_path / "pred", seqs)
    write_boxes(tmp_path / "pred" / "Seq.txt", np.array([[1, 1, 10, 10]] * 3, float))
    assert score_sot(tmp_path / "gt", tmp_path / "pred").metrics["Precision@20"] == 100


def test_plots_written(tmp_path):
    gt = np.array([[10, 10, 20, 10]] * 5, float)
    a = ope_curves(gt, gt + [3, 0, 0, 0])
    b = ope_curves(gt, gt + [12, 5, 0, 0])
    paths = plot_ope({"tracker A": a, "tracker B": b}, tmp_path, title="unit test")
    assert [p.name for p in paths] == ["success_plot.png", "precision_plot.png"]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000


def test_score_cli(tmp_path, capsys):
    from unitrack.app.cli import main

    make_otb_seq(tmp_path / "gt", "Alpha", ROWS)
    make_otb_seq(tmp_path / "gt", "Beta", ROWS)
    gt = read_boxes(tmp_path / "gt" / "Alpha" / "groundtruth_rect.txt")
    write_boxes(tmp_path / "pred" / "Alpha.txt", gt)
    write_boxes(tmp_path / "pred" / "Beta.txt", gt + [15, 0, 0, 0])  # IoU 15/45 = 1/3 from frame 1 on
    rc = main(["score", "--task", "sot", "--gt", str(tmp_path / "gt"), "--pred", str(tmp_path / "pred"),
               "--out", str(tmp_path / "s.json")])
    assert rc == 0
    out = json.loads((tmp_path / "s.json").read_text())
    assert out["metrics"]["AUC"] == pytest.approx((100 * 20 / 21 + 100 * 7 / 21) / 2)
    assert out["per_sequence"]["Beta"]["AUC"] == pytest.approx(100 * 7 / 21)
    assert "AUC" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------------- real data

@pytest.mark.integration
def test_metric_reference_figures(sample_data):
    ref = sample_data / "sot-ope-metricref"
    gts, preds = {}, {}
    for v in ("video-1", "video-2"):
        gts[v] = read_boxes(ref / v / "groundtruth.txt")
        preds[v] = read_boxes(ref / v / "results_xywh.txt")
    m = evaluate_ope(gts, preds).metrics
    assert m["AUC"] == pytest.approx(67.524, abs=5e-4)
    assert m["Precision@20"] == pytest.approx(50.0)
    assert m["NormPrecision@0.2"] == pytest.approx(70.0)


@pytest.mark.integration
def test_crossing_reader(sample_data):
    (s,) = read_sot_dataset(sample_data / "otb" / "Crossing")
    assert s.name == "Crossing" and len(s) == 120 and s.gt.shape == (120, 4)
    np.testing.assert_array_equal(s.gt[0], [205, 151, 17, 50])  # TAB-separated file
    (s2,) = read_sot_dataset(sample_data / "otb")
    assert s2.frames == s.frames


def test_ope_is_a_metric_whose_fields_the_sot_spec_declares():
    """The Metric contract: eval_sequence per sequence, combine over them; the SOT spec lists its fields."""
    import numpy as np

    from unitrack.eval.base import Metric, MetricSpec
    from unitrack.eval.otb import OPE, evaluate_ope
    from unitrack.tasks import get_spec

    gt = np.array([[10, 10, 20, 20]] * 4, float)
    preds = {"a": gt.copy(), "b": gt + [[0, 0, 0, 0], [5, 0, 0, 0], [30, 30, 0, 0], [0, 0, 0, 0]]}
    ope = OPE()
    per = {k: ope.eval_sequence(gt, p) for k, p in preds.items()}
    assert ope.combine(per) == evaluate_ope({"a": gt, "b": gt}, preds).metrics
    assert ope.combine({"a": per["a"]})["AUC"] == pytest.approx(100.0 * 20 / 21)  # IoU 1 beats 20 of 21 thresholds
    assert get_spec("sot").metrics == OPE.fields and isinstance(ope, Metric)

    class Mean(Metric):  # the default combine: the mean of each declared field over sequences
        fields = (MetricSpec("x", unit="count"),)

    assert Mean().combine({"s1": {"x": 1.0}, "s2": {"x": 3.0}, "s3": {"x": float("nan")}}) == {"x": 2.0}
