"""PoseTrack: JSON readers (2018 + 2017 styles), writer, poseval-style metric (hand-computed cases),
the head end to end on the demo benchmark, the docs/protocol.md §7.1 #12 re-activation quirk, the real sample."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from unitrack.eval.posetrack import (
    JOINT_NAMES,
    PT18_KEYPOINTS,
    PT18_TO_PT17,
    annotation_dir,
    evaluate_posetrack,
    read_posetrack_json,
    write_posetrack_json,
)
from unitrack.utils import UnitrackError

HEAD = [0, 0, 30, 40]  # bbox_head x, y, w, h → diagonal 50 → head size 30 → match radius 15 px


def skeleton(cx: float, cy: float) -> np.ndarray:
    """15×2 joints (poseval ids) of a person centred at (cx, cy), all distinct."""
    k = np.arange(15, dtype=float)
    return np.stack([cx + 3 * np.cos(k), cy + 12 * k - 90], 1)


def person18(joints15: np.ndarray | None, track_id=None, head=True, score=None, image_id=1, k=0) -> dict:
    kps = []
    scores = []
    for j in PT18_TO_PT17:
        if j < 0 or joints15 is None or np.isnan(joints15[j, 0]):
            kps += [0, 0, 0]
            scores.append(0.0)
        else:
            kps += [float(joints15[j, 0]), float(joints15[j, 1]), 1]
            scores.append(0.9)
    a = {"keypoints": kps, "image_id": image_id, "id": image_id * 100 + k, "category_id": 1,
         "scores": scores if score else []}
    if track_id is not None:
        a["track_id"] = track_id
    if head:
        a["bbox_head"] = list(HEAD)
    return a


def video18(path: Path, frames: list[list[tuple]], head=True, score=False, regions=None) -> Path:
    """frames: per frame a list of (joints15 or None, track_id or None)."""
    images, anns = [], []
    for t, people in enumerate(frames):
        im = {"id": t + 1, "file_name": f"images/val/{path.stem}/{t:06d}.jpg", "is_labeled": True}
        if regions and t in regions:
            xs, ys = regions[t]
            im["ignore_regions_x"], im["ignore_regions_y"] = [xs], [ys]
        images.append(im)
        for k, (j, tid) in enumerate(people):
            anns.append(person18(j, tid, head, score, t + 1, k))
    cats = [{"name": "person", "keypoints": list(PT18_KEYPOINTS)}]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"categories": cats, "images": images, "annotations": anns}))
    return path


def pair(tmp: Path, gt_frames, pr_frames, **kw):
    g = read_posetrack_json(video18(tmp / "gt" / "s.json", gt_frames, **{k: v for k, v in kw.items() if k != "score"}))
    p = read_posetrack_json(video18(tmp / "pr" / "s.json", pr_frames, head=False, score=True))
    return g, p


A, B = skeleton(100, 200), skeleton(400, 200)


# ------------------------------------------------------------------------------------------------ readers


def test_2018_reader_maps_17_keypoints_to_15_joints_by_name(tmp_path):
    j17 = np.arange(17 * 3, dtype=float).reshape(17, 3) + 1  # distinct values, all annotated
    j17[:, 2] = 1
    j17[13] = 0  # left_knee unannotated (0, 0, 0)
    data = {"categories": [{"name": "person", "keypoints": list(PT18_KEYPOINTS)}],
            "images": [{"id": 5, "file_name": "a/000000.jpg"}],
            "annotations": [{"image_id": 5, "keypoints": j17.ravel().tolist(), "track_id": 3,
                             "scores": list(np.linspace(0.1, 0.9, 17)), "bbox_head": [1, 2, 3, 4]}]}
    p = tmp_path / "v.json"
    p.write_text(json.dumps(data))
    v = read_posetrack_json(p)
    person = v.frames[0].people[0]
    assert v.fmt == "2018" and person.track_id == 3 and person.head_box == (1, 2, 4, 6)
    # nose (17-index 0) → id 13, head_bottom (1) → neck 12, head_top (2) → 14, r_ankle (16) → 0, ears dropped
    assert person.joints[13, :2].tolist() == j17[0, :2].tolist()
    assert person.joints[12, :2].tolist() == j17[1, :2].tolist()
    assert person.joints[14, :2].tolist() == j17[2, :2].tolist()
    assert person.joints[0, :2].tolist() == j17[16, :2].tolist()
    assert person.joints[9, :2].tolist() == j17[5, :2].tolist()  # left_shoulder
    assert np.isnan(person.joints[4, 0])  # left_knee was (0, 0, 0)
    assert person.present.sum() == 14
    assert person.joints[0, 2] == pytest.approx(0.9)  # score of right_ankle (last)
    assert JOINT_NAMES[12] == "neck" and JOINT_NAMES[0] == "right_ankle"


def test_2017_annolist_reader_and_equivalence_with_2018(tmp_path):
    frames = [[(A, 0), (B, 1)], [(A, 0), (B, 1)], [(A, 0), (B, 1)]]
    g18 = read_posetrack_json(video18(tmp_path / "g18" / "s.json", frames))
    annolist = []
    for t in range(3):
        rects = []
        for tid, j in ((0, A), (1, B)):
            pts = [{"id": [k], "x": [float(j[k, 0])], "y": [float(j[k, 1])], "score": [1.0]} for k in range(15)]
            rects.append({"track_id": [tid], "x1": [0], "y1": [0], "x2": [30], "y2": [40],
                          "annopoints": [{"point": pts}]})
        annolist.append({"image": [{"name": f"images/x/{t:08d}.jpg"}], "annorect": rects, "is_labeled": [1]})
    p = tmp_path / "g17" / "s.json"
    p.parent.mkdir()
    p.write_text(json.dumps({"annolist": annolist}))
    g17 = read_posetrack_json(p)
    assert g17.fmt == "2017" and len(g17.frames) == 3
    np.testing.assert_allclose(g17.frames[1].people[1].joints[:, :2], B)
    assert g17.frames[0].people[0].head_box == (0, 0, 30, 40)
    # a swapped prediction scores the same whichever format the GT is in
    pr = read_posetrack_json(video18(tmp_path / "pr" / "s.json", [[(A, 7), (B, 8)], [(A, 8), (B, 7)], [(A, 8), (B, 7)]]))
    m18 = evaluate_posetrack([(g18, pr)])[0]
    m17 = evaluate_posetrack([(g17, pr)])[0]
    assert m18 == m17 and m18["IDSW"] == 30


@pytest.mark.parametrize("content, msg", [
    ("{not json", "not valid JSON"),
    (json.dumps({"foo": 1}), "expected a PoseTrack-18"),
    (json.dumps({"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [{"image_id": 2, "keypoints": []}]}),
     "image_id 2 is not in 'images'"),
    (json.dumps({"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [{"image_id": 1, "keypoints": [1, 2, 1]}]}),
     "expected 51 keypoint values"),
    (json.dumps({"images": [{"id": 1, "file_name": "a.jpg"}],
                 "annotations": [{"image_id": 1, "keypoints": [], "track_id": 1.5}]}), "track_id must be an integer"),
    (json.dumps({"annolist": [{"image": [{"name": "a.jpg"}], "annorect": [
        {"annopoints": [{"point": [{"id": [15], "x": [1], "y": [2]}]}]}]}]}), "outside 0..14"),
])
def test_reader_rejects_malformed_files(tmp_path, content, msg):
    p = tmp_path / "bad.json"
    p.write_text(content)
    with pytest.raises(UnitrackError, match=msg) as e:
        read_posetrack_json(p)
    assert "bad.json" in str(e.value)


def test_writer_round_trip_both_formats(tmp_path):
    src = read_posetrack_json(video18(tmp_path / "o" / "s.json", [[(A, None), (B, None)], [(A, None)]]))
    write_posetrack_json(tmp_path / "out18.json", src, {(0, 0): 5, (0, 1): 1000, (1, 0): 5})
    back = read_posetrack_json(tmp_path / "out18.json")
    assert [[p.track_id for p in f.people] for f in back.frames] == [[5, 1000], [5]]
    np.testing.assert_allclose(back.frames[0].people[1].joints[:, :2], B)
    ann = {"annolist": [{"image": [{"name": "a.jpg"}], "annorect": [
        {"annopoints": [{"point": [{"id": [0], "x": [1.0], "y": [2.0], "score": [0.5]}]}]}]}]}
    (tmp_path / "o17.json").write_text(json.dumps(ann))
    v17 = read_posetrack_json(tmp_path / "o17.json")
    write_posetrack_json(tmp_path / "out17.json", v17, {(0, 0): 9})
    raw = json.loads((tmp_path / "out17.json").read_text())
    assert raw["annolist"][0]["annorect"][0]["track_id"] == [9]


# ------------------------------------------------------------------------------------------------ metric


def test_perfect_tracking_gives_100(tmp_path):
    g, p = pair(tmp_path, [[(A, 0), (B, 1)]] * 4, [[(A, 7), (B, 8)]] * 4)
    m, per_seq, extra = evaluate_posetrack([(g, p)])
    assert m["MOTA"] == pytest.approx(100) and m["IDF1"] == pytest.approx(100) and m["IDSW"] == 0
    assert extra["num_frames"] == 3  # the last frame is dropped (poseval)
    assert per_seq["s"]["MOTA"] == pytest.approx(100)
    assert all(v["IDF1"] == pytest.approx(100) for v in extra["per_joint"].values())


def test_one_swapped_id_hand_computed(tmp_path):
    # frames 0-2 evaluated (3 dropped); ids swap at frame 2 → per joint 2 switches of 6 objects,
    # IDTP 4 of 6 GT / 6 predicted → MOTA 66.67, IDF1 66.67; IDSW = 15 joints × 2
    pr = [[(A, 7), (B, 8)], [(A, 7), (B, 8)], [(A, 8), (B, 7)], [(A, 8), (B, 7)]]
    g, p = pair(tmp_path, [[(A, 0), (B, 1)]] * 4, pr)
    m, per_seq, _ = evaluate_posetrack([(g, p)])
    assert m["IDSW"] == 30
    assert m["MOTA"] == pytest.approx(100 * (1 - 2 / 6))
    assert m["IDF1"] == pytest.approx(100 * 8 / 12)
    assert per_seq["s"]["IDSW"] == 30


def test_empty_prediction_frame_uses_poseval_placeholder(tmp_path):
    # frame 1 has no prediction: poseval counts ONE miss and ONE false positive per joint (not two
    # misses): objects 2+1+2 = 5, misses 1, FP 1 → MOTA 60; IDF1 = 2·4 / (5 + 5) = 80
    g, p = pair(tmp_path, [[(A, 0), (B, 1)]] * 4, [[(A, 7), (B, 8)], [], [(A, 7), (B, 8)], [(A, 7), (B, 8)]])
    m = evaluate_posetrack([(g, p)])[0]
    assert m["MOTA"] == pytest.approx(60.0) and m["IDF1"] == pytest.approx(80.0) and m["IDSW"] == 0


@pytest.mark.parametrize("shift, matched", [(0.49 * 30, True), (0.51 * 30, False)])
def test_pckh_threshold_half_head_size(tmp_path, shift, matched):
    g, p = pair(tmp_path, [[(A, 0)]] * 2, [[(A + [shift, 0], 4)]] * 2)
    m = evaluate_posetrack([(g, p)])[0]
    # unmatched: 1 miss + 1 FP of 1 object per joint → MOTA −100
    assert m["MOTA"] == pytest.approx(100.0 if matched else -100.0)


def test_head_size_from_head_keypoints_without_head_box(tmp_path):
    j = A.copy()
    j[14] = (100, 50)  # head top
    j[12] = (100, 80)  # neck / head_bottom: side 30 → head size 0.6·√2·30 = 25.46 → radius 12.73 px
    radius = 0.5 * 0.6 * math.sqrt(2) * 30
    for shift, want in ((radius - 0.2, 100.0), (radius + 0.2, -100.0)):
        g, p = pair(tmp_path, [[(j, 0)]] * 2, [[(j + [shift, 0], 4)]] * 2, head=False)
        assert g.frames[0].people[0].head_box is None
        assert evaluate_posetrack([(g, p)])[0]["MOTA"] == pytest.approx(want)


def test_ignore_regions_remove_points_inside(tmp_path):
    # B lies inside the ignore region of every frame; the prediction misses B and has an FP inside
    region = ([350, 450, 450, 350], [0, 0, 400, 400])
    regions = dict.fromkeys(range(3), region)
    fp = skeleton(420, 180)
    g, p = pair(tmp_path, [[(A, 0), (B, 1)]] * 3, [[(A, 5), (fp, 6)]] * 3, regions=regions)
    m = evaluate_posetrack([(g, p)])[0]
    assert m["MOTA"] == pytest.approx(100) and m["IDF1"] == pytest.approx(100)


def test_duplicate_predicted_ids_allowed_duplicate_gt_ids_rejected(tmp_path):
    g, p = pair(tmp_path, [[(A, 0), (B, 1)]] * 3, [[(A, 1000), (B, 1000)]] * 3)
    m = evaluate_posetrack([(g, p)])[0]  # the reference's shared placeholder id 1000
    # both people match hypothesis 1000 (no switch) → MOTA 100; identity: 1000 serves one GT track only
    # → IDTP 2 of 4 objects / 4 hypotheses → IDF1 50
    assert m["MOTA"] == pytest.approx(100) and m["IDF1"] == pytest.approx(50) and m["IDSW"] == 0
    g2, p2 = pair(tmp_path, [[(A, 0), (B, 0)]] * 3, [[(A, 1), (B, 2)]] * 3)
    with pytest.raises(UnitrackError, match="duplicate GT track ids"):
        evaluate_posetrack([(g2, p2)])


def test_frame_count_mismatch_and_missing_ids_are_errors(tmp_path):
    g, p = pair(tmp_path, [[(A, 0)]] * 3, [[(A, 1)]] * 2)
    with pytest.raises(UnitrackError, match="2 frames, but the ground truth"):
        evaluate_posetrack([(g, p)])
    g, p = pair(tmp_path, [[(A, 0)]] * 3, [[(A, None)]] * 3)
    with pytest.raises(UnitrackError, match="no track_id"):
        evaluate_posetrack([(g, p)])


def test_drop_last_frame_with_single_labelled_frame(tmp_path):
    g, p = pair(tmp_path, [[(A, 0), (B, 1)]], [[(A, 3), (B, 4)]])
    with pytest.raises(UnitrackError, match="drop_last_frame=false"):
        evaluate_posetrack([(g, p)])
    m, _, extra = evaluate_posetrack([(g, p)], drop_last_frame=False)
    assert m["MOTA"] == pytest.approx(100) and extra["num_frames"] == 1


@pytest.mark.parametrize("seed", range(6))
def test_joint_accumulator_equals_motmetrics_compute(seed):
    """Our MOTA counts / IDF1 bookkeeping reproduce motmetrics.metrics.compute (random sequences with
    misses, false positives, id changes, empty frames, NaN distances and duplicate hypothesis ids)."""
    import motmetrics as mm

    from unitrack.eval.posetrack import JointAccumulator

    rng = np.random.default_rng(seed)
    ja = JointAccumulator()
    ref = mm.MOTAccumulator(auto_id=True)
    for _ in range(12):
        oids = rng.choice(6, size=rng.integers(0, 5), replace=False)
        hids = rng.integers(10, 16, size=rng.integers(0, 5))  # may repeat (placeholder-style duplicates)
        d = rng.uniform(0, 1, (len(oids), len(hids)))
        d[d > 0.6] = np.nan
        ja.update(oids, hids, d)
        ref.update(oids.tolist(), hids.tolist(), d)
    names = ["num_misses", "num_switches", "num_false_positives", "num_objects", "num_detections", "idf1"]
    m = mm.metrics.create().compute(ref, metrics=names, return_dataframe=False, name="acc")
    counts, _ = ja.counts()
    assert counts.tolist() == [float(m[k]) for k in names[:5]]
    assert ja.idf1() == pytest.approx(float(m["idf1"]), nan_ok=True)


def test_claim_people_identical_pose_rule():
    from unitrack.heads.posetrack import claim_people, pose_array

    ja = np.concatenate([A, np.full((15, 1), 0.8)], 1)
    jb = np.concatenate([B, np.full((15, 1), 0.8)], 1)
    rects = np.stack([pose_array(ja), pose_array(jb)])
    counts = np.array([15, 15])
    near = pose_array(ja) + 0.0005  # Σ|Δ| = 45·0.0005 = 0.0225 ≥ 0.01 → not identical
    tracks = [(pose_array(jb), 15), (pose_array(ja), 15), (pose_array(ja), 15), (near, 15), (pose_array(jb), 14)]
    ids = claim_people(tracks, [1, 2, 3, 4, 5], rects, counts)
    assert ids.tolist() == [3, 1]  # last identical track wins; the 14-joint pose never matches


# ------------------------------------------------------------------------------------------------ head


def test_head_end_to_end_on_demo(demo_root, tmp_path):
    import unitrack

    r = unitrack.evaluate("posetrack", "random_r18", data=demo_root / "posetrack", out=tmp_path, device="cpu",
                          sets=["common.max_sequences=1"])
    m = r.metrics
    assert set(m) >= {"MOTA", "IDF1", "IDSW"} and r.per_sequence
    assert 0 < m["IDF1"] <= 100 and m["MOTA"] <= 100 and m["IDSW"] >= 0
    assert m["Recall"] > 50  # jittered observations of most people
    files = sorted(p for p in Path(r.path).rglob("*_demo.json"))
    assert len(files) == 1
    out = read_posetrack_json(files[0])
    ids = [p.track_id for f in out.frames for p in f.people]
    assert ids and all(isinstance(i, int) and i >= 1 for i in ids)
    # scoring the written files again gives the same numbers
    s = unitrack.score("posetrack", demo_root / "posetrack", files[0].parent, sets=["common.max_sequences=1"])
    assert s.metrics["IDF1"] == pytest.approx(m["IDF1"]) and s.metrics["IDSW"] == m["IDSW"]


def _reappearing_person_dataset(root: Path) -> Path:
    """One person standing still over 4 frames, missing from the observations of frame 1."""
    seq = "000001_x"
    img = np.full((96, 128, 3), 90, np.uint8)
    for t in range(4):
        (root / "images" / "val" / seq).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / "images" / "val" / seq / f"{t:06d}.jpg"), img)
    j = skeleton(60, 20) * [1, 0.5] + [0, 0]
    j[:, 1] = np.linspace(10, 80, 15)
    video18(root / "annotations" / "val" / f"{seq}.json", [[(j, 0)]] * 4)
    j2 = j + [1.0, 0.0]  # moved by 1 px after the gap: the old pose is no longer "identical"
    video18(root / "detections" / "val" / f"{seq}.json", [[(j, None)], [], [(j2, None)], [(j2, None)]], head=False,
            score=True)
    return root


@pytest.mark.parametrize("faithful, frame2_id", [(True, 1000), (False, 1)])
def test_reactivation_quirk_placeholder_1000(tmp_path, faithful, frame2_id):
    """docs/protocol.md §7.1 #12: a re-found track keeps its old pose → its detection gets the placeholder id 1000."""
    import unitrack

    root = _reappearing_person_dataset(tmp_path / "data")
    r = unitrack.evaluate("posetrack", "random_r18", data=root, out=tmp_path / "out", device="cpu",
                          similarity="iou", faithful=faithful)
    out = read_posetrack_json(next(Path(r.path).rglob("000001_x.json")))
    ids = [[p.track_id for p in f.people] for f in out.frames]
    assert ids == [[1], [], [frame2_id], [1]]


