"""Bad input, tried the way a researcher would: every case must end in a clear error (exit 2, the message
names the file or key and what was expected, no traceback, nothing half-written), or in a warning that is
recorded — never in a silently wrong number or a traceback.

Each case builds its bad input from the generated demo benchmark (or a fabricated checkpoint / result) and
runs the real command line in-process. The case table is the classification: ``error`` / ``warning`` /
``accepted`` (a variant the toolkit handles correctly, e.g. extra whitespace). A ``warning`` is a run that
finishes (exit 0) and lists what it left out in its result's ``skipped`` entries (``result.json`` of
``eval``, the ``--out`` JSON of ``score``).

The dataset cases copy one task folder of a small demo benchmark generated once per session
(:func:`small_demo`) and mutate one file; most of them fail while the data is read, before the backbone runs.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from unitrack.app.cli import main


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[Path, Path], list[str]]  # (tmp folder, demo root) -> argv
    expect: str  # error | warning | accepted
    needles: tuple[str, ...] = ()  # must all appear in stderr (error/warning)
    skipped: tuple[str, ...] = ()  # warning: each must appear in one of the result's 'skipped' entries


OUT = "out"


def _eval(task: str, data: str, *extra: str) -> list[str]:
    return ["eval", "--task", task, "--backbone", "random_r18", "--data", data, "--device", "cpu",
            "--max-sequences", "1", *extra]


SCORE_JSON = "score.json"


def _score(task: str, gt: Path, pred: Path, tmp: Path) -> list[str]:
    return ["score", "--task", task, "--gt", str(gt), "--pred", str(pred), "--out", str(tmp / SCORE_JSON)]


def _copy(demo: Path, sub: str, tmp: Path) -> Path:
    dst = tmp / sub
    shutil.copytree(demo / sub, dst)
    return dst


def _ckpt(tmp: Path, mutate: Callable[[dict], dict]) -> Path:
    import torch
    import torchvision

    torch.manual_seed(0)
    sd = mutate(torchvision.models.resnet18().state_dict())
    p = tmp / "ckpt.pth"
    torch.save(sd, p)
    return p


def _nan_conv1(sd: dict) -> dict:
    sd["conv1.weight"][0, 0, 0, 0] = float("nan")
    return sd


def _result(tmp: Path, **over) -> Path:
    d = tmp / "res" / "vos" / "demo" / "random_r18-layer3"
    d.mkdir(parents=True)
    r = {"task": "vos", "dataset": "demo", "backbone": "random_r18", "layer": 3, "metrics": {"J&F-Mean": 0.5},
         "per_sequence": {}, "fingerprint": {"key": "k"}, "config": {}, "extra": {}, "schema": 2}
    r.update(over)
    (d / "result.json").write_text(json.dumps(r))
    return tmp / "res"


def _yaml(tmp: Path, text: str) -> Path:
    p = tmp / "cfg.yaml"
    p.write_text(text)
    return p


CASES = [
    # ---------------------------------------------------------------- config values
    Case("config-int-nan", lambda t, d: _eval("vos", "demo", "--set", "vos.topk=.nan"), "error", ("vos.topk",)),
    Case("config-float-nan", lambda t, d: _eval("vos", "demo", "--set", "vos.temperature=.nan"), "error",
         ("vos.temperature", "finite")),
    Case("config-float-inf", lambda t, d: _eval("vos", "demo", "--set", "vos.temperature=inf"), "error",
         ("vos.temperature", "finite")),
    Case("config-list-nan", lambda t, d: _eval("poseprop", "demo", "--set", "poseprop.pck_thresholds=[0.1,.nan]"),
         "error", ("poseprop.pck_thresholds",)),
    Case("config-unknown-key", lambda t, d: _eval("vos", "demo", "--set", "vos.topkk=5"), "error",
         ("vos.topkk", "topk")),
    Case("config-bad-bool", lambda t, d: _eval("vos", "demo", "--set", "vos.l2_normalize=maybe"), "error",
         ("vos.l2_normalize",)),
    Case("config-batch-size-0", lambda t, d: _eval("vos", "demo", "--set", "common.batch_size=0"), "error",
         ("common.batch_size",)),
    Case("config-max-sequences-neg", lambda t, d: ["eval", "--task", "vos", "--backbone", "random_r18", "--set",
                                                   "common.max_sequences=-1"], "error", ("common.max_sequences",)),
    Case("cli-max-sequences-neg", lambda t, d: ["eval", "--task", "vos", "--max-sequences", "-1"], "error",
         ("--max-sequences",)),
    Case("cli-max-sequences-zero", lambda t, d: ["eval", "--task", "vos", "--max-sequences", "0"], "error",
         ("--max-sequences",)),
    Case("yaml-unknown-section", lambda t, d: _eval("vos", "demo", "--config", str(_yaml(t, "voss:\n  topk: 3\n"))),
         "error", ("cfg.yaml", "voss")),
    Case("yaml-not-a-mapping", lambda t, d: _eval("vos", "demo", "--config", str(_yaml(t, "- 1\n- 2\n"))), "error",
         ("cfg.yaml", "mapping")),
    Case("yaml-invalid", lambda t, d: _eval("vos", "demo", "--config", str(_yaml(t, "vos: [\n"))), "error",
         ("cfg.yaml", "YAML")),
    Case("yaml-missing", lambda t, d: _eval("vos", "demo", "--config", str(t / "nope.yaml")), "error", ("nope.yaml",)),
    Case("device-cuda-absent", lambda t, d: _eval("vos", "demo", "--device", "cuda"), "error", ("cuda",)),
    Case("unknown-task", lambda t, d: ["eval", "--task", "voss"], "error", ("voss",)),
    Case("head-for-single-head-task", lambda t, d: _eval("vos", "demo", "--head", "dcf"), "error", ("--head",)),
    # ---------------------------------------------------------------- checkpoints
    Case("weights-missing", lambda t, d: _eval("vos", "demo", "--weights", str(t / "gone.pth")), "error",
         ("gone.pth",)),
    Case("weights-not-a-checkpoint", lambda t, d: _eval("vos", "demo", "--backbone", "imagenet_r18", "--weights",
                                                        str(_yaml(t, "just text\n"))), "error", ("cfg.yaml",)),
    Case("weights-other-keys", lambda t, d: _eval("vos", "demo", "--backbone", "imagenet_r18", "--weights",
                                                  str(_ckpt(t, lambda sd: {"stem_" + k.replace(".", "_"): v for k, v in sd.items()}))),
         "error", ("ckpt.pth", "missing")),
    Case("weights-nan", lambda t, d: _eval("vos", "demo", "--backbone", "imagenet_r18", "--weights",
                                           str(_ckpt(t, _nan_conv1))), "error", ("ckpt.pth", "NaN", "conv1.weight")),
    # ---------------------------------------------------------------- data folders and the results store
    Case("data-missing", lambda t, d: _eval("vos", str(t / "nodata")), "error", ("nodata",)),
    Case("out-is-a-file", lambda t, d: [*_eval("vos", "demo"), "--out", str(_yaml(t, "x"))], "error",
         ("cfg.yaml", "file")),
    # ---------------------------------------------------------------- report / correlate / viz on bad results
    Case("report-invalid-json", lambda t, d: ["report", str(_broken_json(t)), "--out", str(t / "rep"),
                                              "--no-previews"], "error", ("result.json",)),
    Case("report-metrics-not-numbers", lambda t, d: ["report", str(_result(t, metrics={"J&F-Mean": "high"})),
                                                     "--out", str(t / "rep"), "--no-previews"], "accepted"),
    Case("report-layer-not-int", lambda t, d: ["report", str(_result(t, layer="three")), "--out", str(t / "rep"),
                                               "--no-previews"], "error", ("result.json", "layer")),
    Case("correlate-layer-not-int", lambda t, d: ["correlate", str(_result(t, layer="three"))], "error",
         ("result.json", "layer")),
    Case("correlate-negative-bootstrap", lambda t, d: ["correlate", "--paper", "--bootstrap", "-5"], "error",
         ("--bootstrap",)),
    Case("viz-binary-file", lambda t, d: ["viz", str(_binary(t)), "--out", str(t / "v")], "error", ("blob.bin",)),
    Case("viz-result-json-binary", lambda t, d: ["viz", str(_binary_result(t)), "--out", str(t / "v")], "error",
         ("result.json",)),
    # ---------------------------------------------------------------- the demo generator
    Case("demo-size-too-small", lambda t, d: ["datasets", "demo", "--out", str(t / "dd"), "--size", "10x10"], "error",
         ("size",)),
    Case("demo-too-many-frames", lambda t, d: ["datasets", "demo", "--out", str(t / "dd"), "--frames", "999"], "error",
         ("frames",)),
    Case("demo-zero-sequences", lambda t, d: ["datasets", "demo", "--out", str(t / "dd"), "--sequences", "0"],
         "error", ("sequences",)),
]


def _broken_json(tmp: Path) -> Path:
    res = _result(tmp)
    (res / "vos" / "demo" / "random_r18-layer3" / "result.json").write_text("{not json")
    return res


def _binary(tmp: Path) -> Path:
    p = tmp / "blob.bin"
    p.write_bytes(os.urandom(256))
    return p


def _binary_result(tmp: Path) -> Path:
    d = tmp / "r"
    d.mkdir()
    (d / "result.json").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(64))
    return d


# ================================================================ datasets: one mutated file of the small demo
# Each builder copies one task folder of the small demo into the case's tmp folder, changes one thing and
# returns the command line. SOT runs one head (xcorr); MOT/MOTS/PoseTrack/DAVIS/JHMDB their only head.

OTB_SEQ = "otb/Demo01"
OTB_GT = f"{OTB_SEQ}/groundtruth_rect.txt"
DAVIS_ANN = "davis/Annotations/480p/demo-01"
JHMDB_VIDEO = "demo_walk_f_cm_np1_fr_med_0"
JHMDB_MAT = f"jhmdb/joint_positions/{JHMDB_VIDEO}/joint_positions.mat"
JHMDB_FRAMES = f"jhmdb/Frames/{JHMDB_VIDEO}"
MOT_SEQ = "mot/train/DEMO-01"
MOTS_SEQ = "mots/train/DEMO-01"
PT_GT = "posetrack/annotations/val/000001_demo.json"
PT_DET = "posetrack/detections/val/000001_demo.json"


def _lines(p: Path) -> list[str]:
    return p.read_text().splitlines()


def _write_lines(p: Path, lines: list[str]) -> None:
    p.write_text("".join(f"{ln}\n" for ln in lines))


def _edit_line(p: Path, i: int, fn: Callable[[list[str]], list[str]], sep: str = ",") -> None:
    """Line i (0-based) of a text file split at ``sep``, changed by ``fn``."""
    lines = _lines(p)
    lines[i] = sep.join(fn(lines[i].split(sep)))
    _write_lines(p, lines)


def _set(fields: list[str], k: int, v: str) -> list[str]:
    fields[k] = v
    return fields


def _data(t: Path, d: Path, sub: str, mutate: Callable[[Path], object] | None = None) -> Path:
    """Copy the demo's ``sub`` folder into ``t`` and apply ``mutate`` to the copy's root (``t``)."""
    _copy(d, sub, t)
    if mutate is not None:
        mutate(t)
    return t / sub


def _sot(t: Path, d: Path, mutate: Callable[[Path], object] | None = None) -> list[str]:
    return _eval("sot", str(_data(t, d, "otb", mutate)), "--head", "xcorr")


def _sot_score(t: Path, d: Path, mutate_pred: Callable[[list[str]], list[str]]) -> list[str]:
    gt = _data(t, d, "otb")
    pred = t / "pred"
    pred.mkdir()
    rows = [ln.replace("\t", ",") for ln in _lines(gt / "Demo01" / "groundtruth_rect.txt")]
    _write_lines(pred / "Demo01.txt", mutate_pred(rows))
    return _score("sot", gt, pred, t)


def _row(rows: list[str], i: int, value: str) -> list[str]:
    rows[i] = value
    return rows


def _mat(t: Path, fn: Callable[[np.ndarray], np.ndarray]) -> None:
    import scipy.io

    p = t / JHMDB_MAT
    scipy.io.savemat(p, {"pos_img": fn(scipy.io.loadmat(p)["pos_img"])})


def _mask_png(t: Path, name: str, fn: Callable[[np.ndarray], np.ndarray], mode: str | None = "P") -> None:
    from PIL import Image

    from unitrack.eval.formats import PALETTE_FLAT

    p = t / DAVIS_ANN / name
    m = fn(np.array(Image.open(p)))
    im = Image.fromarray(m.astype(np.uint8))
    if mode == "P":
        im = im.convert("P")
        im.putpalette(PALETTE_FLAT)
    elif mode is not None:
        im = im.convert(mode)
    im.save(p)


def _rgb_png(t: Path, name: str) -> None:
    from PIL import Image

    p = t / DAVIS_ANN / name
    Image.open(p).convert("RGB").save(p)


def _relabel(t: Path, old: int, new: int) -> None:
    for p in sorted((t / DAVIS_ANN).glob("*.png")):
        _mask_png(t, p.name, lambda m: np.where(m == old, new, m))


def _json_edit(p: Path, fn: Callable[[dict], object]) -> None:
    data = json.loads(p.read_text())
    fn(data)
    p.write_text(json.dumps(data))


def _mots_rows(p: Path) -> list[list[str]]:
    return [ln.split(" ") for ln in _lines(p)]


def _mots_overlap(p: Path) -> None:
    """Append a copy of the first row's mask under a new id (same frame): two masks overlap."""
    first = _lines(p)[0].split(" ")
    _write_lines(p, _lines(p) + [" ".join([first[0], "2999", *first[2:]])])


