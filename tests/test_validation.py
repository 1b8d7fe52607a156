"""Bad input, tried the way a researcher would: every case must end in a clear error (exit 2, the message
names the file or key and what was expected, no traceback, nothing half-written), or in a warning that is
recorded — never in a silently wrong number or a traceback.

Each case builds its bad input from the generated demo benchmark (or a fabricated checkpoint / result) and
runs the real command line in-process. The case table is the classification: ``error`` / ``warning`` /
``accepted`` (a variant the toolkit handles correctly, e.g. extra whitespace).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from unitrack.app.cli import main


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[Path, Path], list[str]]  # (tmp folder, demo root) -> argv
    expect: str  # error | warning | accepted
    needles: tuple[str, ...] = ()  # must all appear in stderr (error/warning)


OUT = "out"


def _eval(task: str, data: str, *extra: str) -> list[str]:
    return ["eval", "--task", task, "--backbone", "random_r18", "--data", data, "--device", "cpu",
            "--max-sequences", "1", *extra]


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


def _run(argv: list[str], capsys) -> tuple[int, str]:
    try:
        rc = main(argv)
    except SystemExit as e:  # argparse usage errors
        rc = int(e.code or 0)
    return rc, capsys.readouterr().err


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = case.build(tmp_path, Path("demo"))
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
            assert n in err
    out = tmp_path / OUT
    if out.exists():  # nothing half-written
        assert not [p for p in out.rglob("*.tmp")]
        if case.expect == "error":
            assert not list(out.rglob("result.json"))


def test_case_table_counts():
    """The classification the closing note reports (the cases themselves assert it)."""
    counts = {k: sum(c.expect == k for c in CASES) for k in ("error", "warning", "accepted")}
    assert sum(counts.values()) == len(CASES) and counts["error"] >= 25
