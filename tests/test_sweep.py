"""Sweeps: cell lists, failure collection, resuming after an interrupt or a kill, pool / Ray executors, and
one real CLI sweep on a tiny demo benchmark."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pytest

from unitrack.app.cli import main
from unitrack.app.sweep import (
    Cell,
    SweepSpec,
    check_sets,
    expand_cells,
    parse_backbones,
    parse_data,
    parse_layers,
    parse_tasks,
    run_sweep,
    sets_for,
    task_data,
)
from unitrack.eval.base import MetricSpec
from unitrack.results import find_results
from unitrack.tasks import Task, TaskOutput, available_tasks, get_spec
from unitrack.utils import UnitrackError

REPO = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- building the cell list


def test_parse_tasks_expands_sot_heads_and_suggests():
    assert parse_tasks("sot,vos") == [("sot", "xcorr"), ("sot", "dcf"), ("vos", None)]
    assert parse_tasks("sot:dcf, mot") == [("sot", "dcf"), ("mot", None)]
    with pytest.raises(UnitrackError, match="did you mean 'mots'"):
        parse_tasks("motss")


def test_parse_backbones_layers_data():
    assert parse_backbones("a, b@ckpt/x.pth,c@random") == [("a", None), ("b", "ckpt/x.pth"), ("c", "random")]
    with pytest.raises(UnitrackError, match="NAME@WEIGHTS"):
        parse_backbones("a@")
    assert parse_layers("3,4") == [3, 4]
    with pytest.raises(UnitrackError, match="not a layer number"):
        parse_layers("3,x")
    assert parse_data("demo") == "demo"
    assert parse_data("sot=/d/otb, vos=/d/davis") == {"sot": "/d/otb", "vos": "/d/davis"}
    with pytest.raises(UnitrackError, match="task=path"):
        parse_data("sot=/d/otb,vos")


def test_task_data_resolution(tmp_path):
    (tmp_path / "otb").mkdir()  # demo layout: sot data lives in otb/
    (tmp_path / "vos").mkdir()  # or a folder named after the task
    assert task_data("sot", str(tmp_path)) == str((tmp_path / "otb").resolve())
    assert task_data("vos", str(tmp_path)) == str((tmp_path / "vos").resolve())
    assert task_data("mot", str(tmp_path)) == str(tmp_path.resolve())  # no sub-folder: the folder itself
    assert task_data("sot", "demo") == "demo"
    assert task_data("sot", {"sot": "/x"}) == "/x"
    with pytest.raises(UnitrackError, match="no entry for task 'vos'"):
        task_data("vos", {"sot": "/x"})


def test_expand_cells_counts_and_order():
    cells = expand_cells(["r18", ("r50", "random")], parse_tasks("sot,vos"), [3, 4])
    assert len(cells) == 2 * 3 * 2
    assert cells[0] == Cell("r18", "sot", 3, "xcorr", "demo", None)
    assert cells[-1] == Cell("r50", "vos", 4, None, "demo", "random")
    assert cells[-1].label == "vos r50@random layer4"


def test_sets_are_split_per_task():
    sets = ["common.max_sequences=1", "sot.crop_sz=136", "vos.topk=5"]
    assert sets_for("sot", sets) == ["common.max_sequences=1", "sot.crop_sz=136"]
    assert sets_for("mot", sets) == ["common.max_sequences=1"]
    check_sets(sets, {"sot", "vos"})
    with pytest.raises(UnitrackError, match="section.key=value"):
        check_sets(["topk=5"], {"vos"})


# ----------------------------------------------------------------------------- engine with injected cells


def _fake_cell(cell: Cell, spec: SweepSpec):
    """Module level, so that spawned pool workers can unpickle it."""
    if cell.backbone == "bad":
        raise ValueError(f"broken backbone for {cell.task}")
    return f"{spec.out}/{cell.task}/{cell.backbone}-layer{cell.layer}"


def test_failures_are_collected_and_others_run():
    cells = expand_cells(["good", "bad", "good2"], [("vos", None)], [3, 4])
    rep = run_sweep(cells, SweepSpec(out="o"), cell_fn=_fake_cell, show_progress=False)
    assert [o.status for o in rep.outcomes] == ["computed"] * 2 + ["failed"] * 2 + ["computed"] * 2
    assert rep.outcomes[0].path == "o/vos/good-layer3"
    assert rep.failed[0].message.startswith("ValueError: broken backbone for vos (at test_sweep.py:")
    text = rep.summary()
    assert "4 computed, 0 reused, 2 failed" in text and "vos bad layer4: ValueError" in text


def test_process_pool_executor():
    cells = expand_cells(["good", "bad"], [("vos", None), ("mot", None)], [3])
    rep = run_sweep(cells, SweepSpec(out="o"), cell_fn=_fake_cell, workers=2, show_progress=False)
    by_label = {o.cell.label: o for o in rep.outcomes}
    assert len(by_label) == 4
    assert by_label["mot good layer3"].status == "computed"
    assert by_label["mot good layer3"].path == "o/mot/good-layer3"
    assert by_label["vos bad layer3"].status == "failed" and "broken backbone" in by_label["vos bad layer3"].message


def test_ray_cell_payload_is_committed_by_the_driver(tmp_path, monkeypatch):
    """The Ray task body computes into node-local scratch and returns the packed folder; the driver commits it.
    (The executor itself runs on a real cluster in test_ray_cluster.py.)"""
    from unitrack.app.sweep import commit_payload, compute_cell_payload, stored_keys

    monkeypatch.setenv("UNITRACK_SCRATCH", str(tmp_path / "scratch"))
    spec = SweepSpec(out="", sets=("common.max_sequences=1",), device="cpu")
    cell = expand_cells(["random_r18"], [("vos", None)], [3], resolve=False)[0]
    pay = compute_cell_payload(cell, spec, {})
    assert pay["status"] == "computed" and pay["rel"].startswith("vos/demo/random_r18-layer3")
    assert not list((tmp_path / "scratch").iterdir())  # the scratch space is cleaned up
    out = tmp_path / "store"
    final = commit_payload(out, pay)
    stored = json.loads((final / "result.json").read_text())
    assert stored["fingerprint"]["key"] == pay["key"] and (final / "pred").is_dir()
    assert stored_keys(out) == {pay["rel"]: pay["key"]}
    again = compute_cell_payload(cell, spec, stored_keys(out))
    assert again["status"] == "reused" and "archive" not in again
    with pytest.raises(UnitrackError, match="invalid result folder"):
        commit_payload(out, {**pay, "rel": "../../etc"})
    bad = compute_cell_payload(replace(cell, data="/nonexistent/data"), spec, {})
    assert bad["status"] == "failed" and "data folder /nonexistent/data not found" in bad["message"]


# ----------------------------------------------------------------------------- resuming through the real store


class _StubTask(Task):
    """A fast stand-in head: the real evaluate() stores its results, so resuming is tested end to end."""

    def __init__(self, name: str, calls: list, interrupt_at: int | None = None):
        self.spec = dataclasses.replace(get_spec(name), metrics=(MetricSpec("score", unit="count", headline=True),),
                                        paper_columns={})
        self.calls = calls
        self.interrupt_at = interrupt_at

    def resolve_data(self, data, cfg):
        return "stub", Path(os.environ["STUB_DATA"])

    def run(self, ctx, pred_dir):
        self.calls.append((self.name, ctx.backbone.layer))
        if self.interrupt_at is not None and len(self.calls) == self.interrupt_at:
            raise KeyboardInterrupt
        pred_dir.mkdir(parents=True, exist_ok=True)
        return TaskOutput(metrics={"score": float(ctx.backbone.layer)})


def test_interrupted_sweep_resumes_only_missing_cells(tmp_path, monkeypatch):
    import unitrack.api

    monkeypatch.setenv("STUB_DATA", str(tmp_path))
    calls: list = []
    # cells run vos L3, vos L4, poseprop L3 (Ctrl-C here), poseprop L4
    stubs = {"vos": _StubTask("vos", calls), "poseprop": _StubTask("poseprop", calls, interrupt_at=3)}
    monkeypatch.setattr(unitrack.api, "get_task", lambda name: stubs[name])
    out = tmp_path / "res"
    cells = expand_cells(["random_r18"], [("vos", None), ("poseprop", None)], [3, 4])
    spec = SweepSpec(out=str(out))

    rep = run_sweep(cells, spec, show_progress=False)  # KeyboardInterrupt in the third cell
    assert rep.interrupted and [o.status for o in rep.outcomes] == ["computed", "computed"]
    stored = sorted(p.relative_to(out).as_posix() for p in out.rglob("result.json"))
    assert stored == ["vos/stub/random_r18-layer3/result.json", "vos/stub/random_r18-layer4/result.json"]
    assert not [p for p in out.rglob("*.tmp")]  # the interrupted cell left nothing behind
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("result.json")}

    calls.clear()
    stubs["poseprop"].interrupt_at = None
    rep = run_sweep(cells, spec, show_progress=False)
    assert [o.status for o in rep.outcomes] == ["reused", "reused", "computed", "computed"]
    assert calls == [("poseprop", 3), ("poseprop", 4)]  # only the missing cells ran
    assert all(p.stat().st_mtime_ns == t for p, t in mtimes.items())  # stored cells untouched
    assert {(r.task, r.layer): r.metrics["score"] for r in find_results(out)} == {
        ("vos", 3): 3.0, ("vos", 4): 4.0, ("poseprop", 3): 3.0, ("poseprop", 4): 4.0}


KILL_SCRIPT = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    import unitrack.api
    from test_sweep import _StubTask
    from unitrack.app.sweep import SweepSpec, expand_cells, run_sweep

    log = Path(os.environ["STUB_LOG"])

    class Slow(_StubTask):
        def run(self, ctx, pred_dir):
            with open(log, "a") as f:
                f.write(f"{{self.name}} {{ctx.backbone.layer}}\\n")
            if os.environ.get("HANG_AT") == f"{{self.name}}{{ctx.backbone.layer}}":
                time.sleep(600)  # the parent kills us here
            return super().run(ctx, pred_dir)

    stubs = {{t: Slow(t, []) for t in ("vos", "poseprop")}}
    unitrack.api.get_task = lambda name: stubs[name]
    cells = expand_cells(["random_r18"], [("vos", None), ("poseprop", None)], [3, 4])
    rep = run_sweep(cells, SweepSpec(out=os.environ["OUT"]), show_progress=False)
    print(rep.summary(len(cells)))
""")