def _mots_halve(p: Path) -> None:
    """Every mask at half the resolution (32×32 for 64×64 images), still valid disjoint RLE."""
    from unitrack.eval.mots import decode_rles, encode_mask

    out = []
    for f in _mots_rows(p):
        h, w = int(f[3]), int(f[4])
        m = decode_rles([{"size": [h, w], "counts": f[5].encode()}], h, w)[0, ::2, ::2]
        out.append(" ".join([*f[:3], str(m.shape[0]), str(m.shape[1]), encode_mask(m).decode()]))
    _write_lines(p, out)


def _mots_score(t: Path, d: Path, mutate_pred: Callable[[Path], object]) -> list[str]:
    gt = _data(t, d, "mots")
    pred = t / "pred"
    pred.mkdir()
    shutil.copyfile(gt / "train" / "DEMO-01" / "gt" / "gt.txt", pred / "DEMO-01.txt")  # GT as prediction
    mutate_pred(pred / "DEMO-01.txt")
    return _score("mots", gt, pred, t)


def _mot_score(t: Path, d: Path, mutate_pred: Callable[[Path], object]) -> list[str]:
    gt = _data(t, d, "mot")
    pred = t / "pred"
    pred.mkdir()
    shutil.copyfile(gt / "train" / "DEMO-01" / "gt" / "gt.txt", pred / "DEMO-01.txt")  # GT as prediction
    mutate_pred(pred)
    return _score("mot", gt, pred, t)


