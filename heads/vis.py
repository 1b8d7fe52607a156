"""VIS head: video instance segmentation by association of per-frame instances with frozen features.

Per video (YouTube-VIS 2019 / 2021, OVIS; formats in :mod:`unitrack.eval.ytvis`): the per-frame
instance predictions of an image instance segmenter (``vis.observations``, the JSON documented there;
by default ``<root>/observations/<split>.json``) — or, with ``vis.oracle=true``, the ground-truth
masks without their ids — are filtered (score ≥ ``score_thres``), de-duplicated per frame
(class-agnostic, in descending score: a mask whose IoU with a kept one exceeds ``nms_thres`` is
dropped), pooled into object features on the frozen backbone's full-resolution feature map
(:func:`~unitrack.association.mask_features`, max-area rescaling ``max_mask_area``), boxed in
feature-grid units and fed to the JDE cascade (:class:`~unitrack.association.AssociationTracker`;
the stage-1 similarity is ``vis.similarity``: ``rsm`` (default), ``cosine_pooled``, ``cosine_flat``,
``iou`` or ``idol``) exactly as the MOTS head does. Masks whose grid footprint is empty are dropped.

Every track becomes one entry of the YouTube-VIS results JSON (``pred/results.json``): its mask in
the frames where it was matched (null elsewhere), the category with the largest summed score over
its instances, and as score the mean of its per-frame scores. Scored with video AP / AP50 / AP75 /
AR1 / AR10 (:func:`unitrack.eval.ytvis.evaluate_vis`).

``extra`` separates association from mask quality: ``oracle`` = the ground-truth tracks scored as
results (GT masks + GT ids: the ceiling of the protocol, 1.0 without crowd regions), ``oracle_ids``
= the same filtered instances the tracker saw, linked by ground-truth identity instead (per frame,
IoU ≥ 0.5, Hungarian; unmatched instances stay one-frame tracks): what perfect association of these
masks would score. With ``vis.oracle=true`` the predicted row measures association alone.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from unitrack.association import AssociationConfig
from unitrack.config import Config
from unitrack.eval.base import MetricSpec
from unitrack.eval.demo.ytvis import write_ytvis
from unitrack.eval.view import Objects, SequenceView
from unitrack.eval.ytvis import (
    RESULTS_FILE,
    Instance,
    VISDataset,
    VISTrack,
    VISVideo,
    decode_masks,
    evaluate_vis,
    find_dataset,
    gt_instances,
    observations_file,
    read_instances,
    read_results,
    read_sequences,
    results_path,
    score_results,
    write_results,
)
from unitrack.features import frame_features
from unitrack.tasks import RunContext, Task, TaskOutput, TaskSpec
from unitrack.utils import UnitrackError, progress

log = logging.getLogger("unitrack")


@dataclass
class VISConfig(AssociationConfig):
    """Video instance segmentation by associating per-frame instance masks (YouTube-VIS / OVIS)."""

    observations: str | None = None  # per-frame instance predictions JSON (None: <root>/observations/<split>.json)
    oracle: bool = False  # associate the ground-truth masks without their ids instead of predictions
    score_thres: float = 0.3  # instances scoring below are dropped before association
    nms_thres: float = 0.7  # per frame, drop an instance whose mask IoU with a higher-scoring one exceeds this
    max_mask_area: int = 200  # a mask covering more feature cells is pooled from a rescaled map (as MOTS)
    motion_gated: bool = False
    frame_rate: float = 30.0  # sets the track buffer: int(frame_rate / 30 · track_buffer) annotated frames
    split: str = "train"
    annotations: str | None = None  # dataset JSON (None: found under --data, see unitrack.eval.ytvis)


# ---------------------------------------------------------------------------------------------------
# one video
# ---------------------------------------------------------------------------------------------------


def select_instances(frame: list[Instance], score_thres: float, nms_thres: float) -> list[Instance]:
    """Instances of one frame above ``score_thres``, in descending score, class-agnostic mask NMS."""
    cand = sorted((i for i in frame if i.score >= score_thres), key=lambda i: -i.score)
    if len(cand) < 2 or nms_thres >= 1.0:
        return cand
    iou = np.asarray(mask_utils.iou([i.rle for i in cand], [i.rle for i in cand], [0] * len(cand)),
                     dtype=np.float64).reshape(len(cand), len(cand))
    keep: list[int] = []
    for k in range(len(cand)):
        if all(iou[k, j] <= nms_thres for j in keep):
            keep.append(k)
    return [cand[k] for k in keep]


def assemble_tracks(video_id: int, length: int, members: dict[int, dict[int, Instance]], first_id: int = 1
                    ) -> list[VISTrack]:
    """``{track key: {frame: instance}}`` → result tracks (category by summed score, score = mean score)."""
    out = []
    for n, key in enumerate(sorted(members)):
        frames = members[key]
        votes: dict[int, float] = defaultdict(float)
        for inst in frames.values():
            votes[inst.category_id] += inst.score
        cat = min(votes, key=lambda c: (-votes[c], c))
        segs: list[dict | None] = [None] * length
        for t, inst in frames.items():
            segs[t] = inst.rle
        score = float(np.mean([inst.score for inst in frames.values()]))
        out.append(VISTrack(first_id + n, video_id, cat, segs, score))
    return out


def track_video(video: VISVideo, frames: list[list[Instance]], ctx: RunContext) -> tuple[list[VISTrack], dict]:
    """Associate one video's selected instances; returns its result tracks and counters."""
    import torch

    from unitrack.association import AssociationTracker, Observation, mask_features, tlbr_to_tlwh

    sc = ctx.cfg.section
    ext = ctx.extractor
    tracker = AssociationTracker.from_config(sc, frame_rate=sc.frame_rate, device=ext.device)
    gen = torch.Generator().manual_seed(int(ctx.cfg.common.seed))
    empty_size = int(np.prod(sc.feat_size))
    H, W = video.height, video.width
    members: dict[int, dict[int, Instance]] = defaultdict(dict)
    n_obs = n_dropped = 0
    t_assoc = 0.0
    t0 = time.perf_counter()
    with torch.inference_mode():
        for t, (hw, fmap) in enumerate(frame_features(ext, video.frames, ctx.cfg.common.batch_size)):
            if hw != (H, W):
                raise UnitrackError(f"{video.frames[t]}: frame is {hw[1]}x{hw[0]}, the dataset JSON says {W}x{H} "
                                    f"(video {video.id})")
            ta = time.perf_counter()
            insts = frames[t]
            dets = []
            if insts:
                masks = torch.from_numpy(decode_masks([i.rle for i in insts], H, W)).to(fmap.device)
                feats, boxes = mask_features(fmap, masks, sc.max_mask_area, generator=gen, empty_size=empty_size)
                for k, inst in enumerate(insts):
                    if np.allclose(boxes[k], [-1, -1, 10, 10]):  # nothing left on the feature grid
                        n_dropped += 1
                        continue
                    dets.append(Observation(tlwh=tlbr_to_tlwh(boxes[k]), score=inst.score, feature=feats[k],
                                            activated=True, det_index=k, category=inst.category_id))
            tracks = tracker.update(dets)
            for tr in tracks:
                if tr.frame_id == tracker.frame_id:  # matched (or born) in this frame
                    members[tr.track_id][t] = insts[tr.det_index]
            n_obs += len(dets)
            t_assoc += time.perf_counter() - ta
    wall = time.perf_counter() - t0
    out = assemble_tracks(video.id, video.length, members)
    return out, {"frames": video.length, "instances": n_obs, "dropped_empty": n_dropped, "tracks": len(out),
                 "time_s": round(wall, 3), "association_time_s": round(t_assoc, 3)}


