"""The generated demo benchmark: layouts parse, ground truth matches the rendered objects, it is deterministic."""

from __future__ import annotations

import configparser
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from unitrack.eval import demo
from unitrack.eval.base import MetricSpec
from unitrack.eval.demo import DEMO_VERSION, TASK_SUBDIRS, demo_task_root, ensure_demo, generate_demo
from unitrack.eval.demo import mot as demo_mot
from unitrack.eval.demo import mots as demo_mots
from unitrack.eval.demo import otb as demo_otb
from unitrack.tasks import Task, TaskSpec, get_spec
from unitrack.utils import UnitrackError

SIZE = (96, 72)
W, H = SIZE
T = 10
N = 2


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return generate_demo(tmp_path_factory.mktemp("tiny"), seed=7, num_sequences=N, num_frames=T, size=SIZE)


@pytest.fixture(scope="module")
def manifest(tiny) -> dict:
    return json.loads((tiny / "manifest.json").read_text())


@pytest.fixture(scope="module")
def default_demo(tmp_path_factory) -> Path:
    return ensure_demo(tmp_path_factory.mktemp("home"))


def _rle_decode(h: int, w: int, counts: str) -> np.ndarray:
    from pycocotools import mask as mask_utils

    return mask_utils.decode({"size": [h, w], "counts": counts.encode()}).astype(bool)


def _mask_box(m: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.flatnonzero(m.any(1)), np.flatnonzero(m.any(0))
    return int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)


def _render(module, task: str, i: int):
    """Re-render sequence `i` of `task` of the `tiny` demo (seed 7) with the task's demo module."""
    return module.render_sequence(np.random.default_rng([7, get_spec(task).demo_stream, i]), W, H, T, i)


def _all_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------------------------------ layouts


def test_manifest_and_readme(tiny, manifest):
    assert manifest["version"] == DEMO_VERSION and manifest["seed"] == 7
    assert manifest["args"] == {
        "tasks": list(TASK_SUBDIRS),
        "num_sequences": N,
        "num_frames": T,
        "per_task_frames": False,  # num_frames was given: every task gets T frames
        "frames": {task: T for task in TASK_SUBDIRS},
        "size": [W, H],
    }
    assert set(manifest["sequences"]) == set(TASK_SUBDIRS)
    assert all(len(v) == N for v in manifest["sequences"].values())
    assert all((tiny / sub).is_dir() for sub in TASK_SUBDIRS.values())
    assert "seed 7" in (tiny / "README.txt").read_text()


def test_otb_layout(tiny, manifest):
    seps = []
    for seq in manifest["sequences"]["sot"]:
        d = tiny / "otb" / seq
        imgs = sorted((d / "img").glob("*.jpg"))
        assert [p.name for p in imgs] == [f"{t:04d}.jpg" for t in range(1, T + 1)]
        assert cv2.imread(str(imgs[0])).shape == (H, W, 3)
        text = (d / "groundtruth_rect.txt").read_text()
        seps.append("\t" if "\t" in text else ",")
        gt = np.array([[float(v) for v in line.replace("\t", ",").split(",")] for line in text.splitlines()])
        assert gt.shape == (T, 4)
        # 1-based x, y; the target stays inside the frame
        assert (
            (gt[:, :2] >= 1).all()
            and (gt[:, 0] + gt[:, 2] - 1 <= W).all()
            and (gt[:, 1] + gt[:, 3] - 1 <= H).all()
        )
    assert sorted(seps) == sorted([",", "\t"])  # one sequence is tab-separated, as in OTB


def test_davis_layout(tiny, manifest):
    assert (tiny / "davis/ImageSets/2017/val.txt").read_text().split() == manifest["sequences"]["vos"]
    ids_seen = []
    for seq in manifest["sequences"]["vos"]:
        jpgs = sorted((tiny / "davis/JPEGImages/480p" / seq).glob("*.jpg"))
        pngs = sorted((tiny / "davis/Annotations/480p" / seq).glob("*.png"))
        assert [p.stem for p in jpgs] == [p.stem for p in pngs] == [f"{t:05d}" for t in range(T)]
        expected = manifest["tasks"]["vos"]["details"][seq]["object_ids"]
        im0 = Image.open(pngs[0])
        assert im0.mode == "P" and im0.size == (W, H)
        pal = np.array(im0.getpalette()[:15]).reshape(5, 3).tolist()
        assert pal == [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128]]
        assert sorted(np.unique(np.array(im0)).tolist()) == [0, *expected]  # every object in frame 0
        for p in pngs:
            assert set(np.unique(np.array(Image.open(p))).tolist()) <= {0, *expected}
        ids_seen.append(expected)
    assert 2 <= min(len(i) for i in ids_seen) and max(len(i) for i in ids_seen) <= 3
    assert any(ids[:2] == [1, 3] for ids in ids_seen)  # non-contiguous ids exercise readers


