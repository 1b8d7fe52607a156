"""PoseTrack head (docs/protocol.md §4.1.3, docs/protocol.md §4.6, docs/protocol.md §4.7): pose observations associated with frozen features.

Per video: every observed skeleton (15 PoseTrack-17 joints; PoseTrack-18 files are mapped by name,
ears dropped, see :mod:`unitrack.eval.posetrack`) is rasterised into a person mask at image
resolution (:func:`skeleton_to_mask`), pooled into an object feature with the max-area rescaling
(400 cells) and boxed in image pixels (:func:`skeleton_box`); all observations are activated with
score 1 and fed to the JDE cascade (frame rate 6 → track buffer 6). Empty skeletons are dropped
(docs/protocol.md §7.2 #29). Output (docs/protocol.md §4.7): the observation JSON is copied and every person gets ``track_id`` =
the id of the returned track whose pose is identical (same joints, Σ|x, y, score| < 0.01), else a
placeholder.

``posetrack.faithful`` (default True) reproduces docs/protocol.md §7.1 #12: a re-found track keeps its OLD pose, so
its current detection finds no identical pose and keeps the placeholder id 1000 (all such
persons of a frame share it). ``faithful=False`` copies the pose on re-activation and gives every
unmatched person its own fresh id (above all track ids of the video).

Observations: ``posetrack.observations`` = a folder of ``<seq>.json`` (2018 or 2017 style, same
frames as the GT file), else ``<root>/detections/<split>/<seq>.json``. Scoring: poseval-style MOTA /
IDF1 / ID switches (:func:`unitrack.eval.posetrack.evaluate_posetrack`).
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
from unitrack.eval.base import MetricSpec, skipped_items
from unitrack.eval.demo.posetrack import write_posetrack
from unitrack.eval.posetrack import (
    NUM_JOINTS,
    PT17_LIMBS,
    PT18_LIMBS,
    PTVideo,
    annotation_dir,
    evaluate_posetrack,
    image_root,
    joints_outside,
    observation_path,
    read_posetrack_json,
    video_files,
    write_posetrack_json,
)
from unitrack.eval.view import Objects, SequenceView, find_prediction, prediction_names
from unitrack.features import frame_features
from unitrack.tasks import RunContext, Task, TaskOutput, TaskSpec
from unitrack.utils import UnitrackError, progress

log = logging.getLogger("unitrack")


@dataclass
class PoseTrackConfig(AssociationConfig):
    frame_rate: float = 6.0
    max_mask_area: int = 400
    dup_iou_thres: float = 0.2
    confirm_iou_thres: float = 0.6
    motion_lambda: float = 0.9999
    motion_gated: bool = False
    split: str = "val"
    drop_last_frame: bool = True  # poseval drops the last labelled frame of every sequence


PLACEHOLDER_TRACK_ID = 1000  # what the reference writes for a person no returned track claims
SAME_POSE_TOL = 0.01


def pose_array(joints: np.ndarray) -> np.ndarray:
    """The reference's 15×3 comparison array: (x, y, score) per joint id, zeros where absent."""
    a = np.nan_to_num(np.asarray(joints, dtype=np.float64)[:, :3], nan=0.0)
    a[np.isnan(joints[:, 0])] = 0.0
    return a


def claim_people(track_poses: list[np.ndarray], track_ids: list[int], rect_poses: np.ndarray,
                 rect_counts: np.ndarray) -> np.ndarray:
    """Track id per person of a frame (−1 = unclaimed): person r gets the id of the LAST track whose
    pose has the same number of joints and Σ|Δ(x, y, score)| < 0.01 (the reference's loop order)."""
    out = np.full(len(rect_poses), -1, dtype=np.int64)
    if not track_poses or len(rect_poses) == 0:
        return out
    T = np.stack([p for p, _ in track_poses])  # K×15×3
    tc = np.array([c for _, c in track_poses])
    same = (np.abs(T[:, None] - rect_poses[None]).sum((2, 3)) < SAME_POSE_TOL) & (tc[:, None] == rect_counts[None])
    hit = same.any(0)
    last = same.shape[0] - 1 - np.argmax(same[::-1], axis=0)  # last claiming track per person
    out[hit] = np.asarray(track_ids)[last[hit]]
    return out


