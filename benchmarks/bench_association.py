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

from bench_propagation import _available_bytes  # noqa: E402

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


def rsm_cost_dense_reference(track_feats, det_feats, inv_temp: float = 100.0, device="cpu") -> np.ndarray:
    """RSM as the reference code computes it (docs/protocol.md §4.4.1): zero-padded stacks, one affinity over all
    points, two full softmaxes, both reconstructions materialised (einsum), cosines. Speed baseline only."""
    import torch.nn.functional as F

    from unitrack.association.similarity import _pad_points

    T = _pad_points(track_feats, device, torch.float32)
    D = _pad_points(det_feats, device, torch.float32)
    N, nt, C = T.shape
    M, nd, _ = D.shape
    aff = T.reshape(-1, C) @ D.reshape(-1, C).T
    a_td = F.softmax(inv_temp * aff, dim=1)
    a_dt = F.softmax(inv_temp * aff, dim=0).T
    del aff
    rt = torch.einsum("tds,dsm->tdm", a_td.view(N * nt, M, nd), D)  # (N·nt, M, C)
    rd = torch.einsum("dts,tsm->dtm", a_dt.reshape(M * nd, N, nt), T)  # (M·nd, N, C)
    rt = rt.view(N, nt, M, C).permute(0, 2, 1, 3).reshape(N, M, -1)
    rd = rd.view(M, nd, N, C).permute(2, 0, 1, 3).reshape(N, M, -1)
    ct = F.cosine_similarity(rt, T.reshape(N, 1, -1), dim=2, eps=1e-12)
    cd = F.cosine_similarity(rd, D.reshape(1, M, -1), dim=2, eps=1e-12)
    return (1 - 0.5 * (ct + cd)).double().cpu().numpy()


def _dense_bytes(tf, df) -> tuple[float, float]:
    """Peak bytes of the dense reference and of the per-pair loop (padded layout, float32)."""
    N, M, C = len(tf), len(df), tf[0].shape[0]
    nt = max(f.reshape(C, -1).shape[1] for f in tf)
    nd = max(f.reshape(C, -1).shape[1] for f in df)
    s = N * nt * M * nd * 4.0
    return 3 * s + 2 * (N * nt * M + M * nd * N) * C * 4.0, 3 * s


def _real_objects(kind: str, need: int, backbone: str, device: str) -> list[torch.Tensor]:
    """Object features of the generated demo through ``backbone`` (layer 3), cycled to ``need`` objects.

    ``masks``: the demo MOTS ground-truth masks on frames upscaled 4× (so that objects cover up to a few
    hundred cells, capped by max_mask_area = 200 as in the MOTS protocol); ``boxes``: 4×10 RoIAlign
    features of the demo MOT detections on 1088×608 letterboxed frames (40 points each).
    """
    import cv2

    from unitrack.association import mask_features
    from unitrack.backbones import build_backbone
    from unitrack.eval.demo import demo_task_root
    from unitrack.features import FeatureExtractor, read_rgb

    ex = FeatureExtractor(build_backbone(backbone, seed=0), device=device)
    objs: list[torch.Tensor] = []
    if kind == "boxes":
        cache, _, _ = _observations(demo_task_root("mot"), backbone, device, (1088, 608))
        objs = [o.feature for _, fr in cache.values() for _, obs in fr for o in obs]
    else:
        from unitrack.eval.mots import find_sequences, frame_masks, read_checked

        g = torch.Generator().manual_seed(0)
        for seq in find_sequences(demo_task_root("mots"), "train", need_images=True):
            rows = read_checked(seq.gt_path, "gt", seq.length, (seq.height, seq.width))
            for t, path in enumerate(seq.frames, 1):
                masks = frame_masks([r for r in rows.get(t, []) if r.cls != 10], seq.height, seq.width)
                if not len(masks):
                    continue
                img = read_rgb(path)
                big = cv2.resize(img, (img.shape[1] * 4, img.shape[0] * 4), interpolation=cv2.INTER_LINEAR)
                fmap = ex.extract(big)[0]
                up = np.stack([cv2.resize(m, (big.shape[1], big.shape[0]), interpolation=cv2.INTER_NEAREST)
                               for m in masks.astype(np.uint8)])
                feats, _ = mask_features(fmap, torch.from_numpy(up), 200, generator=g)
                objs += feats
    if not objs:
        raise SystemExit(f"no {kind} objects in the demo")
    return [objs[i % len(objs)] for i in range(need)]


