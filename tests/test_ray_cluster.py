"""A real Ray cluster without a shared results folder: a head and two worker nodes as separate `ray start`
processes, each worker with its own scratch space and cache; one worker node is killed mid-sweep.

Asserts that every cell ends up in the driver's store exactly once, that the cell lost with the node was
resubmitted and finished on the other node, and that the metrics equal a local sequential sweep's.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import ray  # noqa: F401  (part of the dev extra: without it this test must fail, not skip)

CELLS = ("--backbones", "random_r18", "--tasks", "vos", "--layers", "3,4", "--data", "demo",
         "--max-sequences", "1", "--device", "cpu")


def _ray_cli() -> list[str]:
    exe = Path(sys.executable).parent / "ray"
    return [str(exe)] if exe.exists() else [shutil.which("ray") or "ray"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _nodes(address: str, env: dict) -> int:
    p = subprocess.run([*_ray_cli(), "status", f"--address={address}"], env=env, capture_output=True, text=True,
                       timeout=60)
    return sum(line.strip().startswith("1 node_") for line in p.stdout.splitlines())


def _wait_nodes(address: str, env: dict, n: int, timeout: float = 90) -> None:
    t0 = time.time()
    while time.time() - t0 < timeout:
        if _nodes(address, env) >= n:
            return
        time.sleep(1)
    raise AssertionError(f"the Ray cluster did not reach {n} nodes in {timeout} s")


@pytest.fixture(scope="module")
def cluster():
    base = Path(f"/tmp/utray-{os.getpid()}")  # short: Ray's unix sockets live below it
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir()
    port = _free_port()
    address = f"127.0.0.1:{port}"
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", RAY_health_check_period_ms="500",
               RAY_health_check_timeout_ms="1000", RAY_health_check_failure_threshold="3")
    env.pop("RAY_ADDRESS", None)
    workers = {}
    procs = []  # every `ray start --block` process leads its own process group: killing it ends that node
    try:
        head_log = open(base / "head.log", "w")
        head = subprocess.Popen([*_ray_cli(), "start", "--head", f"--port={port}", "--num-cpus=0",
                                 "--include-dashboard=false", f"--temp-dir={base}/ray", "--disable-usage-stats",
                                 "--block"], env=env, stdout=head_log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        procs.append(head)
        _wait_nodes(address, env, 1)
        for i, name in enumerate(("a", "b")):
            wdir = base / name
            (wdir / "scratch").mkdir(parents=True)
            wenv = dict(env, UNITRACK_SCRATCH=str(wdir / "scratch"), UNITRACK_HOME=str(wdir / "home"))
            log = open(wdir / "node.log", "w")
            workers[name] = subprocess.Popen([*_ray_cli(), "start", f"--address={address}", "--num-cpus=1", "--block"],
                                             env=wenv, cwd=wdir, stdout=log, stderr=subprocess.STDOUT,
                                             start_new_session=True)
            procs.append(workers[name])
            _wait_nodes(address, env, 2 + i)  # one at a time: two raylets starting together can time out
        yield {"address": address, "env": env, "base": base, "workers": workers}
    finally:
        for p in reversed(procs):  # only this cluster's processes: other Ray instances on the machine live on
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
        for p in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=30)
        shutil.rmtree(base, ignore_errors=True)


def _metrics(out: Path) -> dict[str, dict]:
    return {rf.parent.relative_to(out).as_posix(): json.loads(rf.read_text())["metrics"]
            for rf in out.glob("*/*/*/result.json")}


def test_sweep_survives_losing_a_worker_node(cluster, tmp_path):
    out = tmp_path / "driver_out"  # only the driver writes here; workers are never told this path
    env = dict(cluster["env"], UNITRACK_HOME=str(tmp_path / "driver_home"))
    t0 = time.time()
    driver = subprocess.Popen([sys.executable, "-m", "unitrack", "sweep", "--executor", "ray", "--address",
                               cluster["address"], *CELLS, "--out", str(out)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    scratch_b = cluster["base"] / "b" / "scratch"
    killed_at = None
    try:
        while driver.poll() is None and time.time() - t0 < 240:
            if killed_at is None and any(scratch_b.iterdir()):  # a cell is being computed on node b
                time.sleep(0.5)
                os.killpg(cluster["workers"]["b"].pid, signal.SIGKILL)
                killed_at = time.time() - t0
            time.sleep(0.2)
        text, _ = driver.communicate(timeout=60)
    finally:
        if driver.poll() is None:
            driver.kill()
    wall_cluster = time.time() - t0
    assert driver.returncode == 0, text[-4000:]
    assert killed_at is not None, "no cell ever ran on node b"

    summary = json.loads((out / "sweep_summary.json").read_text())
    cells = summary["cells"]
    assert len(cells) == 2 and {c["status"] for c in cells} == {"computed"}
    retried = [c for c in cells if c["attempts"] > 1]
    assert retried, f"the cell running on the killed node was not resubmitted:\n{text[-3000:]}"
    nodes = {c["node"] for c in cells}
    # every cell's result is in the driver's store exactly once, nothing half-written
    stored = sorted(rf.parent.relative_to(out).as_posix() for rf in out.rglob("result.json"))
    assert len(stored) == 2 and len(set(stored)) == 2
    assert not [p for p in out.rglob("*.tmp")]
    assert "resubmitted after a lost worker or node" in text

    # the same cells, local and sequential, give the same metrics
    t1 = time.time()
    local = tmp_path / "local_out"
    p = subprocess.run([sys.executable, "-m", "unitrack", "sweep", *CELLS, "--out", str(local)], env=env,
                       capture_output=True, text=True, timeout=300)
    wall_local = time.time() - t1
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert _metrics(out) == _metrics(local)

    # a restarted driver recomputes nothing
    again = subprocess.run([sys.executable, "-m", "unitrack", "sweep", "--executor", "ray", "--address",
                            cluster["address"], *CELLS, "--out", str(out)], env=env, capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0 and "0 computed, 2 reused, 0 failed" in again.stdout
    per_node = {n: sum(c["node"] == n for c in cells) for n in nodes}
    print(f"\nray cluster: node b killed at {killed_at:.1f} s; cells per node {per_node}; "
          f"retried {[c['cell'] for c in retried]}; wall {wall_cluster:.1f} s vs local sequential {wall_local:.1f} s")


def test_worker_without_the_data_fails_its_cell_clearly(cluster, tmp_path):
    out = tmp_path / "o"
    p = subprocess.run([sys.executable, "-m", "unitrack", "sweep", "--executor", "ray", "--address",
                        cluster["address"], "--backbones", "random_r18", "--tasks", "vos", "--layers", "3",
                        "--data", "vos=/nonexistent/DAVIS", "--out", str(out), "--device", "cpu", "--retries", "0"],
                       env=cluster["env"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 1
    assert "data folder /nonexistent/DAVIS not found" in p.stdout and "node " in p.stdout
    assert not out.exists() or not list(out.rglob("result.json"))