def track_video(obs: PTVideo, root: Path, ctx: RunContext) -> tuple[dict[tuple[int, int], int], dict[str, Any]]:
    """Track one video's observations; returns {(frame, person): track id} for every person and counters."""
    import torch

    from unitrack.association import (
        AssociationTracker,
        Observation,
        mask_features,
        skeleton_box,
        skeleton_to_mask,
        tlbr_to_tlwh,
    )

    sc = ctx.cfg.section
    ext = ctx.extractor
    faithful = bool(sc.faithful)
    tracker = AssociationTracker.from_config(sc, frame_rate=sc.frame_rate, device=ext.device)
    gen = torch.Generator().manual_seed(int(ctx.cfg.common.seed))
    empty_size = int(np.prod(sc.feat_size))  # random feature of a skeleton whose mask is empty (one joint)
    iroot = image_root(root, obs)
    paths = [iroot / f.name for f in obs.frames]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise UnitrackError(f"{obs.path}: {len(missing)} listed image(s) do not exist, e.g. {missing[0]}")
    assigned: dict[tuple[int, int], int] = {}
    unclaimed: list[tuple[int, int]] = []
    n_obs = 0
    t_assoc = 0.0
    t0 = time.perf_counter()
    with torch.inference_mode():
        for fi, ((H, W), fmap) in enumerate(frame_features(ext, paths, ctx.cfg.common.batch_size)):
            ta = time.perf_counter()
            people = obs.frames[fi].people
            keep = [k for k, p in enumerate(people) if p.present.any()]
            dets = []
            if keep:
                masks = np.stack([skeleton_to_mask(people[k].joints[:, :2], H, W) for k in keep])
                feats, _ = mask_features(fmap, torch.from_numpy(masks).to(fmap.device), sc.max_mask_area,
                                         generator=gen, empty_size=empty_size)
                for i, k in enumerate(keep):
                    p = people[k]
                    box = skeleton_box(p.joints[:, :2])
                    dets.append(Observation(tlwh=tlbr_to_tlwh(box), score=1.0, feature=feats[i],
                                            pose=(pose_array(p.joints), int(p.present.sum())),
                                            activated=True, det_index=k))
            tracks = tracker.update(dets)
            n_obs += len(dets)
            rect_poses = np.stack([pose_array(p.joints) for p in people]) if people else np.zeros((0, NUM_JOINTS, 3))
            counts = np.array([int(p.present.sum()) for p in people], dtype=np.int64)
            ids = claim_people([t.pose for t in tracks], [t.track_id for t in tracks], rect_poses, counts)
            for k, tid in enumerate(ids.tolist()):
                if tid >= 0:
                    assigned[(fi, k)] = tid
                else:
                    unclaimed.append((fi, k))
            t_assoc += time.perf_counter() - ta
    n_tracks = max((t.track_id for t in tracker.tracked + tracker.lost), default=0)
    if faithful:
        for key in unclaimed:
            assigned[key] = PLACEHOLDER_TRACK_ID
    else:
        nxt = max(max(assigned.values(), default=0), n_tracks) + 1  # above every track id of the video
        for key in unclaimed:
            assigned[key] = nxt
            nxt += 1
    wall = time.perf_counter() - t0
    return assigned, {"frames": len(paths), "observations": n_obs, "placeholders": len(unclaimed),
                      "time_s": round(wall, 3),
                      "association_time_s": round(t_assoc, 3)}


def _pairs(gt_dir: Path, pred_dir: Path, max_sequences: int | None) -> list[tuple[PTVideo, PTVideo]]:
    gts = video_files(gt_dir)
    if max_sequences:
        gts = gts[:max_sequences]
    pred_dir = Path(pred_dir)
    if not any((pred_dir / g.name).is_file() for g in gts) and (pred_dir / "json").is_dir():
        pred_dir = pred_dir / "json"
    missing = [g.name for g in gts if not (pred_dir / g.name).is_file()]
    if missing:
        raise UnitrackError(f"{pred_dir}: missing prediction files {', '.join(missing[:5])}"
                            + (f" (+{len(missing) - 5})" if len(missing) > 5 else ""))
    return [(read_posetrack_json(g), read_posetrack_json(pred_dir / g.name)) for g in gts]


