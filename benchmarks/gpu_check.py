"""One prepared GPU check: the CUDA paths agree with the CPU, mixed precision stays close, VOS speed at 480p.

Run on a machine with an NVIDIA GPU (CI has none; the test suite skips its CUDA tests without one):

    python benchmarks/gpu_check.py                    # needs CUDA; about 2–4 minutes on an H100/H200
    python benchmarks/gpu_check.py --json gpu.json    # also write every number as JSON
    python benchmarks/gpu_check.py --device cpu --quick   # dry run of the same code on the CPU (no GPU numbers)

Checks (each prints PASS/FAIL with the measured value and its tolerance; exit status 1 if any fails):

1. label propagation at 480p (60×107 cells, C = 256, k = 10, radius 12; n = 5 and 20): CUDA vs CPU
   soft labels, max |diff| ≤ 1e-4; and ours vs the dense reference on CUDA;
2. RSM on real box and mask features of the demo (random ResNet-18 layer 3), 5 / 50 objects: CUDA vs CPU
   costs, max |diff| ≤ 1e-4; identical assignment (row-wise arg-min);
3. mixed precision (fp16, bf16) feature extraction vs fp32 on CUDA: max |diff| / max |fp32| ≤ 0.05, and the
   VOS J&F of the demo with ``--amp`` vs without, |ΔJ&F| ≤ 0.02;
4. end-to-end VOS at 480p (the demo DAVIS sequences resized to 854×480): frames per second of
   ``unitrack.evaluate`` for random-init ResNet-18 and ResNet-50 (layer 3), fp32 and fp16, and the
   propagation / backbone time per frame at n = 5 and 20.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RESULTS: dict[str, object] = {}
FAILED: list[str] = []


def check(name: str, value: float, limit: float, unit: str = "") -> None:
    ok = bool(value <= limit)
    RESULTS[name] = {"value": float(value), "limit": float(limit), "pass": ok}
    if not ok:
        FAILED.append(name)
    print(f"  {'PASS' if ok else 'FAIL'}  {name}: {value:.3g}{unit} (limit {limit:g}{unit})", flush=True)


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize()


def propagation(dev: torch.device, quick: bool) -> None:
    from unitrack.propagation import (
        PropagationParams,
        context_frames,
        propagate_labels,
        propagate_labels_naive,
    )

    print("\n1. label propagation, CUDA vs CPU")
    H, W, C = (30, 54, 64) if quick else (60, 107, 256)
    g = torch.Generator().manual_seed(0)
    for n in (5, 20):
        feats = [F.normalize(torch.randn(C, H, W, generator=g), dim=0) for _ in range(n + 1)]
        labels = [torch.softmax(torch.randn(3, H, W, generator=g), 0) for _ in range(n + 1)]
        tgt = F.normalize(torch.randn(C, H, W, generator=g), dim=0)
        p = PropagationParams(n_context=n)
        ctx = context_frames(n + 1, n, (0,))
        args_cpu = ([feats[i] for i, _ in ctx], [labels[i] for i, _ in ctx], tgt, [r for _, r in ctx], p)
        moved = {id(t): t.to(dev) for t in feats + labels + [tgt]}
        args_dev = ([moved[id(t)] for t in args_cpu[0]], [moved[id(t)] for t in args_cpu[1]], moved[id(tgt)],
                    args_cpu[3], p)
        with torch.inference_mode():
            ref = propagate_labels(*args_cpu)
            out = propagate_labels(*args_dev)
            check(f"propagation n={n}: max |CUDA − CPU|", (out.cpu() - ref).abs().max().item(), 1e-4)
            if n == 5:
                dense = propagate_labels_naive(*args_dev)
                check(f"propagation n={n}: max |ours − dense reference| on {dev.type}",
                      (out - dense).abs().max().item(), 1e-4)
            _sync(dev)
            t0 = time.perf_counter()
            for _ in range(5):
                propagate_labels(*args_dev)
            _sync(dev)
            RESULTS[f"propagation_s_per_frame_n{n}"] = (time.perf_counter() - t0) / 5
            print(f"        {dev.type} propagation per 480p frame, n={n}: "
                  f"{RESULTS[f'propagation_s_per_frame_n{n}'] * 1e3:.1f} ms")


def rsm(dev: torch.device, quick: bool) -> None:
    import bench_association as ba

    from unitrack.association import rsm_cost

    print("\n2. RSM, CUDA vs CPU, real demo features")
    sizes = (5, 20) if quick else (5, 50)
    for kind in ("boxes", "masks"):
        objs = ba._real_objects(kind, 2 * max(sizes), "random_r18", "cpu")
        for n in sizes:
            tf, df = objs[:n], objs[n:2 * n]
            a = rsm_cost(tf, df, device="cpu")
            b = rsm_cost([f.to(dev) for f in tf], [f.to(dev) for f in df], device=dev)
            check(f"RSM {kind} {n}×{n}: max |CUDA − CPU|", float(np.abs(a - b).max()), 1e-4)
            check(f"RSM {kind} {n}×{n}: rows whose arg-min differs", float((a.argmin(1) != b.argmin(1)).sum()), 0)


def _davis_480p(dst: Path) -> Path:
    """The demo DAVIS sequences resized to 854×480 (frames bilinear, palette annotations nearest)."""
    import cv2
    from PIL import Image

    from unitrack.eval.demo import demo_task_root

    src = demo_task_root("vos")
    for p in sorted(src.rglob("*")):
        rel = p.relative_to(src)
        q = dst / rel
        if p.is_dir():
            q.mkdir(parents=True, exist_ok=True)
        elif p.suffix == ".jpg":
            img = cv2.imread(str(p))
            cv2.imwrite(str(q), cv2.resize(img, (854, 480), interpolation=cv2.INTER_LINEAR),
                        [cv2.IMWRITE_JPEG_QUALITY, 95])
        elif p.suffix == ".png":
            im = Image.open(p)
            pal = im.getpalette()
            big = Image.fromarray(np.asarray(im)).resize((854, 480), Image.NEAREST)
            big.putpalette(pal)
            big.save(q)
        else:
            shutil.copy2(p, q)
    return dst


def amp_and_speed(dev: torch.device, quick: bool, work: Path) -> None:
    import unitrack
    from unitrack.backbones import build_backbone
    from unitrack.features import FeatureExtractor

    print("\n3. mixed precision vs fp32")
    x = torch.randn(2, 3, 240 if quick else 480, 320 if quick else 854)
    if dev.type == "cuda":
        for mode in ("fp16", "bf16"):
            bb = build_backbone("random_r18", seed=0)
            ref = FeatureExtractor(bb, device=dev)(x)
            half = FeatureExtractor(bb, device=dev, amp=mode)(x)
            check(f"features {mode} vs fp32: max |diff| / max |fp32|",
                  ((half - ref).abs().max() / ref.abs().max()).item(), 0.05)
    else:
        print("  (no CUDA: mixed precision is ignored on the CPU, nothing to compare)")
    data = _davis_480p(work / "davis480")
    sets = ["vos.crop_size=-1"]
    fp32 = unitrack.evaluate("vos", "random_r18", data=data, out=work / "r32", device=str(dev), sets=sets)
    if dev.type == "cuda":
        amp = unitrack.evaluate("vos", "random_r18", data=data, out=work / "r16", device=str(dev),
                                sets=[*sets, "common.amp=true"])
        check("VOS J&F, --amp fp16 vs fp32: |ΔJ&F|", abs(amp.metrics["J&F-Mean"] - fp32.metrics["J&F-Mean"]), 0.02)
    RESULTS["vos_demo480_JF_fp32"] = fp32.metrics["J&F-Mean"]

    print("\n4. end-to-end VOS at 480p (demo sequences resized to 854×480)")
    n_frames = sum(1 for _ in (data / "JPEGImages" / "480p").rglob("*.jpg"))
    precisions = ("fp32", "fp16") if dev.type == "cuda" else ("fp32",)
    for name in ("random_r18",) if quick else ("random_r18", "random_r50"):
        for prec in precisions:
            extra = [] if prec == "fp32" else ["common.amp=true"]
            unitrack.evaluate("vos", name, data=data, out=work / "warm", device=str(dev), sets=[*sets, *extra],
                              force=True)  # warm-up: cuDNN autotune, allocator
            t0 = time.perf_counter()
            unitrack.evaluate("vos", name, data=data, out=work / "timed", device=str(dev), sets=[*sets, *extra],
                              force=True)
            dt = time.perf_counter() - t0
            RESULTS[f"vos480_fps_{name}_{prec}"] = n_frames / dt
            print(f"  {name} {prec}: {n_frames} frames in {dt:.2f} s = {n_frames / dt:.1f} frames/s "
                  "(incl. decoding, J&F scoring and writing masks)", flush=True)
        bb = FeatureExtractor(build_backbone(name, seed=0), device=dev, batch_size=1)
        x1 = torch.randn(1, 3, 480, 854)
        bb(x1)
        _sync(dev)
        t0 = time.perf_counter()
        for _ in range(5):
            bb(x1)
        _sync(dev)
        RESULTS[f"backbone_s_per_frame_{name}"] = (time.perf_counter() - t0) / 5
        print(f"  {name} backbone per 480p frame: {RESULTS[f'backbone_s_per_frame_{name}'] * 1e3:.1f} ms")
    for n in (5, 20):
        key = f"propagation_s_per_frame_n{n}"
        if key in RESULTS:
            r = RESULTS[key] / RESULTS["backbone_s_per_frame_random_r18"]
            RESULTS[f"propagation_over_backbone_r18_n{n}"] = r
            print(f"  propagation / ResNet-18 backbone per 480p frame, n={n}: {r:.2f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--quick", action="store_true", help="small sizes (a dry run of the code paths)")
    ap.add_argument("--json", help="write all numbers to this file")
    a = ap.parse_args(argv)
    dev = torch.device(a.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here (run it on a GPU machine, or --device cpu --quick for a dry run)")
        return 2
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    RESULTS["device"] = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    RESULTS["torch"] = torch.__version__
    print(f"gpu_check on {RESULTS['device']}, torch {torch.__version__}")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="unitrack-gpu-check-") as tmp:
        propagation(dev, a.quick)
        rsm(dev, a.quick)
        amp_and_speed(dev, a.quick, Path(tmp))
    RESULTS["wall_s"] = time.perf_counter() - t0
    RESULTS["failed"] = FAILED
    print(f"\n{'all checks passed' if not FAILED else 'FAILED: ' + ', '.join(FAILED)} ({RESULTS['wall_s']:.0f} s)")
    if a.json:
        Path(a.json).write_text(json.dumps(RESULTS, indent=2) + "\n")
    return 1 if FAILED else 0


if __name__ == "__main__":
    raise SystemExit(main())
