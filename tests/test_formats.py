"""The shared format readers of unitrack.eval.formats (malformed files name the file and line), the one
frame lister (gaps, odd names), the sequence classes on the eval.base contract, and viz outputs with the
usual umask permissions."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from unitrack.eval.base import Sequence
from unitrack.eval.formats import (
    PALETTE,
    davis_palette,
    frame_number,
    list_frames,
    read_mask,
    read_mot_txt,
    read_mots_txt,
    read_posetrack_json,
    read_seqinfo,
    write_mask,
)
from unitrack.utils import UnitrackError


def _touch(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n in names:
        (folder / n).write_bytes(b"")


# ------------------------------------------------------------------------------------------ frame folders


def test_list_frames_sorts_by_number_and_skips_what_is_not_a_frame(tmp_path):
    d = tmp_path / "img"
    _touch(d, "10.jpg", "2.JPG", "000001.png", ".3.jpg", "notes.txt", "cover.jpg")
    (d / "4.jpg").mkdir()  # a folder is not a frame
    assert [p.name for p in list_frames(d, numbered=False)] == ["000001.png", "2.JPG", "10.jpg", "cover.jpg"]
    assert [p.name for p in list_frames(d, (".png",))] == ["000001.png"]
    assert [frame_number(p) for p in list_frames(d, numbered=False)] == [1, 2, 10, None]
    with pytest.raises(UnitrackError, match=r"cover\.jpg: image names in .*img must be frame numbers"):
        list_frames(d)


def test_list_frames_gaps_duplicates_and_first_frame(tmp_path):
    d = tmp_path / "img1"
    _touch(d, "000001.jpg", "000002.jpg", "000004.jpg", "000006.jpg")
    assert len(list_frames(d)) == 4  # numbers need not be contiguous unless `first` is given
    with pytest.raises(UnitrackError, match=r"img1: expected images numbered 1…4 without gaps, .*missing \[3, 5\]"):
        list_frames(d, first=1)
    d2 = tmp_path / "dup"
    _touch(d2, "000001.jpg", "000001.png", "000002.jpg")
    with pytest.raises(UnitrackError, match=r"dup: .*duplicate frame numbers"):
        list_frames(d2, first=1)
    d3 = tmp_path / "zero"
    _touch(d3, "00000.jpg", "00001.jpg")
    assert len(list_frames(d3, first=0)) == 2
    with pytest.raises(UnitrackError, match=r"zero: .*the first frame must be 1"):
        list_frames(d3, first=1)


def test_list_frames_empty_and_missing_folders(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UnitrackError, match=r"empty: no frames"):
        list_frames(tmp_path / "empty")
    with pytest.raises(UnitrackError, match=r"nope: folder does not exist"):
        list_frames(tmp_path / "nope")
    assert list_frames(tmp_path / "empty", required=False) == list_frames(tmp_path / "nope", required=False) == []


# ------------------------------------------------------------------------------------------ seqinfo.ini


def test_read_seqinfo(tmp_path):
    ini = tmp_path / "seqinfo.ini"
    assert read_seqinfo(ini) == {}  # absent: nothing declared
    ini.write_text("[Sequence]\nname=A\nframeRate=25\nseqLength=3\n")
    assert read_seqinfo(ini) == {"name": "A", "framerate": "25", "seqlength": "3"}
    ini.write_text("[Other]\nname=A\n")
    with pytest.raises(UnitrackError, match=r"seqinfo\.ini: no \[Sequence\] section"):
        read_seqinfo(ini)
    ini.write_text("name=A\n")
    with pytest.raises(UnitrackError, match=r"seqinfo\.ini: not a valid seqinfo\.ini"):
        read_seqinfo(ini)


# ------------------------------------------------------------------------------------------ MOTChallenge txt


@pytest.mark.parametrize("text, kind, match", [
    ("1,1,10,10,5,5,1,-1,-1,-1\n2,1,ten,10,5,5,1,-1,-1,-1\n", "pred", r"res\.txt:2: not a number"),
    ("1,1,10,10,5,5\n\n2,1,10,10,5\n", "pred", r"res\.txt:3: 5 comma-separated columns"),
    ("1,-1,1,2,3,4\n", "det", r"res\.txt:1: 6 comma-separated columns.*expected 7 or 10"),
    ("1,1,1,1,5,5,1,1,1\n-2,1,1,1,5,5,1,1,1\n", "gt", r"res\.txt:2: frame '-2'"),
])  # fmt: skip
def test_read_mot_txt_errors_name_file_and_line(tmp_path, text, kind, match):
    p = tmp_path / "res.txt"
    p.write_text(text)
    with pytest.raises(UnitrackError, match=match):
        read_mot_txt(p, kind)


def test_read_mot_txt_rows_and_lines(tmp_path):
    p = tmp_path / "gt.txt"
    p.write_text("1,1,10,10,5,5,1,1,1\n\n3, 2, 1, 2, 3, 4, 0, 7, 0.5\n")
    rows, lines = read_mot_txt(p, "gt")
    assert rows.shape == (2, 9) and lines.tolist() == [1, 3] and rows[1, 7] == 7


# ------------------------------------------------------------------------------------------ MOTS txt


def test_read_mots_txt_errors_name_file_and_line(tmp_path):
    from unitrack.eval.mots import encode_mask

    m = np.zeros((6, 5), np.uint8)
    m[1:3, 1:4] = 1
    good = f"1 2001 2 6 5 {encode_mask(m).decode()}"
    p = tmp_path / "gt.txt"
    p.write_text(f"{good}\n1 2002 2 6 5 5Ooo1\n")
    with pytest.raises(UnitrackError, match=r"gt\.txt:2: RLE does not decode"):
        read_mots_txt(p)
    p.write_text(f"{good}\n\n2 2001 2 6 5\n")
    with pytest.raises(UnitrackError, match=r"gt\.txt:3: expected 6 space-separated fields"):
        read_mots_txt(p)
    p.write_text(f"{good}\n1 2001 x 6 5 {encode_mask(m).decode()}\n")
    with pytest.raises(UnitrackError, match=r"gt\.txt:2: frame, id, class, height and width must be integers"):
        read_mots_txt(p)
    p.write_text(f"{good}\n{good}\n")
    with pytest.raises(UnitrackError, match=r"gt\.txt:2: duplicate id 2001 in frame 1"):
        read_mots_txt(p)
    assert [r.obj_id for r in read_mots_txt(p, unique_ids=False)[1]] == [2001, 2001]


# ------------------------------------------------------------------------------------------ PoseTrack JSON


def test_read_posetrack_json_errors_name_the_file(tmp_path):
    p = tmp_path / "000001_x.json"
    p.write_text("{not json")
    with pytest.raises(UnitrackError, match=r"000001_x\.json: not valid JSON"):
        read_posetrack_json(p)
    p.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.jpg"}],
                             "annotations": [{"image_id": 1, "keypoints": [1, 2, 1]}]}))
    with pytest.raises(UnitrackError, match=r"000001_x\.json: annotations\[0\]: expected 51 keypoint values"):
        read_posetrack_json(p)
    p.write_text(json.dumps({"annolist": [{"image": [{"name": "a.jpg"}],
                                           "annorect": [{"annopoints": [{"point": [{"id": [20], "x": [1], "y": [2]}]}]}]}]}))
    with pytest.raises(UnitrackError, match=r"000001_x\.json: annolist\[0\]\.annorect\[0\].*joint id"):
        read_posetrack_json(p)
    p.write_text(json.dumps([1, 2]))
    with pytest.raises(UnitrackError, match=r"000001_x\.json: expected a PoseTrack-18 object"):
        read_posetrack_json(p)


# ------------------------------------------------------------------------------------------ DAVIS masks


def test_davis_palette_and_indexed_png(tmp_path):
    assert davis_palette()[:4].tolist() == [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0]]
    assert (PALETTE == davis_palette(256)).all() and davis_palette(8).shape == (8, 3)
    ids = np.zeros((4, 6), np.uint8)
    ids[1:3, 2:5] = 3
    write_mask(tmp_path / "m.png", ids)
    with Image.open(tmp_path / "m.png") as im:
        assert im.mode == "P" and im.getpalette()[9:12] == [128, 128, 0]
    assert (read_mask(tmp_path / "m.png") == ids).all()
    Image.fromarray(np.zeros((4, 6, 3), np.uint8)).save(tmp_path / "rgb.png")
    with pytest.raises(UnitrackError, match=r"rgb\.png: RGB image, expected an indexed"):
        read_mask(tmp_path / "rgb.png")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(UnitrackError, match=r"broken\.png: cannot read mask"):
        read_mask(tmp_path / "broken.png")


# ------------------------------------------------------------------------------------------ sequence classes


def test_sequence_classes_follow_the_base_contract(tmp_path):
    from unitrack.eval.davis import DavisSequence
    from unitrack.eval.jhmdb import JhmdbVideo
    from unitrack.eval.motchallenge import MOTSequence
    from unitrack.eval.mots import MOTSSequence
    from unitrack.eval.otb import SOTSequence
    from unitrack.eval.posetrack import PTVideo

    f = [tmp_path / "1.jpg", tmp_path / "2.jpg"]
    seqs = [
        SOTSequence("s", f, np.ones((2, 4)), tmp_path / "gt.txt", 1, 1),  # positional, as the readers call them
        DavisSequence("d", f, [None, None], (4, 6)),
        JhmdbVideo("j", 0, tmp_path / "a.mat", f, np.zeros((2, 15, 2)), (4, 6)),
        MOTSequence(name="m", path=tmp_path, images=f, num_frames=2, declared_length=None, frame_rate=30.0, width=6,
                    height=4, gt_file=None, det_file=None),
        MOTSSequence("t", tmp_path, f, 4, 6, 30.0, 2, None, None),
        PTVideo(tmp_path / "v.json", "2018", [], {}),
    ]
    assert all(isinstance(s, Sequence) for s in seqs)
    assert [s.name for s in seqs] == ["s", "d", "j", "m", "t", "v"]
    assert [len(s) for s in seqs] == [2, 2, 2, 2, 2, 0]
    assert [s.size for s in seqs[:5]] == [None, (4, 6), (4, 6), (4, 6), (4, 6)]
    d, m = seqs[1], seqs[3]
    assert d.annotations == [None, None] and d.binarize is False
    assert m.images is m.frames and m.warnings == []
    with pytest.raises(UnitrackError, match=r"gt\.txt:1: the first-frame box"):
        SOTSequence("bad", f, np.zeros((2, 4)), tmp_path / "gt.txt").validate()


# ------------------------------------------------------------------------------------------ viz outputs


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mode & 0o777 for p in sorted(root.rglob("*"))}


def test_viz_outputs_get_umask_permissions(tmp_path, umask_022, demo_root):
    from unitrack.app import viz
    from unitrack.results import Result

    frames = [np.full((16, 24, 3), 10 * i, np.uint8) for i in range(3)]
    out = tmp_path / "out"
    viz.write_frames(iter(frames), out / "a.mp4", "mp4")
    viz.write_frames(iter(frames), out / "a.gif", "gif")
    viz.write_frames(iter(frames), out / "a", "png")
    viz.write_png(out / "strip.png", frames[0])
    # a drawn result: per-sequence PNG folders and the error strips
    res = tmp_path / "res"
    (res / "pred").mkdir(parents=True)
    Result(task="mot", dataset="demo", backbone="gt", layer=3, metrics={},
           fingerprint={"data_root": str(Path(demo_root) / "mot")}).save(res)
    seq = sorted(p.name for p in (Path(demo_root) / "mot" / "train").iterdir())[0]
    shutil.copy(Path(demo_root) / "mot" / "train" / seq / "gt" / "gt.txt", res / "pred" / f"{seq}.txt")
    viz.visualise(res, out / "viz", fmt="png", opts=viz.VizOptions(max_frames=2))
    modes = _modes(out)
    assert f"viz/{seq}_errors.png" in modes and "a/00002.png" in modes
    bad = {p: oct(m) for p, m in modes.items() if m != (0o755 if (out / p).is_dir() else 0o644)}
    assert bad == {}  # files 0644, folders 0755 under umask 022: nothing private (0600 / 0700)
    assert not [p for p in modes if Path(p).name.startswith(".")]  # no temporary leftovers


def test_viz_task_without_loader_is_a_clear_error(tmp_path, monkeypatch, demo_root):
    import dataclasses

    from unitrack.app import viz
    from unitrack.results import Result
    from unitrack.tasks import get_spec

    res = tmp_path / "res"
    (res / "pred").mkdir(parents=True)
    Result(task="mot", dataset="demo", backbone="gt", layer=3, metrics={},
           fingerprint={"data_root": str(Path(demo_root) / "mot")}).save(res)
    spec = dataclasses.replace(get_spec("mot"), viz_loader=None)
    monkeypatch.setattr(viz, "get_spec", lambda name: spec)
    with pytest.raises(UnitrackError, match=r"task 'mot' cannot be drawn: its TaskSpec declares no viz_loader"):
        viz.visualise(res, tmp_path / "o")


def test_every_builtin_task_declares_a_viz_loader():
    from unitrack.tasks import get_spec

    for name in ("sot", "vos", "poseprop", "mot", "mots", "posetrack"):
        assert callable(get_spec(name).viz_loader), name


def test_error_strip_png_is_readable(tmp_path, umask_022):
    from unitrack.app import viz

    img = np.zeros((8, 12, 3), np.uint8)
    img[:, :6] = (255, 0, 0)
    p = viz.write_png(tmp_path / "s.png", img)
    assert cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB)[0, 0].tolist() == [255, 0, 0]
    assert (p.stat().st_mode & 0o777) == 0o644