# ---------------------------------------------------------------------------------------------------
# what `unitrack viz` draws
# ---------------------------------------------------------------------------------------------------


def _drawn_people(video: PTVideo) -> dict[str, list[tuple[int, np.ndarray]]]:
    """People per image name as drawn: (track id, −1 when missing; K×3 keypoints x, y, visibility/score)
    with the file's own keypoints (the 17 COCO-order ones of PoseTrack-18, the 15 joints of
    PoseTrack-17, where an absent joint is 0 and a joint without score is visible)."""
    out: dict[str, list[tuple[int, np.ndarray]]] = {}
    for fr in video.frames:
        for p in fr.people:
            tid = -1 if p.track_id is None else p.track_id
            if video.fmt == "2018":
                kp = np.asarray(video.raw["annotations"][p.source_index].get("keypoints") or [], np.float64)
                if not kp.size:
                    continue
                kp = kp.reshape(-1, 3)
            else:
                has = p.present
                kp = np.zeros((NUM_JOINTS, 3))
                kp[has, :2] = p.joints[has, :2]
                score = np.nan_to_num(p.joints[has, 2], nan=1.0)
                kp[has, 2] = np.where(score == 0, 1e-3, score)
            out.setdefault(fr.name, []).append((tid, kp))
    return out


def _labelled(video: PTVideo) -> set[str]:
    """Names of the labelled images (a 2017 entry without ``is_labeled`` is labelled when it has ``annorect``)."""
    out = set()
    for i, fr in enumerate(video.frames):
        entry = video.raw["annolist"][i] if video.fmt == "2017" else None
        if entry is not None and entry.get("is_labeled") is None:
            lab = entry.get("annorect") is not None
        else:
            lab = fr.is_labeled
        if lab:
            out.add(fr.name)
    return out


def _outside_ignore(items: list[tuple[int, np.ndarray]], polys: list[np.ndarray]) -> list[tuple[int, np.ndarray]]:
    """poseval's rule: joints inside ignore regions are removed, people left without joints dropped."""
    if not polys or not items:
        return items
    out = []
    for tid, kp in items:
        kp = joints_outside(kp[None], polys)[0]
        if (kp[:, 2] > 0).any():
            out.append((tid, kp))
    return out


def _pose_objects(items: list[tuple[int, np.ndarray]]) -> Objects:
    if not items:
        return Objects(kpts=np.zeros((0, 17, 3)))
    K = max(len(k) for _, k in items)
    kp = np.zeros((len(items), K, 3))
    for i, (_, k) in enumerate(items):
        kp[i, :len(k)] = k
    return Objects(ids=np.asarray([t for t, _ in items], np.int64), kpts=kp)