def bench_rsm(sizes=(5, 50, 200), backbone: str = "random_r18", device: str = "cpu") -> None:
    """Ours vs the per-pair loop vs the dense reference-style RSM on real box and mask features."""
    budget = _available_bytes() / 2
    for kind in ("boxes", "masks"):
        objs = _real_objects(kind, 2 * max(sizes), backbone, device)
        pts = [int(f.reshape(f.shape[0], -1).shape[1]) for f in objs]
        print(f"\nRSM cost on real {kind} features ({backbone} layer 3, C={objs[0].shape[0]}, points "
              f"{min(pts)}–{max(pts)}, mean {np.mean(pts):.0f}), N tracks × N detections, device {device}")
        print(f"{'N':>5} {'ours ms':>10} {'pair loop ms':>13} {'dense ref ms':>13} {'loop/ours':>10} "
              f"{'dense/ours':>11} {'max |diff| vs dense':>20}")
        for n in sizes:
            tf, df = objs[:n], objs[n:2 * n]
            t_ours = _time(lambda tf=tf, df=df: rsm_cost(tf, df, device=device), repeat=1 if n >= 200 else 3)
            dense_b, loop_b = _dense_bytes(tf, df)
            cells = {}
            if loop_b < budget:
                cells["loop"] = _time(lambda tf=tf, df=df: _rsm_cost_pairloop(tf, df, device=device), repeat=1)
            if dense_b < budget:
                cells["dense"] = _time(lambda tf=tf, df=df: rsm_cost_dense_reference(tf, df, device=device),
                                       repeat=1 if n >= 200 else 3)
                diff = np.abs(rsm_cost(tf, df, device=device) - rsm_cost_dense_reference(tf, df, device=device)).max()
            line = f"{n:>5} {t_ours * 1e3:>10.1f} "
            line += f"{cells['loop'] * 1e3:>13.1f} " if "loop" in cells else f"{'skipped':>13} "
            line += f"{cells['dense'] * 1e3:>13.1f} " if "dense" in cells else f"{'skipped':>13} "
            line += f"{cells['loop'] / t_ours:>9.1f}× " if "loop" in cells else f"{'-':>10} "
            line += f"{cells['dense'] / t_ours:>10.1f}× {diff:>20.2e}" if "dense" in cells else f"{'-':>11}"
            if "dense" not in cells or "loop" not in cells:
                line += f"   (skipped: needs ~{max(dense_b, loop_b) / 2**30:.0f} GiB, half of the free memory is " \
                        f"{budget / 2**30:.0f} GiB)"
            print(line, flush=True)


def bench_mots_frame(backbone: str = "random_r18", device: str = "cpu", height: int = 1080, frames: int = 10,
                     crowd: int = 20) -> None:
    """Per MOTS frame: backbone (full resolution, the MOTS protocol) vs association (mask pooling + RSM +
    assignment), on the demo MOTS sequence upscaled to ``height`` rows (MOTS20 frames are 1080 rows), with
    its ground-truth masks as observations; then the same frames with ``crowd`` masks per frame (the demo
    masks repeated at shifted places), MOTS20's typical pedestrian count."""
    import cv2

    from unitrack.association import AssociationTracker
    from unitrack.backbones import build_backbone
    from unitrack.config import default_config
    from unitrack.eval.demo import demo_task_root
    from unitrack.eval.mots import find_sequences, frame_masks, read_checked
    from unitrack.features import FeatureExtractor, read_rgb
    from unitrack.heads.mots import observations_for_frame

    sec = default_config("mots").section
    ex = FeatureExtractor(build_backbone(backbone, seed=0), device=device)
    seq = find_sequences(demo_task_root("mots"), "train", need_images=True)[0]
    rows = read_checked(seq.gt_path, "gt", seq.length, (seq.height, seq.width))
    f = height / seq.height
    W = int(round(seq.width * f))
    print(f"\nper MOTS frame ({seq.name} upscaled to {W}x{height}, {backbone} full resolution, device {device})")
    for label, copies in (("demo masks", 1), (f"{crowd} masks", None)):
        tracker = AssociationTracker.from_config(sec, frame_rate=seq.fps, device=ex.device)
        g = torch.Generator().manual_seed(0)
        t_bb = t_as = 0.0
        n_obj = 0
        for t in range(1, min(frames, len(seq.frames)) + 1):
            img = cv2.resize(read_rgb(seq.frames[t - 1]), (W, height), interpolation=cv2.INTER_LINEAR)
            t0 = time.perf_counter()
            fmap = ex.extract(img)[0]
            t_bb += time.perf_counter() - t0
            small = frame_masks([r for r in rows.get(t, []) if r.cls != 10], seq.height, seq.width)
            masks = np.stack([cv2.resize(m, (W, height), interpolation=cv2.INTER_NEAREST)
                              for m in small.astype(np.uint8)]) if len(small) else np.zeros((0, height, W), np.uint8)
            if copies is None and len(masks):  # a crowd: the same masks shifted across the frame, disjoint
                reps = []
                for k in range(crowd):
                    m = np.roll(masks[k % len(masks)], shift=(k // len(masks)) * (W // (crowd // len(masks) + 1)), axis=1)
                    reps.append(m)
                masks = np.stack(reps)
                cover = np.zeros((height, W), bool)
                for k in range(len(masks)):  # keep them pixel-disjoint like real MOTS masks
                    masks[k][cover] = 0
                    cover |= masks[k].astype(bool)
            t0 = time.perf_counter()
            obs = observations_for_frame(fmap, masks, sec.max_mask_area, g)
            tracker.update(obs)
            t_as += time.perf_counter() - t0
            n_obj += len(obs)
        n = min(frames, len(seq.frames))
        print(f"  {label:<12} {n_obj / n:5.1f} objects/frame: backbone {t_bb / n * 1e3:7.1f} ms, association "
              f"{t_as / n * 1e3:6.1f} ms = {t_as / t_bb:.3f} × backbone")


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
    ap.add_argument("--rsm-sizes", default="5,50,200")
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
        bench_rsm(tuple(int(v) for v in a.rsm_sizes.split(",")), a.backbone, device=device)
        bench_mots_frame(a.backbone, device=device)
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
