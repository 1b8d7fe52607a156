"""MOTS: RLE validation, txt reader/writer (disjoint output), TrackEval scoring on hand-computed cases,
the head end to end on the demo benchmark."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from unitrack.eval.mots import (
    encode_mask,
    evaluate_mots,
    find_sequences,
    frame_masks,
    make_disjoint,
    read_mots_txt,
    read_observations,
    rle_counts_error,
    score_dir,
    write_mots_txt,
)
from unitrack.utils import UnitrackError

H, W = 40, 60


def rect(y0, y1, x0, x1) -> np.ndarray:
    m = np.zeros((H, W), np.uint8)
    m[y0:y1, x0:x1] = 1
    return m


# ------------------------------------------------------------------------------------------------ RLE


def test_rle_validator_agrees_with_pycocotools():
    rng = np.random.default_rng(0)
    for t in range(200):
        h, w = (int(v) for v in rng.integers(1, 50, 2))
        m = (rng.random((h, w)) < rng.random()).astype(np.uint8)
        if t % 2:
            m = np.zeros((h, w), np.uint8)
            m[rng.integers(0, h):, rng.integers(0, w):] = 1
        counts = mask_utils.encode(np.asfortranarray(m))["counts"]
        assert rle_counts_error(counts, h, w) is None
        assert rle_counts_error(counts, h, w + 1) is not None  # runs no longer add up
    big = np.zeros((1080, 1920), np.uint8)
    big[100:900, 300:1000] = 1
    assert rle_counts_error(encode_mask(big), 1080, 1920) is None


@pytest.mark.parametrize("counts, msg", [
    (b"0c00", "add up to 19"),  # pycocotools would decode this into uninitialised memory
    (b"7240005x", "outside '0'..'o'"),
    (b"7240006", "add up to 31"),
    (b"72400g", "truncated"),  # last character has the continuation bit
    (b"", "empty RLE"),
])
def test_rle_validator_rejects_malformed(counts, msg):
    assert msg in rle_counts_error(counts, 6, 5)


# ------------------------------------------------------------------------------------------------ reader / writer


def _txt(tmp_path: Path, lines: list[str]) -> Path:
    p = tmp_path / "res.txt"
    p.write_text("".join(line + "\n" for line in lines))
    return p


def test_writer_makes_masks_disjoint_and_reader_round_trips(tmp_path):
    a, b = rect(5, 20, 5, 30), rect(10, 30, 20, 50)  # overlap rows 10-19, cols 20-29
    empty = np.zeros((H, W), np.uint8)
    write_mots_txt(tmp_path / "s.txt", {3: ([2001, 2002, 2003], np.stack([a, b, empty])), 1: ([2002], b[None])})
    rows = read_mots_txt(tmp_path / "s.txt", n_frames=5, size=(H, W))
    assert sorted(rows) == [1, 3]
    assert [(r.obj_id, r.cls, r.h, r.w) for r in rows[3]] == [(2001, 2, H, W), (2002, 2, H, W)]  # empty dropped
    m = frame_masks(rows[3], H, W)
    assert m.shape == (2, H, W)
    np.testing.assert_array_equal(m[0], a)  # the first mask keeps the overlap
    np.testing.assert_array_equal(m[1], b & ~a)
    assert not (m[0] & m[1]).any()
    assert frame_masks([], H, W).shape == (0, H, W)  # a frame without detections
    np.testing.assert_array_equal(make_disjoint(np.stack([a, b])).sum((1, 2)), [a.sum(), (b & ~a).sum()])


@pytest.mark.parametrize("line, msg", [
    ("1 2001 2 40 60", "expected 6 space-separated fields"),
    ("1 x 2 40 60 abc", "must be integers"),
    ("0 2001 2 40 60 {rle}", "frame 0 is outside the sequence"),
    ("9 2001 2 40 60 {rle}", "frame 9 is outside the sequence (expected 1..5)"),
    ("1 2001 2 40 61 {rle}", "differs from the image size"),
    ("1 2001 2 40 60 0c00", "RLE does not decode"),
    ("1 2001 2 40 60 {rle}\n1 2001 2 40 60 {rle}", "duplicate id 2001 in frame 1 (first on line 1)"),
])
def test_reader_errors_name_file_and_line(tmp_path, line, msg):
    rle = encode_mask(rect(1, 5, 1, 5)).decode()
    lines = line.format(rle=rle).split("\n")
    p = _txt(tmp_path, lines)
    with pytest.raises(UnitrackError) as e:
        read_mots_txt(p, n_frames=5, size=(H, W))
    assert msg in str(e.value) and f"{p}:{len(lines)}" in str(e.value)


def test_observations_ids_may_repeat_and_reference_per_frame_layout(demo_root, tmp_path):
    seq = find_sequences(demo_root / "mots", "train")[0]
    obs = read_observations(seq, None)
    assert set(obs) <= set(range(1, len(seq.frames) + 1)) and all(r.cls == 2 for v in obs.values() for r in v)
    # the reference layout: one file per frame, <obs>/<seq>/img1/<frame:06d>.txt
    per_frame = tmp_path / "obs" / seq.name / "img1"
    per_frame.mkdir(parents=True)
    for fr, rows in obs.items():
        (per_frame / f"{fr:06d}.txt").write_text(
            "".join(f"{r.frame} 1 2 {r.h} {r.w} {r.counts.decode()}\n" for r in rows))  # ids all 1
    obs2 = read_observations(seq, tmp_path / "obs")
    assert {k: [r.counts for r in v] for k, v in obs2.items()} == {k: [r.counts for r in v] for k, v in obs.items()}


# ------------------------------------------------------------------------------------------------ TrackEval


def _seq(tmp_path: Path, gt: dict, pred: dict, n: int):
    (tmp_path / "gt").mkdir(exist_ok=True)
    write_mots_txt(tmp_path / "gt" / "S.txt", gt)
    write_mots_txt(tmp_path / "pred" / "S.txt", pred)
    return evaluate_mots([("S", tmp_path / "gt" / "S.txt", n)], tmp_path / "pred")


def _two(t: int) -> np.ndarray:
    return np.stack([rect(5, 15, t, t + 10), rect(25, 35, 40 - t, 50 - t)])


def test_trackeval_swap_hand_computed(tmp_path):
    # 2 objects × 10 frames, exact masks; the predicted ids swap at frame 6
    gt = {t: ([2001, 2002], _two(t)) for t in range(1, 11)}
    pred = {t: ([5, 6] if t < 6 else [6, 5], _two(t)) for t in range(1, 11)}
    m, per_seq = _seq(tmp_path, gt, pred, 10)
    assert m["IDSW"] == 2 and m["MOTSA"] == pytest.approx(18 / 20) and m["sMOTSA"] == pytest.approx(18 / 20)
    assert m["IDF1"] == pytest.approx(0.5)  # each GT id keeps one predicted id for 5 of its 10 frames
    # every match has TPA 5, FNA 5, FPA 5 → AssA 1/3 at every α; DetA 1 → HOTA √(1/3)
    assert m["AssA"] == pytest.approx(1 / 3) and m["HOTA"] == pytest.approx(np.sqrt(1 / 3))
    assert per_seq["S"]["IDSW"] == 2


def test_trackeval_soft_mask_iou_hand_computed(tmp_path):
    g = rect(0, 10, 0, 10)  # 100 px
    p = rect(0, 10, 0, 10)
    p[:, 8:] = 0
    p[0, 7] = 0
    p[1, 7] = 0  # 78 px inside the GT → IoU 0.78
    gt = {t: ([2001], g[None]) for t in range(1, 5)}
    pred = {t: ([1], p[None]) for t in range(1, 5)}
    m, _ = _seq(tmp_path, gt, pred, 4)
    assert m["MOTSA"] == pytest.approx(1.0) and m["sMOTSA"] == pytest.approx(0.78)
    assert m["IDF1"] == pytest.approx(1.0) and m["MOTSP"] == pytest.approx(0.78)
    assert m["HOTA"] == pytest.approx(15 / 19)  # matched for α = 0.05 … 0.75 (15 of 19 thresholds)


def test_score_errors(tmp_path):
    gt = {t: ([2001], rect(0, 10, 0, 10)[None]) for t in range(1, 4)}
    (tmp_path / "gt").mkdir()
    write_mots_txt(tmp_path / "gt" / "S.txt", gt)
    seqs = [("S", tmp_path / "gt" / "S.txt", 3)]
    (tmp_path / "pred").mkdir()
    with pytest.raises(UnitrackError, match="missing result files S.txt"):
        evaluate_mots(seqs, tmp_path / "pred")
    rle = encode_mask(rect(0, 10, 0, 10)).decode()
    (tmp_path / "pred" / "S.txt").write_text(f"4 1 2 {H} {W} {rle}\n")
    with pytest.raises(UnitrackError, match=r"S.txt:1: frame 4 is outside the sequence \(expected 1..3\)"):
        evaluate_mots(seqs, tmp_path / "pred")
    rle2 = encode_mask(rect(5, 15, 0, 10)).decode()  # overlaps the first mask
    (tmp_path / "pred" / "S.txt").write_text(f"1 1 2 {H} {W} {rle}\n1 2 2 {H} {W} {rle2}\n")
    with pytest.raises(UnitrackError, match="overlapping masks"):
        evaluate_mots(seqs, tmp_path / "pred")


def test_demo_gt_scored_against_itself(demo_root, tmp_path):
    import unitrack

    root = demo_root / "mots"
    for s in find_sequences(root, "train"):
        (tmp_path / "pred").mkdir(exist_ok=True)
        shutil.copy(s.gt_path, tmp_path / "pred" / f"{s.name}.txt")
    out = unitrack.score("mots", root, tmp_path / "pred")
    assert out.metrics["HOTA"] == pytest.approx(1.0) and out.metrics["IDF1"] == pytest.approx(1.0)
    assert out.metrics["sMOTSA"] == pytest.approx(1.0) and out.metrics["IDSW"] == 0
    assert set(out.per_sequence) == {"DEMO-01", "DEMO-02"}
    m, _ = score_dir(root, tmp_path / "pred", max_sequences=1)
    assert m["TP"] == out.per_sequence["DEMO-01"]["TP"]
    m1, per1 = score_dir(root / "train" / "DEMO-01", tmp_path / "pred")  # one sequence folder as the root
    assert list(per1) == ["DEMO-01"] and m1["TP"] == m["TP"]


# ------------------------------------------------------------------------------------------------ head


def test_head_end_to_end_on_demo(demo_root, tmp_path):
    import unitrack

    r = unitrack.evaluate("mots", "random_r18", data=demo_root / "mots", out=tmp_path, device="cpu",
                          sets=["common.max_sequences=1"])
    m = r.metrics
    assert {"IDF1", "HOTA", "sMOTSA", "MOTSA", "IDSW"} <= set(m) and list(r.per_sequence) == ["DEMO-01"]
    assert 0 < m["HOTA"] <= 1 and 0 < m["IDF1"] <= 1 and m["TP"] > 0
    res = next(Path(r.path).rglob("DEMO-01.txt"))
    rows = read_mots_txt(res, n_frames=12, size=(96, 128))
    ids = {x.obj_id for v in rows.values() for x in v}
    assert min(ids) > 2000 and all(x.cls == 2 for v in rows.values() for x in v)  # id = track id + 2000
    for v in rows.values():
        masks = frame_masks(v, 96, 128)
        assert masks.sum(0).max() <= 1  # disjoint


def test_head_with_ground_truth_masks_as_observations(demo_root, tmp_path):
    """Perfect observations: every output mask is an exact GT mask (MOTSP 1) and association holds."""
    import unitrack

    obs = tmp_path / "obs"
    obs.mkdir()
    for s in find_sequences(demo_root / "mots", "train"):
        shutil.copy(s.gt_path, obs / f"{s.name}.txt")
    r = unitrack.evaluate("mots", "random_r18", data=demo_root / "mots", out=tmp_path / "o", device="cpu",
                          observations=str(obs), similarity="iou", sets=["common.max_sequences=1"])
    assert r.metrics["MOTSP"] == pytest.approx(1.0) and r.metrics["FP"] == 0
    assert r.metrics["MOTSA"] > 0.9 and r.metrics["IDF1"] > 0.9


def test_check_demo(demo_root):
    from unitrack.config import default_config
    from unitrack.tasks import get_task

    info = get_task("mots").check(demo_root / "mots", default_config("mots"))
    assert info["sequences"] == 2 and info["frames"] == 24 and info["scored sequences"] == 2
    assert info["observation masks"] > 0 and info["GT masks"] > 0