def _pt_second_video(t: Path, gt_fn: Callable[[dict], object]) -> None:
    """A second PoseTrack video (same images) whose GT is changed by ``gt_fn``."""
    for rel in (PT_GT, PT_DET):
        shutil.copyfile(t / rel, t / rel.replace("000001_demo", "000002_demo"))
    _json_edit(t / PT_GT.replace("000001_demo", "000002_demo"), gt_fn)


def _no_annotations(data: dict) -> None:
    data["annotations"] = []


def _ann(i: int, key: str, fn: Callable[[object], object]) -> Callable[[dict], None]:
    def edit(data: dict) -> None:
        data["annotations"][i][key] = fn(data["annotations"][i][key])
    return edit


DATA_CASES = [
    # ---------------------------------------------------------------- OTB (sot)
    Case("otb-missing-frame", lambda t, d: _sot(t, d, lambda r: (r / OTB_SEQ / "img" / "0005.jpg").unlink()),
         "error", ("groundtruth_rect.txt", "0005.jpg", "missing")),
    Case("otb-gap-in-numbering", lambda t, d: _sot(t, d, lambda r: (r / OTB_SEQ / "img" / "0003.jpg").rename(
        r / OTB_SEQ / "img" / "0011.jpg")), "error", ("0003.jpg", "missing")),
    Case("otb-oddly-named-frame", lambda t, d: _sot(t, d, lambda r: (r / OTB_SEQ / "img" / "0005.jpg").rename(
        r / OTB_SEQ / "img" / "frame5.jpg")), "error", ("frame5.jpg", "frame numbers")),
    Case("otb-gt-one-row-short", lambda t, d: _sot(t, d, lambda r: _write_lines(r / OTB_GT, _lines(r / OTB_GT)[:-1])),
         "error", ("groundtruth_rect.txt", "9 rows", "10 frames")),
    Case("otb-gt-one-row-long", lambda t, d: _sot(t, d, lambda r: _write_lines(r / OTB_GT, _lines(r / OTB_GT) + [
        "25\t32\t12\t11"])), "error", ("groundtruth_rect.txt", "11 rows", "0011.jpg")),
    Case("otb-gt-negative-width", lambda t, d: _sot(t, d, lambda r: _edit_line(r / OTB_GT, 4, lambda f: _set(
        f, 2, "-12"), "\t")), "error", ("groundtruth_rect.txt:5", "negative width")),
    Case("otb-gt-nan-in-row", lambda t, d: _sot(t, d, lambda r: _edit_line(r / OTB_GT, 3, lambda f: _set(
        f, 1, "NaN"), "\t")), "error", ("groundtruth_rect.txt:4", "NaN")),
    Case("otb-gt-inf", lambda t, d: _sot(t, d, lambda r: _edit_line(r / OTB_GT, 6, lambda f: _set(
        f, 3, "inf"), "\t")), "error", ("groundtruth_rect.txt:7",)),
    Case("otb-gt-first-box-zero", lambda t, d: _sot(t, d, lambda r: _edit_line(r / OTB_GT, 0, lambda f: _set(
        f, 2, "0"), "\t")), "error", ("groundtruth_rect.txt:1", "first-frame box")),
    Case("otb-gt-not-a-number", lambda t, d: _sot(t, d, lambda r: _edit_line(r / OTB_GT, 2, lambda f: _set(
        f, 0, "x"), "\t")), "error", ("groundtruth_rect.txt:3",)),
    Case("otb-sequence-without-gt", lambda t, d: _sot(t, d, lambda r: shutil.copytree(
        r / OTB_SEQ / "img", r / "otb" / "Demo02" / "img")), "error", ("Demo02", "no ground truth")),
    Case("otb-gt-row-all-nan", lambda t, d: _sot(t, d, lambda r: _edit_line(r / OTB_GT, 3, lambda f: [
        "NaN"] * 4, "\t")), "accepted"),  # UAV123's "target absent": a failure frame, as the reference toolkit
    Case("otb-gt-commas-and-spaces", lambda t, d: _sot(t, d, lambda r: _write_lines(r / OTB_GT, [
        ln.replace("\t", ", ") for ln in _lines(r / OTB_GT)])), "accepted"),
    Case("got10k-first-frame-only", lambda t, d: _sot(t, d, lambda r: (
        (r / OTB_GT).rename(r / OTB_SEQ / "groundtruth.txt"),
        _write_lines(r / OTB_SEQ / "groundtruth.txt", _lines(r / OTB_SEQ / "groundtruth.txt")[:1]))),
         "warning", skipped=("Demo01", "not scored")),
    Case("sot-score-negative-prediction", lambda t, d: _sot_score(t, d, lambda rows: _row(rows, 2, "25,32,-11,11")),
         "error", ("Demo01.txt:3", "negative width")),
    Case("sot-score-prediction-nan-mixed", lambda t, d: _sot_score(t, d, lambda rows: _row(rows, 4, "25,nan,11,11")),
         "error", ("Demo01.txt:5", "NaN")),
    Case("sot-score-prediction-short", lambda t, d: _sot_score(t, d, lambda rows: rows[:-2]), "error",
         ("Demo01.txt", "8 rows")),
    Case("sot-score-prediction-no-box", lambda t, d: _sot_score(t, d, lambda rows: _row(rows, 4, "nan,nan,nan,nan")),
         "accepted"),  # a frame without a predicted box: a failure in every curve
    # ---------------------------------------------------------------- DAVIS (vos)
    Case("davis-first-mask-all-void", lambda t, d: _eval("vos", str(_data(t, d, "davis", lambda r: _mask_png(
        r, "00000.png", lambda m: np.full_like(m, 255))))), "error", ("00000.png", "all void")),
    Case("davis-first-mask-no-object", lambda t, d: _eval("vos", str(_data(t, d, "davis", lambda r: _mask_png(
        r, "00000.png", lambda m: np.zeros_like(m))))), "error", ("00000.png", "nothing to evaluate")),
    Case("davis-annotation-other-size", lambda t, d: _eval("vos", str(_data(t, d, "davis", lambda r: _mask_png(
        r, "00003.png", lambda m: m[:32, :48])))), "error", ("00003.png", "annotation is 48x32")),
    Case("davis-annotation-rgb", lambda t, d: _eval("vos", str(_data(t, d, "davis", lambda r: _rgb_png(
        r, "00004.png")))), "error", ("00004.png", "RGB", "palette")),
    Case("davis-annotation-without-frame", lambda t, d: _eval("vos", str(_data(t, d, "davis", lambda r: shutil.copyfile(
        r / DAVIS_ANN / "00009.png", r / DAVIS_ANN / "00010.png")))), "error", ("00010.png", "without a frame")),
    Case("davis-frame-folder-missing", lambda t, d: _eval("vos", str(_data(t, d, "davis", lambda r: shutil.rmtree(
        r / "davis/JPEGImages/480p/demo-01"))), ), "error", ("demo-01", "does not exist")),
    Case("davis-partly-annotated", lambda t, d: _eval("vos", str(_data(t, d, "davis", lambda r: [
        (r / DAVIS_ANN / f"{k:05d}.png").unlink() for k in range(5, 10)]))), "warning",
         skipped=("demo-01", "5 of 10 frames annotated", "not scored")),
    Case("davis-id-absent-below-max", lambda t, d: _eval("vos", str(_data(t, d, "davis", lambda r: _relabel(
        r, 2, 3)))), "warning", skipped=("demo-01", "ids [2] are absent")),
    Case("davis-grey-annotation", lambda t, d: _eval("vos", str(_data(t, d, "davis", lambda r: _mask_png(
        r, "00002.png", lambda m: m, mode="L")))), "accepted"),  # 8-bit grey: values are the ids
    # ---------------------------------------------------------------- JHMDB (poseprop)
    Case("jhmdb-14-joints", lambda t, d: _eval("poseprop", str(_data(t, d, "jhmdb", lambda r: _mat(
        r, lambda p: p[:, :14])))), "error", ("joint_positions.mat", "14 joints", "15")),
    Case("jhmdb-more-poses-than-frames", lambda t, d: _eval("poseprop", str(_data(t, d, "jhmdb", lambda r: (
        r / JHMDB_FRAMES / "00010.png").unlink()))), "error", ("joint_positions.mat", "annotates 10 frames")),
    Case("jhmdb-fewer-poses-than-frames", lambda t, d: _eval("poseprop", str(_data(t, d, "jhmdb", lambda r: _mat(
        r, lambda p: p[:, :, :8])))), "warning", skipped=("8 annotated frames but 10 frames", "left out")),
    Case("jhmdb-missing-middle-frame", lambda t, d: _eval("poseprop", str(_data(t, d, "jhmdb", lambda r: (
        r / JHMDB_FRAMES / "00005.png").rename(r / JHMDB_FRAMES / "00011.png")))), "error",
         (JHMDB_VIDEO, "without gaps", "missing [5]")),
    Case("jhmdb-oddly-named-frame", lambda t, d: _eval("poseprop", str(_data(t, d, "jhmdb", lambda r: (
        r / JHMDB_FRAMES / "00005.png").rename(r / JHMDB_FRAMES / "frame.png")))), "error",
         ("frame.png", "frame numbers")),
    Case("jhmdb-nan-joint", lambda t, d: _eval("poseprop", str(_data(t, d, "jhmdb", lambda r: _mat(
        r, lambda p: np.where(np.arange(p.size).reshape(p.shape) == 7, np.nan, p))))), "error",
         ("joint_positions.mat", "NaN")),
    Case("jhmdb-score-nan-prediction", lambda t, d: ["score", "--task", "poseprop", "--gt", str(_data(t, d, "jhmdb")),
                                                     "--pred", str(_nan_dat(t)), "--out", str(t / SCORE_JSON)],
         "error", ("0.dat", "NaN")),
    # ---------------------------------------------------------------- MOTChallenge (mot)
    Case("mot-empty-det-file", lambda t, d: _eval("mot", str(_data(t, d, "mot", lambda r: (
        r / MOT_SEQ / "det" / "det.txt").write_text("")))), "error", ("det.txt", "no detections")),
    Case("mot-gt-negative-box", lambda t, d: _eval("mot", str(_data(t, d, "mot", lambda r: _edit_line(
        r / MOT_SEQ / "gt" / "gt.txt", 2, lambda f: _set(f, 4, "-11"))))), "error", ("gt.txt:3", "w, h > 0")),
    Case("mot-gt-non-numeric", lambda t, d: _eval("mot", str(_data(t, d, "mot", lambda r: _edit_line(
        r / MOT_SEQ / "gt" / "gt.txt", 1, lambda f: _set(f, 3, "2x4"))))), "error", ("gt.txt:2", "not a number")),
    Case("mot-gt-nan", lambda t, d: _eval("mot", str(_data(t, d, "mot", lambda r: _edit_line(
        r / MOT_SEQ / "gt" / "gt.txt", 4, lambda f: _set(f, 5, "nan"))))), "error", ("gt.txt:5", "NaN")),
    Case("mot-gt-frame-beyond-seqlength", lambda t, d: _eval("mot", str(_data(t, d, "mot", lambda r: _write_lines(
        r / MOT_SEQ / "gt" / "gt.txt", _lines(r / MOT_SEQ / "gt" / "gt.txt") + ["99,1,29,25,11,23,1,1,0.8"])))),
         "error", ("gt.txt:", "frame 99", "beyond")),
    Case("mot-gt-fractional-id", lambda t, d: _eval("mot", str(_data(t, d, "mot", lambda r: _edit_line(
        r / MOT_SEQ / "gt" / "gt.txt", 0, lambda f: _set(f, 1, "1.5"))))), "error", ("gt.txt:1", "integer")),
    Case("mot-gt-empty", lambda t, d: _eval("mot", str(_data(t, d, "mot", lambda r: (
        r / MOT_SEQ / "gt" / "gt.txt").write_text("\n")))), "error", ("gt.txt", "no ground-truth rows")),
    Case("mot-det-frame-beyond-seqlength", lambda t, d: _eval("mot", str(_data(t, d, "mot", lambda r: _write_lines(
        r / MOT_SEQ / "det" / "det.txt", _lines(r / MOT_SEQ / "det" / "det.txt") + [
            "50,-1,24.24,13.94,11.50,24.06,0.8622,-1,-1,-1"])))), "error", ("det.txt:", "frame 50", "beyond")),
    Case("mot-seqlength-beyond-images", lambda t, d: _eval("mot", str(_data(t, d, "mot", lambda r: (
        (r / MOT_SEQ / "seqinfo.ini").write_text((r / MOT_SEQ / "seqinfo.ini").read_text().replace(
            "seqLength=10", "seqLength=20")),
        _write_lines(r / MOT_SEQ / "gt" / "gt.txt", _lines(r / MOT_SEQ / "gt" / "gt.txt") + [
            "15,1,29,25,11,23,1,1,0.8"]))))), "warning",
         skipped=("seqLength=20", "gt rows in frames > 10 ignored")),  # the mot17-mini quirk: the images win
    Case("mot-sequence-without-gt", lambda t, d: _eval("mot", str(_data(t, d, "mot", lambda r: (
        r / MOT_SEQ / "gt" / "gt.txt").unlink()))), "warning", skipped=("DEMO-01", "not scored")),
    Case("mot-det-negative-box", lambda t, d: _eval("mot", str(_data(t, d, "mot", lambda r: _edit_line(
        r / MOT_SEQ / "det" / "det.txt", 3, lambda f: _set(f, 4, "-5"))))), "warning",
         skipped=("det.txt", "1 boxes with zero or negative width/height dropped (first at line 4)")),
    Case("mot-det-seven-columns", lambda t, d: _eval("mot", str(_data(t, d, "mot", lambda r: _write_lines(
        r / MOT_SEQ / "det" / "det.txt", [",".join(ln.split(",")[:7]) for ln in _lines(
            r / MOT_SEQ / "det" / "det.txt")])))), "accepted"),
    Case("mot-score-negative-prediction", lambda t, d: _mot_score(t, d, lambda p: _edit_line(
        p / "DEMO-01.txt", 1, lambda f: _set(f, 5, "-3"))), "error", ("DEMO-01.txt:2", "w, h > 0")),
    Case("mot-score-duplicate-id", lambda t, d: _mot_score(t, d, lambda p: _write_lines(
        p / "DEMO-01.txt", _lines(p / "DEMO-01.txt") + [_lines(p / "DEMO-01.txt")[0]])), "error",
         ("DEMO-01.txt:", "appears twice")),
    Case("mot-score-result-without-gt", lambda t, d: _mot_score(t, d, lambda p: shutil.copyfile(
        p / "DEMO-01.txt", p / "OTHER-07.txt")), "warning", skipped=("OTHER-07.txt", "no ground-truth sequence")),
    # ---------------------------------------------------------------- MOTS (mots)
    Case("mots-gt-class-5", lambda t, d: _eval("mots", str(_data(t, d, "mots", lambda r: _edit_line(
        r / MOTS_SEQ / "gt" / "gt.txt", 0, lambda f: _set(f, 2, "5"), " ")))), "error",
         ("gt.txt:1", "class id 5")),
    Case("mots-det-class-5", lambda t, d: _eval("mots", str(_data(t, d, "mots", lambda r: _edit_line(
        r / MOTS_SEQ / "det" / "det.txt", 1, lambda f: _set(f, 2, "5"), " ")))), "error",
         ("det.txt:2", "class id 5")),
    Case("mots-gt-overlapping-masks", lambda t, d: _eval("mots", str(_data(t, d, "mots", lambda r: _mots_overlap(
        r / MOTS_SEQ / "gt" / "gt.txt")))), "error", ("gt/gt.txt", "overlapping masks", "ground truth")),
    Case("mots-score-overlapping-predictions", lambda t, d: _mots_score(t, d, _mots_overlap), "error",
         ("pred/DEMO-01.txt", "overlapping masks", "prediction")),
    Case("mots-gt-mask-size", lambda t, d: _eval("mots", str(_data(t, d, "mots", lambda r: _mots_halve(
        r / MOTS_SEQ / "gt" / "gt.txt")))), "error", ("gt.txt:1", "mask size 32x32", "image size 64x64")),
    Case("mots-score-prediction-mask-size", lambda t, d: _mots_score(t, d, _mots_halve), "error",
         ("pred/DEMO-01.txt:1", "32x32")),
    Case("mots-gt-frame-beyond", lambda t, d: _eval("mots", str(_data(t, d, "mots", lambda r: _edit_line(
        r / MOTS_SEQ / "gt" / "gt.txt", 0, lambda f: _set(f, 0, "40"), " ")))), "error",
         ("gt.txt:1", "frame 40")),
    Case("mots-gt-bad-rle", lambda t, d: _eval("mots", str(_data(t, d, "mots", lambda r: _edit_line(
        r / MOTS_SEQ / "gt" / "gt.txt", 0, lambda f: _set(f, 5, f[5][:-3]), " ")))), "error",
         ("gt.txt:1", "RLE")),
    Case("mots-sequence-without-gt", lambda t, d: _eval("mots", str(_data(t, d, "mots", lambda r: (
        r / MOTS_SEQ / "gt" / "gt.txt").unlink()))), "warning", skipped=("DEMO-01", "not scored")),
    Case("mots-seqlength-beyond-images", lambda t, d: _eval("mots", str(_data(t, d, "mots", lambda r: (
        r / MOTS_SEQ / "seqinfo.ini").write_text((r / MOTS_SEQ / "seqinfo.ini").read_text().replace(
            "seqLength=10", "seqLength=12"))))), "warning", skipped=("seqLength=12 but 10 images",)),
    Case("mots-seqinfo-size-wrong", lambda t, d: _eval("mots", str(_data(t, d, "mots", lambda r: (
        r / MOTS_SEQ / "seqinfo.ini").write_text((r / MOTS_SEQ / "seqinfo.ini").read_text().replace(
            "imWidth=64", "imWidth=128"))))), "warning", skipped=("imWidth×imHeight=128×64", "using the image")),
    # ---------------------------------------------------------------- PoseTrack (posetrack)
    Case("posetrack-video-without-annotations", lambda t, d: _eval("posetrack", str(_data(
        t, d, "posetrack", lambda r: _json_edit(r / PT_GT, _no_annotations)))), "error",
         ("000001_demo.json", "no sequence has a frame to evaluate")),
    Case("posetrack-second-video-without-annotations", lambda t, d: [
        *_eval("posetrack", str(_data(t, d, "posetrack", lambda r: _pt_second_video(r, _no_annotations))))[:-2]],
         "warning", skipped=("000002_demo.json", "no annotated person")),
    Case("posetrack-gt-16-keypoints", lambda t, d: _eval("posetrack", str(_data(t, d, "posetrack", lambda r: _json_edit(
        r / PT_GT, _ann(0, "keypoints", lambda k: k[:48]))))), "error",
         ("000001_demo.json", "annotations[0]", "expected 51 keypoint values")),
    Case("posetrack-det-16-keypoints", lambda t, d: _eval("posetrack", str(_data(t, d, "posetrack", lambda r: _json_edit(
        r / PT_DET, _ann(2, "keypoints", lambda k: k[:48]))))), "error",
         ("detections/val/000001_demo.json", "annotations[2]", "51")),
    Case("posetrack-gt-nan-keypoint", lambda t, d: _eval("posetrack", str(_data(t, d, "posetrack", lambda r: _json_edit(
        r / PT_GT, _ann(1, "keypoints", lambda k: [float("nan"), *k[1:]]))))), "error",
         ("000001_demo.json", "annotations[1]", "finite")),
    Case("posetrack-det-nan-score", lambda t, d: _eval("posetrack", str(_data(t, d, "posetrack", lambda r: _json_edit(
        r / PT_DET, _ann(0, "scores", lambda k: [float("nan"), *k[1:]]))))), "error",
         ("detections/val/000001_demo.json", "annotations[0]", "finite")),
    Case("posetrack-gt-negative-head-box", lambda t, d: _eval("posetrack", str(_data(t, d, "posetrack", lambda r: _json_edit(
        r / PT_GT, _ann(0, "bbox_head", lambda b: [b[0], b[1], -abs(b[2]) - 1, b[3]]))))), "error",
         ("000001_demo.json", "bbox_head", "negative")),
    Case("posetrack-gt-track-id-not-int", lambda t, d: _eval("posetrack", str(_data(t, d, "posetrack", lambda r: _json_edit(
        r / PT_GT, _ann(0, "track_id", lambda v: 1.5))))), "error", ("000001_demo.json", "track_id")),
    Case("posetrack-det-frame-count", lambda t, d: _eval("posetrack", str(_data(t, d, "posetrack", lambda r: _json_edit(
        r / PT_DET, _drop_last_image)))), "error", ("detections/val/000001_demo.json", "9 frames", "has 10")),
]