def gt_id_tracks(ds: VISDataset, video: VISVideo, frames: list[list[Instance]], iou_thres: float = 0.5
                 ) -> list[VISTrack]:
    """The instances linked by ground-truth identity (per frame: Hungarian on mask IoU ≥ ``iou_thres``);
    unmatched instances become one-frame tracks."""
    from scipy.optimize import linear_sum_assignment

    gts = [a for a in ds.tracks_of(video.id) if not a.iscrowd]
    members: dict[tuple[int, int], dict[int, Instance]] = defaultdict(dict)
    for t, insts in enumerate(frames):
        present = [g for g in gts if g.segmentations[t] is not None]
        matched: dict[int, int] = {}
        if insts and present:
            iou = np.asarray(mask_utils.iou([i.rle for i in insts], [g.segmentations[t] for g in present],
                                            [0] * len(present)), dtype=np.float64).reshape(len(insts), len(present))
            rows, cols = linear_sum_assignment(-iou)
            matched = {int(r): present[c].id for r, c in zip(rows, cols) if iou[r, c] >= iou_thres}
        for k, inst in enumerate(insts):
            key = (0, matched[k]) if k in matched else (1, t * 100000 + k)
            members[key][t] = inst
    return assemble_tracks(video.id, video.length, members)


# ---------------------------------------------------------------------------------------------------
# visualisation
# ---------------------------------------------------------------------------------------------------


