"""Speed (and one accuracy comparison) of the association primitives, as ratios measured in one run.

    python benchmarks/bench_association.py            # Kalman, RSM, per-frame costs
    python benchmarks/bench_association.py --compare  # IDF1 of the association settings on the demo

* Kalman: the vectorised :class:`~unitrack.association.KalmanBoxFilter` (one numpy call per frame
  for all tracks) vs a Python loop over per-track ``filterpy.kalman.KalmanFilter`` objects
  (predict + update of K tracks).
* RSM: the batched :func:`~unitrack.association.rsm_cost` (all pairs in one tensor program) vs the
  per-pair loop of docs/protocol.md §4.4.1 (``_rsm_cost_pairloop``), N tracks × N detections of C×40 box features,
  plus variable-size mask features.
* Per frame: backbone time (letterbox 1088×608 + forward) vs association time (RoIAlign + tracker
  update) on the demo MOT sequences, with the detections given.
* ``--compare``: IDF1/HOTA/IDSW on the demo MOT benchmark (detections given) for appearance+motion
  (rsm + Kalman gating/fusion), appearance only (the paper's Tables 1–2 setting), pooled-cosine +
  motion, IDOL + motion, motion-only (IoU of Kalman-predicted boxes fused with the gated Mahalanobis
  distance: no appearance) and IoU-only (no Kalman: IoU with the last box). One backbone pass feeds
  every setting.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from unitrack.association import KalmanBoxFilter, rsm_cost  # noqa: E402
from unitrack.association.similarity import _rsm_cost_pairloop  # noqa: E402


def _time(fn, repeat: int = 3) -> float:
    fn()  # warm-up
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def bench_kalman(sizes=(10, 100, 1000)) -> None:
    from filterpy.kalman import KalmanFilter

    kf = KalmanBoxFilter()
    print("\nKalman predict+update of K tracks (one frame)")
    print(f"{'K':>6} {'vectorised ms':>14} {'filterpy loop ms':>17} {'speed-up':>9}")
    rng = np.random.default_rng(0)
    for K in sizes:
        z = np.column_stack([rng.uniform(0, 1000, K), rng.uniform(0, 600, K), rng.uniform(0.3, 0.6, K),
                             rng.uniform(50, 300, K)])
        mean, cov = kf.initiate(z)

        def vec(mean=mean, cov=cov, z=z):
            m, c = kf.predict(mean, cov)
            kf.update(m, c, z + 1.0)

        filters = []
        for k in range(K):
            f = KalmanFilter(dim_x=8, dim_z=4)
            f.F, f.H = kf.motion_mat.copy(), kf.update_mat.copy()
            f.x, f.P = mean[k].copy(), cov[k].copy()
            filters.append(f)

        def loop(filters=filters, z=z):
            for k, f in enumerate(filters):
                h = f.x[3]
                f.Q = np.diag(np.square([h / 20, h / 20, 1e-2, h / 20, h / 160, h / 160, 1e-5, h / 160]))
                f.predict()
                h = f.x[3]
                f.R = np.diag(np.square([h / 20, h / 20, 1e-1, h / 20]))
                f.update(z[k] + 1.0)

        tv, tl = _time(vec), _time(loop)
        print(f"{K:>6} {tv * 1e3:>14.3f} {tl * 1e3:>17.3f} {tl / tv:>8.1f}×")


def bench_rsm(sizes=(10, 50, 200), C: int = 256, device: str = "cpu") -> None:
    print(f"\nRSM cost, N tracks × N detections, C={C}, 40 points each, device {device}")
    print(f"{'N':>5} {'batched ms':>11} {'per-pair loop ms':>17} {'speed-up':>9} {'max |diff|':>11}")
    g = torch.Generator().manual_seed(0)
    for n in sizes:
        tf = [torch.randn(C, 40, generator=g).to(device) for _ in range(n)]
        df = [torch.randn(C, 40, generator=g).to(device) for _ in range(n)]
        tb = _time(lambda tf=tf, df=df: rsm_cost(tf, df, device=device))
        rep = 1 if n >= 200 else 3
        tl = _time(lambda tf=tf, df=df: _rsm_cost_pairloop(tf, df, device=device), repeat=rep)
        diff = np.abs(rsm_cost(tf, df, device=device) - _rsm_cost_pairloop(tf, df, device=device)).max()
        print(f"{n:>5} {tb * 1e3:>11.2f} {tl * 1e3:>17.1f} {tl / tb:>8.1f}× {diff:>11.2e}")
    # variable-size mask features (MOTS-like: up to max_mask_area = 200 points)
    n = 20
    tf = [torch.randn(C, int(k), generator=g).to(device) for k in torch.randint(20, 200, (n,), generator=g)]
    df = [torch.randn(C, int(k), generator=g).to(device) for k in torch.randint(20, 200, (n,), generator=g)]
    tb = _time(lambda: rsm_cost(tf, df, device=device))
    tl = _time(lambda: _rsm_cost_pairloop(tf, df, device=device), repeat=1)
    print(f"masks {n}×{n}, 20–200 points: batched {tb * 1e3:.1f} ms, per-pair loop {tl * 1e3:.1f} ms "
          f"({tl / tb:.1f}×)")


def _demo_mot(root: str | None, sequences: int, frames: int, size) -> Path:
    from unitrack.eval.demo import demo_task_root, generate_demo

    if root:
        return Path(root)
    if (sequences, frames, tuple(size)) == (3, 20, (160, 120)):
        return demo_task_root("mot")
    out = Path(tempfile.mkdtemp(prefix="unitrack-bench-demo-"))
    return generate_demo(out, seed=0, tasks=["mot"], num_sequences=sequences, num_frames=frames, size=size) / "mot"


def _observations(mot_root: Path, backbone: str, device: str, img_size):
    """One backbone pass: {seq: (MOTSequence, [(frame, observations)])} + backbone seconds per frame."""
    from unitrack.backbones import build_backbone
    from unitrack.config import default_config
    from unitrack.eval.motchallenge import find_sequences, read_observations
    from unitrack.features import FeatureExtractor
    from unitrack.heads.mot import sequence_observations

    sec = default_config("mot").section
    sec.img_size = list(img_size)
    ex = FeatureExtractor(build_backbone(backbone, seed=0), device=device, batch_size=8)
    timings: dict[str, float] = {}
    cache = {}
    for s in find_sequences(mot_root, "train", need_images=True):
        dets = read_observations(s, None, "train")
        cache[s.name] = (s, list(sequence_observations(s, dets, ex, sec, timings)))
    nframes = sum(len(v[1]) for v in cache.values())
    return cache, timings["backbone"] / nframes, ex.device


SETTINGS = {
    "appearance+motion (rsm, Kalman fusion+gating)": dict(similarity="rsm", asso_with_motion=True),
    "appearance only (rsm, Tables 1-2 setting)": dict(similarity="rsm", asso_with_motion=False),
    "pooled cosine + motion": dict(similarity="cosine_pooled", asso_with_motion=True),
    "IDOL memory + motion": dict(similarity="idol", asso_with_motion=True),
    "motion-only (IoU of KF prediction + gated Mahalanobis)": dict(similarity="iou", asso_with_motion=True),
    "IoU-only (no Kalman)": dict(similarity="iou", asso_with_motion=False, use_kalman=False),
}


def compare(cache, device) -> dict[str, dict]:
    from unitrack.config import default_config
    from unitrack.eval.motchallenge import score_sequences, write_mot_results
    from unitrack.heads.mot import run_tracker

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, kw in SETTINGS.items():
            sec = copy.deepcopy(default_config("mot").section)
            for k, v in kw.items():
                setattr(sec, k, v)
            files, timings = {}, {}
            for name, (s, frames) in cache.items():
                rows = run_tracker(frames, sec, s.frame_rate, device, timings)
                files[name] = Path(tmp) / label.replace(" ", "_").replace("/", "_") / f"{name}.txt"
                write_mot_results(files[name], rows)
            m, _ = score_sequences([c[0] for c in cache.values()], files, "MOT17")
            m["assoc_ms_per_frame"] = 1e3 * timings["association"] / timings["frames"]
            out[label] = m
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--compare", action="store_true", help="IDF1 of the association settings on the demo")
    ap.add_argument("--backbone", default="random_r18")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--demo-root", help="a MOT root (default: the generated demo benchmark)")
    ap.add_argument("--sequences", type=int, default=3)
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--size", default="160x120")
    ap.add_argument("--img-size", default="1088x608", help="letterbox WxH (protocol: 1088x608)")
    ap.add_argument("--rsm-sizes", default="10,50,200")
    ap.add_argument("--threads", type=int, help="torch CPU threads")
    ap.add_argument("--obs-cache", metavar="FILE", help="save/reuse the per-frame observations (skips the backbone)")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    from unitrack.utils import resolve_device

    device = resolve_device(a.device)
    size = tuple(int(v) for v in a.size.split("x"))
    img_size = tuple(int(v) for v in a.img_size.split("x"))
    print(f"torch {torch.__version__}, device {device}, CPU threads {torch.get_num_threads()}")
    if not a.compare:
        bench_kalman()
        bench_rsm(tuple(int(v) for v in a.rsm_sizes.split(",")), device=device)
    mot_root = _demo_mot(a.demo_root, a.sequences, a.frames, size)
    if a.obs_cache and Path(a.obs_cache).is_file():
        cache, backbone_s = torch.load(a.obs_cache, weights_only=False)
        dev = torch.device(device)
        print(f"observations reused from {a.obs_cache}")
    else:
        cache, backbone_s, dev = _observations(mot_root, a.backbone, device, img_size)
        if a.obs_cache:
            torch.save((cache, backbone_s), a.obs_cache)
    res = compare(cache, dev)
    nd = sum(len(o) for _, fr in cache.values() for _, o in fr) / sum(len(fr) for _, fr in cache.values())
    print(f"\nper frame on {mot_root} ({len(cache)} sequences, {nd:.1f} detections/frame, {a.backbone}, "
          f"letterbox {img_size[0]}x{img_size[1]}):")
    print(f"  backbone (read + letterbox + forward + RoIAlign): {backbone_s * 1e3:.1f} ms")
    for label, m in res.items():
        if not a.compare and not label.startswith("appearance+motion"):
            continue
        print(f"  association, {label}: {m['assoc_ms_per_frame']:.2f} ms "
              f"({m['assoc_ms_per_frame'] / (backbone_s * 1e3):.3f} × backbone)")
    if a.compare:
        print(f"\n{'setting':<58} {'IDF1':>7} {'HOTA':>7} {'MOTA':>7} {'IDSW':>5}")
        for label, m in res.items():
            print(f"{label:<58} {m['IDF1']:>7.4f} {m['HOTA']:>7.4f} {m['MOTA']:>7.4f} {m['IDSW']:>5d}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