def test_jhmdb_layout(tiny, manifest):
    from scipy.io import loadmat

    lines = (tiny / "jhmdb/split.txt").read_text().splitlines()
    assert len(lines) == N
    for line, seq in zip(lines, manifest["sequences"]["poseprop"]):
        mat_rel, frames_rel = line.split()
        assert not Path(mat_rel).is_absolute()  # relative to the split file's folder
        mat = loadmat(tiny / "jhmdb" / mat_rel)
        frames = sorted((tiny / "jhmdb" / frames_rel).glob("*.png"))
        assert [p.name for p in frames] == [f"{t:05d}.png" for t in range(1, T + 1)]
        pos = mat["pos_img"]
        assert (
            pos.shape == (2, 15, T) and mat["pos_world"].shape == (2, 15, T) and mat["scale"].shape == (1, T)
        )
        assert "viewpoint" in mat and seq in frames_rel
        # 1-based pixel coordinates, all joints inside the frame; joints are spread over a human-sized figure
        assert (pos >= 1).all() and (pos[0] <= W).all() and (pos[1] <= H).all()
        assert (np.ptp(pos[1], axis=0) > 0.4 * H).all()
        # face above neck above belly (image y grows downwards)
        assert (pos[1, 2] < pos[1, 0]).all() and (pos[1, 0] < pos[1, 1]).all()
    assert len(demo.JHMDB_JOINTS) == 15 and demo.JHMDB_JOINTS[2] == "face"


def _read_seqinfo(p: Path) -> dict:
    cp = configparser.ConfigParser()
    cp.optionxform = str
    cp.read(p)
    return dict(cp["Sequence"])


def test_mot_layout(tiny, manifest):
    assert (tiny / "mot/seqmaps/DEMO-train.txt").read_text().split() == [
        "name",
        *manifest["sequences"]["mot"],
    ]
    for seq in manifest["sequences"]["mot"]:
        d = tiny / "mot/train" / seq
        info = _read_seqinfo(d / "seqinfo.ini")
        assert info == {"name": seq, "imDir": "img1", "frameRate": "30", "seqLength": str(T), "imWidth": str(W),
                        "imHeight": str(H), "imExt": ".jpg"}  # fmt: skip
        assert len(list((d / "img1").glob("*.jpg"))) == T and (d / "img1/000001.jpg").is_file()
        gt = np.loadtxt(d / "gt/gt.txt", delimiter=",", ndmin=2)
        det = np.loadtxt(d / "det/det.txt", delimiter=",", ndmin=2)
        assert gt.shape[1] == 9 and det.shape[1] == 10
        assert (gt[:, 6] == 1).all() and (gt[:, 7] == 1).all() and ((gt[:, 8] >= 0) & (gt[:, 8] <= 1)).all()
        assert (gt[:, 4] < gt[:, 5]).all()  # pedestrians: taller than wide
        assert 4 <= len(np.unique(gt[:, 1])) <= 6
        assert (det[:, 1] == -1).all() and (det[:, 7:] == -1).all()
        assert ((det[:, 6] > 0) & (det[:, 6] <= 1)).all() and np.mean(det[:, 6] > 0.5) > 0.7
        assert (
            (gt[:, 0] >= 1).all()
            and (gt[:, 0] <= T).all()
            and (det[:, 0] >= 1).all()
            and (det[:, 0] <= T).all()
        )
        assert 0.6 < len(det) / len(gt) < 1.3


