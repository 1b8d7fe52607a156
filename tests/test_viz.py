"""Visualisation: drawing primitives, association error events, writers, and renders of the generated
demo benchmark with ground truth as prediction, checked by pixel colours at known object positions."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from unitrack.app import viz
from unitrack.app.viz import Events, Objects, SequenceView, VizOptions
from unitrack.results import Result
from unitrack.utils import UnitrackError


def _result(tmp: Path, task: str, root: Path) -> tuple[Path, Path]:
    """A result folder (result.json naming the task and dataset root) with an empty pred/."""
    out = tmp / f"res_{task}"
    (out / "pred").mkdir(parents=True)
    Result(task=task, dataset="demo", backbone="gt", layer=3, metrics={}, fingerprint={"data_root": str(root)}).save(out)
    return out, out / "pred"


def _read(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def _blend(img_px: np.ndarray, col: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    return np.round(img_px.astype(np.float64) * (1 - alpha) + col.astype(np.float64) * alpha)


# ------------------------------------------------------------------------------------------ primitives


def test_davis_palette_matches_reader():
    from unitrack.eval.davis import davis_palette

    pal = viz.davis_palette()
    assert pal[:5].tolist() == [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128]]
    ref = list(davis_palette())
    assert pal.reshape(-1).tolist()[: len(ref)] == ref


def test_id_colors_stable_and_neighbours_distinct():
    a = viz.id_colors([1, 2, 3, 2001, 2002])
    b = viz.id_colors(np.array([2002, 1]))
    assert (a[4] == b[0]).all() and (a[0] == b[1]).all()  # same id → same colour, whatever the batch
    ids = np.arange(0, 40)
    cols = viz.id_colors(ids).astype(np.int64)
    hue = cv2.cvtColor(cols.astype(np.uint8)[:, None], cv2.COLOR_RGB2HSV)[:, 0, 0].astype(np.int64) * 2  # degrees
    d = np.abs(np.diff(hue))
    d = np.minimum(d, 360 - d)
    assert d.min() >= 120  # consecutive ids: golden-angle hues (~137°) apart
    assert (cols.max(1) >= 200).all()  # bright


def test_overlay_labels_tint_and_contour():
    img = np.full((20, 30, 3), 100, np.uint8)
    lab = np.zeros((20, 30), np.uint8)
    lab[5:15, 10:20] = 3
    lut = viz.davis_palette()
    out = viz.overlay_labels(img.copy(), lab, lut, alpha=0.5, contour=1)
    assert out[10, 15].tolist() == [114, 114, 50]  # 0.5·100 + 0.5·(128, 128, 0): 50 % tint of palette id 3
    assert out[5, 15].tolist() == [128, 128, 0]  # top contour row: full palette colour of id 3
    assert out[10, 10].tolist() == [128, 128, 0]  # left contour column
    assert out[10, 11].tolist() == [114, 114, 50]  # one pixel inside: tinted, not contour
    assert out[4, 15].tolist() == [100, 100, 100] and out[10, 9].tolist() == [100, 100, 100]  # outside unchanged


def test_draw_boxes_outline_pixels():
    img = np.zeros((40, 50, 3), np.uint8)
    viz.draw_boxes(img, np.array([[10, 20, 15, 8]]), [(1, 2, 3)], thickness=1)
    # the box covers columns 10…24 and rows 20…27: the outline lies on those border pixels
    for y, x in ((20, 10), (27, 24), (24, 10), (24, 24), (20, 17), (27, 17)):
        assert img[y, x].tolist() == [1, 2, 3], (y, x)
    for y, x in ((24, 11), (24, 25), (28, 17), (19, 17), (24, 17)):
        assert img[y, x].tolist() == [0, 0, 0], (y, x)


def test_box_iou_hand_computed():
    a = np.array([[0, 0, 10, 10], [5, 5, 10, 10]])
    b = np.array([[5, 0, 10, 10], [20, 20, 2, 2]])
    iou = viz.box_iou(a, b)
    assert iou[0, 0] == pytest.approx(50 / 150)
    assert iou[1, 0] == pytest.approx(50 / 150)  # x 5…15 ∩ 5…15 (10) × y 5…15 ∩ 0…10 (5)
    assert iou[:, 1].tolist() == [0.0, 0.0]


def test_kpts_to_boxes_ignores_invisible():
    kp = np.array([[[10, 20, 1], [30, 5, 1], [100, 100, 0]], [[0, 0, 0], [0, 0, 0], [0, 0, 0]]], np.float64)
    assert viz.kpts_to_boxes(kp).tolist() == [[10, 5, 20, 15], [0, 0, 0, 0]]


# ------------------------------------------------------------------------------------------ error events


def _box_seq(frames_pred, frames_gt, ignore=None) -> SequenceView:
    T = len(frames_pred)
    mk = lambda d: Objects(ids=np.array(list(d.keys()), np.int64),  # noqa: E731
                           boxes=np.array(list(d.values()), np.float64).reshape(-1, 4))
    gts = [mk(g) for g in frames_gt]
    if ignore:
        for t, boxes in ignore.items():
            gts[t].ignore_boxes = np.array(boxes, np.float64)
    return SequenceView(name="s", frames=[Path(f"{i}.jpg") for i in range(T)], pred=[mk(p) for p in frames_pred], gt=gts)


def test_association_events_switch_miss_fp():
    A, B = [0, 0, 10, 10], [50, 0, 10, 10]
    gt = [{1: A, 2: B}] * 4
    pred = [
        {7: A, 8: B},  # frame 0: both matched
        {7: A},  # frame 1: GT 2 missed
        {8: A, 7: B},  # frame 2: both hypotheses swapped → 2 switches
        {8: A, 7: B, 9: [100, 100, 5, 5]},  # frame 3: stays swapped (no new switch), one false positive
    ]
    ev = viz.association_events(_box_seq(pred, gt))
    assert ev.switch.tolist() == [0, 0, 2, 0]
    assert ev.miss.tolist() == [0, 1, 0, 0]
    assert ev.fp.tolist() == [0, 0, 0, 1]
    assert ev.miss_ids[1].tolist() == [2]
    assert sorted(ev.switch_ids[2].tolist()) == [1, 2]
    assert ev.totals == {"id_switches": 2, "misses": 1, "false_positives": 1, "gt_objects": 8}


def test_association_events_iou_threshold_and_distractors():
    gt = [{1: [0, 0, 10, 10]}, {1: [0, 0, 10, 10]}]
    # IoU(0,0,10,10 vs 4,0,10,10) = 60/140 < 0.5: a miss and a false positive, not a match
    pred = [{5: [4, 0, 10, 10]}, {5: [0, 0, 10, 10], 6: [40, 40, 10, 10]}]
    ev = viz.association_events(_box_seq(pred, gt, ignore={1: [[40, 40, 10, 10]]}))
    assert ev.miss.tolist() == [1, 0] and ev.fp.tolist() == [1, 0]  # hypothesis 6 lies on a distractor: not an FP


def test_error_strip_marks_the_failing_frames():
    T = 10
    z = np.zeros(T, np.int64)
    sw, miss, fp = z.copy(), z.copy(), z.copy()
    sw[3], miss[6], fp[8] = 1, 2, 1
    ev = Events(n_gt=np.full(T, 4), miss=miss, switch=sw, fp=fp, evaluated=np.ones(T, bool),
                miss_ids=[z[:0]] * T, switch_ids=[z[:0]] * T)
    strip = viz.error_strip(ev, width=100, height=30, labels=False)  # 10 px per frame
    rows = {"IDsw": 5, "miss": 15, "FP": 25}

    def frames_with(row, col):
        hit = (strip[row] == col).all(1)
        return sorted({int(x) // 10 for x in np.nonzero(hit)[0]})

    assert frames_with(rows["IDsw"], viz.SWITCH_COLOR) == [3]
    assert frames_with(rows["miss"], viz.MISS_COLOR) == [6]
    assert frames_with(rows["FP"], viz.FP_COLOR) == [8]
    cur = viz.strip_cursor(strip, 6, T, labels=False)
    assert (cur[:, 64] == 255).all() and not (strip[:, 64] == 255).all()


# ------------------------------------------------------------------------------------------ writers


def _frames(n=6, h=48, w=64):
    out = []
    for i in range(n):
        f = np.zeros((h, w, 3), np.uint8)
        f[:, : (i + 1) * 8] = (200, 30, 30)
        out.append(f)
    return out


def test_writers_mp4_gif_png(tmp_path):
    from PIL import Image

    mp4 = viz.write_frames(iter(_frames()), tmp_path / "a.mp4", "mp4", fps=10)
    cap = cv2.VideoCapture(str(mp4))
    n, ok, first = 0, True, None
    while ok:
        ok, fr = cap.read()
        if ok:
            first = fr if first is None else first
            n += 1
    cap.release()
    assert n == 6 and first.shape == (48, 64, 3)
    assert abs(int(first[24, 4, 2]) - 200) < 40 and int(first[24, 40].max()) < 40  # red bar decoded (BGR)
    gif = viz.write_frames(_frames(), tmp_path / "a.gif", "gif", fps=5)
    with Image.open(gif) as im:
        assert im.n_frames == 6 and im.size == (64, 48) and im.info["duration"] == 200
        im.seek(2)
        assert np.array(im.convert("RGB"))[10, 20].tolist() == [200, 30, 30]
    png = viz.write_frames(_frames(), tmp_path / "frames", "png")
    files = sorted(png.glob("*.png"))
    assert [f.name for f in files][:2] == ["00000.png", "00001.png"] and len(files) == 6
    assert _read(files[5])[0, 47].tolist() == [200, 30, 30]
    assert not list(tmp_path.glob(".*"))  # no temporary leftovers
    with pytest.raises(UnitrackError, match="no frames"):
        viz.write_frames(iter([]), tmp_path / "b.mp4", "mp4")


# ------------------------------------------------------------------------------------------ demo renders


@pytest.fixture(scope="module")
def demo(demo_root) -> Path:
    return Path(demo_root)


def test_render_mot_demo_gt_as_prediction(demo, tmp_path):
    res, pred = _result(tmp_path, "mot", demo / "mot")
    seqs = sorted(p.name for p in (demo / "mot" / "train").iterdir())
    for s in seqs:
        shutil.copy(demo / "mot" / "train" / s / "gt" / "gt.txt", pred / f"{s}.txt")
    out = viz.visualise(res, tmp_path / "viz", fmt="png", opts=VizOptions(info=False, trail=0))
    assert sorted(p.name for p in out) == sorted([*seqs, *(f"{s}_errors.png" for s in seqs)])
    s = seqs[0]
    img = _read(tmp_path / "viz" / s / "00000.png")
    H, W = 96, 128
    assert img.shape == (H + 30, W, 3)  # frame + error strip
    gt = np.loadtxt(demo / "mot" / "train" / s / "gt" / "gt.txt", delimiter=",", ndmin=2)
    g = gt[gt[:, 0] == 1]
    boxes = g[:, 2:6] - [1, 1, 0, 0]  # MOTChallenge boxes are 1-based
    checked = 0
    for i, (x, y, _w, h) in enumerate(boxes):
        x0, y0 = int(round(x)), int(round(y))
        ym = y0 + int(h) // 2
        if not (0 <= x0 < W and 0 <= ym < H):
            continue
        others = np.delete(boxes, i, 0)
        near = ((others[:, 0] - 3 <= x0) & (x0 <= others[:, 0] + others[:, 2] + 3)
                & (others[:, 1] - 16 <= ym) & (ym <= others[:, 1] + others[:, 3] + 3))
        if near.any() or ym - y0 < 14:
            continue
        assert img[ym, x0].tolist() == viz.id_colors([int(g[i, 1])])[0].tolist()  # left edge in the id colour
        checked += 1
    assert checked >= 1
    # perfect tracking: the error strip has no switch / miss / FP colour at all
    strip = img[H:]
    for col in (viz.SWITCH_COLOR, viz.MISS_COLOR, viz.FP_COLOR):
        assert not (strip == col).all(2).any()


def test_mot_errors_are_marked_where_they_happen(demo, tmp_path):
    s = sorted(p.name for p in (demo / "mot" / "train").iterdir())[0]
    gt = np.loadtxt(demo / "mot" / "train" / s / "gt" / "gt.txt", delimiter=",", ndmin=2)
    res, pred = _result(tmp_path, "mot", demo / "mot")
    ids = np.unique(gt[:, 1])
    drop = (gt[:, 1] == ids[0]) & (gt[:, 0] == 5)  # track ids[0] missed in frame 5 (index 4)
    rows = gt[~drop]
    np.savetxt(pred / f"{s}.txt", rows[:, :6], fmt="%g", delimiter=",")
    info = viz.open_result(res)
    seq = viz.load_sequences(info, [s])[0]
    ev = viz.association_events(seq)
    assert ev.miss.tolist() == [1 if t == 4 else 0 for t in range(len(seq.frames))]
    assert ev.miss_ids[4].tolist() == [int(ids[0])] and ev.switch.sum() == 0 and ev.fp.sum() == 0
    frames = list(viz.render_sequence(seq, "mot", VizOptions(info=False, frame_indices=[4]), ev))
    gb = gt[(gt[:, 0] == 5) & (gt[:, 1] == ids[0])][0, 2:6] - [1, 1, 0, 0]
    assert frames[0].shape[0] == 96 + 30
    # the missed ground-truth box is outlined (dashed) in orange in that frame, labelled below
    x0, y0, x1, y1 = viz._box_corners(gb[None])[0]
    xs, ys = np.clip([x0, x1], 0, 127), np.clip([y0, y1], 0, 95)
    border = np.concatenate([frames[0][ys[0], xs[0]:xs[1] + 1], frames[0][ys[1], xs[0]:xs[1] + 1],
                             frames[0][ys[0]:ys[1] + 1, xs[0]], frames[0][ys[0]:ys[1] + 1, xs[1]]])
    assert (border == viz.MISS_COLOR).all(1).sum() >= 4


def test_render_vos_demo_palette_inside_masks(demo, tmp_path):
    from unitrack.eval.davis import read_mask

    res, pred = _result(tmp_path, "vos", demo / "davis")
    ann = demo / "davis" / "Annotations" / "480p"
    for s in sorted(p.name for p in ann.iterdir()):
        shutil.copytree(ann / s, pred / s)
    out = viz.visualise(res, tmp_path / "viz", fmt="png", opts=VizOptions(info=False, max_frames=3))
    assert len(out) == len(list(ann.iterdir()))
    seen_ids = set()
    for s in sorted(p.name for p in ann.iterdir()):
        lab = read_mask(ann / s / "00002.png")
        src = _read(demo / "davis" / "JPEGImages" / "480p" / s / "00002.jpg")
        img = _read(tmp_path / "viz" / s / "00002.png")
        for k in np.unique(lab[lab > 0]):
            m = (lab == k).astype(np.uint8)
            inner = cv2.erode(m, np.ones((5, 5), np.uint8)) > 0
            edge = viz.mask_boundary(lab) & (lab == k)
            col = viz.davis_palette()[k]
            ys, xs = np.nonzero(inner)
            diff = np.abs(img[ys, xs].astype(int) - _blend(src[ys, xs], col))
            assert diff.max() <= 1  # 50 % palette tint of the object's own id
            assert (img[edge] == col).all()  # contour in the full palette colour
            seen_ids.add(int(k))
        assert (img[lab == 0] == src[lab == 0]).all()  # background untouched
    assert {1, 3} <= seen_ids  # the sequence with non-contiguous ids keeps its ids' colours


def test_render_sot_demo_prediction_and_gt_colours(demo, tmp_path):
    from unitrack.eval.otb import read_boxes

    res, pred = _result(tmp_path, "sot", demo / "otb")
    seqs = sorted(p.name for p in (demo / "otb").iterdir() if p.is_dir())
    s = seqs[0]
    gt = read_boxes(demo / "otb" / s / "groundtruth_rect.txt")
    shifted = gt + [3, 0, 0, 0]  # prediction 3 px right of the ground truth
    (pred / f"{s}.txt").write_text("".join(",".join(f"{v:g}" for v in r) + "\n" for r in shifted))
    viz.visualise(res, tmp_path / "viz", seqs=[s], fmt="png", opts=VizOptions(info=False, max_frames=2))
    img = _read(tmp_path / "viz" / s / "00001.png")
    x, y, w, h = gt[1] - [1, 1, 0, 0]  # OTB boxes are 1-based
    ym = int(round(y)) + int(h) // 2
    assert img[ym, int(round(x))].tolist() == list(viz.SOT_GT_COLOR)  # ground truth: green
    assert img[ym, int(round(x)) + 3].tolist() == list(viz.SOT_PRED_COLOR)  # prediction: red
    assert img[ym, int(round(x + w)) - 1 + 3].tolist() == list(viz.SOT_PRED_COLOR)  # its right edge


def test_render_posetrack_and_mots_demo(demo, tmp_path):
    import json

    # PoseTrack: ground truth as prediction; every visible joint carries a dot in its track's colour
    res, pred = _result(tmp_path, "posetrack", demo / "posetrack")
    gtf = sorted((demo / "posetrack" / "annotations" / "val").glob("*.json"))[0]
    shutil.copy(gtf, pred / gtf.name)
    viz.visualise(res, tmp_path / "vp", fmt="png", opts=VizOptions(info=False, max_frames=1, trail=0))
    d = json.loads(gtf.read_text())
    first = d["images"][0]["id"]
    people = [(a["track_id"], np.array(a["keypoints"], float).reshape(-1, 3)) for a in d["annotations"]
              if a["image_id"] == first]
    img = _read(tmp_path / "vp" / gtf.stem / "00000.png")
    boxes = viz.kpts_to_boxes(np.stack([k for _, k in people]))
    checked = 0
    for i, (tid, kp) in enumerate(people):
        col = viz.id_colors([tid])[0]
        others = np.delete(boxes, i, 0)
        for x, y, v in kp:
            xi, yi = int(round(x)), int(round(y))
            if v <= 0 or not (0 <= xi < 128 and 16 <= yi < 96):
                continue
            if ((others[:, 0] - 4 <= xi) & (xi <= others[:, 0] + others[:, 2] + 4)
                    & (others[:, 1] - 18 <= yi) & (yi <= others[:, 1] + others[:, 3] + 4)).any():
                continue
            if boxes[i, 1] - 2 <= yi <= boxes[i, 1] + 12 and boxes[i, 0] - 2 <= xi <= boxes[i, 0] + 30:
                continue  # under the id tag
            assert img[yi, xi].tolist() == col.tolist()
            checked += 1
    assert checked >= 3
    # MOTS: ground truth as prediction; mask interiors tinted with the id colour
    from pycocotools import mask as mask_utils

    res, pred = _result(tmp_path, "mots", demo / "mots")
    s = sorted(p.name for p in (demo / "mots" / "train").iterdir())[0]
    shutil.copy(demo / "mots" / "train" / s / "gt" / "gt.txt", pred / f"{s}.txt")
    out = viz.visualise(res, tmp_path / "vm", fmt="png", opts=VizOptions(info=False, max_frames=1, trail=0))
    assert (tmp_path / "vm" / f"{s}_errors.png") in out
    img = _read(tmp_path / "vm" / s / "00000.png")
    src = _read(demo / "mots" / "train" / s / "img1" / "000001.jpg")
    rows = [ln.split(" ") for ln in (demo / "mots" / "train" / s / "gt" / "gt.txt").read_text().splitlines()]
    n_checked = 0
    for f, tid, cls, h, w, rle in rows:
        if f != "1" or cls != "2":
            continue
        m = mask_utils.decode({"size": [int(h), int(w)], "counts": rle.encode()})
        inner = cv2.erode(m, np.ones((5, 5), np.uint8)) > 0
        inner[:18] = False  # id tags sit above the objects
        ys, xs = np.nonzero(inner)
        if not len(ys):
            continue
        exp = _blend(src[ys, xs], viz.id_colors([int(tid)])[0])
        ok = np.abs(img[ys, xs].astype(int) - exp).max(1) <= 1
        assert ok.mean() > 0.9  # (a few interior pixels may carry another track's tag or trail)
        n_checked += 1
    assert n_checked >= 1


def test_render_poseprop_demo(demo, tmp_path):
    from unitrack.eval.jhmdb import grid_to_image, joints_to_grid, read_jhmdb, write_prediction

    res, pred = _result(tmp_path, "poseprop", demo / "jhmdb")
    v = read_jhmdb(demo / "jhmdb")[0]
    grid = joints_to_grid(v.joints, v.size, 320, 8)
    write_prediction(pred / f"{v.index}.dat", grid)
    viz.visualise(res, tmp_path / "vj", fmt="png", opts=VizOptions(info=False, max_frames=2))
    img = _read(tmp_path / "vj" / v.name / "00001.png")
    xy = grid_to_image(grid, v.size, 320, 8)[:, :, 1].T  # joints of frame 1 in image pixels
    col = viz.id_colors([1])[0].tolist()
    inside = [(x, y) for x, y in xy if 0 <= x < v.size[1] and 0 <= y < v.size[0]]
    hits = sum(img[int(round(y)), int(round(x))].tolist() == col for x, y in inside)
    assert hits >= len(inside) - 1 and len(inside) >= 10


# ------------------------------------------------------------------------------------------ CLI, preview, errors


def test_cli_viz_gif_and_render_preview(demo, tmp_path):
    from PIL import Image

    from unitrack.app.cli import main

    res, pred = _result(tmp_path, "mot", demo / "mot")
    s = sorted(p.name for p in (demo / "mot" / "train").iterdir())[0]
    shutil.copy(demo / "mot" / "train" / s / "gt" / "gt.txt", pred / f"{s}.txt")
    rc = main(["viz", str(res), "--out", str(tmp_path / "o"), "--format", "gif", "--max-frames", "5", "--gt", "side",
               "--seq", s, "-q"])
    assert rc == 0
    with Image.open(tmp_path / "o" / f"{s}.gif") as im:
        assert im.n_frames == 5 and im.size == (2 * 128 + 4, 96 + 30)
    g = viz.render_preview(res, tmp_path / "prev.gif", max_frames=4, width=64)
    with Image.open(g) as im:
        assert im.n_frames == 4 and im.size[0] == 64
    assert main(["viz", str(tmp_path / "nope"), "--out", str(tmp_path / "o2"), "-q"]) == 2


def test_bad_inputs_name_the_file(demo, tmp_path):
    res, pred = _result(tmp_path, "mot", demo / "mot")
    s = sorted(p.name for p in (demo / "mot" / "train").iterdir())[0]
    (pred / f"{s}.txt").write_text("1,1,10,10,5,5,1,-1,-1,-1\n2,1,ten,10,5,5,1,-1,-1,-1\n")
    with pytest.raises(UnitrackError, match=rf"{s}\.txt:2: not a number"):  # the one MOTChallenge reader's wording
        viz.visualise(res, tmp_path / "o", fmt="png")
    with pytest.raises(UnitrackError, match="holds no result.json"):
        viz.visualise(pred, tmp_path / "o")
    # a bare prediction folder works with --task / --data
    (pred / f"{s}.txt").write_text("1,1,10,10,5,5,1,-1,-1,-1\n")
    out = viz.visualise(pred, tmp_path / "o", fmt="png", task="mot", data=demo / "mot", opts=VizOptions(errors=False))
    assert [p.name for p in out] == [s]
    moved = Result.load(res)
    moved.fingerprint["data_root"] = str(tmp_path / "gone")
    moved.save(res)
    with pytest.raises(UnitrackError, match="does not exist; pass --data"):
        viz.visualise(res, tmp_path / "o")


# ------------------------------------------------------------------------------------------ real slices


@pytest.mark.integration
def test_real_davis_and_mot17_mini(sample_data, tmp_path):
    from unitrack.eval.davis import read_mask

    res, pred = _result(tmp_path, "vos", sample_data / "davis")
    shutil.copytree(sample_data / "davis" / "Annotations" / "480p" / "blackswan", pred / "blackswan")
    viz.visualise(res, tmp_path / "vd", fmt="png", opts=VizOptions(info=False, frame_indices=[10]))
    img = _read(tmp_path / "vd" / "blackswan" / "00000.png")
    lab = read_mask(sample_data / "davis" / "Annotations" / "480p" / "blackswan" / "00010.png")
    assert img.shape == (480, 854, 3)
    edge = viz.mask_boundary(lab, 2)
    assert (img[edge] == [128, 0, 0]).all() and edge.sum() > 500  # swan outline, palette id 1

    # mot17-mini, ground truth (pedestrians) as prediction with two ids swapped from frame 3 on
    res, pred = _result(tmp_path, "mot", sample_data / "mot17-mini")
    s = "MOT17-09-FRCNN"
    g = np.loadtxt(sample_data / "mot17-mini" / "train" / s / "gt" / "gt.txt", delimiter=",")
    g = g[(g[:, 7] == 1) & (g[:, 6] == 1)]
    a, b = np.unique(g[:, 1])[:2]
    late = g[:, 0] >= 3
    ia, ib = (g[:, 1] == a) & late, (g[:, 1] == b) & late
    g[ia, 1], g[ib, 1] = b, a
    np.savetxt(pred / f"{s}.txt", g[:, :6], fmt="%g", delimiter=",")
    info = viz.open_result(res)
    seq = viz.load_sequences(info, [s])[0]
    assert len(seq.frames) == 4  # the images present, not seqLength=600
    ev = viz.association_events(seq)
    assert ev.switch.tolist() == [0, 0, 2, 0] and ev.miss.sum() == 0 and ev.fp.sum() == 0
    out = viz.visualise(res, tmp_path / "vm", seqs=[s], fmt="mp4")
    cap = cv2.VideoCapture(str(out[0]))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 4 and int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) == 1920
    cap.release()


def test_posetrack_unlabelled_frames_and_ignore_regions(tmp_path):
    import json

    root = tmp_path / "pt"
    (root / "images" / "val" / "v").mkdir(parents=True)
    for t in range(2):
        cv2.imwrite(str(root / "images" / "val" / "v" / f"{t:06d}.jpg"), np.zeros((60, 80, 3), np.uint8))

    def person(x, y, tid=None):
        kp = [0.0] * 51
        for k, (dx, dy) in enumerate([(0, 0), (0, 10), (5, 20)]):
            kp[3 * k:3 * k + 3] = [x + dx, y + dy, 1]
        d = {"keypoints": kp}
        if tid is not None:
            d["track_id"] = tid
        return d

    images = [{"id": 10, "file_name": "images/val/v/000000.jpg", "is_labeled": True,
               "ignore_regions_x": [[50, 79, 79, 50]], "ignore_regions_y": [[0, 0, 59, 59]]},
              {"id": 11, "file_name": "images/val/v/000001.jpg", "is_labeled": False}]
    gt = {"images": images, "annotations": [{**person(10, 10, 0), "image_id": 10}, {**person(60, 10, 1), "image_id": 10}]}
    pred = {"images": images, "annotations": [{**person(10, 10, 5), "image_id": 10}, {**person(60, 10, 6), "image_id": 10},
                                              {**person(20, 5, 7), "image_id": 11}]}
    (root / "annotations" / "val").mkdir(parents=True)
    (root / "annotations" / "val" / "v.json").write_text(json.dumps(gt))
    res, pdir = _result(tmp_path, "posetrack", root)
    (pdir / "v.json").write_text(json.dumps(pred))
    seq = viz.load_sequences(viz.open_result(res))[0]
    assert seq.gt[1] is None and len(seq.pred[1]) == 1  # unlabelled frame: drawn, not scored
    assert seq.gt[0].ids.tolist() == [0]  # the GT person inside the ignore region is dropped
    ev = viz.association_events(seq)
    assert ev.totals == {"id_switches": 0, "misses": 0, "false_positives": 0, "gt_objects": 1}
    assert ev.evaluated.tolist() == [True, False]


def test_eval_viz_end_to_end(tmp_path):
    from PIL import Image

    from unitrack.app.cli import main
    from unitrack.eval.demo import generate_demo

    data = generate_demo(tmp_path / "demo", tasks=["vos"], num_sequences=1, num_frames=10, size=(64, 64))
    rc = main(["eval", "--task", "vos", "--backbone", "random_r18", "--data", str(data / "davis"), "--out",
               str(tmp_path / "res"), "--device", "cpu", "--viz", "gif", "-q"])
    assert rc == 0
    gifs = list((tmp_path / "res").rglob("viz/*.gif"))
    assert len(gifs) == 1
    with Image.open(gifs[0]) as im:
        assert im.n_frames == 10 and im.size == (64, 64)
