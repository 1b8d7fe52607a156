"""A newcomer's first sweep, timed: demo generation, every task's cell, a reused re-run, feature-cache hit vs miss.

Everything runs in a fresh, temporary ``UNITRACK_HOME`` (nothing of the user's cache is read or written) and
through the command line a user types, so start-up and imports count:

1. ``unitrack datasets demo`` equivalent: generating the demo benchmark (first use);
2. ``unitrack sweep --backbones random_r18 --tasks all --data demo``: wall time, and each cell's seconds
   from ``sweep_summary.json`` (the target for a first sweep on an idle 2-core machine is 90 s);
3. the same sweep again: every cell is reused from the result store;
4. the feature cache: ``unitrack eval`` of VOS, MOT and MOTS with ``common.feature_cache`` set, cold
   (features computed and stored), then warm with other head parameters (backbone skipped, the result
   recomputed); the ratio miss / hit is the time the backbone and decoding took.

    python benchmarks/bench_demo_sweep.py
    python benchmarks/bench_demo_sweep.py --backbone random_r50 --skip-cache
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# task → a head parameter that changes the result but not the features (the warm run)
WARM_SET = {"vos": "vos.topk=5", "mot": "mot.first_stage_thres=0.6", "mots": "mots.first_stage_thres=0.6"}


def _run(args: list[str], env: dict[str, str], cwd: Path) -> float:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "unitrack", *args, "-q"], env=env, cwd=cwd, capture_output=True,
                         text=True)
    dt = time.perf_counter() - t0
    if out.returncode != 0:
        tail = (out.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise SystemExit(f"unitrack {' '.join(args)} failed ({out.returncode}): {tail}")
    return dt


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backbone", default="random_r18")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--skip-cache", action="store_true", help="leave out part 4")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="unitrack-bench-sweep-") as tmp:
        work = Path(tmp)
        env = {**os.environ, "UNITRACK_HOME": str(work / "home")}
        t_demo = _run(["datasets", "demo", "--out", str(work / "demo-copy")], env, work)
        # the sweep generates its own copy into the fresh home: that is what a newcomer waits for
        t_sweep = _run(["sweep", "--backbones", a.backbone, "--tasks", "all", "--data", "demo", "--out",
                        str(work / "results"), "--device", a.device], env, work)
        summary = json.loads((work / "results" / "sweep_summary.json").read_text())
        t_again = _run(["sweep", "--backbones", a.backbone, "--tasks", "all", "--data", "demo", "--out",
                        str(work / "results"), "--device", a.device], env, work)
        again = json.loads((work / "results" / "sweep_summary.json").read_text())
        print(f"first sweep of the demo benchmark, {a.backbone}, device {a.device}, {os.cpu_count()} CPUs")
        print(f"  demo generation alone (unitrack datasets demo): {t_demo:.1f} s")
        print(f"  unitrack sweep --tasks all (fresh home: demo generated, then every cell): {t_sweep:.1f} s wall")
        print(f"  {'cell':<36} {'seconds':>8} {'share':>7}")
        cells = summary["cells"]
        total = sum(float(c["seconds"]) for c in cells) or 1.0
        for c in sorted(cells, key=lambda c: -float(c["seconds"])):
            print(f"  {c['cell']:<36} {float(c['seconds']):>8.1f} {float(c['seconds']) / total:>6.0%}")
        print(f"  {'sum of cells':<36} {total:>8.1f}   (the rest of the wall time: start-up, demo, report)")
        reused = sum(1 for c in again["cells"] if c["status"] == "reused")
        print(f"  the same sweep again: {t_again:.1f} s wall, {reused}/{len(again['cells'])} cells reused")
        if a.skip_cache:
            return 0
        print("\nfeature cache (common.feature_cache), unitrack eval wall time incl. start-up")
        print(f"  {'task':<6} {'miss s':>8} {'hit s':>8} {'miss/hit':>9}  warm run with")
        cache = work / "features"
        for task, warm in WARM_SET.items():
            base = ["eval", "--task", task, "--backbone", a.backbone, "--data", "demo", "--device", a.device,
                    "--set", f"common.feature_cache={cache / task}"]
            t_miss = _run([*base, "--out", str(work / "cold")], env, work)
            t_hit = _run([*base, "--set", warm, "--out", str(work / "warm")], env, work)
            n = len(list((cache / task).rglob("*.pt")))
            print(f"  {task:<6} {t_miss:>8.1f} {t_hit:>8.1f} {t_miss / t_hit:>8.2f}×  --set {warm} "
                  f"({n} cached frames)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
