"""Frames per second of the SOT heads (XCorr, DCF) on the current device, as ratios measured in one run.

    python benchmarks/bench_sot.py                                  # generated demo, random_r18, 520-px crops
    python benchmarks/bench_sot.py --data /data/OTB2015 --frames 60 --device cuda --amp

For each head: end-to-end frames/s (frame decoding, crops, backbone, head; frame 1 = initialisation),
the frames/s the backbone calls alone would allow (timed inside the same run, with device syncs), and
the ratio end-to-end / backbone time (1.0 = everything but the backbone is free). ``scales`` compares
the one-batch scale search with a naive loop that runs the three scale crops one at a time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from unitrack.backbones import build_backbone  # noqa: E402
from unitrack.eval.otb import read_sot_dataset  # noqa: E402
from unitrack.features import FeatureExtractor  # noqa: E402
from unitrack.heads.sot import track_sequence  # noqa: E402
from unitrack.sot import (  # noqa: E402
    SOTConfig,  # noqa: E402
    feature_size,
    make_tracker,
)
from unitrack.utils import resolve_device  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time(fn, device: torch.device, repeat: int = 3) -> float:
    fn()
    _sync(device)
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backbone", default="random_r18")
    ap.add_argument("--data", default="demo", help="SOT dataset root, or 'demo' (generated into a temp folder)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--amp", action="store_true", help="mixed precision for the backbone (CUDA)")
    ap.add_argument("--crop", type=int, default=520, help="crop side (protocol: 520)")
    ap.add_argument("--frames", type=int, default=40, help="frames to track per head (over the sequences)")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    device = torch.device(resolve_device(a.device))
    tmp = None
    if a.data == "demo":
        from unitrack.eval.demo import generate_demo

        tmp = tempfile.TemporaryDirectory()
        root = generate_demo(tmp.name, seed=0, tasks=["sot"], num_sequences=3, num_frames=20) / "otb"
    else:
        root = Path(a.data)
    seqs = read_sot_dataset(root)
    # cut the sequences to a total of --frames frames
    budget, chosen = a.frames, []
    for s in seqs:
        if budget <= 1:
            break
        s.frames, s.gt = s.frames[:budget], s.gt[:budget]
        budget -= len(s.frames)
        chosen.append(s)
    frames = sum(len(s) for s in chosen)
    bb = build_backbone(a.backbone)
    ext = FeatureExtractor(bb, device=device, amp=a.amp, batch_size=8)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    print(f"device: {name}; backbone {a.backbone} layer{bb.layer}; crop {a.crop} px "
          f"({feature_size(SOTConfig(crop_sz=a.crop))}² features); {frames} frames in {len(chosen)} sequence(s)"
          f"{'; amp' if a.amp else ''}")

    def to_tensor(rgb):
        return ext.normalize(torch.from_numpy(rgb).to(device))[0]

    crops3 = torch.randn(3, 3, a.crop, a.crop, device=device)
    crop1 = crops3[:1]
    with torch.inference_mode():
        t_b3 = _time(lambda: ext(crops3), device)
        t_b1 = _time(lambda: ext(crop1), device)
        t_loop = _time(lambda: [ext(crops3[i:i + 1]) for i in range(3)], device)
        print(f"\nscales: one batch of 3 crops {1000 * t_b3:.1f} ms vs 3 single-crop forwards "
              f"{1000 * t_loop:.1f} ms → {t_loop / t_b3:.2f}× faster batched")
        print(f"single crop {1000 * t_b1:.1f} ms")
        print(f"\n{'head':6} {'fps':>8} {'backbone-only fps':>18} {'end-to-end / backbone':>22}")
        for head in ("xcorr", "dcf"):
            cfg = SOTConfig(head=head, crop_sz=a.crop)
            timed = TimedFeatures(ext, device)
            # warm-up on a few frames (allocator, cuDNN autotuning)
            track_sequence(_head(chosen[0], 3), make_tracker(cfg, timed, device), to_tensor)
            timed.seconds = 0.0
            _sync(device)
            t0 = time.perf_counter()
            for s in chosen:
                track_sequence(s, make_tracker(cfg, timed, device), to_tensor)
            _sync(device)
            dt = time.perf_counter() - t0
            t_bb = timed.seconds
            print(f"{head:6} {frames / dt:8.2f} {frames / t_bb:18.2f} {dt / t_bb:22.2f}")
    if tmp is not None:
        tmp.cleanup()
    return 0


class TimedFeatures:
    """The extractor, with the time of every backbone call accumulated (device-synchronised)."""

    def __init__(self, ext, device):
        self.ext, self.device, self.seconds = ext, device, 0.0

    def __call__(self, x):
        _sync(self.device)
        t0 = time.perf_counter()
        y = self.ext(x)
        _sync(self.device)
        self.seconds += time.perf_counter() - t0
        return y


def _head(seq, n):
    import copy

    s = copy.copy(seq)
    s.frames, s.gt = seq.frames[:n], seq.gt[:n]
    return s


if __name__ == "__main__":
    raise SystemExit(main())
