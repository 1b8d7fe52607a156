"""MOT head (docs/protocol.md §4.1.1, docs/protocol.md §4.6, docs/protocol.md §4.7): box observations → RoIAlign features → JDE association → MOT txt.

Per sequence: every frame present in ``img1/`` is letterboxed to ``mot.img_size`` (1088×608) and
run through the frozen backbone (in batches); the observations of the frame (the benchmark's
``det/det.txt``, a user folder ``mot.observations``, or the GT boxes with ``mot.gt_as_observations``)
with ``score > conf_thres`` are mapped into the canvas and cropped from the feature map with
RoIAlign (4×10 points); :class:`~unitrack.association.AssociationTracker` associates them and every
confirmed track with area > ``min_box_area`` and w/h ≤ ``max_aspect`` is written as
``frame,id,x,y,w,h,1,-1,-1,-1`` (Kalman posterior box, unclipped). Scoring: TrackEval on the
sequences that have ground truth (skipped otherwise, e.g. the test split, docs/protocol.md §7.2 #33).

Settings compared in the acceptance check (``benchmarks/bench_association.py --compare``):
appearance+motion = ``similarity=rsm, asso_with_motion=true``; appearance only (Tables 1–2) =
``similarity=rsm`` (default); motion-only = ``similarity=iou, asso_with_motion=true`` (stage 1 is IoU
of the Kalman-predicted boxes fused with the gated Mahalanobis distance: no appearance at all);
IoU-only = ``similarity=iou, use_kalman=false`` (frame-to-frame IoU of the last boxes).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from unitrack.association import (
    AssociationConfig,
    AssociationTracker,
    Observation,
    box_features,
    letterbox_geometry,
    tlwh_to_tlbr,
)
from unitrack.config import Config
from unitrack.eval.base import MetricSpec, own_predictions, skipped_items
from unitrack.eval.demo.mot import write_mot
from unitrack.eval.formats import frame_number, read_mot_txt, read_seqinfo
from unitrack.eval.motchallenge import (
    BENCHMARKS,
    MOTSequence,
    find_sequences,
    load_sequence,
    read_gt,
    read_observations,
    score_dir,
    score_sequences,
    split_folder,
    split_gt_classes,
    write_mot_results,
)
from unitrack.eval.view import Objects, SequenceView, find_prediction, one_based, prediction_names
from unitrack.tasks import RunContext, Task, TaskOutput, TaskSpec
from unitrack.utils import UnitrackError, progress

log = logging.getLogger("unitrack")


@dataclass
class MOTConfig(AssociationConfig):
    """Box association on MOTChallenge (docs/protocol.md §4.1.1, docs/protocol.md §4.7, docs/protocol.md §5); `asso_with_motion=True` = the "with motion" rows."""

    img_size: list[int] = field(default_factory=lambda: [1088, 608])  # letterbox (width, height)
    min_box_area: float = 200.0
    max_aspect: float = 1.6
    benchmark: str = "MOT17"  # MOT16 | MOT17 | MOT15 (preprocessing rules of TrackEval)
    split: str = "train"
    gt_as_observations: bool = False  # use gt/gt.txt boxes (score 1) as observations


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _check_section(sec) -> None:
    from unitrack.association import SIMILARITIES

    if sec.similarity not in SIMILARITIES:
        raise UnitrackError(f"mot.similarity={sec.similarity!r}: expected one of {', '.join(SIMILARITIES)}")
    if sec.benchmark.upper() not in BENCHMARKS:
        raise UnitrackError(f"mot.benchmark={sec.benchmark!r}: expected one of {', '.join(BENCHMARKS)}")
    if len(sec.img_size) != 2 or min(sec.img_size) < 8:
        raise UnitrackError(f"mot.img_size={sec.img_size}: expected [width, height] ≥ 8 px")
    if len(sec.feat_size) != 2 or min(sec.feat_size) < 1:
        raise UnitrackError(f"mot.feat_size={sec.feat_size}: expected [rows, cols] ≥ 1")


def frame_observations(dets: np.ndarray | None, fmap: torch.Tensor | None, ratio: float, pad: tuple[float, float],
                       sec, canvas_w: int) -> list[Observation]:
    """One frame's observations: detections with score > conf_thres, RoIAlign features from ``fmap``.

    ``dets`` (K, 5) = tlwh + score in image pixels; ``ratio``/``pad`` = the letterbox transform.
    """
    if dets is None or len(dets) == 0:
        return []
    dets = dets[dets[:, 4] > sec.conf_thres]
    if len(dets) == 0:
        return []
    feats = None
    if fmap is not None:
        boxes = tlwh_to_tlbr(dets[:, :4]) * ratio
        boxes[:, [0, 2]] += pad[0]
        boxes[:, [1, 3]] += pad[1]
        stride = canvas_w / fmap.shape[-1]
        feats = box_features(fmap, boxes, stride=stride, out_size=tuple(sec.feat_size))
        feats = feats.reshape(feats.shape[0], feats.shape[1], -1)  # K×C×40
    return [Observation(tlwh=d[:4], score=float(d[4]), feature=None if feats is None else feats[i], det_index=i)
            for i, d in enumerate(dets)]


def sequence_observations(seq: MOTSequence, dets: dict[int, np.ndarray], extractor, sec,
                          timings: dict[str, float] | None = None) -> Iterator[tuple[int, list[Observation]]]:
    """Yield ``(frame, observations)`` for every frame of ``seq``, computing features in batches.

    ``extractor`` may be None when the similarity needs no appearance (``iou``): frames are then not
    even read. ``timings["backbone"]`` accumulates read + letterbox + forward + RoIAlign seconds.
    """
    from unitrack.features import image_hw

    needs_feat = sec.similarity != "iou"
    if needs_feat and extractor is None:
        raise UnitrackError(f"mot.similarity={sec.similarity} needs a backbone")
    timings = timings if timings is not None else {}
    W, H = (int(v) for v in sec.img_size)
    batch = max(1, extractor.batch_size) if extractor is not None else 64
    for s0 in range(0, seq.num_frames, batch):
        t0 = time.perf_counter()
        frames = list(range(s0 + 1, min(s0 + batch, seq.num_frames) + 1))
        if not needs_feat:
            out = [(f, frame_observations(dets.get(f), None, 1.0, (0.0, 0.0), sec, W)) for f in frames]
        else:  # through the feature cache when common.feature_cache is set: cached frames are not decoded
            paths = [seq.images[f - 1] for f in frames]
            fmaps = extractor.from_files(paths, letterbox=(W, H))
            geo = [letterbox_geometry(image_hw(p), (W, H)) for p in paths]
            out = [(f, frame_observations(dets.get(f), fmaps[k], geo[k][0], geo[k][1], sec, W))
                   for k, f in enumerate(frames)]
            del fmaps
            _sync(extractor.device)
        timings["backbone"] = timings.get("backbone", 0.0) + time.perf_counter() - t0
        yield from out


def run_tracker(frames: Iterable[tuple[int, list[Observation]]], sec, frame_rate: float, device=None,
                timings: dict[str, float] | None = None) -> list[tuple]:
    """Associate per-frame observations (frames in order 1…n); returns result rows (frame, id, x, y, w, h).

    Only confirmed tracks with area > ``min_box_area`` and w/h ≤ ``max_aspect`` are kept (docs/protocol.md §4.7).
    ``timings["association"]`` accumulates the tracker's seconds, ``timings["frames"]`` the frames.
    """
    timings = timings if timings is not None else {}
    dev = torch.device(device) if device is not None else torch.device("cpu")
    tracker = AssociationTracker.from_config(sec, frame_rate=frame_rate, device=dev)
    rows: list[tuple] = []
    for f, obs in frames:
        t0 = time.perf_counter()
        if f != tracker.frame_id + 1:
            raise ValueError(f"run_tracker: frames must be consecutive from 1 (got {f} after {tracker.frame_id})")
        for t in tracker.update(obs):
            x, y, w, h = t.tlwh
            if w * h > sec.min_box_area and w / h <= sec.max_aspect:
                rows.append((f, t.track_id, x, y, w, h))
        _sync(dev)
        timings["association"] = timings.get("association", 0.0) + time.perf_counter() - t0
        timings["frames"] = timings.get("frames", 0) + 1
    return rows


def track_sequence(seq: MOTSequence, dets: dict[int, np.ndarray], extractor, sec,
                   timings: dict[str, float] | None = None) -> list[tuple]:
    """Observations → features → tracker for one sequence; returns result rows (frame, id, x, y, w, h)."""
    timings = timings if timings is not None else {}
    device = extractor.device if extractor is not None else None
    frames = sequence_observations(seq, dets, extractor if sec.similarity != "iou" else None, sec, timings)
    return run_tracker(frames, sec, seq.frame_rate, device, timings)


def _by_frame(rows: np.ndarray) -> dict[int, np.ndarray]:
    """Rows of a MOTChallenge table grouped by frame (first column)."""
    if not len(rows):
        return {}
    f = rows[:, 0].astype(np.int64)
    order = np.argsort(f, kind="stable")
    f, rows = f[order], rows[order]
    uniq, starts = np.unique(f, return_index=True)
    ends = np.append(starts[1:], len(f))
    return {int(u): rows[s:e] for u, s, e in zip(uniq, starts, ends)}


def _ids_boxes(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ids, 0-based x,y,w,h) of MOTChallenge rows (whose boxes are 1-based)."""
    return rows[:, 1].astype(np.int64), one_based(rows[:, 2:6])


