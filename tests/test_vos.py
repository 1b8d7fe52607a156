"""DAVIS reader/writer, J&F (davis2017-evaluation semantics) and the VOS propagation head."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from unitrack.eval.davis import (
    boundary_tolerance,
    davis_palette,
    db_eval_iou,
    db_statistics,
    disk,
    evaluate_davis,
    f_measure,
    read_davis,
    read_mask,
    seg2bmap,
    write_mask,
)
from unitrack.utils import UnitrackError


# ----------------------------------------------------------------------------------------------
# measures
# ----------------------------------------------------------------------------------------------
def _square(r0, r1, c0, c1, shape=(20, 20)):
    m = np.zeros(shape, bool)
    m[r0:r1, c0:c1] = True
    return m


def test_j_and_f_known_values():
    gt = _square(5, 15, 5, 15)
    pred = _square(5, 15, 8, 18)  # shifted 3 columns right
    # J = 70 / 130
    assert db_eval_iou(gt, pred) == pytest.approx(7 / 13)
    # 20×20 image: tolerance ceil(0.008·28.28) = 1 px (a 3×3 cross). Boundaries (seg2bmap) are the
    # perimeters of rows/cols 4..14 (gt) and rows 4..14 × cols 7..17 (pred): 40 pixels each; a pred
    # boundary pixel matches when a gt boundary pixel lies in its cross: top row x=7..15 and bottom
    # row x=7..15 (9 + 9) plus (5,7) and (13,7) → 20/40; symmetric for recall → F = 0.5
    gb = seg2bmap(gt)
    assert gb.sum() == 40 and gb[4, 4:15].all() and gb[4:15, 4].all() and gb[14, 4:15].all() and gb[4:15, 14].all()
    assert f_measure(pred, gt) == pytest.approx(0.5)
    # edge cases of the official code
    empty = np.zeros((20, 20), bool)
    assert db_eval_iou(empty, empty) == 1.0 and f_measure(empty, empty) == 1.0
    assert db_eval_iou(gt, empty) == 0.0 and f_measure(empty, gt) == 0.0
    assert db_eval_iou(empty, gt) == 0.0 and f_measure(gt, empty) == 0.0


def test_disk_and_tolerance_match_official():
    assert disk(1).tolist() == [[0, 1, 0], [1, 1, 1], [0, 1, 0]]
    assert int(disk(2).sum()) == 13 and int(disk(8).sum()) == 197  # lattice points with x²+y² ≤ r²
    assert boundary_tolerance((480, 854)) == 8.0  # ceil(0.008 · 979.6)
    assert boundary_tolerance((120, 160)) == 2.0
    assert boundary_tolerance((120, 160), 3) == 3.0


def _f_bruteforce(pred, gt, tol):
    """Independent F: a boundary pixel matches if the other boundary is within Euclidean distance tol."""
    pb, gb = seg2bmap(pred), seg2bmap(gt)
    if pb.sum() == 0 or gb.sum() == 0:
        return None
    dg = ndimage.distance_transform_edt(~gb)
    dp = ndimage.distance_transform_edt(~pb)
    p = (dg[pb] <= tol).mean()
    r = (dp[gb] <= tol).mean()
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def test_f_measure_equals_distance_definition_on_random_blobs():
    rng = np.random.default_rng(0)
    for _ in range(10):
        a = ndimage.gaussian_filter(rng.random((60, 80)), 4) > 0.5
        b = ndimage.gaussian_filter(rng.random((60, 80)), 4) > 0.5
        ref = _f_bruteforce(b, a, boundary_tolerance(a.shape))
        if ref is not None:
            assert f_measure(b, a) == pytest.approx(ref, abs=1e-12)


def test_statistics_use_official_overlapping_bins():
    # n = 8: bin edges round(linspace(1, 8, 5)) − 1 = 0, 2, 4, 5, 7; first bin = frames 0..2,
    # last bin = frames 5..7 → decay = 0.9 − 0.4 (np.array_split would give 0.95 − 0.35)
    m, r, d = db_statistics(np.array([1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3]))
    assert (m, r, d) == pytest.approx((0.65, 0.625, 0.5))
    assert np.isnan(db_statistics(np.array([]))[0])


# ----------------------------------------------------------------------------------------------
# reader / writer
# ----------------------------------------------------------------------------------------------
def _make_davis(root: Path, seqs: dict[str, list[np.ndarray]], year="2017", split="val", size=None):
    """Tiny DAVIS layout: frames are noise JPEGs, annotations indexed PNGs from the given id maps."""
    rng = np.random.default_rng(0)
    for name, masks in seqs.items():
        for t, m in enumerate(masks):
            h, w = size or m.shape
            img = (rng.random((h, w, 3)) * 255).astype(np.uint8)
            (root / "JPEGImages/480p" / name).mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(root / "JPEGImages/480p" / name / f"{t:05d}.jpg")
            write_mask(root / "Annotations/480p" / name / f"{t:05d}.png", m)
    (root / "ImageSets" / year).mkdir(parents=True, exist_ok=True)
    (root / "ImageSets" / year / f"{split}.txt").write_text("\n".join(seqs) + "\n")
    return root


def _ids(shape, boxes):
    m = np.zeros(shape, np.uint8)
    for oid, (r0, r1, c0, c1) in boxes.items():
        m[r0:r1, c0:c1] = oid
    return m


def test_reader_palette_ids_noncontiguous_and_writer_roundtrip(tmp_path):
    m = _ids((24, 32), {1: (2, 8, 2, 8), 3: (10, 20, 10, 20)})
    root = _make_davis(tmp_path, {"a": [m, m, m]})
    (seq,) = read_davis(root)
    assert seq.size == (24, 32) and len(seq) == 3 and seq.fully_annotated
    assert seq.object_ids() == [1, 3]
    with Image.open(seq.annotations[0]) as im:
        assert im.mode == "P" and im.getpalette()[:9] == [0, 0, 0, 128, 0, 0, 0, 128, 0]
    assert np.array_equal(read_mask(seq.annotations[2]), m)
    assert davis_palette()[3 * 3 : 3 * 3 + 3] == [128, 128, 0]


def test_reader_bad_inputs(tmp_path):
    m = _ids((24, 32), {1: (2, 8, 2, 8)})
    # RGB mask
    root = _make_davis(tmp_path / "rgb", {"a": [m, m, m]})
    p = root / "Annotations/480p/a/00001.png"
    Image.fromarray(np.stack([m * 128] * 3, -1)).save(p)
    with pytest.raises(UnitrackError, match=r"00001\.png.*RGB.*palette"):
        read_davis(root)  # checked where the data enters, before any propagation
    # missing first-frame annotation
    root = _make_davis(tmp_path / "nofirst", {"a": [m, m, m]})
    os.remove(root / "Annotations/480p/a/00000.png")
    with pytest.raises(UnitrackError, match="missing first-frame annotation.*00000.png"):
        read_davis(root)
    # annotation without frame (count disagreement)
    root = _make_davis(tmp_path / "orphan", {"a": [m, m, m]})
    os.remove(root / "JPEGImages/480p/a/00002.jpg")
    with pytest.raises(UnitrackError, match="without a frame.*00002.png"):
        read_davis(root)
    # size disagreement
    root = _make_davis(tmp_path / "size", {"a": [m, m, m]}, size=(24, 30))
    with pytest.raises(UnitrackError, match="annotation is 32x24, frames are 30x24"):
        read_davis(root)
    # no split file
    root = _make_davis(tmp_path / "nosplit", {"a": [m, m, m]})
    shutil.rmtree(root / "ImageSets")
    with pytest.raises(UnitrackError, match="ImageSets/2017/val.txt"):
        read_davis(root)


def test_reader_davis2016_layout(tmp_path):
    m = _ids((24, 32), {1: (2, 8, 2, 8)}) * 255  # 2016: binary 0/255 masks
    root = _make_davis(tmp_path, {"bear": [m, m, m], "cow": [m, m, m]}, year="x")
    shutil.rmtree(root / "ImageSets")
    (root / "ImageSets/480p").mkdir(parents=True)
    lines = [f"/JPEGImages/480p/{s}/{t:05d}.jpg /Annotations/480p/{s}/{t:05d}.png" for s in ("bear", "cow")
             for t in range(3)]
    (root / "ImageSets/480p/val.txt").write_text("\n".join(lines))
    seqs = read_davis(root, year="2016")
    assert [s.name for s in seqs] == ["bear", "cow"]
    assert seqs[0].object_ids() == [1] and seqs[0].read_annotation(1).max() == 1


# ----------------------------------------------------------------------------------------------
# scoring
# ----------------------------------------------------------------------------------------------
def test_official_aggregation_over_objects(tmp_path):
    shape = (24, 32)
    a = _ids(shape, {1: (0, 10, 0, 10), 2: (12, 22, 12, 22)})
    b = _ids(shape, {1: (0, 10, 0, 10)})
    root = _make_davis(tmp_path / "gt", {"two": [a] * 4, "one": [b] * 4})
    seqs = read_davis(root)
    # ground truth against itself
    sc = evaluate_davis(seqs, root / "Annotations/480p")
    assert all(v == 1.0 for k, v in sc.metrics.items() if "Decay" not in k)
    assert sc.metrics["J-Decay"] == 0.0
    # predictions: object 1 of "two" shifted (J = 80/120 per frame), object 2 perfect; "one" empty
    pred = tmp_path / "pred"
    shifted = _ids(shape, {1: (0, 10, 2, 12), 2: (12, 22, 12, 22)})
    for t in range(4):
        write_mask(pred / "two" / f"{t:05d}.png", shifted)
        write_mask(pred / "one" / f"{t:05d}.png", np.zeros(shape, np.uint8))
    sc = evaluate_davis(seqs, pred)
    # mean over the 3 OBJECTS (not over sequences): (2/3 + 1 + 0) / 3
    assert sc.metrics["J-Mean"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert sc.per_sequence["two"]["J-Mean"] == pytest.approx((2 / 3 + 1) / 2)
    assert sc.per_object["one_1"]["J-Mean"] == 0.0 and sc.per_object["one_1"]["F-Mean"] == 0.0
    assert sc.metrics["J&F-Mean"] == pytest.approx((sc.metrics["J-Mean"] + sc.metrics["F-Mean"]) / 2)
    assert sc.metrics["J-Recall"] == pytest.approx(2 / 3)
    # an id above the first frame's objects is an error, as in the official evaluation
    write_mask(pred / "one" / "00001.png", _ids(shape, {2: (0, 4, 0, 4)}))
    with pytest.raises(UnitrackError, match="object id 2"):
        evaluate_davis(seqs, pred)
    os.remove(pred / "one" / "00001.png")
    with pytest.raises(UnitrackError, match=r"missing prediction .*one/00001.png"):
        evaluate_davis(seqs, pred)


def test_noncontiguous_ids_official_vs_present(tmp_path):
    shape = (24, 32)
    m = _ids(shape, {1: (0, 10, 0, 10), 3: (12, 22, 12, 22)})
    root = _make_davis(tmp_path, {"s": [m] * 4})
    seqs = read_davis(root)
    pred = tmp_path / "pred"
    for t in range(4):
        write_mask(pred / "s" / f"{t:05d}.png", _ids(shape, {1: (0, 10, 0, 10)}))  # object 3 lost
    off = evaluate_davis(seqs, pred, "official")  # objects 1, 2 (absent → J=1), 3
    pre = evaluate_davis(seqs, pred, "present")  # objects 1, 3
    assert sorted(off.per_object) == ["s_1", "s_2", "s_3"] and off.metrics["J-Mean"] == pytest.approx(2 / 3)
    assert sorted(pre.per_object) == ["s_1", "s_3"] and pre.metrics["J-Mean"] == pytest.approx(1 / 2)


# ----------------------------------------------------------------------------------------------
# head
# ----------------------------------------------------------------------------------------------
def test_labels_to_ids_keeps_true_ids():
    from unitrack.heads.vos import labels_to_ids, one_hot

    ann = _ids((16, 16), {3: (0, 8, 0, 8), 7: (8, 16, 8, 16)})
    ids = [0, 3, 7]
    oh = one_hot(ann, ids)
    assert oh.shape == (16, 16, 3) and oh[..., 0].sum() == 128
    out = labels_to_ids(oh.transpose(2, 0, 1), (16, 16), (16, 16), ids)
    assert np.array_equal(out, ann)
    # processing size ≠ frame size (crop_size > 0): argmax at the processing size, nearest back up
    out2 = labels_to_ids(oh[::2, ::2].transpose(2, 0, 1), (8, 8), (16, 16), ids)
    assert np.array_equal(out2, ann)


def test_first_frame_without_objects_is_logged_and_written_empty(tmp_path, caplog):
    from unitrack.heads.vos import propagate_sequence
    from unitrack.propagation import PropagationParams

    z = np.zeros((24, 32), np.uint8)
    root = _make_davis(tmp_path / "gt", {"empty": [z, _ids((24, 32), {1: (0, 4, 0, 4)}), z]})
    (seq,) = read_davis(root)
    n = propagate_sequence(seq, None, PropagationParams(), tmp_path / "pred" / "empty")  # no features needed
    assert n == 3 and "has no object" in caplog.text
    assert all(read_mask(p).max() == 0 for p in sorted((tmp_path / "pred" / "empty").glob("*.png")))
    with pytest.raises(UnitrackError, match="nothing to evaluate"):
        evaluate_davis([seq], tmp_path / "pred")


@pytest.fixture(scope="module")
def tiny_demo(tmp_path_factory):
    from unitrack.eval.demo import generate_demo

    out = tmp_path_factory.mktemp("vosdemo")
    return generate_demo(out, seed=0, tasks=["vos"], num_sequences=2, num_frames=16, size=(160, 120)) / "davis"


def test_head_beats_first_frame_baseline_on_demo(tiny_demo, tmp_path):
    from unitrack.api import evaluate
    from unitrack.heads.vos import first_frame_baseline

    r = evaluate("vos", "random_r18", tiny_demo, out=tmp_path / "res", device="cpu")
    base = first_frame_baseline(tiny_demo, tmp_path / "base")
    assert r.dataset == "davis2017"
    assert set(r.metrics) == {"J&F-Mean", "J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay"}
    assert r.metrics["J&F-Mean"] > base.metrics["J&F-Mean"] + 0.05
    assert r.metrics["J-Mean"] > base.metrics["J-Mean"] + 0.05
    seqs = read_davis(tiny_demo)
    for seq in seqs:
        assert set(r.per_sequence[seq.name]) >= {"J&F-Mean", "J-Mean", "F-Mean"}
        files = sorted((r.pred_dir / seq.name).glob("*.png"))
        assert [f.name for f in files] == [p.name.replace(".jpg", ".png") for p in seq.frames]
        with Image.open(files[3]) as im:
            assert im.mode == "P" and im.size == (seq.size[1], seq.size[0])
            ids = set(np.unique(np.array(im)).tolist())
        assert ids <= {0, *seq.object_ids()}
    # the stored predictions re-score to the same numbers through the CLI's code path
    from unitrack.api import score

    again = score("vos", tiny_demo, r.pred_dir)
    assert again.metrics == pytest.approx(r.metrics)


def test_score_cli_ground_truth_against_itself(tiny_demo, capsys):
    from unitrack.app.cli import main

    rc = main(["score", "--task", "vos", "--gt", str(tiny_demo), "--pred", str(tiny_demo / "Annotations/480p")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "J&F-Mean: 1.0000" in out


def test_jandf_is_a_metric_whose_fields_the_vos_spec_declares(tiny_demo):
    """The Metric contract: eval_sequence per sequence, combine over objects of all sequences."""
    from unitrack.eval.base import Metric
    from unitrack.eval.davis import JandF
    from unitrack.tasks import get_spec

    seqs = read_davis(tiny_demo)
    m = JandF()
    per = {q.name: m.eval_sequence(q, tiny_demo / "Annotations/480p") for q in seqs}
    assert isinstance(m, Metric) and get_spec("vos").metrics == JandF.fields
    assert m.combine(per) == evaluate_davis(seqs, tiny_demo / "Annotations/480p").metrics
    assert m.combine(per)["J&F-Mean"] == 1.0 and m.combine({}) == {}
    assert [f.key for f in JandF.fields if not f.higher_is_better] == ["J-Decay", "F-Decay"]


# ----------------------------------------------------------------------------------------------
# real slices
# ----------------------------------------------------------------------------------------------
@pytest.mark.integration
def test_real_davis_ground_truth_scores_one(sample_data):
    root = sample_data / "davis"
    seqs = read_davis(root)
    assert [s.name for s in seqs] == ["blackswan", "drift-straight"]
    assert all(s.size == (480, 854) and len(s) == 50 and s.object_ids() == [1] for s in seqs)
    sc = evaluate_davis(seqs, root / "Annotations/480p")
    for frames in sc.per_frame.values():
        assert len(frames["J"]) == 48 and all(v == 1.0 for v in frames["J"] + frames["F"])
    assert sc.metrics["J&F-Mean"] == 1.0


@pytest.mark.integration
def test_real_davis_head_runs_on_first_frames(sample_data, tmp_path):
    """The head on the real 854×480 files (first 4 frames of each sequence, linked, to stay fast)."""
    from unitrack.api import evaluate

    src = sample_data / "davis"
    root = tmp_path / "davis"
    for seq in ("blackswan", "drift-straight"):
        for sub, ext in (("JPEGImages", "jpg"), ("Annotations", "png")):
            d = root / sub / "480p" / seq
            d.mkdir(parents=True)
            for t in range(4):
                os.symlink(src / sub / "480p" / seq / f"{t:05d}.{ext}", d / f"{t:05d}.{ext}")
    (root / "ImageSets/2017").mkdir(parents=True)
    shutil.copy(src / "ImageSets/2017/val.txt", root / "ImageSets/2017/val.txt")
    r = evaluate("vos", "random_r18", root, out=tmp_path / "res", device="cpu")
    assert set(r.per_sequence) == {"blackswan", "drift-straight"}
    for seq in ("blackswan", "drift-straight"):
        with Image.open(r.pred_dir / seq / "00002.png") as im:
            assert im.mode == "P" and im.size == (854, 480)
        assert 0.3 < r.per_sequence[seq]["J-Mean"] <= 1.0
