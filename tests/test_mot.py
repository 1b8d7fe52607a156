"""MOT: MOTChallenge reader/writer (malformed files, the mot17-mini traps), TrackEval scoring
(hand-computed cases, MOT15 reference figures), and the head end to end on the demo benchmark."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from unitrack.eval.motchallenge import (
    find_sequences,
    format_mot_rows,
    load_sequence,
    read_detections,
    read_gt,
    read_mot_txt,
    read_observations,
    read_predictions,
    score_dir,
    score_sequences,
    write_mot_results,
)
from unitrack.utils import UnitrackError


def _seq(root: Path, name: str = "SEQ-01", n_images: int = 4, seq_length: int | None = None, gt: str | None = None,
         det: str | None = None, size=(64, 48), ini_size=None, frame_rate: int = 30) -> Path:
    d = root / "train" / name
    (d / "img1").mkdir(parents=True)
    for f in range(1, n_images + 1):
        cv2.imwrite(str(d / "img1" / f"{f:06d}.jpg"), np.zeros((size[1], size[0], 3), np.uint8))
    w, h = ini_size or size
    (d / "seqinfo.ini").write_text(f"[Sequence]\nname={name}\nimDir=img1\nframeRate={frame_rate}\n"
                                   f"seqLength={seq_length or n_images}\nimWidth={w}\nimHeight={h}\nimExt=.jpg\n")
    if gt is not None:
        (d / "gt").mkdir()
        (d / "gt" / "gt.txt").write_text(gt)
    if det is not None:
        (d / "det").mkdir()
        (d / "det" / "det.txt").write_text(det)
    return d


# ----------------------------------------------------------------------------------------------
# reader


def test_det_7_and_10_columns_unsorted_and_cut(tmp_path, caplog):
    det7 = "3,-1,10,10,5,8,0.9\n1,-1,1,2,3,4,0.5\n9,-1,1,1,1,1,1\n1,-1,0,0,0,4,0.7\n\n3,-1,20,20,5,-8,0.9\n"
    d = _seq(tmp_path, seq_length=600, det=det7)
    with caplog.at_level(logging.WARNING, logger="unitrack"):
        s = load_sequence(d)
        dets = read_detections(s.det_file, s)
    assert s.num_frames == 4 and s.declared_length == 600  # the mot17-mini trap: the images win
    assert any("seqLength=600" in w for w in s.warnings)
    assert sorted(dets) == [1, 3]  # frame 9 (beyond the images) ignored; frames 2 and 4 have no detections
    np.testing.assert_allclose(dets[1], [[1, 2, 3, 4, 0.5]])  # the zero-width box is dropped
    np.testing.assert_allclose(dets[3], [[10, 10, 5, 8, 0.9]])
    assert "frames > 4 ignored" in caplog.text and "zero or negative width/height" in caplog.text
    (d / "det" / "det.txt").write_text("1,-1,1,2,3,4,0.5,-1,-1,-1\n2,-1,5,6,7,8,0.25,-1,-1,-1\n")
    dets = read_detections(s.det_file, s)
    np.testing.assert_allclose(dets[2], [[5, 6, 7, 8, 0.25]])


@pytest.mark.parametrize("text, match", [
    ("1,-1,1,2,3,4,0.5\n1,-1,1,2,3,4,0.5,9\n", r"det\.txt:2: 8 comma-separated columns.*expected 7 or 10"),
    ("1,-1,1,2,3,4\n", r"det\.txt:1: 6 comma-separated columns.*expected 7 or 10"),
    ("1,-1,1,2,3,4,0.5\n\n2,-1,1,x,3,4,0.5\n", r"det\.txt:3: not a number"),
    ("0,-1,1,2,3,4,0.5\n", r"det\.txt:1: frame '0'"),
    ("1.5,-1,1,2,3,4,0.5\n", r"det\.txt:1: frame '1.5'"),
    ("1,-1,1,2,nan,4,0.5\n", r"det\.txt:1: NaN"),
])  # fmt: skip
def test_det_errors_name_file_and_line(tmp_path, text, match):
    s = load_sequence(_seq(tmp_path, det=text))
    with pytest.raises(UnitrackError, match=match):
        read_detections(s.det_file, s)


def test_sequence_layout_checks(tmp_path):
    d = _seq(tmp_path, n_images=3, ini_size=(640, 480))
    s = load_sequence(d)
    assert (s.width, s.height) == (64, 48) and any("imWidth" in w for w in s.warnings)
    (d / "img1" / "000002.jpg").unlink()
    with pytest.raises(UnitrackError, match="without gaps"):
        load_sequence(d)
    with pytest.raises(UnitrackError, match="no MOTChallenge sequences"):
        find_sequences(tmp_path / "train" / "SEQ-01" / "img1")
    # no images (a metric-reference folder): seqLength decides; the root may hold sequences directly
    g = tmp_path / "ref" / "A"
    (g / "gt").mkdir(parents=True)
    (g / "gt" / "gt.txt").write_text("1,1,1,1,5,5,1,1,1\n7,1,1,1,5,5,1,1,1\n")
    (g / "seqinfo.ini").write_text("[Sequence]\nname=A\nseqLength=10\n")
    (tmp_path / "ref" / "results").mkdir()  # not a sequence
    seqs = find_sequences(tmp_path / "ref", need_gt=True)
    assert [x.name for x in seqs] == ["A"] and seqs[0].num_frames == 10 and seqs[0].images == []


def test_gt_and_prediction_validation(tmp_path):
    gt = "1,1,10,10,5,5,1,1,1\n2,1,10,10,5,5,1,1,1\n2,1,11,10,5,5,1,1,1\n"
    s = load_sequence(_seq(tmp_path, gt=gt, seq_length=10))
    with pytest.raises(UnitrackError, match=r"gt\.txt:3: id 1 appears twice in frame 2 \(also line 2\)"):
        read_gt(s)
    s.gt_file.write_text("1,1,10,10,5,5,1,-1,1\n")
    with pytest.raises(UnitrackError, match=r"gt\.txt:1: class -1 .*mot\.benchmark=MOT15"):
        read_gt(s, "MOT17")
    assert read_gt(s, "MOT15")[0, 7] == 1
    p = tmp_path / "pred.txt"
    p.write_text("1,3,1,1,5,5,1,-1,-1,-1\n6,3,1,1,5,5,1,-1,-1,-1\n")  # frame 6: within seqLength 10, beyond 4 images
    rows = read_predictions(p, s)
    assert rows[:, 0].tolist() == [1]
    p.write_text("1,3,1,1,5,5\n11,3,1,1,5,5\n")
    with pytest.raises(UnitrackError, match=r"pred\.txt:2: frame 11 is beyond the sequence"):
        read_predictions(p, s)
    p.write_text("1,3,1,1,5,5\n1,3,2,1,5,5\n")
    with pytest.raises(UnitrackError, match=r"pred\.txt:2: id 3 appears twice in frame 1"):
        read_predictions(p, s)
    (tmp_path / "empty.txt").write_text("\n")
    arr, lines = read_mot_txt(tmp_path / "empty.txt", "pred")
    assert arr.shape == (0, 10) and len(lines) == 0


def test_writer_format_and_round_trip(tmp_path):
    rows = [(2, 5, 1.234, 2.0, 30.5, 60.25), (1, 7, 0.0, 0.0, 10, 20), (1, 2, -3.5, 4.0, 10, 20)]
    assert format_mot_rows(rows) == ("1,2,-3.50,4.00,10.00,20.00,1,-1,-1,-1\n1,7,0.00,0.00,10.00,20.00,1,-1,-1,-1\n"
                                     "2,5,1.23,2.00,30.50,60.25,1,-1,-1,-1\n")
    p = tmp_path / "out" / "S.txt"
    write_mot_results(p, rows)
    arr, lines = read_mot_txt(p, "pred")
    assert arr.shape == (3, 10) and lines.tolist() == [1, 2, 3]
    write_mot_results(p, [])
    assert p.read_text() == ""


def test_observation_sources(tmp_path):
    gt = "1,1,10,10,20,30,1,1,1\n1,2,40,10,20,30,0,1,1\n1,3,40,10,20,30,1,8,1\n2,1,12,10,20,30,1,1,0.5\n"
    d = _seq(tmp_path, gt=gt, det="1,-1,1,2,3,4,0.5\n")
    s = load_sequence(d)
    obs = read_observations(s, gt_as_observations=True, benchmark="MOT17")  # conf 0 and class 8 rows dropped
    np.testing.assert_allclose(obs[1], [[10, 10, 20, 30, 1]])
    assert sorted(obs) == [1, 2]
    assert len(read_observations(s, gt_as_observations=True, benchmark="MOT15")[1]) == 2  # class ignored
    user = tmp_path / "obs"
    (user / "SEQ-01" / "img1").mkdir(parents=True)
    (user / "SEQ-01" / "img1" / "000002.txt").write_text("0.5 0.5 0.25 0.5 0.8\n")  # paper format, normalised
    obs = read_observations(s, user)
    np.testing.assert_allclose(obs[2], [[24, 12, 16, 24, 0.8]])
    (user / "SEQ-01.txt").write_text("3,-1,1,2,3,4,0.9\n")  # MOT det format takes precedence
    assert sorted(read_observations(s, user)) == [3]
    with pytest.raises(UnitrackError, match="no observations for OTHER"):
        s.name = "OTHER"
        read_observations(s, user)


# ----------------------------------------------------------------------------------------------
# scoring


def _two_objects_gt() -> str:
    return "".join(f"{f},1,10,10,20,40,1,1,1\n{f},2,100,10,20,40,1,1,1\n" for f in range(1, 5))


def test_score_hand_computed_id_switch(tmp_path):
    s = load_sequence(_seq(tmp_path, n_images=0, seq_length=4, gt=_two_objects_gt()))
    pred = tmp_path / "pred"
    write_mot_results(pred / "SEQ-01.txt", [(f, 7, 10, 10, 20, 40) for f in range(1, 5)]
                      + [(f, 8 if f <= 2 else 9, 100, 10, 20, 40) for f in range(1, 5)])
    m, per = score_sequences([s], {"SEQ-01": pred / "SEQ-01.txt"}, "MOT17")
    assert m["IDSW"] == 1 and m["FP"] == 0 and m["FN"] == 0
    assert m["MOTA"] == pytest.approx(1 - 1 / 8)
    assert m["IDF1"] == pytest.approx(12 / 16)  # IDTP 6, IDFP 2, IDFN 2
    assert m["HOTA"] == pytest.approx(np.sqrt(0.75))  # DetA 1, AssA (4·1 + 4·½)/8
    assert per["SEQ-01"]["IDF1"] == pytest.approx(m["IDF1"])
    # perfect tracking scores 1 everywhere
    write_mot_results(pred / "SEQ-01.txt", [(f, k, x, 10, 20, 40) for f in range(1, 5) for k, x in ((1, 10), (2, 100))])
    m, _ = score_sequences([s], {"SEQ-01": pred / "SEQ-01.txt"}, "MOT17")
    assert (m["IDF1"], m["HOTA"], m["MOTA"], m["IDSW"]) == (1.0, pytest.approx(1.0), 1.0, 0)


def test_score_mot17_preprocessing_distractors(tmp_path):
    # a distractor (class 8) and a zero-marked pedestrian: predictions on them are neither TP nor FP under MOT17
    gt = "1,1,10,10,20,40,1,1,1\n1,2,100,10,20,40,1,8,1\n1,3,200,10,20,40,0,1,1\n"
    s = load_sequence(_seq(tmp_path, n_images=0, seq_length=1, gt=gt))
    p = tmp_path / "SEQ-01.txt"
    write_mot_results(p, [(1, 1, 10, 10, 20, 40), (1, 2, 100, 10, 20, 40), (1, 3, 200, 10, 20, 40)])
    m17, _ = score_sequences([s], {"SEQ-01": p}, "MOT17")
    assert (m17["FP"], m17["FN"], m17["MOTA"]) == (1, 0, 0.0)  # the zero-marked one is still an FP (TrackEval)
    m15, _ = score_sequences([s], {"SEQ-01": p}, "MOT15")
    assert (m15["FP"], m15["FN"]) == (1, 0)  # MOT15: no class filter, the distractor is a normal GT box
    with pytest.raises(UnitrackError, match="mot.benchmark='MOT99'"):
        score_sequences([s], {"SEQ-01": p}, "MOT99")


def test_score_dir_needs_every_prediction(tmp_path):
    _seq(tmp_path, "A-01", n_images=0, seq_length=4, gt=_two_objects_gt())
    _seq(tmp_path, "B-01", n_images=0, seq_length=4, gt=_two_objects_gt())
    pred = tmp_path / "pred"
    write_mot_results(pred / "A-01.txt", [(1, 1, 10, 10, 20, 40)])
    with pytest.raises(UnitrackError, match=r"no result file for sequence\(s\) B-01"):
        score_dir(tmp_path, pred)
    write_mot_results(pred / "B-01.txt", [])
    m, per = score_dir(tmp_path, pred)
    assert sorted(per) == ["A-01", "B-01"] and m["FN"] == 15 and per["B-01"]["IDF1"] == 0.0


# ----------------------------------------------------------------------------------------------
# head, end to end on the demo benchmark


@pytest.fixture(scope="module")
def demo_run(demo_root, tmp_path_factory):
    from unitrack.api import evaluate

    out = tmp_path_factory.mktemp("mot-results")
    r = evaluate("mot", "random_r18", demo_root / "mot", out=out, device="cpu", img_size=[256, 192],
                 asso_with_motion=True)
    return r


def test_head_on_demo_end_to_end(demo_run, demo_root):
    from unitrack.api import score

    r = demo_run
    assert r.metrics.keys() >= {"IDF1", "HOTA", "MOTA", "IDSW", "FP", "FN"}
    assert sorted(r.per_sequence) == ["DEMO-01", "DEMO-02"]
    assert 0.3 < r.metrics["IDF1"] <= 1 and 0.3 < r.metrics["HOTA"] <= 1
    assert r.extra["frames"] == 24 and r.extra["backbone_s_per_frame"] > 0
    pred = Path(r.path) / "pred"
    assert sorted(p.name for p in pred.glob("*.txt")) == ["DEMO-01.txt", "DEMO-02.txt"]
    # the written files are valid MOTChallenge results that score to the same figures
    again = score("mot", demo_root / "mot", pred)
    assert again.metrics == pytest.approx(r.metrics)


def test_feature_cache_letterboxed_frames(demo_run, demo_root, tmp_path):
    """With common.feature_cache, the letterboxed frames' features are cached: the same tracks as without
    the cache, and a re-run with other association parameters reads every frame from the cache."""
    from unitrack.api import evaluate

    cache = tmp_path / "cache"
    kw = dict(out=tmp_path / "res", device="cpu", img_size=[256, 192], sets=[f"common.feature_cache={cache}"])
    first = evaluate("mot", "random_r18", demo_root / "mot", asso_with_motion=True, **kw)
    entries = sorted(cache.rglob("*.pt"))
    assert len(entries) == 24  # one per frame
    assert first.metrics == pytest.approx(demo_run.metrics, abs=1e-12)
    stamps = [p.stat().st_mtime_ns for p in entries]
    second = evaluate("mot", "random_r18", demo_root / "mot", asso_with_motion=False, **kw)
    assert sorted(cache.rglob("*.pt")) == entries and [p.stat().st_mtime_ns for p in entries] == stamps
    assert second.metrics["IDF1"] != first.metrics["IDF1"] or second.metrics["IDSW"] != first.metrics["IDSW"]
    # another canvas size is another cache entry (the letterbox is part of the key)
    evaluate("mot", "random_r18", demo_root / "mot", asso_with_motion=True,
             **{**kw, "img_size": [192, 128], "out": tmp_path / "res2"})
    assert len(list(cache.rglob("*.pt"))) == 48


def test_appearance_beats_motion_only_and_iou_only(demo_run, demo_root, tmp_path):
    """Acceptance: with the demo's detections, RSM appearance + motion > motion-only > IoU-only (IDF1).

    motion-only = stage 1 on IoU of the Kalman-predicted boxes fused with the gated Mahalanobis distance;
    IoU-only = no Kalman, IoU with the last box. Neither needs the backbone (similarity=iou skips it).
    """
    from unitrack.api import evaluate

    motion = evaluate("mot", "random_r18", demo_root / "mot", out=tmp_path, device="cpu", similarity="iou",
                      asso_with_motion=True)
    iou = evaluate("mot", "random_r18", demo_root / "mot", out=tmp_path, device="cpu", similarity="iou",
                   use_kalman=False)
    assert motion.extra["backbone_s_per_frame"] == 0 or motion.extra["backbone_s_per_frame"] < 0.01
    app = demo_run.metrics["IDF1"]
    assert app > motion.metrics["IDF1"] + 0.05 and app > iou.metrics["IDF1"] + 0.05
    assert demo_run.metrics["IDSW"] < motion.metrics["IDSW"] < iou.metrics["IDSW"]


def test_head_gt_observations_iou(demo_root, tmp_path):
    from unitrack.api import evaluate

    r = evaluate("mot", "random_r18", demo_root / "mot", out=tmp_path, device="cpu", similarity="iou",
                 gt_as_observations=True, asso_with_motion=True, min_box_area=0.0, max_aspect=100.0)
    assert r.extra["observation_source"] == "gt"
    assert r.metrics["IDF1"] > 0.8 and r.metrics["FP"] <= 2  # Kalman posterior boxes, not the GT boxes


def test_check_and_cli_score(demo_run, demo_root, capsys, tmp_path):
    from unitrack.app.cli import main
    from unitrack.config import load_config
    from unitrack.heads.mot import TASK

    info = TASK.check(demo_root / "mot", load_config("mot"))
    assert info["sequences"] == 2 and info["frames"] == 24 and info["gt_tracks"] > 0
    assert info["observations"] >= info["observations_above_conf_thres"] > 0
    out = tmp_path / "scores.json"
    assert main(["score", "--task", "mot", "--gt", str(demo_root / "mot"), "--pred", str(Path(demo_run.path) / "pred"),
                 "--out", str(out)]) == 0
    assert json.loads(out.read_text())["metrics"]["IDF1"] == pytest.approx(demo_run.metrics["IDF1"])
    assert main(["score", "--task", "mot", "--gt", str(demo_root / "mot"), "--pred", str(tmp_path)]) == 2
    assert "no result file" in capsys.readouterr().err


def test_bad_config_values(demo_root, tmp_path):
    from unitrack.config import load_config
    from unitrack.heads.mot import TASK

    with pytest.raises(UnitrackError, match="mot.similarity='nope'"):
        TASK.check(demo_root / "mot", load_config("mot", sets=["mot.similarity=nope"]))


# ----------------------------------------------------------------------------------------------
# real slices ($UNITRACK_SAMPLE_DATA)

MOT15_REF = {"IDF1": 0.624296, "MOTA": 0.555116, "IDSW": 14, "FP": 58, "FN": 602, "HOTA": 0.399957}
MOT15_SEQ = {"TUD-Campus": {"IDF1": 0.557659, "MOTA": 0.526462, "HOTA": 0.391397},
             "TUD-Stadtmitte": {"IDF1": 0.644619, "MOTA": 0.564014, "HOTA": 0.397849}}


@pytest.mark.integration
def test_mot15_reference_figures_via_cli(sample_data, tmp_path):
    from unitrack.app.cli import main

    root = sample_data / "mot15-tud-metricref"
    out = tmp_path / "s.json"
    assert main(["score", "--task", "mot", "--set", "mot.benchmark=MOT15", "--gt", str(root), "--pred",
                 str(root / "results"), "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    for k, v in MOT15_REF.items():
        assert res["metrics"][k] == pytest.approx(v, abs=5e-7), k
    for seq, ref in MOT15_SEQ.items():
        for k, v in ref.items():
            assert res["per_sequence"][seq][k] == pytest.approx(v, abs=5e-7), (seq, k)


@pytest.mark.integration
def test_mot17_mini_traps_and_end_to_end(sample_data, tmp_path):
    from unitrack.api import evaluate
    from unitrack.config import load_config
    from unitrack.heads.mot import TASK

    root = sample_data / "mot17-mini"
    info = TASK.check(root, load_config("mot"))
    assert info["sequences"] == 7 and info["frames"] == 39
    assert [v["frames"] for v in info["per_sequence"].values()] == [4, 8, 6, 4, 5, 7, 5]
    assert all(v["warnings"] >= 1 for v in info["per_sequence"].values())  # seqLength=600 vs images
    # GT boxes as observations, IoU association (no appearance): near-perfect identities
    r = evaluate("mot", "random_r18", root, out=tmp_path, device="cpu", similarity="iou", gt_as_observations=True,
                 asso_with_motion=True)
    assert r.metrics["IDF1"] > 0.9 and r.metrics["IDSW"] <= 3
    # the benchmark's 7-column, unsorted det.txt with appearance (RSM) on a small letterbox
    r = evaluate("mot", "random_r18", root, out=tmp_path, device="cpu", img_size=[272, 152], asso_with_motion=True)
    assert r.extra["observations"] == 531 and 0.2 < r.metrics["IDF1"] < 1 and r.metrics["MOTA"] > 0