def test_killed_sweep_reruns_only_missing_cells(tmp_path):
    script = tmp_path / "sweep_stub.py"
    script.write_text(KILL_SCRIPT.format(tests=str(Path(__file__).parent)))
    out, log = tmp_path / "res", tmp_path / "calls.log"
    data = tmp_path / "data"  # the stub's data folder: it must not change between the runs (calls.log does)
    data.mkdir()
    env = {**os.environ, "STUB_DATA": str(data), "STUB_LOG": str(log), "OUT": str(out), "HANG_AT": "poseprop3"}
    proc = subprocess.Popen([sys.executable, str(script)], env=env, cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and (not log.exists() or "poseprop 3" not in log.read_text()):
            assert proc.poll() is None, proc.stdout.read().decode()
            time.sleep(0.2)
        os.kill(proc.pid, signal.SIGKILL)  # killed half-way: 2 of 4 cells stored, the third in flight
    finally:
        proc.wait(30)
    assert sorted(p.parent.name for p in out.rglob("result.json")) == ["random_r18-layer3", "random_r18-layer4"]
    log.write_text("")
    env.pop("HANG_AT")
    done = subprocess.run([sys.executable, str(script)], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert log.read_text().split("\n")[:-1] == ["poseprop 3", "poseprop 4"]  # only the missing cells ran
    assert "2 computed, 2 reused, 0 failed" in done.stdout
    assert len(list(out.rglob("result.json"))) == 4


# ----------------------------------------------------------------------------- the real CLI on the demo


@pytest.mark.slow
def test_cli_sweep_on_tiny_demo(tmp_path, capsys):
    """Every installed task with random_r18 on a tiny demo benchmark; a rerun computes nothing."""
    from unitrack.eval.demo import generate_demo

    tasks = available_tasks()
    if not tasks:
        pytest.skip("no task head installed")
    demo = generate_demo(tmp_path / "demo", seed=0, num_sequences=1, num_frames=10, size=(64, 64))
    out = tmp_path / "res"
    # shrink the expensive geometry of some heads so the whole sweep stays quick on a CPU
    speed = {"sot": "sot.crop_sz=136", "mot": "mot.img_size=[192,128]", "poseprop": "poseprop.crop_size=96",
             "vip": "vip.crop_size=96"}
    task_arg = ",".join("sot:xcorr" if t == "sot" else t for t in tasks)  # one SOT head keeps it quick
    argv = ["sweep", "--backbones", "random_r18", "--tasks", task_arg, "--layers", "3",
            "--data", str(demo), "--out", str(out), "--device", "cpu", "-q"]
    for t in tasks:
        if t in speed:
            argv += ["--set", speed[t]]
    assert main(argv) == 0
    text = capsys.readouterr().out
    n_cells = len(tasks)
    assert f"{n_cells} computed, 0 reused, 0 failed" in text
    results = find_results(out)
    assert sorted({r.task for r in results}) == sorted(tasks)
    for r in results:
        head = r.metrics.get(next(iter(r.metrics)))
        assert isinstance(head, (int, float)), r.summary()
        assert json.loads((Path(r.path) / "result.json").read_text())["fingerprint"]["layer"] == 3

    assert main(argv) == 0  # nothing left to do
    assert f"0 computed, {n_cells} reused, 0 failed" in capsys.readouterr().out

    rep = tmp_path / "report"
    assert main(["report", str(out), "--out", str(rep), "-q"]) == 0
    page = (rep / "report.html").read_text()
    assert "random_r18" in page and "<table>" in page


def test_cli_sweep_reports_failed_cells(tmp_path, capsys, monkeypatch):
    import unitrack.app.sweep as sweep

    monkeypatch.setattr(sweep, "evaluate_cell", _fake_cell)
    code = main(["sweep", "--backbones", "good,bad", "--tasks", "vos", "--layers", "3,4", "--out", str(tmp_path),
                 "-q"])
    out = capsys.readouterr().out
    assert code == 1
    assert "4 cells = 2 backbone(s) × 1 task(s) × 2 layer(s)" in out
    assert "2 computed, 0 reused, 2 failed" in out and "vos bad layer3: ValueError: broken backbone" in out