def _track_objects(tracks: list[tuple[int, VISTrack]], t: int, h: int, w: int) -> Objects:
    live = [(i, tr.segmentations[t]) for i, tr in tracks if tr.segmentations[t] is not None]
    ids = np.asarray([i for i, _ in live], np.int64)
    rles = [r for _, r in live]
    boxes = np.asarray(mask_utils.toBbox(rles), np.float64).reshape(-1, 4) if rles else np.zeros((0, 4))

    def decode(rles=rles):
        lab = np.zeros((h, w), np.uint16)
        for k, m in enumerate(decode_masks(rles, h, w)):
            lab[m > 0] = k + 1
        return lab

    return Objects(ids=ids, boxes=boxes, labels=decode if rles else None, label_ids=ids, rles=rles)


def viz_sequences(root: Path, pred_dir: Path, cfg: dict, seqs: list[str] | None) -> list[SequenceView]:
    """What ``unitrack viz`` draws: the tracks of ``pred/results.json`` (id = 1 + the track's position
    among its video's entries) and the ground-truth tracks (their annotation ids) over the frames."""
    sc = (cfg.get("vis") or {})
    ds = find_dataset(root, sc.get("split", "train"), sc.get("annotations"))
    results = read_results(results_path(pred_dir), ds)
    by_vid: dict[int, list[VISTrack]] = defaultdict(list)
    for tr in results:
        by_vid[tr.video_id].append(tr)
    names = {v.name: v for v in ds.videos}
    wanted = seqs or [v.name for v in ds.videos if v.id in by_vid]
    out = []
    for name in wanted:
        if name not in names:
            raise UnitrackError(f"VIS video {name}: not in {ds.path}")
        v = names[name]
        preds = list(enumerate(by_vid.get(v.id, []), 1))
        gts = [(a.id, a) for a in ds.tracks_of(v.id)] if ds.has_gt else None
        out.append(SequenceView(
            name=name, frames=v.frames,
            pred=[_track_objects(preds, t, v.height, v.width) for t in range(v.length)],
            gt=[None if gts is None else _track_objects(gts, t, v.height, v.width) for t in range(v.length)],
            fps=6.0))
    return out


# ---------------------------------------------------------------------------------------------------
# task
# ---------------------------------------------------------------------------------------------------


def _row(metrics: dict[str, float], what: str) -> dict[str, Any]:
    return {**{k: metrics[k] for k in ("AP", "AP50", "AP75", "AR1", "AR10")}, "what": what}