def _drop_last_image(data: dict) -> None:
    last = data["images"].pop()["id"]
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] != last]


def _nan_dat(tmp: Path) -> Path:
    pred = tmp / "pred"
    pred.mkdir()
    a = np.ones((2, 15, 10))
    a[0, 3, 4] = np.nan
    with open(pred / "0.dat", "wb") as f:
        np.save(f, a)
    return pred


CASES += DATA_CASES


def _run(argv: list[str], capsys) -> tuple[int, str]:
    try:
        rc = main(argv)
    except SystemExit as e:  # argparse usage errors
        rc = int(e.code or 0)
    return rc, capsys.readouterr().err


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory) -> Path:
    """The demo benchmark, one sequence of 10 frames of 64×64 per task, generated once per session."""
    from unitrack.eval.demo import generate_demo

    return generate_demo(tmp_path_factory.mktemp("small_demo"), seed=0, num_sequences=1, num_frames=10,
                         size=(64, 64))


def _skipped(tmp: Path) -> list[dict] | None:
    """The 'skipped' entries of what the command stored: result.json (eval) or the --out JSON (score);
    None when it stored neither."""
    files = sorted((tmp / OUT).rglob("result.json")) if (tmp / OUT).is_dir() else []
    files += [tmp / SCORE_JSON] if (tmp / SCORE_JSON).is_file() else []
    if not files:
        return None
    out = []
    for f in files:
        out += json.loads(f.read_text())["skipped"]
    return out


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, tmp_path, capsys, monkeypatch, small_demo):
    monkeypatch.chdir(tmp_path)
    argv = case.build(tmp_path, small_demo)
    if argv[:1] == ["eval"] and "--out" not in argv:
        argv += ["--out", str(tmp_path / OUT)]
    rc, err = _run(argv, capsys)
    assert "Traceback" not in err, err
    if case.expect == "error":
        assert rc == 2, f"exit {rc}, expected 2 (bad input):\n{err}"
        for n in case.needles:
            assert n in err, f"{n!r} not in the message:\n{err}"
        assert err.strip(), "no message"
    else:
        assert rc == 0, err
        for n in case.needles:
            assert n in err, f"{n!r} not in the output:\n{err}"
    recorded = _skipped(tmp_path) if rc == 0 else None
    if case.expect == "accepted" and recorded is not None:  # a clean variant: nothing left out
        assert recorded == [], recorded
    if case.expect == "warning":  # recorded, not only logged
        assert recorded is not None, "no result.json / score JSON was written"
        entries = [f"{e.get('item')}: {e.get('reason')}" for e in recorded]
        assert entries, f"nothing recorded under 'skipped':\n{err}"
        for n in case.skipped:
            assert any(n in e for e in entries), f"{n!r} not in the recorded skipped items {entries}"
    out = tmp_path / OUT
    if out.exists():  # nothing half-written
        assert not [p for p in out.rglob("*.tmp")]
        if case.expect == "error":
            assert not list(out.rglob("result.json"))


def test_own_predictions_name_no_temporary_folder(tmp_path):
    """An error about predictions a head has just written into its temporary folder (removed when the run
    fails) does not name that folder; errors about other files pass unchanged."""
    from unitrack.eval.base import own_predictions
    from unitrack.utils import UnitrackError

    pred = tmp_path / ".run.tmp" / "pred"
    with pytest.raises(UnitrackError, match=r"<this run's predictions>/S\.txt:3: bad .*bug of the head") as e:
        with own_predictions(pred):
            raise UnitrackError(f"{pred / 'S.txt'}:3: bad")
    assert ".run.tmp" not in str(e.value)
    with pytest.raises(UnitrackError, match=r"^/data/gt\.txt:1: bad$"):
        with own_predictions(pred):
            raise UnitrackError("/data/gt.txt:1: bad")


def test_case_table_counts():
    """The classification the closing note reports (the cases themselves assert it)."""
    counts = {k: sum(c.expect == k for c in CASES) for k in ("error", "warning", "accepted")}
    assert sum(counts.values()) == len(CASES) and counts["error"] >= 25
    assert len({c.id for c in CASES}) == len(CASES)
    assert all(c.skipped for c in CASES if c.expect == "warning")
