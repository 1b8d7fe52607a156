"""A third-party task installed through the ``unitrack.tasks`` entry point runs through eval, sweep and report.

The plug-in (``tests/plugins/unitrack_toytask.py``) is installed the way pip installs a distribution:
a ``*.dist-info`` folder with ``entry_points.txt`` on the path of fresh interpreter processes. No file of
unitrack knows about it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

PLUGIN_DIR = Path(__file__).parent / "plugins"
N_SEQ, N_FRAMES = 2, 5


def _load_plugin_module():
    spec = importlib.util.spec_from_file_location("unitrack_toytask", PLUGIN_DIR / "unitrack_toytask.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("unitrack_toytask", mod)  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory):
    """Environment of a Python that has the toy plug-in 'installed', plus its data folder."""
    base = tmp_path_factory.mktemp("plugin")
    site = base / "site"
    info = site / "unitrack_toytask-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: unitrack-toytask\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[unitrack.tasks]\ntoy = unitrack_toytask:TASK\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(PLUGIN_DIR), env.get("PYTHONPATH", "")])
    env["UNITRACK_HOME"] = str(base / "home")
    data = base / "toydata"
    mod = _load_plugin_module()
    mod.write_toy_demo(data, lambda i: np.random.default_rng([7, i]), N_SEQ, N_FRAMES, 64, 48)
    return env, data, base


def _run(env, *args, check=True):
    p = subprocess.run([sys.executable, "-m", "unitrack", *args], env=env, capture_output=True, text=True,
                       timeout=300)
    if check:
        assert p.returncode == 0, p.stderr[-3000:]
    return p


def test_plugin_task_runs_through_eval_sweep_and_report(plugin_env):
    env, data, base = plugin_env
    out = base / "results"
    listed = _run(env, "datasets", "list").stdout
    assert "toy" in listed and "<root>/<sequence>/<NNNNN>.png" in listed

    ev = json.loads(_run(env, "eval", "--task", "toy", "--backbone", "random_r18", "--data", str(data),
                         "--out", str(out), "--device", "cpu", "--json").stdout)
    m = ev["metrics"]
    assert m["pairs"] == N_SEQ * (N_FRAMES - 1)
    assert 0.5 < m["stability"] <= 1.0  # consecutive frames of one scene: pooled features stay close
    assert set(ev["per_sequence"]) == {"toy0", "toy1"}
    folder = out / "toy" / "toydata" / "random_r18-layer3"
    assert json.loads((folder / "pred" / "stability.json").read_text())["toy0"]["pairs"] == N_FRAMES - 1

    # the sweep expands the plug-in like a built-in task and reuses the stored cell (same fingerprint)
    sw = _run(env, "sweep", "--backbones", "random_r18", "--tasks", "toy", "--layers", "3",
              "--data", f"toy={data}", "--out", str(out), "--device", "cpu")
    assert "reused" in sw.stdout + sw.stderr

    # a non-default parameter is a new cell in its own folder
    _run(env, "sweep", "--backbones", "random_r18", "--tasks", "toy", "--layers", "3", "--data", f"toy={data}",
         "--out", str(out), "--device", "cpu", "--set", "toy.stride=2")
    stride2 = [p for p in (out / "toy" / "toydata").iterdir() if "-cfg" in p.name and p.is_dir()]
    assert len(stride2) == 1
    r2 = json.loads((stride2[0] / "result.json").read_text())
    assert r2["metrics"]["pairs"] == N_SEQ * (N_FRAMES - 2)

    rep = base / "report"
    _run(env, "report", str(out), "--out", str(rep), "--no-previews")
    md = (rep / "report.md").read_text()
    assert "Toy" in md and "Stab." in md
    # the headline metric is a fraction: shown in percent, as its MetricSpec says
    assert f"{100 * m['stability']:.1f}" in md


def test_plugin_task_config_and_errors(plugin_env):
    env, data, base = plugin_env
    p = _run(env, "eval", "--task", "toy", "--backbone", "random_r18", "--data", str(data), "--out",
             str(base / "r"), "--device", "cpu", "--set", "toy.strid=2", check=False)
    assert p.returncode != 0 and "toy.strid" in p.stderr and "stride" in p.stderr
    p = _run(env, "eval", "--task", "toyy", "--backbone", "random_r18", "--data", str(data), check=False)
    assert p.returncode != 0 and "toy" in p.stderr