class VISTask(Task):
    spec = TaskSpec(
        name="vis",
        title="VIS",
        order=6,
        config=VISConfig,
        benchmark="YouTube-VIS 2019",
        family="association",
        data_help=("<root>/<split>/JPEGImages/<video>/*.jpg + <root>/<split>/instances.json or <root>/<split>.json "
                   "(YouTube-VIS; OVIS layout too) + per-frame instances [{video_id, frame_index (0-based), "
                   "segmentation (RLE), score, category_id}] in vis.observations or <root>/observations/<split>.json"),
        demo_subdir="ytvis",
        demo_writer=write_ytvis,
        demo_stream=107,
        reader=read_sequences,
        writer=write_results,
        viz_loader=viz_sequences,
        metrics=(
            MetricSpec("AP", label="AP", unit="fraction", headline=True, description="video mask AP @[.5:.95]"),
            MetricSpec("AP50", label="AP50", unit="fraction", headline=True),
            MetricSpec("AP75", label="AP75", unit="fraction"),
            MetricSpec("AR1", label="AR1", unit="fraction"),
            MetricSpec("AR10", label="AR10", unit="fraction"),
        ),
    )

    def dataset_name(self, root: Path, cfg: Config) -> str:
        name = root.name.lower()
        return name if name not in ("train", "valid", "val", "test") else root.parent.name.lower()

    def _instances(self, ds: VISDataset, root: Path, cfg: Config) -> tuple[dict[int, list[list[Instance]]], str]:
        sc = cfg.section
        if sc.oracle:
            if not ds.has_gt:
                raise UnitrackError(f"{ds.path}: vis.oracle needs ground truth, the file has no 'annotations'")
            return gt_instances(ds), "ground-truth masks without ids"
        path = observations_file(root, sc.split, sc.observations)
        return read_instances(path, ds), str(path)

    def check(self, root: Path, cfg: Config) -> dict:
        sc = cfg.section
        ds = find_dataset(root, sc.split, sc.annotations, max_sequences=cfg.common.max_sequences)
        frames = sum(v.length for v in ds.videos)
        images = sum(p.is_file() for v in ds.videos for p in v.frames)
        out: dict[str, Any] = {
            "format": "YouTube-VIS JSON",
            "annotations": str(ds.path),
            "images": str(ds.image_root),
            "sequences": len(ds.videos),
            "frames": frames,
            "images found": images,
            "categories": len(ds.categories),
            "objects (GT tracks)": len(ds.annotations) if ds.has_gt else "none (no annotations)",
        }
        if ds.has_gt:
            out["GT masks"] = sum(s is not None for a in ds.annotations for s in a.segmentations)
        try:
            path = observations_file(root, sc.split, sc.observations)
            inst = read_instances(path, ds)
            out["per-frame instances"] = sum(len(f) for fr in inst.values() for f in fr)
            out["instances file"] = str(path)
        except UnitrackError as e:
            out["per-frame instances"] = f"none ({e})"
        names = [v.name for v in ds.videos]
        out["names"] = ", ".join(names[:8]) + (f", … (+{len(names) - 8})" if len(names) > 8 else "")
        return out

    def run(self, ctx: RunContext, pred_dir: Path) -> TaskOutput:
        cfg = ctx.cfg
        sc = cfg.section
        ds = find_dataset(ctx.data_root, sc.split, sc.annotations, need_images=True,
                          max_sequences=cfg.common.max_sequences)
        # read and validate every input before the first forward pass
        raw, source = self._instances(ds, ctx.data_root, cfg)
        selected = {vid: [select_instances(f, sc.score_thres, sc.nms_thres) for f in frames]
                    for vid, frames in raw.items()}
        pred_dir = Path(pred_dir)
        pred_dir.mkdir(parents=True, exist_ok=True)
        log.info("VIS on %d video(s): %s similarity, instances from %s", len(ds.videos), sc.similarity, source)
        results: list[VISTrack] = []
        stats: dict[str, dict] = {}
        for v in progress(ds.videos, desc="vis", unit="video"):
            tracks, st = track_video(v, selected[v.id], ctx)
            results += tracks
            stats[v.name] = st
        write_results(pred_dir / RESULTS_FILE, results)
        frames = sum(s["frames"] for s in stats.values())
        total = sum(s["time_s"] for s in stats.values())
        assoc = sum(s["association_time_s"] for s in stats.values())
        extra: dict[str, Any] = {
            "observations": source,
            "frames": frames,
            "tracks": len(results),
            "tracking_time_s": round(total, 3),
            "fps": round(frames / total, 3) if total > 0 else None,
            "association_share": round(assoc / total, 4) if total > 0 else None,
            "per_sequence_counts": stats,
        }
        if not ds.has_gt:
            out = TaskOutput(metrics={}, extra=extra)
            out.skip(ds.path, "no annotations (a split without public ground truth): results written, no metrics")
            return out
        metrics, per_video, per_cat = evaluate_vis(ds, read_results(pred_dir / RESULTS_FILE, ds))
        oracle, _, _ = evaluate_vis(ds, ds.annotations, per_video=False)
        linked = [tr for v in ds.videos for tr in gt_id_tracks(ds, v, selected[v.id])]
        oracle_ids, _, _ = evaluate_vis(ds, linked, per_video=False)
        extra["per_category_AP"] = per_cat
        extra["oracle"] = _row(oracle, "ground-truth tracks scored as results (GT masks + GT ids)")
        extra["oracle_ids"] = _row(oracle_ids, "the same instances linked by ground-truth ids (perfect association)")
        return TaskOutput(metrics=metrics, per_sequence=per_video, extra=extra)

    def score(self, gt_root: Path, pred_dir: Path, cfg: Config) -> TaskOutput:
        sc = cfg.section
        metrics, per_video, per_cat = score_results(gt_root, pred_dir, sc.split, sc.annotations,
                                                    cfg.common.max_sequences)
        return TaskOutput(metrics=metrics, per_sequence=per_video, extra={"per_category_AP": per_cat})


TASK = VISTask()