def test_mots_layout(tiny, manifest):
    assert (tiny / "mots/seqmaps/DEMO-MOTS-train.txt").read_text().split() == [
        "name",
        *manifest["sequences"]["mots"],
    ]
    for seq in manifest["sequences"]["mots"]:
        d = tiny / "mots/train" / seq
        assert _read_seqinfo(d / "seqinfo.ini")["seqLength"] == str(T)
        for kind in ("gt", "det"):
            rows = [line.split(" ") for line in (d / kind / f"{kind}.txt").read_text().splitlines()]
            assert rows and all(len(r) == 6 for r in rows)
            per_frame: dict[int, np.ndarray] = {}
            ids = set()
            for fr, oid, cls, h, w, rle in rows:
                assert cls == "2" and (int(h), int(w)) == (H, W)
                m = _rle_decode(H, W, rle)
                assert m.shape == (H, W) and m.any()
                acc = per_frame.setdefault(int(fr), np.zeros((H, W), bool))
                assert not (acc & m).any(), f"{kind} masks overlap in frame {fr} of {seq}"
                acc |= m
                ids.add(int(oid))
            if kind == "gt":
                assert all(i // 1000 == 2 for i in ids)
                assert ids == set(manifest["tasks"]["mots"]["details"][seq]["object_ids"])
            else:
                assert sorted(ids) == list(range(1, len(rows) + 1))  # running detection index


def test_posetrack_layout(tiny, manifest):
    sample_kps = list(demo.POSETRACK_KEYPOINTS)
    for seq in manifest["sequences"]["posetrack"]:
        gt = json.loads((tiny / "posetrack/annotations/val" / f"{seq}.json").read_text())
        dt = json.loads((tiny / "posetrack/detections/val" / f"{seq}.json").read_text())
        assert set(gt) == set(dt) == {"categories", "images", "annotations"}
        assert gt["categories"][0]["keypoints"] == sample_kps and len(sample_kps) == 17
        assert len(gt["images"]) == T
        ids = set()
        for t, im in enumerate(gt["images"]):
            assert (
                im["file_name"] == f"images/val/{seq}/{t:06d}.jpg"
                and (tiny / "posetrack" / im["file_name"]).is_file()
            )
            assert im["is_labeled"] is True and im["nframes"] == T and im["id"] == im["frame_id"]
            ids.add(im["id"])
        tracks = set()
        for a in gt["annotations"]:
            kp = np.array(a["keypoints"]).reshape(-1, 3)
            assert kp.shape == (17, 3) and a["image_id"] in ids and a["category_id"] == 1
            assert (kp[[3, 4]] == 0).all()  # ears unlabelled, as in PoseTrack-18
            assert a["num_keypoints"] == int((kp[:, 2] > 0).sum()) > 0
            lab = kp[kp[:, 2] > 0]
            assert ((lab[:, 0] >= 0) & (lab[:, 0] < W) & (lab[:, 1] >= 0) & (lab[:, 1] < H)).all()
            tracks.add(a["track_id"])
        assert 2 <= len(tracks) <= 4
        assert dt["annotations"]
        for a in dt["annotations"]:
            assert "track_id" not in a and len(a["keypoints"]) == 51 and len(a["scores"]) == 17
            kp = np.array(a["keypoints"]).reshape(-1, 3)
            assert np.allclose(kp[:, 2], a["scores"]) and a["image_id"] in ids


# ------------------------------------------------------------------------------ content and ground truth


def test_ground_truth_matches_rendered_objects(tiny, manifest):
    """Written GT boxes / masks coincide with the simulator's masks (re-rendered from the same seed)."""
    for i, seq in enumerate(manifest["sequences"]["mot"]):
        frames, _ = _render(demo_mot, "mot", i)
        gt = np.loadtxt(tiny / "mot/train" / seq / "gt/gt.txt", delimiter=",", ndmin=2)
        checked = 0
        for fr, oid, x, y, w, h, *_ in gt:
            m = frames[int(fr) - 1].amodal[int(oid) - 1]
            if m[0].any() or m[-1].any() or m[:, 0].any() or m[:, -1].any():
                continue  # truncated by the frame border: the GT box extends outside
            bx, by, bw, bh = _mask_box(m)
            assert np.abs(np.array([bx + 1, by + 1, bw, bh]) - [x, y, w, h]).max() <= 1
            checked += 1
        assert checked > len(gt) // 2
    for i, seq in enumerate(manifest["sequences"]["sot"]):
        frames, _ = _render(demo_otb, "sot", i)
        text = (tiny / "otb" / seq / "groundtruth_rect.txt").read_text().replace("\t", ",")
        for f, line in zip(frames, text.splitlines()):
            bx, by, bw, bh = _mask_box(f.amodal[0])
            assert np.abs(np.array([bx + 1, by + 1, bw, bh]) - [float(v) for v in line.split(",")]).max() <= 1
    for i, seq in enumerate(manifest["sequences"]["mots"]):
        frames, _ = _render(demo_mots, "mots", i)
        for line in (tiny / "mots/train" / seq / "gt/gt.txt").read_text().splitlines():
            fr, oid, _, _, _, rle = line.split(" ")
            assert np.array_equal(_rle_decode(H, W, rle), frames[int(fr) - 1].visible[int(oid) - 2001])
    # an object's pixels differ from the background: its texture is visible in the JPEG
    seq = manifest["sequences"]["vos"][0]
    img = cv2.imread(str(tiny / "davis/JPEGImages/480p" / seq / "00000.jpg")).astype(float)
    lab = np.array(Image.open(tiny / "davis/Annotations/480p" / seq / "00000.png"))
    for oid in np.unique(lab)[1:]:
        inside = img[lab == oid].mean(0)
        assert np.abs(inside - img[lab == 0].mean(0)).max() > 10 or img[lab == oid].std(0).max() > 10


def test_look_alike_pairs_cross(tiny, manifest):
    """MOT: ≥ 2 look-alike pairs per sequence whose boxes overlap in some frame; somebody enters or leaves."""
    for seq in manifest["sequences"]["mot"]:
        gt = np.loadtxt(tiny / "mot/train" / seq / "gt/gt.txt", delimiter=",", ndmin=2)
        pairs = manifest["tasks"]["mot"]["details"][seq]["similar_pairs"]
        assert len(pairs) >= 2
        for a, b in pairs:
            ga, gb = gt[gt[:, 1] == a], gt[gt[:, 1] == b]
            common = np.intersect1d(ga[:, 0], gb[:, 0])
            ba = ga[np.isin(ga[:, 0], common)][:, 2:6]
            bb = gb[np.isin(gb[:, 0], common)][:, 2:6]
            ix = np.minimum(ba[:, 0] + ba[:, 2], bb[:, 0] + bb[:, 2]) - np.maximum(ba[:, 0], bb[:, 0])
            iy = np.minimum(ba[:, 1] + ba[:, 3], bb[:, 1] + bb[:, 3]) - np.maximum(ba[:, 1], bb[:, 1])
            assert ((ix > 0) & (iy > 0)).any(), f"pair {a},{b} of {seq} never overlaps"
        truncated = (
            (gt[:, 2] < 1) | (gt[:, 3] < 1) | (gt[:, 2] + gt[:, 4] - 1 > W) | (gt[:, 3] + gt[:, 5] - 1 > H)
        )
        assert truncated.any()
        assert (gt[:, 8] < 0.9).any()  # occlusion happens
    # look-alikes: the pair's clothes are closer in colour than those of other pedestrians
    frames, info = _render(demo_mot, "mot", 0)
    f = max(frames, key=lambda fr: sum(v.sum() for v in fr.visible))
    cols = [f.image[v].mean(0) if v.sum() > 30 else None for v in f.visible]
    for a, b in info["similar_pairs"]:
        if cols[a] is None or cols[b] is None:
            continue
        d_pair = np.linalg.norm(cols[a] - cols[b])
        others = [
            np.linalg.norm(cols[a] - c) for k, c in enumerate(cols) if c is not None and k not in (a, b)
        ]
        assert d_pair < np.median(others)


def test_deterministic_and_seeded(tmp_path):
    kw = dict(num_sequences=1, num_frames=10, size=SIZE)
    tasks = ["sot", "poseprop", "mots", "posetrack"]
    a = _all_files(generate_demo(tmp_path / "a", seed=3, tasks=tasks, **kw))
    b = _all_files(generate_demo(tmp_path / "b", seed=3, tasks=tasks, **kw))
    assert a.keys() == b.keys() and all(a[k] == b[k] for k in a)  # byte-identical (JPEG, PNG, MAT, JSON, txt)
    c = _all_files(generate_demo(tmp_path / "c", seed=4, tasks=["sot"], **kw))
    assert a["otb/Demo01/img/0001.jpg"] != c["otb/Demo01/img/0001.jpg"]
    # a task's data does not depend on which other tasks are generated
    d = _all_files(generate_demo(tmp_path / "d", seed=3, tasks=["mots"], **kw))
    assert all(a[k] == v for k, v in d.items() if k.startswith("mots/"))


def test_bad_arguments(tmp_path):
    with pytest.raises(UnitrackError, match="size"):
        generate_demo(tmp_path, size=(32, 120))
    with pytest.raises(UnitrackError, match="num_frames"):
        generate_demo(tmp_path, num_frames=5)
    with pytest.raises(UnitrackError, match="unknown demo task"):
        generate_demo(tmp_path, tasks=["vos", "detection"])
    with pytest.raises(UnitrackError, match="unknown task"):
        demo_task_root("segmentation", tmp_path)


# --------------------------------------------------------------------------------------- default demo


def test_default_demo_cached_and_mot_boxes_pass_output_filter(default_demo, monkeypatch):
    assert default_demo.name == f"{DEMO_VERSION}-seed0"
    m = json.loads((default_demo / "manifest.json").read_text())
    assert m["args"]["size"] == list(demo.DEFAULT_SIZE) and m["args"]["num_frames"] == demo.DEFAULT_NUM_FRAMES
    # the default demo gives SOT (three 520² crops per frame) shorter sequences, every other task 20 frames
    assert m["args"]["per_task_frames"] and m["args"]["frames"]["sot"] == 12
    assert {f for t, f in m["args"]["frames"].items() if t != "sot"} == {demo.DEFAULT_NUM_FRAMES}
    for seq in m["sequences"]["sot"]:
        assert len(list((default_demo / "otb" / seq / "img").glob("*.jpg"))) == 12
    assert "frames: 20 (sot: 12) per sequence" in (default_demo / "README.txt").read_text()

    def boom(*a, **k):
        raise AssertionError("the demo was regenerated")

    monkeypatch.setattr(demo, "generate_demo", boom)
    assert ensure_demo(default_demo.parent) == default_demo
    assert demo_task_root("mot", default_demo.parent) == default_demo / "mot"
    assert not [p for p in default_demo.parent.iterdir() if p.name.endswith(".tmp")]  # no leftovers
    # every MOT GT box passes the published output filter (area > 200, w/h <= 1.6) at the default size
    for seq in m["sequences"]["mot"]:
        gt = np.loadtxt(default_demo / "mot/train" / seq / "gt/gt.txt", delimiter=",", ndmin=2)
        assert (gt[:, 4] * gt[:, 5] > 200).all() and (gt[:, 4] / gt[:, 5] <= 1.6).all()


def test_ensure_demo_uses_unitrack_home(tmp_path, monkeypatch):
    monkeypatch.setenv("UNITRACK_HOME", str(tmp_path / "home"))
    calls = []

    def fake(out, seed=0, **kw):
        calls.append(seed)
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "manifest.json").write_text(json.dumps({"version": DEMO_VERSION}))
        return Path(out)

    monkeypatch.setattr(demo, "generate_demo", fake)
    p = ensure_demo(seed=5)
    assert p == tmp_path / "home" / "demo" / f"{DEMO_VERSION}-seed5" and (p / "manifest.json").is_file()
    ensure_demo(seed=5)
    assert calls == [5]