def viz_sequences(root: Path, pred_dir: Path, cfg: dict, seqs: list[str] | None) -> list[SequenceView]:
    """What ``unitrack viz`` draws: the boxes of ``pred/<seq>.txt`` with their track ids over the images
    of the MOTChallenge sequences (:mod:`unitrack.eval.motchallenge`), and the ground truth the metric
    evaluates (class 1, consider flag set) with its distractors as ignore regions."""
    base = split_folder(root, (cfg.get("mot") or {}).get("split", "train"))
    names = seqs or [n for n in prediction_names(pred_dir, ".txt") if (base / n).is_dir()]
    empty = np.zeros((0, 10))
    out = []
    for name in names:
        sdir = base / name
        if not sdir.is_dir():
            raise UnitrackError(f"MOT sequence {name}: folder {sdir} does not exist")
        pf = find_prediction(pred_dir, name, ".txt")
        seq = load_sequence(sdir)
        pred = _by_frame(read_mot_txt(pf, "pred")[0])
        gt_rows = dis_rows = None
        if seq.gt_file is not None:
            g, d = split_gt_classes(read_mot_txt(seq.gt_file, "gt")[0])
            gt_rows, dis_rows = _by_frame(g), _by_frame(d)
        preds, gts = [], []
        for p in seq.frames:
            n = frame_number(p)
            ids, boxes = _ids_boxes(pred.get(n, empty))
            preds.append(Objects(ids=ids, boxes=boxes))
            if gt_rows is None:
                gts.append(None)
            else:
                gi, gb = _ids_boxes(gt_rows.get(n, empty))
                dis = one_based(dis_rows.get(n, empty)[:, 2:6]) if dis_rows else np.zeros((0, 4))
                gts.append(Objects(ids=gi, boxes=gb, ignore_boxes=dis))
        fps = seq.frame_rate if "framerate" in read_seqinfo(sdir / "seqinfo.ini") else 15.0
        out.append(SequenceView(name=name, frames=seq.frames, pred=preds, gt=gts, fps=fps))
    return out