def viz_sequences(root: Path, pred_dir: Path, cfg: dict, seqs: list[str] | None) -> list[SequenceView]:
    """What ``unitrack viz`` draws: the skeletons of ``pred/<seq>.json`` with their track ids, and the
    ground truth of the labelled frames (joints in ignore regions removed, the regions kept for the error
    strip), both read by :mod:`unitrack.eval.posetrack`."""
    split = (cfg.get("posetrack") or {}).get("split", "val")
    try:
        ann_dir = annotation_dir(root, split)
    except UnitrackError:
        ann_dir = None
    out = []
    for name in seqs or prediction_names(pred_dir, ".json"):
        pfile = read_posetrack_json(find_prediction(pred_dir, name, ".json"))
        gf = ann_dir / f"{name}.json" if ann_dir is not None else None
        gfile = read_posetrack_json(gf) if gf is not None and gf.is_file() else None
        order = [f.name for f in (gfile if gfile is not None and gfile.frames else pfile).frames]
        frames = []
        for fn in order:
            cand = root / fn
            if not cand.is_file():
                cand = root / "images" / split / name / Path(fn).name
            frames.append(cand)
        keep = [i for i, f in enumerate(frames) if f.is_file()]
        if not keep:
            raise UnitrackError(f"PoseTrack sequence {name}: none of its images exist under {root}")
        people = _drawn_people(pfile)
        by_base = {Path(k).name: v for k, v in people.items()}
        gt_people = _drawn_people(gfile) if gfile is not None else {}
        labelled = _labelled(gfile) if gfile is not None else set()
        ignore = {f.name: f.ignore_regions for f in gfile.frames if f.ignore_regions} if gfile is not None else {}
        preds, gts = [], []
        for i in keep:
            fn = order[i]
            polys = ignore.get(fn, [])
            preds.append(_pose_objects(people.get(fn, by_base.get(Path(fn).name, []))))
            if fn in labelled:
                g = _pose_objects(_outside_ignore(gt_people.get(fn, []), polys))
                g.ignore_polys = polys
                gts.append(g)
            else:
                gts.append(None)
        out.append(SequenceView(name=name, frames=[frames[i] for i in keep], pred=preds, gt=gts, fps=10.0,
                                limbs={17: PT18_LIMBS, 15: PT17_LIMBS}))
    return out