def test_check_demo(demo_root):
    from unitrack.config import default_config
    from unitrack.tasks import get_task

    info = get_task("posetrack").check(demo_root / "posetrack", default_config("posetrack"))
    assert info["sequences"] == 2 and info["frames"] == 24 and info["pose observation files"] == 2
    assert info["objects (GT tracks)"] >= 4


# ------------------------------------------------------------------------------------------------ real data


@pytest.mark.integration
def test_real_posetrack18_sample_reads_checks_and_scores_gt_vs_gt(sample_data, tmp_path):
    import unitrack
    from unitrack.config import default_config
    from unitrack.tasks import get_task

    root = sample_data / "posetrack18-sample"
    gdir = annotation_dir(root, "val")
    vids = [read_posetrack_json(p) for p in sorted(gdir.glob("*.json"))]
    assert [v.name for v in vids] == ["003418_mpii_test", "009473_mpii_test", "012834_mpii_test"]
    assert [len(v.frames[0].people) for v in vids] == [1, 2, 11]
    assert all(p.head_box is not None for v in vids for p in v.frames[0].people)
    assert any(v.frames[0].ignore_regions for v in vids)
    info = get_task("posetrack").check(root, default_config("posetrack"))
    assert info["sequences"] == 3 and info["GT persons"] == 14 and info["objects (GT tracks)"] == 14
    assert info["sequences without pose observations"] == 3
    assert "278 boxes" in info["box-only detection files (not usable as pose observations)"]
    pred = tmp_path / "pred"
    shutil.copytree(gdir, pred)
    with pytest.raises(UnitrackError, match="drop_last_frame"):  # one labelled frame per video
        unitrack.score("posetrack", root, pred)
    s = unitrack.score("posetrack", root, pred, drop_last_frame=False)
    assert s.metrics["MOTA"] == pytest.approx(100) and s.metrics["IDF1"] == pytest.approx(100)
    assert s.metrics["IDSW"] == 0 and s.extra["num_frames"] == 3
