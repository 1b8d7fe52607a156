"""Peak memory and time per target frame of label propagation at 480p: ours vs a naive dense version.

Feature maps are 60×107 cells (854×480 at stride 8) with the channel counts of ResNet-18 (256) and
ResNet-50 (1024) layer3; context = first frame + n short-term frames (n = 5 and 20), k = 10,
radius 12, 3 label channels. Values of the features do not change the cost, so they are random unit
vectors. Each measurement runs in a fresh subprocess so that the peak RSS (CPU) or the peak CUDA
allocation belongs to that method alone; "extra peak" = peak during propagation − memory held before
it (inputs). Prints a table with the backbone's time per 480p frame (random-init ResNet-18 / -50 at
layer 3, one frame per forward), ours / backbone, and the ratios naive / ours. A naive configuration whose dense affinity
would not fit in half of the available memory is skipped and its estimated size is shown instead.

    python benchmarks/bench_propagation.py                 # CPU, best of 3 target frames per configuration
    python benchmarks/bench_propagation.py --device cuda --frames 5
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

H, W = 60, 107  # 480p / 8


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _available_bytes() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 1 << 62


def _worker(method: str, channels: int, n_context: int, frames: int, device: str, budget: float,
            threads: int) -> dict:
    import resource

    import torch
    import torch.nn.functional as F

    if threads > 0:
        torch.set_num_threads(threads)
    from unitrack.propagation import (
        PropagationParams,
        context_frames,
        propagate_labels,
        propagate_labels_naive,
    )

    torch.manual_seed(0)
    dev = torch.device(device)
    T = n_context + 1
    feats = [F.normalize(torch.randn(channels, H, W, device=dev), dim=0) for _ in range(T)]
    labels = [torch.softmax(torch.randn(3, H, W, device=dev), 0) for _ in range(T)]
    target = F.normalize(torch.randn(channels, H, W, device=dev), dim=0)
    p = PropagationParams(n_context=n_context, memory_budget_mb=budget)
    ctx = context_frames(n_context + 1, n_context, (0,))  # a target late enough to have n distinct frames
    cf = [feats[i] for i, _ in ctx]
    cl = [labels[i] for i, _ in ctx]
    rs = [r for _, r in ctx]
    if method == "floor":  # the long-term (unrestricted) frame's dense scores + top-k alone, in our bands
        band_rows = 6 * W

        def fn(cf, cl, target, rs, p):
            q = target.reshape(channels, -1)
            k0 = cf[0].reshape(channels, -1)
            for a in range(0, H * W, band_rows):
                (q[:, a:a + band_rows].t() @ k0).topk(p.topk, dim=1)
    else:
        fn = propagate_labels if method == "ours" else propagate_labels_naive
    if dev.type == "cuda":
        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
    else:
        base = _rss_bytes()
    times, cpu = [], []
    with torch.inference_mode():
        for _ in range(frames):
            t0, c0 = time.perf_counter(), time.process_time()
            out = fn(cf, cl, target, rs, p)
            if dev.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            del out
    if dev.type == "cuda":
        peak = torch.cuda.max_memory_allocated() - base
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base
    return {"time_s": min(times), "cpu_s": min(cpu), "extra_peak_mb": max(0, peak) / 2**20}


def _backbone_worker(channels: int, device: str, threads: int) -> dict:
    """Seconds per 480p frame of the matching random-init backbone (ResNet-18 / -50, layer 3, stride 8)."""
    import torch

    if threads > 0:
        torch.set_num_threads(threads)
    from unitrack.backbones import build_backbone
    from unitrack.features import FeatureExtractor

    name = {256: "random_r18", 1024: "random_r50"}[channels]
    ex = FeatureExtractor(build_backbone(name, seed=0), device=device, batch_size=1)
    x = torch.randn(1, 3, H * 8, W * 8 - 2)  # 480×854
    ex(x)  # warm-up
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        y = ex(x)
        if ex.device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    assert tuple(y.shape[-2:]) == (H, W), y.shape
    return {"time_s": min(times), "backbone": name}


def _run(method, channels, n_context, frames, device, budget, threads) -> dict:
    cmd = [sys.executable, __file__, "--worker", method, str(channels), str(n_context), str(frames), device,
           str(budget), str(threads)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--frames", type=int, default=3, help="target frames per measurement (min time is kept)")
    ap.add_argument("--budget-mb", type=float, default=512.0, help="memory budget of our implementation")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch default)")
    ap.add_argument("--worker", nargs=7, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        m, c, n, f, d, b, th = a.worker
        if m == "backbone":
            print(json.dumps(_backbone_worker(int(c), d, int(th))))
        else:
            print(json.dumps(_worker(m, int(c), int(n), int(f), d, float(b), int(th))))
        return 0
    rows = []
    print(f"label propagation at 480p ({W}x{H} cells), k=10, radius 12, device {a.device}, "
          f"budget {a.budget_mb:.0f} MiB, {a.frames} target frame(s), threads {a.threads or 'default'}")
    cols = ("features", "n", "backbone s", "ours s", "ours/bb", "ours cpu-s", "ours MiB", "naive s", "naive cpu-s",
            "naive MiB", "time x", "cpu x", "mem x")
    widths = (14, 4, 11, 9, 9, 11, 10, 9, 12, 11, 8, 7, 8)
    print("".join(c.rjust(wd) if i else c.ljust(wd) for i, (c, wd) in enumerate(zip(cols, widths))))
    for name, channels in (("ResNet-18 l3", 256), ("ResNet-50 l3", 1024)):
        bb = _run("backbone", channels, 0, 1, a.device, a.budget_mb, a.threads)
        floor = _run("floor", channels, 5, a.frames, a.device, a.budget_mb, a.threads)
        if "error" not in floor and "error" not in bb:
            print(f"{name}: backbone {bb['time_s']:.3f} s per 480p frame; the first frame's dense scores + top-k "
                  f"alone (no locality radius, the protocol's long-term memory) {floor['time_s']:.3f} s = "
                  f"{floor['time_s'] / bb['time_s']:.2f} × backbone: the floor of exact fp32 propagation", flush=True)
        for n in (5, 20):
            ours = _run("ours", channels, n, a.frames, a.device, a.budget_mb, a.threads)
            dense_bytes = (H * W) ** 2 * (n + 1) * 4 + channels * H * W * (n + 1) * 4
            if a.device == "cpu" and dense_bytes > _available_bytes() / 2:
                naive = {"error": f"skipped: dense affinity needs ~{dense_bytes / 2**30:.1f} GiB"}
            else:
                naive = _run("naive", channels, n, a.frames, a.device, a.budget_mb, a.threads)
            row = {"features": name, "channels": channels, "n_context": n, "backbone": bb, "floor": floor, "ours": ours,
                   "naive": naive}
            if "error" not in ours and "error" not in bb:
                row["ours_over_backbone"] = ours["time_s"] / bb["time_s"]
            if "error" not in ours and "error" not in naive:
                row["time_ratio"] = naive["time_s"] / ours["time_s"]
                row["cpu_ratio"] = naive["cpu_s"] / max(ours["cpu_s"], 1e-9)
                row["mem_ratio"] = naive["extra_peak_mb"] / max(ours["extra_peak_mb"], 1e-6)
            rows.append(row)

            def cell(r, k, f):
                return f.format(r[k]) if k in r else "-"

            vals = (name, str(n), cell(bb, "time_s", "{:.3f}"), cell(ours, "time_s", "{:.3f}"),
                    cell(row, "ours_over_backbone", "{:.2f}"), cell(ours, "cpu_s", "{:.2f}"),
                    cell(ours, "extra_peak_mb", "{:.0f}"), cell(naive, "time_s", "{:.2f}"),
                    cell(naive, "cpu_s", "{:.2f}"), cell(naive, "extra_peak_mb", "{:.0f}"),
                    cell(row, "time_ratio", "{:.2f}"), cell(row, "cpu_ratio", "{:.2f}"), cell(row, "mem_ratio", "{:.1f}"))
            line = "".join(v.rjust(wd) if i else v.ljust(wd) for i, (v, wd) in enumerate(zip(vals, widths)))
            for r, who in ((bb, "backbone"), (ours, "ours"), (naive, "naive")):
                if "error" in r:
                    line += f"   {who}: {r['error']}"
            print(line, flush=True)
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
