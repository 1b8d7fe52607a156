"""VIP: reader (native layout, frames paired with labels by name), part / instance writers, semantic
mIoU and part-instance AP^r on hand-computed cases, malformed inputs, the demo data, and the head
end to end against the "repeat the first-frame labels" baseline."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from unitrack.eval.vip import (
    AP_THRESHOLDS,
    IGNORE,
    PartAP,
    PartInstances,
    class_iou,
    confusion,
    evaluate_vip,
    instance_ious,
    miou,
    miou_parts,
    read_instances,
    read_parts,
    read_vip,
    voc_ap,
    write_instances,
    write_parts,
)
from unitrack.utils import UnitrackError

H, W = 6, 8
FRAMES = ("000000000001", "000000000026", "000000000051")  # VIP-like frame numbers, one in 25
HAIR, UPPER, PANTS, FACE = 2, 5, 9, 13


def _png(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), arr)


def _gt():
    """Person 1: hair over face (cols 0-1); person 2: upper-clothes (cols 4-5); last row ignore."""
    lab = np.zeros((H, W), np.uint8)
    lab[0:2, 0:2] = HAIR
    lab[2:4, 0:2] = FACE
    lab[0:4, 4:6] = UPPER
    lab[5, :] = IGNORE
    hum = np.zeros((H, W), np.uint8)
    hum[0:4, 0:2] = 1
    hum[0:4, 4:6] = 2
    inst = np.where((lab > 0) & (lab < 20), 20 * (hum.astype(int) - 1) + lab, 0).astype(np.uint8)
    return lab, hum, inst


def _vip(root: Path, labelled=(0, 2), annotations_dir: bool = False, videos=("videos1",)) -> Path:
    """A hand-made VIP root: 3 frames per video, the given frames labelled (parts, persons, instances)."""
    ann = root / "Annotations" if annotations_dir else root
    lab, hum, inst = _gt()
    for v in videos:
        for t, stem in enumerate(FRAMES):
            _png(root / "Images" / v / f"{stem}.jpg", np.full((H, W, 3), 40 * t, np.uint8))
            if t in labelled:
                _png(ann / "Category_ids" / v / f"{stem}.png", lab)
                _png(ann / "Human_ids" / v / f"{stem}.png", hum)
                _png(ann / "Instance_ids" / v / f"{stem}.png", inst)
                (ann / "Instance_ids" / v / f"{stem}.txt").write_text(
                    "".join(f"{i} {i % 20} {i // 20 + 1}\n" for i in np.unique(inst) if i))
    (root / "lists").mkdir(parents=True, exist_ok=True)
    (root / "lists" / "val_videos.txt").write_text("".join(f"{v}\n" for v in videos))
    return root


def _write_pred(pred: Path, seq, i: int, parts: np.ndarray, inst: PartInstances | None) -> None:
    stem = seq.frames[i].stem
    write_parts(pred / seq.name / f"{stem}.png", parts)
    if inst is not None:
        write_instances(pred / seq.name / "instance_part" / f"{stem}.png", inst)


def _renumber(gt: PartInstances, score: float = 1.0) -> PartInstances:
    """Ground-truth instances as a prediction (ids 1..N, every score ``score``)."""
    ids = np.zeros_like(gt.ids)
    classes = {}
    for n, v in enumerate(sorted(gt.classes), 1):
        ids[gt.ids == v] = n
        classes[n] = gt.classes[v]
    return PartInstances(ids=ids, classes=classes, scores=dict.fromkeys(classes, score))


# ------------------------------------------------------------------------------------------ reader


def test_reader_pairs_frames_and_labels_by_name(tmp_path):
    (seq,) = read_vip(_vip(tmp_path))
    assert [p.stem for p in seq.frames] == list(FRAMES) and seq.size == (H, W)
    assert seq.annotated == [0, 2] and seq.labels[1] is None and seq.has_instances
    assert seq.labels[2].name == "000000000051.png"
    lab, persons = seq.first_labels()
    assert (lab == IGNORE).sum() == 0 and lab[5].sum() == 0  # ignore → background for propagation
    assert set(np.unique(persons)) == {0, 1, 2} and (persons[lab == 0] == 0).all()
    inst = seq.read_instances(2)
    assert inst.classes == {2: HAIR, 13: FACE, 25: UPPER} and inst.persons == {2: 1, 13: 1, 25: 2}


def test_reader_annotations_folder_and_split_files(tmp_path):
    root = _vip(tmp_path, annotations_dir=True, videos=("videos1", "videos7"))
    assert [s.name for s in read_vip(root)] == ["videos1", "videos7"]
    # ATEN's <split>_id.txt (video/frame lines) and UVC's absolute paths name the same videos
    (root / "lists" / "mine.txt").write_text(f"videos7/{FRAMES[0]}\nvideos7/{FRAMES[2]}\n{root}/Images/videos1\n")
    assert [s.name for s in read_vip(root, split_file="lists/mine.txt")] == ["videos7", "videos1"]
    (root / "lists" / "val_videos.txt").unlink()
    (root / "lists" / "val_id.txt").write_text(f"videos1/{FRAMES[0]}\n")
    assert [s.name for s in read_vip(root)] == ["videos1"]


def test_instance_classes_from_category_without_txt(tmp_path):
    root = _vip(tmp_path)
    for p in (root / "Instance_ids" / "videos1").glob("*.txt"):
        p.unlink()
    (seq,) = read_vip(root)
    inst = seq.read_instances(0)
    assert inst.classes == {2: HAIR, 13: FACE, 25: UPPER} and inst.persons == {2: 1, 13: 1, 25: 2}
    # an id spanning two classes cannot be told apart without its txt
    lab, _, inst_map = _gt()
    bad = inst_map.copy()
    bad[bad == FACE] = HAIR
    _png(root / "Instance_ids" / "videos1" / f"{FRAMES[0]}.png", bad)
    with pytest.raises(UnitrackError, match=r"000000000001\.png: instance 2 covers part classes \[2, 13\]"):
        seq.read_instances(0)


# ------------------------------------------------------------------------------------ malformed input


def _err(fn, *match):
    with pytest.raises(UnitrackError) as e:
        fn()
    for m in match:
        assert m in str(e.value), str(e.value)
    return str(e.value)


def test_missing_frames_and_labels_name_the_file(tmp_path):
    root = _vip(tmp_path / "a")
    shutil.rmtree(root / "Images" / "videos1")
    (root / "Images" / "videos1").mkdir()
    _err(lambda: read_vip(root), str(root / "Images" / "videos1"), "no frames")
    root = _vip(tmp_path / "b")
    _png(root / "Category_ids" / "videos1" / "000000000099.png", np.zeros((H, W), np.uint8))
    _err(lambda: read_vip(root), "000000000099.png", "label without a frame")
    root = _vip(tmp_path / "c", labelled=(1, 2))
    _err(lambda: read_vip(root), FRAMES[0], "no Category_ids label")
    root = _vip(tmp_path / "d")
    (root / "Instance_ids" / "videos1" / f"{FRAMES[2]}.png").unlink()
    _err(lambda: read_vip(root), str(root / "Instance_ids" / "videos1" / f"{FRAMES[2]}.png"), "missing")
    root = _vip(tmp_path / "e")
    shutil.rmtree(root / "Category_ids" / "videos1")
    _err(lambda: read_vip(root), str(root / "Category_ids" / "videos1"))
    root = _vip(tmp_path / "f")
    (root / "lists" / "val_videos.txt").write_text("videos1\nvideos2\n")
    _err(lambda: read_vip(root), "val_videos.txt:2", "videos2")
    (root / "lists" / "val_videos.txt").unlink()
    _err(lambda: read_vip(root), "lists/val_videos.txt", "vip.split_file")
    _err(lambda: read_vip(tmp_path / "nothing"), "no Images folder")


def test_bad_label_values_size_and_empty_first_annotation(tmp_path):
    root = _vip(tmp_path / "a")
    lab, _, _ = _gt()
    bad = lab.copy()
    bad[0, 7] = 30
    p = root / "Category_ids" / "videos1" / f"{FRAMES[2]}.png"
    _png(p, bad)
    (seq,) = read_vip(root)
    _err(lambda: seq.read_label(2), str(p), "[30]", "outside 0..19 or 255")
    _png(p, lab[:5])
    _err(lambda: read_vip(root), str(p), "label is 8x5, the frames are 8x6")
    root = _vip(tmp_path / "b")
    p0 = root / "Category_ids" / "videos1" / f"{FRAMES[0]}.png"
    _png(p0, np.where(lab == IGNORE, IGNORE, 0).astype(np.uint8))
    (seq,) = read_vip(root)
    _err(lambda: seq.first_labels(), str(p0), "no part label")
    root = _vip(tmp_path / "c")
    (root / "Instance_ids" / "videos1" / f"{FRAMES[0]}.txt").write_text("2 2 1\n13 13 1\n")
    (seq,) = read_vip(root)
    _err(lambda: seq.read_instances(0), f"{FRAMES[0]}.png", "[25]", "not listed")
    (root / "Instance_ids" / "videos1" / f"{FRAMES[0]}.txt").write_text("2 hair 1\n")
    _err(lambda: seq.read_instances(0), f"{FRAMES[0]}.txt:1")


def test_bad_predictions_name_the_file(tmp_path):
    root = _vip(tmp_path / "gt")
    (seq,) = read_vip(root)
    pred = tmp_path / "pred"
    lab, _, _ = _gt()
    clean = np.where(lab == IGNORE, 0, lab)
    write_parts(pred / "videos1" / f"{FRAMES[0]}.png", clean)
    _err(lambda: evaluate_vip([seq], pred), str(pred / "videos1" / f"{FRAMES[2]}.png"), "prediction missing")
    _png(pred / "videos1" / f"{FRAMES[2]}.png", np.full((H, W), 25, np.uint8))
    _err(lambda: evaluate_vip([seq], pred), f"{FRAMES[2]}.png", "[25]")
    write_parts(pred / "videos1" / f"{FRAMES[2]}.png", clean[:, :7])
    _err(lambda: evaluate_vip([seq], pred), f"{FRAMES[2]}.png", "7x6")
    # semantic predictions only: the instance level is left out, not an error
    write_parts(pred / "videos1" / f"{FRAMES[2]}.png", clean)
    sc = evaluate_vip([seq], pred)
    assert not sc.instance_level and "APr_vol" not in sc.metrics and sc.metrics["mIoU"] == 1.0
    (pred / "videos1" / "instance_part").mkdir()
    _err(lambda: evaluate_vip([seq], pred), "instance_part", f"{FRAMES[0]}.png")


# ------------------------------------------------------------------------------------------ writers


def test_part_and_instance_writers_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    parts = rng.integers(0, 20, (H, W)).astype(np.uint8)
    write_parts(tmp_path / "p.png", parts)
    assert np.array_equal(read_parts(tmp_path / "p.png"), parts)
    with pytest.raises(ValueError):
        write_parts(tmp_path / "q.png", np.full((2, 2), 20))
    ids = np.arange(H * W).reshape(H, W) * 6  # ids up to 282: a 16-bit PNG
    n = int(ids.max())
    inst = PartInstances(ids=ids, classes={i: 1 + i % 19 for i in range(1, n + 1)},
                         scores={i: i / 1000 for i in range(1, n + 1)})
    write_instances(tmp_path / "inst" / "f.png", inst)
    assert cv2.imread(str(tmp_path / "inst" / "f.png"), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    back = read_instances(tmp_path / "inst" / "f.png")
    assert np.array_equal(back.ids, ids) and back.classes == {i: inst.classes[i] for i in np.unique(ids) if i}
    assert all(abs(back.scores[i] - i / 1000) < 1e-6 for i in back.scores)
    lines = (tmp_path / "inst" / "f.txt").read_text().splitlines()
    assert len(lines) == n and lines[0] == "2 0.001000"  # line i = "class score" of id i


def test_part_instances_per_person_or_component():
    from unitrack.heads.vip import part_instances

    parts = np.zeros((4, 9), np.uint8)
    parts[:, 0:2] = 14  # one arm of person 1 in two pieces (cols 0-1 and 3-4), one of person 2 (cols 7-8)
    parts[:, 3:5] = 14
    parts[:, 7:9] = 14
    persons = np.where(parts > 0, 1, 0)
    persons[:, 7:9] = 2
    p = np.where(parts > 0, 0.5, 0.0).astype(np.float32)
    p[:, 3:5] = 1.0
    one = np.ones(parts.shape, np.float32)
    a = part_instances(parts, persons, p, one, "person")
    assert a.classes == {1: 14, 2: 14} and (a.ids[:, 0:2] == 1).all() and (a.ids[:, 3:5] == 1).all()
    assert a.scores == {1: pytest.approx(0.75), 2: pytest.approx(0.5)}
    b = part_instances(parts, persons, p, one, "components")
    assert sorted(b.classes) == [1, 2, 3] and len({int(b.ids[0, 0]), int(b.ids[0, 3]), int(b.ids[0, 7])}) == 3
    assert sorted(b.scores.values()) == pytest.approx([0.5, 0.5, 1.0])
    with pytest.raises(UnitrackError, match="part_instances"):
        part_instances(parts, persons, p, one, "blobs")


# ------------------------------------------------------------------------------------------ metrics


def test_perfect_prediction_scores_one(tmp_path):
    (seq,) = read_vip(_vip(tmp_path / "gt"))
    pred = tmp_path / "pred"
    for i in seq.annotated:
        gt = seq.read_label(i)
        _write_pred(pred, seq, i, np.where(gt == IGNORE, 0, gt), _renumber(seq.read_instances(i)))
    sc = evaluate_vip([seq], pred)
    assert sc.metrics["mIoU"] == 1.0 and sc.metrics["mIoU-parts"] == 1.0 and sc.scored_frames == 2
    assert all(sc.metrics[f"APr@{t:g}"] == 1.0 for t in AP_THRESHOLDS) and sc.metrics["APr_vol"] == 1.0
    assert sc.per_class_ap.keys() == {"hair", "face", "upper-clothes"}
    assert evaluate_vip([seq], pred, score_first_frame=False).scored_frames == 1
    assert sc.skipped == []
    # without any instance predictions the part level is scored and the instance level left out, on record
    import shutil

    shutil.rmtree(pred / seq.name / "instance_part")
    part_only = evaluate_vip([seq], pred)
    assert part_only.metrics["mIoU"] == 1.0 and not part_only.instance_level and "APr_vol" not in part_only.metrics
    assert len(part_only.skipped) == 1 and "AP^r is not computed" in part_only.skipped[0]["reason"]


def test_one_class_swapped_gives_the_hand_computed_miou(tmp_path):
    (seq,) = read_vip(_vip(tmp_path / "gt"))
    pred = tmp_path / "pred"
    for i in seq.annotated:
        gt = seq.read_label(i)
        p = np.where(gt == IGNORE, 7, gt)  # whatever is predicted under ignore does not count
        p[gt == HAIR] = FACE
        _write_pred(pred, seq, i, p, None)
    sc = evaluate_vip([seq], pred)
    # per frame: background 24/24 → 1; hair 0/4 → 0; face 4 / (4 + 8 − 4) → 0.5; upper-clothes 8/8 → 1;
    # class 7 is predicted only under ignore: it never enters the matrix
    assert sc.per_class_iou == {"background": 1.0, "hair": 0.0, "face": 0.5, "upper-clothes": 1.0}
    assert sc.metrics["mIoU"] == pytest.approx((1 + 0 + 0.5 + 1) / 4)  # the reference: background included
    assert sc.metrics["mIoU-parts"] == pytest.approx((0 + 0.5 + 1) / 3)  # the part classes in the ground truth
    assert sc.per_sequence["videos1"]["mIoU"] == pytest.approx(0.625)


def test_confusion_and_iou_conventions():
    gt = np.array([[0, 1, 255], [2, 2, 1]])
    pred = np.array([[0, 1, 3], [2, 1, 1]])
    h = confusion(gt, pred, 4)
    assert h.sum() == 5 and h[2, 1] == 1 and h[1, 1] == 2
    iu = class_iou(h)
    assert iu[0] == 1.0 and iu[1] == pytest.approx(2 / 3) and iu[2] == 0.5 and np.isnan(iu[3])
    assert miou(h) == pytest.approx((1 + 2 / 3 + 0.5) / 3)
    # a class predicted but absent from the ground truth counts 0 in the reference mean, not in the parts mean
    h2 = confusion(np.array([[1, 1]]), np.array([[1, 2]]), 3)
    assert miou(h2) == pytest.approx(0.25) and miou_parts(h2) == pytest.approx(0.5)


def _inst(ids: np.ndarray, classes: dict, scores: dict | None = None) -> PartInstances:
    return PartInstances(ids=np.asarray(ids), classes=classes, scores=scores or dict.fromkeys(classes, 1.0))


def test_half_covered_instance_matches_below_iou_half_only():
    gt = np.zeros((4, 4), np.int64)
    gt[:2, :] = 7  # 8 pixels, class upper-clothes
    pred = np.zeros((4, 4), np.int64)
    pred[0, :] = 1  # covers 4 of them, nothing else: IoU 4/8 = 0.5
    _, _, iou = instance_ious(gt, pred)
    assert iou.tolist() == [[0.5]]
    ap = PartAP()
    ap.add(_inst(gt, {7: UPPER}), _inst(pred, {1: UPPER}))
    r = ap.result()
    assert [r[f"APr@{t:g}"] for t in AP_THRESHOLDS] == [1.0] * 4 + [0.0] * 5  # strictly greater than θ
    assert r["APr_vol"] == pytest.approx(4 / 9)


def test_ap_ranking_and_classes_without_ground_truth():
    gt = np.zeros((2, 8), np.int64)
    gt[:, 0:2], gt[:, 4:6] = 1, 2  # two instances of face
    pred = np.zeros((2, 8), np.int64)
    pred[:, 0:2], pred[:, 4:6], pred[:, 7] = 2, 3, 1  # 1 misses everything, 2 and 3 are exact
    ap = PartAP(thresholds=(0.5,))
    ap.add(_inst(gt, {1: FACE, 2: FACE}), _inst(pred, {1: FACE, 2: FACE, 3: FACE}, {1: 0.9, 2: 0.8, 3: 0.7}))
    # ranked FP, TP, TP: precision 0, 1/2, 2/3 at recall 0, 1/2, 1 → envelope 2/3 → AP = 2/3
    assert ap.class_ap(FACE, 0.5) == pytest.approx(2 / 3)
    # a second frame: one more face (hit, score 0.95) and a hair prediction where no frame has hair:
    # the class is left out of the mean (its AP is NaN), its false positive counts nowhere
    g2 = np.where(gt[:, :4] == 1, 1, 0)
    ap.add(_inst(g2, {1: FACE}), _inst(g2 + 2 * (g2 == 0), {1: FACE, 2: HAIR}, {1: 0.95, 2: 0.99}))
    assert np.isnan(ap.class_ap(HAIR, 0.5)) and ap.n_gt[FACE] == 3
    # ranked TP, FP, TP, TP: precision 1, 1/2, 2/3, 3/4 at recall 1/3, 1/3, 2/3, 1 → 1/3 + 1/3·3/4 + 1/3·3/4
    assert ap.class_ap(FACE, 0.5) == pytest.approx(1 / 3 + 0.25 + 0.25)
    assert ap.result() == {"APr@0.5": pytest.approx(5 / 6), "APr_vol": pytest.approx(5 / 6)}
    assert voc_ap(np.array([0.5, 1.0]), np.array([1.0, 0.5])) == pytest.approx(0.75)
    assert PartAP().result() == {}


def test_ap_duplicate_hits_reference_and_voc_matching():
    gt = np.zeros((2, 5), np.int64)
    gt[:, :] = 1  # one instance of 10 pixels
    pred = np.ones((2, 5), np.int64)
    pred[:, 4] = 2  # prediction 1: 8 of its pixels (IoU 0.8), prediction 2: the other 2 (IoU 0.2)
    ref, voc = PartAP((0.1, 0.5)), PartAP((0.1, 0.5), matching="voc")
    for ap in (ref, voc):
        ap.add(_inst(gt, {1: PANTS}), _inst(pred, {1: PANTS, 2: PANTS}, {1: 0.9, 2: 0.8}))
    # the reference counts both hits at θ = 0.1: recall 1 then 2 at precision 1 → AP 2 (its quirk)
    assert ref.class_ap(PANTS, 0.1) == pytest.approx(2.0) and ref.class_ap(PANTS, 0.5) == pytest.approx(1.0)
    # VOC: the second hit is a false positive
    assert voc.class_ap(PANTS, 0.1) == pytest.approx(1.0) and voc.class_ap(PANTS, 0.5) == pytest.approx(1.0)
    with pytest.raises(UnitrackError, match="matching"):
        PartAP(matching="hungarian")


def test_config_defaults_and_protocol_presets():
    from unitrack.config import load_config
    from unitrack.propagation import PropagationParams

    s = load_config("vip").section
    assert (s.protocol, s.crop_size, s.topk, s.n_context, s.radius, s.temperature, s.long_mem) == (
        "unitrack", 560, 10, 5, 12.0, 0.05, [0])
    assert s.part_instances == "person" and s.ap_matching == "reference" and tuple(s.ap_thresholds) == AP_THRESHOLDS
    crw = load_config("vip", sets=["vip.protocol=crw"]).section
    assert (crw.n_context, crw.crop_size) == (20, 560) and PropagationParams.from_config(crw).n_context == 20
    for bad in ("[0.5,1.2]", "[]"):  # rejected where the config enters, before anything runs
        with pytest.raises(UnitrackError, match=r"vip.ap_thresholds must be IoU values in \[0, 1\)"):
            load_config("vip", sets=[f"vip.ap_thresholds={bad}"])


# ------------------------------------------------------------------------------------------ demo data


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory) -> Path:
    from unitrack.eval.demo import generate_demo

    return generate_demo(tmp_path_factory.mktemp("vipdemo"), seed=0, tasks=["vip"], num_sequences=2, num_frames=10,
                         size=(96, 96)) / "vip"


def test_demo_layout_and_determinism(small_demo, tmp_path):
    from unitrack.eval.demo import generate_demo

    seqs = read_vip(small_demo)
    assert [s.name for s in seqs] == ["videos1", "videos2"]
    for s in seqs:
        assert len(s) == 10 and s.annotated == [0, 3, 6, 9] and s.has_instances and s.size == (96, 96)
        for i in s.annotated:
            lab, inst = s.read_label(i), s.read_instances(i)
            hum = s.read_humans(i)
            assert set(inst.persons.values()) <= {1, 2} and len(inst.classes) >= 8
            for v, c in inst.classes.items():  # the txt agrees with the label maps (id = 20·(person−1) + class)
                assert (lab[inst.ids == v] == c).all() and (hum[inst.ids == v] == inst.persons[v]).all()
                assert v == 20 * (inst.persons[v] - 1) + c
    again = generate_demo(tmp_path / "again", seed=0, tasks=["vip"], num_sequences=2, num_frames=10, size=(96, 96))
    files = sorted(p.relative_to(small_demo) for p in small_demo.rglob("*") if p.is_file())
    assert files and all((small_demo / f).read_bytes() == (again / "vip" / f).read_bytes() for f in files)


# ------------------------------------------------------------------------------------------ end to end


def test_evaluate_on_demo_beats_first_frame_baseline(tmp_path, capsys):
    """``unitrack.evaluate(task="vip", backbone="random_r18", data="demo")`` (frames at 160×160, not the
    protocol's 560×560, to keep it quick on a CPU) against the "repeat the first-frame labels" baseline; rescoring reproduces it."""
    from unitrack import evaluate, score
    from unitrack.app.cli import main
    from unitrack.config import load_config
    from unitrack.eval.demo import demo_task_root
    from unitrack.heads.vip import first_frame_baseline

    sets = ["vip.crop_size=160"]
    r = evaluate(task="vip", backbone="random_r18", data="demo", out=tmp_path / "res", device="cpu", sets=sets)
    root = demo_task_root("vip")
    base = first_frame_baseline(root, tmp_path / "base", load_config("vip", sets=sets))
    m, b = r.metrics, base.metrics
    assert set(m) == {"mIoU", "mIoU-parts", "APr_vol", *(f"APr@{t:g}" for t in AP_THRESHOLDS)}
    # measured: mIoU 0.278 vs 0.193, mIoU-parts 0.220 vs 0.132, APr_vol 0.182 vs 0.043, APr@0.5 0.162 vs 0.023
    assert 0.15 < b["mIoU"] < 0.25 and m["mIoU"] > b["mIoU"] + 0.06
    assert m["mIoU-parts"] > b["mIoU-parts"] + 0.06
    assert m["APr_vol"] > b["APr_vol"] + 0.1 and m["APr@0.5"] > b["APr@0.5"] + 0.1
    assert set(r.per_sequence) == {"videos1", "videos2", "videos3"}
    seqs = read_vip(root)
    for s in seqs:  # every frame is predicted, every labelled frame scored
        assert len(list((r.pred_dir / s.name).glob("*.png"))) == len(s)
        assert len(list((r.pred_dir / s.name / "instance_part").glob("*.txt"))) == len(s)
    from unitrack.heads.vip import TASK, viz_sequences

    views = viz_sequences(root, r.pred_dir, {}, None)
    assert [v.name for v in views] == ["videos1", "videos2", "videos3"] and views[0].colours == "palette"
    assert views[0].pred[1].label_map().shape == seqs[0].size and views[0].gt[1] is None  # frame 2 is unlabelled
    cfg = load_config("vip", sets=sets)
    assert TASK.check(root, cfg)["labelled frames"] == 21 and TASK.dataset_name(root, cfg) == "vip"
    again = score("vip", root, r.pred_dir, sets=sets)
    assert again.metrics == pytest.approx(m)
    assert main(["score", "--task", "vip", "--gt", str(root), "--pred", str(r.pred_dir)]) == 0
    assert "APr_vol" in capsys.readouterr().out
