"""MOTS head (docs/protocol.md §4.1.2, docs/protocol.md §4.6, docs/protocol.md §4.7): mask observations associated with frozen features.

Per sequence: frames at full resolution → backbone (batched) → for every frame the pedestrian
(class 2) observation masks are pooled into object features (:func:`mask_features`, max-area
rescaling, 200 cells), boxed in FEATURE-GRID units (:func:`mask2box`, docs/protocol.md §7.1 #11), greedily
de-duplicated (IoU > 0.7), turned into activated :class:`Observation` objects (score 1) and fed to
the JDE cascade (:class:`AssociationTracker`). Every returned track writes its current mask as
``frame track_id+2000 2 H W rle`` (docs/protocol.md §7.3); the masks of a frame are made disjoint (earlier tracks win)
because TrackEval rejects overlaps. Scores with TrackEval's MOTSChallenge (HOTA, CLEAR, Identity).

Observations: the benchmark's ``<seq>/det/det.txt`` (MOTS txt), or ``mots.observations`` = a folder
with ``<seq>.txt`` or the reference's per-frame ``<seq>/img1/<frame:06d>.txt`` files.
Frames without observations are empty (docs/protocol.md §7.2 #31); empty masks are dropped (docs/protocol.md §7.2 #29).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from unitrack.association import AssociationConfig
from unitrack.config import Config
from unitrack.eval.base import MetricSpec, own_predictions, skipped_items
from unitrack.eval.demo.mots import write_mots
from unitrack.eval.formats import MOTSRow, frame_number, read_seqinfo
from unitrack.eval.mots import (
    IGNORE_CLASS,
    PEDESTRIAN,
    MOTSSequence,
    decode_rles,
    evaluate_mots,
    find_sequences,
    format_mots_lines,
    frame_masks,
    gt_cut_to,
    load_sequence,
    observation_file,
    read_checked,
    read_mots_txt,
    read_observations,
    score_dir,
    split_folder,
)
from unitrack.eval.view import Objects, SequenceView, find_prediction, prediction_names
from unitrack.features import frame_features
from unitrack.tasks import RunContext, Task, TaskOutput, TaskSpec
from unitrack.utils import UnitrackError, atomic_write_text, progress

log = logging.getLogger("unitrack")


@dataclass
class MOTSConfig(AssociationConfig):
    max_mask_area: int = 200
    motion_gated: bool = False
    split: str = "train"

ID_OFFSET = 2000  # MOTS output id = track id + 2000, class 2 (docs/protocol.md §7.3)


# ---------------------------------------------------------------------------------------------------
# one sequence
# ---------------------------------------------------------------------------------------------------


def observations_for_frame(fmap, masks: np.ndarray, max_mask_area: int, generator, empty_size: int = 40) -> list:
    """Mask observations of one frame → activated :class:`Observation` list (docs/protocol.md §4.1.2 steps 2–6)."""
    import torch

    from unitrack.association import Observation, mask_features, remove_duplicated_boxes, tlbr_to_tlwh

    if len(masks) == 0:
        return []
    mk = torch.from_numpy(masks).to(fmap.device)
    feats, boxes = mask_features(fmap, mk, max_mask_area, generator=generator, empty_size=empty_size)
    keep = remove_duplicated_boxes(boxes, 0.7)
    # the full-resolution mask stays in the frame's stack: tracks remember its index (``det_index``),
    # so lost tracks never pin old frames' masks in memory
    return [Observation(tlwh=tlbr_to_tlwh(boxes[i]), score=1.0, feature=feats[i], activated=True,
                        det_index=int(i)) for i in keep]


def track_sequence(seq: MOTSSequence, ctx: RunContext, obs: dict[int, list]) -> tuple[list[str], dict[str, Any]]:
    """Run the tracker over one sequence; returns the result lines and timing counters."""
    import torch

    from unitrack.association import AssociationTracker

    sc = ctx.cfg.section
    ext = ctx.extractor
    tracker = AssociationTracker.from_config(sc, frame_rate=seq.fps, device=ext.device)
    gen = torch.Generator().manual_seed(int(ctx.cfg.common.seed))
    empty_size = int(np.prod(sc.feat_size))  # only sizes the random feature of an empty mask (docs/protocol.md §6)
    H, W = seq.height, seq.width
    lines: list[str] = []
    n_obs = n_out = 0
    t_assoc = 0.0
    t0 = time.perf_counter()
    with torch.inference_mode():
        for t, (hw, fmap) in enumerate(frame_features(ext, seq.frames, ctx.cfg.common.batch_size), 1):
            if hw != (H, W):
                raise UnitrackError(f"{seq.frames[t - 1]}: frame is {hw[1]}x{hw[0]}, seqinfo.ini says {W}x{H}")
            ta = time.perf_counter()
            masks = frame_masks(obs.get(t, []), H, W)
            dets = observations_for_frame(fmap, masks, sc.max_mask_area, gen, empty_size)
            tracks = tracker.update(dets)
            t_assoc += time.perf_counter() - ta
            n_obs += len(dets)
            # every returned track was matched (or born) in this frame: its det_index is this frame's
            tracks = [tr for tr in tracks if tr.frame_id == tracker.frame_id]
            if tracks:
                ids = [tr.track_id + ID_OFFSET for tr in tracks]
                out = masks[[tr.det_index for tr in tracks]]
                fl = format_mots_lines(t, ids, out)
                lines += fl
                n_out += len(fl)
    wall = time.perf_counter() - t0
    return lines, {"frames": len(seq.frames), "observations": n_obs, "outputs": n_out,
                   "time_s": round(wall, 3), "association_time_s": round(t_assoc, 3)}


# ---------------------------------------------------------------------------------------------------
# task
# ---------------------------------------------------------------------------------------------------


def _mask_objects(rows: list[MOTSRow], keep: set[int] | None, ignore_class: int | None = None) -> Objects:
    """One frame's masks (classes ``keep``; None = all but the ignore class) as drawn objects, with the
    ``ignore_class`` masks as ignore regions."""
    from pycocotools import mask as mask_utils

    objs = [r for r in rows if (r.cls in keep if keep is not None else r.cls != IGNORE_CLASS)]
    ign = [r.rle for r in rows if ignore_class is not None and r.cls == ignore_class]
    ids = np.asarray([r.obj_id for r in objs], np.int64)
    rles = [r.rle for r in objs]
    boxes = np.asarray(mask_utils.toBbox(rles), np.float64).reshape(-1, 4) if rles else np.zeros((0, 4))

    def decode(rles=rles):
        h, w = rles[0]["size"]
        lab = np.zeros((h, w), np.uint16)
        for k, m in enumerate(decode_rles(rles, h, w)):  # objects, not pixels
            lab[m > 0] = k + 1
        return lab

    return Objects(ids=ids, boxes=boxes, labels=decode if rles else None, label_ids=ids, rles=rles,
                   ignore_rles=ign or None)


def viz_sequences(root: Path, pred_dir: Path, cfg: dict, seqs: list[str] | None) -> list[SequenceView]:
    """What ``unitrack viz`` draws: the masks of ``pred/<seq>.txt`` with their ids over the images of the
    MOTS sequences (:mod:`unitrack.eval.mots`), and the pedestrian ground truth (class 2) with the
    class-10 masks as ignore regions."""
    base = split_folder(root, (cfg.get("mots") or {}).get("split", "train"))
    names = seqs or [n for n in prediction_names(pred_dir, ".txt") if (base / n).is_dir()]
    out = []
    for name in names:
        sdir = base / name
        if not sdir.is_dir():
            raise UnitrackError(f"MOTS sequence {name}: folder {sdir} does not exist")
        pf = find_prediction(pred_dir, name, ".txt")
        seq = load_sequence(sdir)
        pred = read_mots_txt(pf, unique_ids=False)
        gt = read_mots_txt(seq.gt_path, unique_ids=False) if seq.gt_path is not None else None
        preds, gts = [], []
        for p in seq.frames:
            n = frame_number(p)
            preds.append(_mask_objects(pred.get(n, []), None))
            gts.append(None if gt is None else _mask_objects(gt.get(n, []), {PEDESTRIAN}, IGNORE_CLASS))
        fps = seq.fps if "framerate" in read_seqinfo(sdir / "seqinfo.ini") else 15.0
        out.append(SequenceView(name=name, frames=seq.frames, pred=preds, gt=gts, fps=fps))
    return out


class MOTSTask(Task):
    spec = TaskSpec(
        name='mots',
        title='MOTS',
        order=4,
        config=MOTSConfig,
        benchmark='MOTS20',
        family='association',
        data_help='<root>/train/<seq>/{img1,gt/gt.txt,seqinfo.ini} + mask observations',
        demo_subdir='mots',
        viz_loader=viz_sequences,
        demo_writer=write_mots,
        demo_stream=105,
        paper_dataset='MOTS20 train',
        paper_columns={'mots_idf1': (None, 'IDF1'), 'mots_hota': (None, 'HOTA')},
        metrics=(
            MetricSpec('IDF1', unit='fraction', headline=True),
            MetricSpec('HOTA', unit='fraction', headline=True),
            MetricSpec('sMOTSA', unit='fraction'),
            MetricSpec('MOTSA', unit='fraction'),
            MetricSpec('IDSW', label='IDSW', unit='count', higher_is_better=False),
            MetricSpec('DetA', unit='fraction'),
            MetricSpec('AssA', unit='fraction'),
            MetricSpec('MOTSP', unit='fraction'),
            MetricSpec('IDP', unit='fraction'),
            MetricSpec('IDR', unit='fraction'),
            MetricSpec('TP', unit='count'),
            MetricSpec('FP', unit='count', higher_is_better=False),
            MetricSpec('FN', unit='count', higher_is_better=False),
        ),
    )

    def dataset_name(self, root: Path, cfg: Config) -> str:
        name = root.name.lower()
        return name if name not in ("train", "test", "images") else root.parent.name.lower()

    def check(self, root: Path, cfg: Config) -> dict:
        sc = cfg.section
        seqs = find_sequences(root, sc.split, max_sequences=cfg.common.max_sequences)
        frames = gt_objects = gt_rows = obs_rows = 0
        obs_missing = []
        for s in seqs:
            frames += len(s.frames)
            if s.gt_path is not None:
                gt = read_mots_txt(s.gt_path, n_frames=max(s.length, len(s.frames)))
                ids = {r.obj_id for rows in gt.values() for r in rows if r.cls == 2}
                gt_objects += len(ids)
                gt_rows += sum(1 for rows in gt.values() for r in rows if r.cls == 2)
            try:
                observation_file(s, sc.observations, sc.split)
            except UnitrackError:
                obs_missing.append(s.name)
                continue
            obs = read_observations(s, sc.observations, sc.split)
            obs_rows += sum(len(v) for v in obs.values())
        names = [s.name for s in seqs]
        out = {
            "format": "MOTS txt (RLE)",
            "sequences": len(seqs),
            "frames": frames,
            "objects (GT ids, class 2)": gt_objects,
            "GT masks": gt_rows,
            "observation masks": obs_rows,
            "scored sequences": sum(s.gt_path is not None for s in seqs),
            "names": ", ".join(names[:8]) + (f", … (+{len(names) - 8})" if len(names) > 8 else ""),
        }
        if obs_missing:
            out["sequences without observations"] = ", ".join(obs_missing)
        return out

    def run(self, ctx: RunContext, pred_dir: Path) -> TaskOutput:
        cfg = ctx.cfg
        sc = cfg.section
        seqs = find_sequences(ctx.data_root, sc.split, need_images=True, max_sequences=cfg.common.max_sequences)
        # read and validate every observation and ground-truth file before the first forward pass
        obs = {}
        for s in seqs:
            o = read_observations(s, sc.observations, sc.split)
            beyond = [f for f in o if f > len(s.frames)]
            if beyond:
                s.skip(f"sequence {s.name}", f"observations of {len(beyond)} frame(s) after the last image "
                       f"({len(s.frames)}) are ignored")
                o = {f: v for f, v in o.items() if f <= len(s.frames)}
            obs[s.name] = o
            if s.gt_path is not None:
                read_checked(s.gt_path, "gt", n_frames=max(s.length, len(s.frames)), size=s.size)
        pred_dir = Path(pred_dir)
        pred_dir.mkdir(parents=True, exist_ok=True)
        log.info("MOTS on %d sequence(s): %s similarity, max_mask_area %d, motion %s", len(seqs), sc.similarity,
                 sc.max_mask_area, "on" if sc.asso_with_motion else "off")
        stats: dict[str, dict] = {}
        for seq in progress(seqs, desc="mots", unit="seq"):
            lines, st = track_sequence(seq, ctx, obs[seq.name])
            atomic_write_text(pred_dir / f"{seq.name}.txt", "".join(line + "\n" for line in lines))
            stats[seq.name] = st
        frames = sum(s["frames"] for s in stats.values())
        total = sum(s["time_s"] for s in stats.values())
        assoc = sum(s["association_time_s"] for s in stats.values())
        extra: dict[str, Any] = {
            "frames": frames,
            "tracking_time_s": round(total, 3),
            "fps": round(frames / total, 3) if total > 0 else None,
            "association_share": round(assoc / total, 4) if total > 0 else None,
            "per_sequence_counts": stats,
        }
        scored = [s for s in seqs if s.gt_path is not None]
        out = TaskOutput(metrics={}, extra=extra)
        entries, gt_lines = [], {}
        for s in scored:
            n = len(s.frames)
            if s.length > n:  # seqinfo promises more frames than exist: score the frames that were tracked
                text, dropped = gt_cut_to(s.gt_path, n)
                if dropped:
                    s.skip(s.gt_path, f"{dropped} GT rows beyond the {n} existing frames are not scored")
                gt_lines[s.name] = text
            entries.append((s.name, s.gt_path, n))
        if entries:
            with own_predictions(pred_dir):
                out.metrics, out.per_sequence = evaluate_mots(entries, pred_dir, gt_lines,
                                                              sizes={s.name: s.size for s in scored if s.size})
        out.skipped += skipped_items(seqs)
        for s in seqs:
            if s.gt_path is None:
                out.skip(f"sequence {s.name}", f"no {s.folder / 'gt' / 'gt.txt'} (test split?): tracked, not scored")
        return out

    def score(self, gt_root: Path, pred_dir: Path, cfg: Config) -> TaskOutput:
        notes: list[dict[str, str]] = []
        metrics, per_seq = score_dir(gt_root, pred_dir, cfg.section.split, cfg.common.max_sequences, notes=notes)
        return TaskOutput(metrics=metrics, per_sequence=per_seq, skipped=notes)


TASK = MOTSTask()
