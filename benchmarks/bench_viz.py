"""How long does drawing take? A 50-frame 480p sequence, rendered and written as MP4 / GIF / PNG.

Prints seconds and frames/s for: VOS (palette overlay + contours) and MOT (20 tracks: boxes, id tags,
trails, error strip from motmetrics), each rendered alone and rendered + written in every format;
the vectorised mask overlay against a straightforward per-object numpy blend (ratio); and, with
``--backbone NAME``, the same 50 frames through the backbone, to put drawing next to evaluation.

    python benchmarks/bench_viz.py                           # synthetic 854x480 frames (always works)
    python benchmarks/bench_viz.py --davis /data/DAVIS --backbone random_r18
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from unitrack.app import viz  # noqa: E402
from unitrack.app.viz import Objects, SequenceView, VizOptions  # noqa: E402
from unitrack.eval.formats import read_mask  # noqa: E402


def synthetic_frames(folder: Path, T: int, W: int, H: int, seed: int = 0) -> list[Path]:
    rng = np.random.default_rng(seed)
    base = cv2.resize(rng.integers(0, 255, (H // 8, W // 8, 3), dtype=np.uint8), (W, H), interpolation=cv2.INTER_CUBIC)
    paths = []
    for t in range(T):
        p = folder / f"{t:05d}.jpg"
        cv2.imwrite(str(p), np.roll(base, 2 * t, axis=1))
        paths.append(p)
    return paths


def vos_sequence(tmp: Path, T: int, W: int, H: int, davis: Path | None) -> SequenceView:
    """Real DAVIS blackswan (ground truth as prediction) when given, else 3 moving ellipses."""
    if davis is not None:
        seq = sorted((davis / "JPEGImages" / "480p").iterdir())[0]
        frames = sorted(seq.glob("*.jpg"))[:T]
        ann = davis / "Annotations" / "480p" / seq.name
        preds = [Objects(labels=(lambda p=ann / f"{f.stem}.png": read_mask(p))) for f in frames]
        return SequenceView(name=seq.name, frames=frames, pred=preds, gt=[None] * len(frames), colours="palette",
                            tags=False)
    frames = synthetic_frames(tmp, T, W, H)
    yy, xx = np.mgrid[:H, :W]
    preds = []
    for t in range(T):
        lab = np.zeros((H, W), np.uint8)
        for k, (cx, cy, r) in enumerate(((200 + 4 * t, 240, 90), (500, 150 + 2 * t, 70), (650 - 3 * t, 330, 110)), 1):
            lab[((xx - cx) / r) ** 2 + ((yy - cy) / (0.7 * r)) ** 2 < 1] = k
        preds.append(Objects(labels=lab))
    return SequenceView(name="synthetic-vos", frames=frames, pred=preds, gt=[None] * T, colours="palette", tags=False)


def mot_sequence(tmp: Path, T: int, W: int, H: int, n: int = 20, seed: int = 0) -> SequenceView:
    """n pedestrians walking across; the prediction swaps two ids midway and drops a few boxes."""
    rng = np.random.default_rng(seed)
    frames = synthetic_frames(tmp, T, W, H, seed + 1)
    start = rng.uniform([0, 100], [W - 60, H - 200], (n, 2))
    vel = rng.uniform(-4, 4, (n, 2))
    ids = np.arange(1, n + 1)
    preds, gts = [], []
    for t in range(T):
        boxes = np.concatenate([start + vel * t, np.tile([40.0, 100.0], (n, 1))], 1)
        pid = ids.copy()
        if t >= T // 2:
            pid[[0, 1]] = pid[[1, 0]]
        keep = rng.random(n) > 0.05
        gts.append(Objects(ids=ids, boxes=boxes, ignore_boxes=np.zeros((0, 4))))
        preds.append(Objects(ids=pid[keep], boxes=boxes[keep] + rng.normal(0, 1.5, (keep.sum(), 4))))
    return SequenceView(name="synthetic-mot", frames=frames, pred=preds, gt=gts)


def naive_overlay(img: np.ndarray, labels: np.ndarray, lut: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """The obvious implementation: one float blend per object through boolean indexing."""
    out = img.astype(np.float64)
    for k in np.unique(labels):
        if k == 0:
            continue
        m = labels == k
        out[m] = out[m] * (1 - alpha) + lut[k] * alpha
    return out.round().astype(np.uint8)


def timed(fn, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=50)
    ap.add_argument("--davis", type=Path, help="DAVIS root: draw its first sequence instead of synthetic masks")
    ap.add_argument("--backbone", help="also time the backbone on the same frames (e.g. random_r18)")
    ap.add_argument("--device", default="auto")
    a = ap.parse_args()
    T, W, H = a.frames, 854, 480
    cv2.setNumThreads(max(1, cv2.getNumThreads()))
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        (tmp / "vos").mkdir()
        (tmp / "mot").mkdir()
        vos = vos_sequence(tmp / "vos", T, W, H, a.davis)
        mot = mot_sequence(tmp / "mot", T, W, H)
        T = len(vos.frames)
        print(f"{T} frames, {W}x{H}; cv2 threads {cv2.getNumThreads()}")
        rows = []
        totals = {}
        for task, seq in (("vos", vos), ("mot", mot)):
            t_ev = timed(lambda s=seq: viz.association_events(s)) if task == "mot" else 0.0
            ev = viz.association_events(seq) if task == "mot" else None
            opts = VizOptions()
            t_render = timed(lambda s=seq, t=task, e=ev, opts=opts: [None for _ in viz.render_sequence(s, t, opts, e)])
            rows.append((task, "events (motmetrics)" if task == "mot" else "-", t_ev))
            rows.append((task, "render", t_render))
            for fmt in ("mp4", "gif", "png"):
                out = tmp / f"{task}.{fmt}" if fmt != "png" else tmp / f"{task}_png"
                t = timed(lambda s=seq, t=task, e=ev, o=out, f=fmt, opts=opts: viz.write_frames(viz.render_sequence(s, t, opts, e), o, f, 24))
                rows.append((task, f"render + write {fmt}", t + t_ev))
                totals[(task, fmt)] = t + t_ev
        print(f"\n{'task':6} {'stage':28} {'seconds':>8} {'frames/s':>9}")
        for task, stage, t in rows:
            fps = f"{T / t:9.1f}" if t > 0 else "        -"
            print(f"{task:6} {stage:28} {t:8.2f} {fps}")

        # vectorised overlay vs the obvious per-object blend, on one 480p frame with the sequence's labels
        img = viz.read_rgb(vos.frames[0])
        lab = vos.pred[0].label_map()
        lut = viz.lut_for(int(lab.max()), None, lambda ids: viz.PALETTE[ids])
        ours = timed(lambda: [viz.overlay_labels(img.copy(), lab, lut, 0.5, 0) for _ in range(20)], 3) / 20
        naive = timed(lambda: [naive_overlay(img, lab, lut) for _ in range(20)], 3) / 20
        ref = naive_overlay(img, lab, lut)
        got = viz.overlay_labels(img.copy(), lab, lut, 0.5, 0)
        print(f"\nmask overlay per frame: ours {ours * 1e3:.2f} ms, naive per-object numpy blend {naive * 1e3:.2f} ms "
              f"→ {naive / ours:.1f}× (max pixel difference {int(np.abs(ref.astype(int) - got).max())})")

        if a.backbone:
            import torch

            from unitrack.backbones import build_backbone
            from unitrack.features import FeatureExtractor
            from unitrack.utils import resolve_device

            dev = resolve_device(a.device)
            ext = FeatureExtractor(build_backbone(a.backbone), device=dev, batch_size=8)
            ext.from_files(vos.frames[:2])  # warm-up
            if dev.startswith("cuda"):
                torch.cuda.synchronize()
            t_bb = timed(lambda: ext.from_files(vos.frames))
            print(f"\nbackbone {a.backbone} on {dev}: {t_bb:.2f} s for the same {T} frames ({T / t_bb:.1f} frames/s)")
            for (task, fmt), t in totals.items():
                print(f"  {task} drawing + {fmt}: {t / t_bb:.2f}× the backbone time")


if __name__ == "__main__":
    main()