# ------------------------------------------------------------------------------------- plug-in tasks


@dataclass
class _ToyConfig:
    """A task section without fields."""


def _write_toy(root: Path, rngs, n, T, W, H) -> dict:
    _write_toy.calls += 1
    names = []
    for i in range(n):
        name = f"toy-{i + 1:02d}"
        (root / name).mkdir(parents=True)
        (root / name / "values.txt").write_text(" ".join(str(v) for v in rngs(i).integers(0, 1000, 8)) + "\n")
        names.append(name)
    return {"sequences": names, "details": {"frames": T, "size": [W, H]}}


_write_toy.calls = 0


def _plugin(name: str, **demo) -> Task:
    class _Toy(Task):
        spec = TaskSpec(name=name, title=name, order=50, config=_ToyConfig, metrics=(MetricSpec("score"),), **demo)

    return _Toy()


def test_plugin_task_demo_added_to_the_cache(default_demo, tmp_path, monkeypatch):
    """A plug-in task with a demo_writer gets its sub-folder added to an existing cached demo on first
    use, under the lock and in one rename; the built-in tasks' files stay byte-identical."""
    import unitrack.tasks as tasks_mod

    root = tmp_path / "cache"
    shutil.copytree(default_demo, root / default_demo.name)
    cached = root / default_demo.name
    before = _all_files(cached)
    m0 = json.loads(before["manifest.json"])
    toy = _plugin("toy", demo_subdir="toy", demo_writer=_write_toy, demo_stream=901)
    monkeypatch.setitem(tasks_mod._loaded, "toy", toy)
    _write_toy.calls = 0

    def boom(*a, **k):
        raise AssertionError("the whole demo was regenerated")

    with monkeypatch.context() as mp:
        mp.setattr(demo, "generate_demo", boom)
        assert demo_task_root("toy", root) == cached / "toy"
        assert demo_task_root("toy", root) == cached / "toy"  # second call: recorded, nothing written
    assert _write_toy.calls == 1
    after = _all_files(cached)
    assert {k: v for k, v in after.items() if k not in ("manifest.json", "README.txt")} == {
        **{k: v for k, v in before.items() if k not in ("manifest.json", "README.txt")},
        **{k: v for k, v in after.items() if k.startswith("toy/")},
    }
    assert sorted(k for k in after if k.startswith("toy/")) == [f"toy/toy-0{i}/values.txt" for i in (1, 2, 3)]
    assert not [p for p in cached.iterdir() if p.name.startswith(".")]  # no temp folders left
    m = json.loads(after["manifest.json"])
    assert m["args"]["tasks"] == [*m0["args"]["tasks"], "toy"]
    assert m["layout"] == {**m0["layout"], "toy": "toy"}
    assert m["sequences"] == {**m0["sequences"], "toy": ["toy-01", "toy-02", "toy-03"]}
    assert m["tasks"] == {**m0["tasks"], "toy": {"subdir": "toy", "sequences": ["toy-01", "toy-02", "toy-03"],
                                                  "details": {"frames": 20, "size": [160, 120]}}}  # fmt: skip
    last = m0["args"]["tasks"][-1].encode()  # the README's task list ends with the last built-in task
    assert after["README.txt"] == before["README.txt"].replace(last + b"\n", last + b", toy\n", 1)
    # the same bytes as a fresh generation of the plug-in alone (its own random stream, the cache's args)
    builtin_specs = tasks_mod.all_specs
    monkeypatch.setattr(tasks_mod, "all_specs", lambda: [*builtin_specs(), toy.spec])
    assert demo.TASK_SUBDIRS["toy"] == "toy"
    fresh = _all_files(generate_demo(tmp_path / "fresh", seed=0, tasks=["toy"]))
    assert {k: v for k, v in fresh.items() if k.startswith("toy/")} == {
        k: v for k, v in after.items() if k.startswith("toy/")
    }


def test_plugin_task_without_or_with_clashing_demo_data(default_demo, tmp_path, monkeypatch):
    import unitrack.tasks as tasks_mod

    monkeypatch.setitem(tasks_mod._loaded, "nodemo", _plugin("nodemo"))
    with pytest.raises(UnitrackError, match="task nodemo has no demo data; pass --data"):
        demo_task_root("nodemo", tmp_path)
    assert not list(tmp_path.iterdir())  # nothing generated for it
    root = tmp_path / "cache"
    shutil.copytree(default_demo, root / default_demo.name)
    before = _all_files(root / default_demo.name)
    clash = _plugin("clash", demo_subdir="mot", demo_writer=_write_toy, demo_stream=902)
    monkeypatch.setitem(tasks_mod._loaded, "clash", clash)
    with pytest.raises(UnitrackError, match="demo_subdir 'mot' is already used by task mot"):
        demo_task_root("clash", root)
    assert _all_files(root / default_demo.name) == before