class MOTTask(Task):
    """Multi-object tracking with boxes on MOTChallenge (MOT16/17 train for Tables 1–2)."""

    spec = TaskSpec(
        name='mot',
        title='MOT',
        order=3,
        config=MOTConfig,
        benchmark='MOT16/17',
        family='association',
        data_help='<root>/train/<seq>/{img1,gt/gt.txt,det/det.txt,seqinfo.ini}',
        demo_subdir='mot',
        viz_loader=viz_sequences,
        demo_writer=write_mot,
        demo_stream=104,
        paper_dataset='MOT16 train',
        paper_columns={'mot_idf1': (None, 'IDF1'), 'mot_hota': (None, 'HOTA')},
        metrics=(
            MetricSpec('IDF1', unit='fraction', headline=True),
            MetricSpec('HOTA', unit='fraction', headline=True),
            MetricSpec('MOTA', unit='fraction'),
            MetricSpec('IDSW', label='IDSW', unit='count', higher_is_better=False),
            MetricSpec('FP', unit='count', higher_is_better=False),
            MetricSpec('FN', unit='count', higher_is_better=False),
            MetricSpec('DetA', unit='fraction'),
            MetricSpec('AssA', unit='fraction'),
            MetricSpec('LocA', unit='fraction'),
            MetricSpec('MOTP', unit='fraction'),
            MetricSpec('IDP', unit='fraction'),
            MetricSpec('IDR', unit='fraction'),
            MetricSpec('MT', unit='count'),
            MetricSpec('ML', unit='count', higher_is_better=False),
            MetricSpec('Frag', unit='count', higher_is_better=False),
            MetricSpec('GT_IDs', unit='count'),
            MetricSpec('IDs', unit='count', higher_is_better=False),
        ),
    )

    def _sequences(self, root: Path, cfg: Config, need_images: bool = True) -> list[MOTSequence]:
        return find_sequences(root, cfg.section.split, need_images=need_images,
                              max_sequences=cfg.common.max_sequences)

    def check(self, root: Path, cfg: Config) -> dict:
        """What ``run`` would evaluate: sequences, frames present, GT objects and observations."""
        sec = cfg.section
        _check_section(sec)
        seqs = self._sequences(root, cfg, need_images=False)
        info: dict = {"sequences": len(seqs), "frames": 0, "gt_boxes": 0, "gt_tracks": 0, "observations": 0,
                      "observations_above_conf_thres": 0}
        per = {}
        for s in seqs:
            d = {"frames": s.num_frames, "images": len(s.images), "fps": s.frame_rate}
            if s.gt_file is not None:
                gt = read_gt(s, sec.benchmark.upper())
                keep = gt[:, 6] != 0
                if sec.benchmark.upper() != "MOT15":
                    keep &= gt[:, 7] == 1
                d["gt_boxes"] = int(keep.sum())
                d["gt_tracks"] = int(len(np.unique(gt[keep, 1])))
                info["gt_boxes"] += d["gt_boxes"]
                info["gt_tracks"] += d["gt_tracks"]
            if s.images:
                obs = read_observations(s, sec.observations, sec.split, sec.gt_as_observations, sec.benchmark.upper())
                n = sum(len(v) for v in obs.values())
                na = sum(int((v[:, 4] > sec.conf_thres).sum()) for v in obs.values())
                d["observations"] = n
                info["observations"] += n
                info["observations_above_conf_thres"] += na
            if s.warnings:
                d["warnings"] = len(s.warnings)
            info["frames"] += s.num_frames
            per[s.name] = d
        info["per_sequence"] = per
        info["observation_source"] = ("gt" if sec.gt_as_observations else (sec.observations or "det/det.txt"))
        return info

    def run(self, ctx: RunContext, pred_dir: Path) -> TaskOutput:
        sec = ctx.cfg.section
        _check_section(sec)
        bench = sec.benchmark.upper()
        seqs = self._sequences(ctx.data_root, ctx.cfg)
        pred_dir.mkdir(parents=True, exist_ok=True)
        extractor = ctx.extractor if sec.similarity != "iou" else None
        timings: dict[str, float] = {}
        counts = {"sequences": len(seqs), "observations": 0, "output_boxes": 0}
        files = {}
        for s in progress(seqs, desc="mot"):
            dets = read_observations(s, sec.observations, sec.split, sec.gt_as_observations, bench)
            counts["observations"] += sum(len(v) for v in dets.values())
            rows = track_sequence(s, dets, extractor, sec, timings)
            counts["output_boxes"] += len(rows)
            files[s.name] = pred_dir / f"{s.name}.txt"
            write_mot_results(files[s.name], rows)
            log.info("%s: %d frames, %d output boxes, %d ids", s.name, s.num_frames, len(rows),
                     len({r[1] for r in rows}))
        frames = max(1, int(timings.get("frames", 0)))
        extra = {
            **counts,
            "frames": frames,
            "backbone_s_per_frame": timings.get("backbone", 0.0) / frames,
            "association_s_per_frame": timings.get("association", 0.0) / frames,
            "observation_source": "gt" if sec.gt_as_observations else (sec.observations or "det/det.txt"),
        }
        with_gt = [s for s in seqs if s.gt_file is not None]
        out = TaskOutput(metrics={}, per_sequence={}, extra=extra)
        if with_gt:
            with own_predictions(pred_dir):
                out.metrics, out.per_sequence = score_sequences(with_gt, files, bench)
        out.skipped += skipped_items(seqs)
        for s in seqs:
            if s.gt_file is None:
                out.skip(f"sequence {s.name}", f"no {s.path / 'gt' / 'gt.txt'}: tracked, not scored")
        return out

    def score(self, gt_root: Path, pred_dir: Path, cfg: Config) -> TaskOutput:
        sec = cfg.section
        notes: list[dict[str, str]] = []
        metrics, per_seq = score_dir(gt_root, pred_dir, sec.benchmark.upper(), sec.split, cfg.common.max_sequences,
                                     notes=notes)
        return TaskOutput(metrics=metrics, per_sequence=per_seq, skipped=notes)


TASK = MOTTask()