class PoseTrackTask(Task):
    spec = TaskSpec(
        name='posetrack',
        title='PoseTrack',
        order=5,
        config=PoseTrackConfig,
        benchmark='PoseTrack-18',
        family='association',
        data_help='<root>/images/val/<seq>, <root>/annotations/val/<seq>.json + detections',
        demo_subdir='posetrack',
        viz_loader=viz_sequences,
        demo_writer=write_posetrack,
        demo_stream=106,
        paper_dataset='PoseTrack-18 val',
        paper_columns={'posetrack_idf1': (None, 'IDF1'), 'posetrack_ids': (None, 'IDSW')},
        metrics=(
            MetricSpec('IDF1', label='IDF1', unit='percent', headline=True),
            MetricSpec('MOTA', label='MOTA', unit='percent', headline=True),
            MetricSpec('IDSW', label='ID switches', unit='count', higher_is_better=False),
            MetricSpec('MOTP', label='MOTP', unit='percent'),
            MetricSpec('Precision', label='Precision', unit='percent'),
            MetricSpec('Recall', label='Recall', unit='percent'),
        ),
    )

    def dataset_name(self, root: Path, cfg: Config) -> str:
        name = root.name.lower()
        return name if name not in ("posetrack_data", "val", "train") else root.parent.name.lower()

    def check(self, root: Path, cfg: Config) -> dict:
        sc = cfg.section
        gdir = annotation_dir(root, sc.split)
        files = video_files(gdir)
        if cfg.common.max_sequences:
            files = files[: cfg.common.max_sequences]
        frames = labelled = persons = joints = images = 0
        tracks: set[tuple[str, int]] = set()
        fmts = set()
        obs_files = obs_people = 0
        obs_missing = []
        for f in files:
            v = read_posetrack_json(f)
            fmts.add(v.fmt)
            frames += len(v.frames)
            base = next((c for c in (root, root / "posetrack_data", root.parent)
                         if v.frames and (c / v.frames[0].name).is_file()), root)
            images += sum((base / fr.name).is_file() for fr in v.frames)
            labelled += sum(1 for fr in v.frames if fr.people)
            for fr in v.frames:
                for p in fr.people:
                    persons += 1
                    joints += int(p.present.sum())
                    if p.track_id is not None:
                        tracks.add((v.name, p.track_id))
            try:
                op = observation_path(root, v.name, sc.split, sc.observations)
            except UnitrackError:
                obs_missing.append(v.name)
                continue
            o = read_posetrack_json(op)
            if len(o.frames) != len(v.frames):
                raise UnitrackError(f"{op}: {len(o.frames)} frames, the ground truth {f} has {len(v.frames)}")
            obs_files += 1
            obs_people += sum(len(fr.people) for fr in o.frames)
        names = [f.stem for f in files]
        out: dict[str, Any] = {
            "format": "PoseTrack-" + "/".join(sorted({"2018" if x == "2018" else "2017" for x in fmts})),
            "annotations": str(gdir),
            "sequences": len(files),
            "frames": frames,
            "images found": images,
            "labelled frames (with people)": labelled,
            "objects (GT tracks)": len(tracks),
            "GT persons": persons,
            "GT joints (15-joint)": joints,
            "pose observation files": obs_files,
            "observed persons": obs_people,
            "names": ", ".join(names[:8]) + (f", … (+{len(names) - 8})" if len(names) > 8 else ""),
        }
        if obs_missing:
            out["sequences without pose observations"] = len(obs_missing)
            boxes = sorted(Path(gdir).parent.glob("*detections*.json")) + sorted(Path(root).glob("annotations/*detections*.json"))
            if boxes:
                out["box-only detection files (not usable as pose observations)"] = ", ".join(
                    sorted({f"{b.name} ({_count_boxes(b)} boxes)" for b in boxes}))
        return out

    def run(self, ctx: RunContext, pred_dir: Path) -> TaskOutput:
        cfg = ctx.cfg
        sc = cfg.section
        root = ctx.data_root
        gdir = annotation_dir(root, sc.split)
        files = video_files(gdir)
        if cfg.common.max_sequences:
            files = files[: cfg.common.max_sequences]
        if not files:
            raise UnitrackError(f"{gdir}: no PoseTrack annotation files")
        # read and validate all inputs before the first forward pass
        work = []
        for f in files:
            gt = read_posetrack_json(f)
            ob = read_posetrack_json(observation_path(root, gt.name, sc.split, sc.observations))
            if len(ob.frames) != len(gt.frames):
                raise UnitrackError(f"{ob.path}: {len(ob.frames)} frames, the ground truth {f} has {len(gt.frames)}")
            work.append((gt, ob))
        pred_dir = Path(pred_dir)
        pred_dir.mkdir(parents=True, exist_ok=True)
        log.info("PoseTrack on %d video(s): %s similarity, max_mask_area %d, %s re-activation", len(work),
                 sc.similarity, sc.max_mask_area, "faithful" if sc.faithful else "fixed")
        stats: dict[str, dict] = {}
        pairs = []
        for gt, ob in progress(work, desc="posetrack", unit="video"):
            ids, st = track_video(ob, root, ctx)
            out = pred_dir / f"{gt.name}.json"
            write_posetrack_json(out, ob, ids)
            stats[gt.name] = st
            pairs.append((gt, read_posetrack_json(out)))
        frames = sum(s["frames"] for s in stats.values())
        total = sum(s["time_s"] for s in stats.values())
        assoc = sum(s["association_time_s"] for s in stats.values())
        metrics, per_seq, extra = evaluate_posetrack(pairs, drop_last_frame=sc.drop_last_frame)
        extra.update({
            "frames": frames,
            "tracking_time_s": round(total, 3),
            "fps": round(frames / total, 3) if total > 0 else None,
            "association_share": round(assoc / total, 4) if total > 0 else None,
            "placeholder_ids": sum(s["placeholders"] for s in stats.values()),
            "per_sequence_counts": stats,
        })
        return TaskOutput(metrics=metrics, per_sequence=per_seq, extra=extra,
                          skipped=skipped_items([v for p in pairs for v in p]))

    def score(self, gt_root: Path, pred_dir: Path, cfg: Config) -> TaskOutput:
        sc = cfg.section
        gdir = annotation_dir(gt_root, sc.split)
        pairs = _pairs(gdir, pred_dir, cfg.common.max_sequences)
        metrics, per_seq, extra = evaluate_posetrack(pairs, drop_last_frame=sc.drop_last_frame)
        return TaskOutput(metrics=metrics, per_sequence=per_seq, extra=extra,
                          skipped=skipped_items([v for p in pairs for v in p]))


def _count_boxes(path: Path) -> int | str:
    import json

    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        return f"unreadable: {e}"
    return len(data) if isinstance(data, list) else len(data.get("annotations", []))


TASK = PoseTrackTask()
