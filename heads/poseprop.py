"""Pose-propagation head on JHMDB: belief maps of the first frame's 15 joints propagated with the
same soft-label primitive as VOS, read out as the top-3 weighted cell average (docs/protocol.md §2.8).

Fixes the reference script's missing pieces (docs/protocol.md §7.2 #20–23): the ``poseprop`` config section exists
(:class:`PosePropConfig`), numpy is imported, coordinates are arrays, and a
non-positive ``crop_size`` is a clear error. Frames are resized to crop×crop (aspect not kept) and,
by default, normalised with the ImageNet statistics the reference hard-codes (``imagenet_stats``).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from unitrack.config import Config
from unitrack.eval.base import MetricSpec, skipped_items
from unitrack.eval.demo.jhmdb import write_jhmdb
from unitrack.eval.jhmdb import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    LIMBS,
    NUM_JOINTS,
    JhmdbVideo,
    belief_maps,
    grid_to_image,
    joints_to_grid,
    pck,
    pck_distances,
    read_jhmdb,
    read_prediction,
    readout_keypoints,
    write_prediction,
)
from unitrack.eval.view import Objects, SequenceView
from unitrack.propagation import LabelPropagator, PropagationParams
from unitrack.tasks import RunContext, Task, TaskOutput, TaskSpec
from unitrack.utils import UnitrackError, progress

log = logging.getLogger("unitrack")


@dataclass
class PosePropConfig:
    """Pose (belief-map) propagation on JHMDB (docs/protocol.md §2.8); propagation values as VOS."""

    protocol: str = "unitrack"  # named preset of the propagation values: unitrack | crw | dino (docs/protocol.md §2.9)
    temperature: float = 0.05
    topk: int = 10
    radius: float = 12.0
    n_context: int = 5
    long_mem: list[int] = field(default_factory=lambda: [0])
    down_factor: int = 8
    l2_normalize: bool = True
    norm_mask: bool = False
    crop_size: int = 320
    split_file: str = "split.txt"
    readout_topk: int = 3
    pck_thresholds: list[float] = field(default_factory=lambda: [0.1, 0.2, 0.3, 0.4, 0.5])
    imagenet_stats: bool = True  # docs/protocol.md §7.2 #23: the reference hard-codes ImageNet mean/std for JHMDB
    memory_budget_mb: int = 512


def load_frames(paths: list[Path], crop_size: int, mean, std) -> torch.Tensor:
    """N×3×crop×crop normalised float32: OpenCV read, [0,1], RGB, bilinear resize, (x − mean) / std."""
    out = []
    m = np.asarray(mean, np.float32)[:, None, None]
    s = np.asarray(std, np.float32)[:, None, None]
    for p in paths:
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if img is None:
            raise UnitrackError(f"{p}: cannot read image")
        img = img.astype(np.float32) / 255.0
        img = np.ascontiguousarray(img[:, :, ::-1])
        img = cv2.resize(img, (crop_size, crop_size))
        out.append((img.transpose(2, 0, 1) - m) / s)
    return torch.from_numpy(np.stack(out))


def normalize_per_pixel(pred: torch.Tensor) -> torch.Tensor:
    """Per-cell min-max over channels (the reference's optional ``norm_mask``; output only)."""
    mn = pred.min(0, keepdim=True).values
    return (pred - mn) / (pred.max(0, keepdim=True).values - mn).clamp_min(1e-12)


def propagate_video(video: JhmdbVideo, extractor, params: PropagationParams, crop_size: int, mean, std,
                    stride: int = 8, readout_topk: int = 3, norm_mask: bool = False,
                    batch_size: int = 8) -> np.ndarray:
    """2×J×T grid coordinates of the propagated joints of one video (frame 0 = read-out of its belief map)."""
    prop = LabelPropagator(params)
    coords = []
    t = 0
    for b0 in range(0, len(video), batch_size):
        feats = extractor.cached(video.frames[b0:b0 + batch_size],
                                 {"prep": "poseprop", "crop": int(crop_size), "mean": list(mean), "std": list(std)},
                                 lambda chunk: load_frames(chunk, crop_size, mean, std))
        for f in feats:
            if t == 0:
                h, w = f.shape[-2:]
                if (h, w) != (math.ceil(crop_size / stride),) * 2:
                    video.skip(f"video {video.name}", f"feature grid {w}x{h} differs from crop {crop_size} / "
                               f"stride {stride}; joints are mapped with stride {stride}")
                g = joints_to_grid(video.joints[:, :, 0], video.size, crop_size, stride)
                lab0 = torch.from_numpy(belief_maps(g, (h, w))).to(f.device)
                pred = prop.start(f, lab0)
            else:
                pred = prop.step(f)
            if norm_mask:
                pred = normalize_per_pixel(pred)
            coords.append(readout_keypoints(pred, readout_topk).cpu().numpy())
            t += 1
    return np.stack(coords, axis=-1).astype(np.float64)


def viz_sequences(root: Path, pred_dir: Path, cfg: dict, seqs: list[str] | None) -> list[SequenceView]:
    """What ``unitrack viz`` draws: the propagated joints ``pred/<index>.dat`` (2×15×T feature-grid
    coordinates, −1 = failed joint) mapped to image pixels as the PCK evaluation does, and the JHMDB
    ground truth (:mod:`unitrack.eval.jhmdb`)."""
    sec = cfg.get("poseprop") or {}
    crop, stride = int(sec.get("crop_size", 320)), int(sec.get("down_factor", 8))
    videos = read_jhmdb(root, sec.get("split_file", "split.txt"))
    by_name = {v.name: v for v in videos}
    if seqs:
        bad = [n for n in seqs if n not in by_name]
        if bad:
            raise UnitrackError(f"JHMDB video(s) {bad} not in the split file under {root}")
        videos = [by_name[n] for n in seqs]
    else:
        videos = [v for v in videos if (pred_dir / f"{v.index}.dat").is_file()]
    out = []
    for v in videos:
        pf = pred_dir / f"{v.index}.dat"
        if not pf.is_file():
            raise UnitrackError(f"no pose prediction {pf} for video {v.name}")
        p = grid_to_image(read_prediction(pf), v.size, crop, stride)  # 2×J×T
        pred = np.concatenate([p.transpose(2, 1, 0), (p[0] >= 0).T[..., None].astype(np.float64)], 2)
        g = np.asarray(v.joints, np.float64)
        gt = np.concatenate([g.transpose(2, 1, 0), np.ones(g.shape[2:0:-1] + (1,))], 2)
        T = min(len(v.frames), len(pred))
        preds = [Objects(ids=np.array([1]), kpts=pred[t:t + 1]) for t in range(T)]
        gts: list[Objects | None] = [Objects(ids=np.array([1]), kpts=gt[t:t + 1]) if t < len(gt) else None
                                     for t in range(T)]
        out.append(SequenceView(name=v.name, frames=list(v.frames[:T]), pred=preds, gt=gts, fps=15.0, tags=False,
                                limbs={NUM_JOINTS: LIMBS}))
    return out


class PosePropTask(Task):
    spec = TaskSpec(
        name='poseprop',
        title='Pose prop.',
        order=2,
        config=PosePropConfig,
        benchmark='JHMDB',
        family='propagation',
        data_help="split file lines '<joint_positions.mat> <frame folder>'",
        demo_subdir='jhmdb',
        viz_loader=viz_sequences,
        demo_writer=write_jhmdb,
        demo_stream=103,
        metrics=(
            MetricSpec('PCK@0.1', label='PCK@0.1', unit='percent', headline=True),
            MetricSpec('PCK@0.2', label='PCK@0.2', unit='percent', headline=True),
            MetricSpec('PCK@0.3', label='PCK@0.3', unit='percent'),
            MetricSpec('PCK@0.4', label='PCK@0.4', unit='percent'),
            MetricSpec('PCK@0.5', label='PCK@0.5', unit='percent'),
        ),
    )

    def dataset_name(self, root: Path, cfg: Config) -> str:
        return "jhmdb"

    def videos(self, root: Path, cfg: Config) -> list[JhmdbVideo]:
        vids = read_jhmdb(root, cfg.section.split_file)
        n = cfg.common.max_sequences
        return vids[:n] if n else vids

    def check(self, root: Path, cfg: Config) -> dict:
        vids = self.videos(Path(root), cfg)
        return {
            "videos": len(vids),
            "frames": sum(len(v) for v in vids),
            "joints": int(vids[0].joints.shape[1]) if vids else 0,
            "sizes (HxW)": sorted({f"{v.size[0]}x{v.size[1]}" for v in vids}),
        }

    def _crop(self, cfg: Config) -> int:
        c = int(cfg.section.crop_size)
        if c <= 0:
            raise UnitrackError(f"poseprop.crop_size must be > 0 (frames are resized to crop×crop), got {c}")
        return c

    def run(self, ctx: RunContext, pred_dir: Path) -> TaskOutput:
        s = ctx.cfg.section
        crop = self._crop(ctx.cfg)
        if s.imagenet_stats:
            mean, std = IMAGENET_MEAN, IMAGENET_STD
        else:
            spec = ctx.backbone.spec
            mean, std = tuple(spec.mean), tuple(spec.std)
        params = PropagationParams.from_config(s)
        vids = self.videos(ctx.data_root, ctx.cfg)
        bs = max(1, int(ctx.cfg.common.batch_size))
        with torch.inference_mode():
            for v in progress(vids, desc="poseprop", unit="video"):
                log.info("poseprop: %s (%d frames)", v.name, len(v))
                c = propagate_video(v, ctx.extractor, params, crop, mean, std, s.down_factor, s.readout_topk,
                                    s.norm_mask, bs)
                write_prediction(pred_dir / f"{v.index}.dat", c)
        return _noted(self._score(vids, pred_dir, ctx.cfg), vids)

    def _score(self, vids: list[JhmdbVideo], pred_dir: Path, cfg: Config) -> TaskOutput:
        s = cfg.section
        crop = self._crop(cfg)
        dists, valids, per_seq = [], [], {}
        for v in vids:
            p = read_prediction(Path(pred_dir) / f"{v.index}.dat")
            if p.shape[1:] != v.joints.shape[1:]:
                raise UnitrackError(f"{Path(pred_dir) / f'{v.index}.dat'}: prediction covers {p.shape[1:]} "
                                    f"(joints, frames) but {v.mat} has {v.joints.shape[1:]}")
            d, ok = pck_distances(grid_to_image(p, v.size, crop, s.down_factor), v.joints)
            dists.append(d)
            valids.append(ok)
            per_seq[v.name] = pck([d], [ok], s.pck_thresholds)
        metrics = pck(dists, valids, s.pck_thresholds)
        n_valid = int(sum(ok.sum() for ok in valids))
        n_all = int(sum(ok.shape[0] * max(0, ok.shape[1] - 1) for ok in valids))
        return TaskOutput(metrics=metrics, per_sequence=per_seq,
                          extra={"evaluated_joints": n_valid, "failed_joints": n_all - n_valid,
                                 "frames": sum(int(v.joints.shape[2]) for v in vids),
                                 "first_frame_baseline": self._first_frame_pck(vids, cfg)})

    def _first_frame_pck(self, vids: list[JhmdbVideo], cfg: Config) -> dict[str, float]:
        """PCK of the "every frame repeats the first frame's joints" baseline, scored as
        :func:`first_frame_pose_baseline` scores it but without writing its predictions: a reference stored in
        ``extra`` for reports, no metric of the run (a few array operations per video)."""
        s = cfg.section
        crop = self._crop(cfg)
        dists, valids = [], []
        for v in vids:
            g = joints_to_grid(v.joints[:, :, :1], v.size, crop, s.down_factor)
            g = np.repeat(g, v.joints.shape[2], axis=2)
            d, ok = pck_distances(grid_to_image(g, v.size, crop, s.down_factor), v.joints)
            dists.append(d)
            valids.append(ok)
        return pck(dists, valids, s.pck_thresholds)

    def score(self, gt_root: Path, pred_dir: Path, cfg: Config) -> TaskOutput:
        vids = self.videos(Path(gt_root), cfg)
        return _noted(self._score(vids, Path(pred_dir), cfg), vids)


def _noted(out: TaskOutput, vids: list[JhmdbVideo]) -> TaskOutput:
    """``out`` with what the reader and the head left out of ``vids`` (frames without a pose, …)."""
    out.skipped += skipped_items(vids)
    return out


def first_frame_pose_baseline(root: str | Path, pred_dir: str | Path, cfg: Config | None = None) -> TaskOutput:
    """Baseline: every frame repeats the first frame's joints (grid coordinates); written and scored."""
    from unitrack.config import default_config

    cfg = cfg or default_config("poseprop")
    crop = TASK._crop(cfg)
    vids = TASK.videos(Path(root), cfg)
    for v in vids:
        g = joints_to_grid(v.joints[:, :, :1], v.size, crop, cfg.section.down_factor)
        write_prediction(Path(pred_dir) / f"{v.index}.dat", np.repeat(g, len(v), axis=2))
    return TASK._score(vids, Path(pred_dir), cfg)


TASK = PosePropTask()
