"""Feature-extraction throughput per backbone family on the current device: fp32 vs mixed precision.

Prints frames per second of ``FeatureExtractor`` (backbone forward incl. host→device copy, batched,
``inference_mode``) at a DAVIS-like 480×854 input, and for each mixed-precision mode the speed-up over
fp32 and the max abs difference of the features (also relative to the largest fp32 feature magnitude).
Weights are random (speed does not depend on them; differences are representative of the numerics).

    python benchmarks/bench_features.py                      # default families, auto device
    python benchmarks/bench_features.py --size 240 427 --frames 8 --backbones random_r18 dino_vits16
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from unitrack.backbones import build_backbone
from unitrack.features import FeatureExtractor
from unitrack.utils import resolve_device

DEFAULT = ["random_r18", "random_r50", "imagenet_resnext101", "dino_vits8", "dino_vitb16", "dinov2_vitb14",
           "timm:convnext_tiny"]


def timed(fe: FeatureExtractor, x: torch.Tensor, repeats: int) -> tuple[float, torch.Tensor]:
    y = fe(x[: fe.batch_size])  # warm-up (cudnn autotune, allocator)
    if fe.device.type == "cuda":
        torch.cuda.synchronize()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        y = fe(x)
        if fe.device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return x.shape[0] / best, y


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backbones", nargs="+", default=DEFAULT)
    ap.add_argument("--size", nargs=2, type=int, default=(480, 854), metavar=("H", "W"))
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--grid-mode", default="upscale_input", choices=["upscale_input", "interpolate_features"],
                    help="input handling of ViTs with patch 14/16 (see unitrack.backbones.vit)")
    ap.add_argument("--json", help="also write the rows to this JSON file")
    a = ap.parse_args()

    dev = resolve_device(a.device)
    torch.backends.cudnn.benchmark = True
    h, w = a.size
    x = torch.randn(a.frames, 3, h, w, generator=torch.Generator().manual_seed(0))
    name = torch.cuda.get_device_name() if dev.startswith("cuda") else f"CPU ({torch.get_num_threads()} threads)"
    print(f"device {dev}: {name}; torch {torch.__version__}; input {a.frames}×3×{h}×{w}, batch {a.batch_size}; "
          f"ViT grid mode {a.grid_mode}")
    modes = [("fp32", False)] + ([("fp16", "fp16"), ("bf16", "bf16")] if dev.startswith("cuda") else [])
    if not dev.startswith("cuda"):
        print("(CPU: mixed precision is a CUDA-only option of FeatureExtractor; fp32 only)")
    head = f"{'backbone':24s} {'arch':18s} {'out C×h×w':>14s} {'mode':>5s} {'fps':>8s} {'×fp32':>6s} {'max|Δ|':>9s} {'rel':>8s}"
    print(head)
    print("-" * len(head))
    rows = []
    for bname in a.backbones:
        vit = bname.startswith(("dino_vit", "dinov2_")) or "vit" in bname.split(":")[-1]
        bb = build_backbone(bname, weights="random", **({"grid_mode": a.grid_mode} if vit else {}))
        ref = None
        fps32 = None
        for mode, amp in modes:
            fe = FeatureExtractor(bb, device=dev, amp=amp, batch_size=a.batch_size)
            fps, y = timed(fe, x, a.repeats)
            if ref is None:
                ref, fps32 = y, fps
                diff = rel = 0.0
            else:
                diff = (y - ref).abs().max().item()
                rel = diff / max(ref.abs().max().item(), 1e-12)
            shape = "×".join(str(s) for s in y.shape[1:])
            print(f"{bname:24s} {bb.spec.arch[:18]:18s} {shape:>14s} {mode:>5s} {fps:8.3g} {fps / fps32:6.2f} "
                  f"{diff:9.2e} {rel:8.1e}")
            rows.append({"backbone": bname, "arch": bb.spec.arch, "family": bb.spec.family, "mode": mode,
                         "fps": fps, "speedup": fps / fps32, "max_abs_diff": diff, "rel_diff": rel,
                         "shape": list(y.shape[1:]), "device": name})
        del bb, ref
        if dev.startswith("cuda"):
            torch.cuda.empty_cache()
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
