"""PoseTrack: JSON writer, dataset layout and the poseval-style multi-person pose-tracking evaluation
(MOTA / IDF1 / ID switches per joint, motmetrics). The reader (PoseTrack-2018 and the 2017 ``annolist``
style) is :mod:`unitrack.eval.formats.posetrack_json`; its names are importable from here too.

Joints. Everything internal uses the 15 PoseTrack-17 / poseval joints (ids 0..14): 0 r-ankle,
1 r-knee, 2 r-hip, 3 l-hip, 4 l-knee, 5 l-ankle, 6 r-wrist, 7 r-elbow, 8 r-shoulder, 9 l-shoulder,
10 l-elbow, 11 l-wrist, 12 neck (= PoseTrack-18 ``head_bottom``), 13 nose, 14 head-top.
PoseTrack-18's 17 keypoints (COCO order: nose, head_bottom, head_top, left_ear, right_ear, l/r
shoulder, l/r elbow, l/r wrist, l/r hip, l/r knee, l/r ankle) map by NAME (as poseval's converter
does) with :data:`PT18_TO_PT17` = [13, 12, 14, -, -, 9, 8, 10, 7, 11, 6, 3, 2, 4, 1, 5, 0]; the ears
are dropped. A 2018 keypoint is unannotated iff x = y = visibility = 0 (poseval's rule).

Evaluation (``evaluate_posetrack``), as the modified poseval of the reference (docs/protocol.md §5, docs/protocol.md §7.1 #18):
* predictions are aligned to GT frames by position (same number of frames per video, else error);
* GT frames without people are dropped (this removes unlabelled frames), then rectangles without
  an ``annopoints`` entry, then, in frames with ignore regions, points inside the regions (a person
  left with no point is dropped); then the LAST remaining frame of every sequence is dropped
  (``drop_last_frame``; a sequence left with no frame is skipped, noted on the GT video with
  :meth:`~unitrack.eval.base.Sequence.skip` — poseval crashes);
* per frame and joint, a GT joint and a predicted joint can match when their distance divided by
  the GT head size is ≤ 0.5, head size = 0.6·‖head-box diagonal‖ (PoseTrack-18 ``bbox_head``, 2017
  ``x1,y1,x2,y2``). GT without a head box (not in the official data): the head box is taken as the
  square whose side is ‖head_top − head_bottom‖, i.e. head size = 0.6·√2·‖head_top − head_bottom‖;
  a GT person with joints and neither is an error;
* one motmetrics accumulator per joint and sequence receives (GT track ids, predicted track ids,
  distances; NaN = cannot match). poseval's person-level PCKh assignment only feeds AP, not these
  accumulators, so it is not needed here. A frame where the GT or the prediction is empty gets
  poseval's placeholder: one unmatched GT object and one unmatched hypothesis per joint;
* MOTA per joint = 100·(1 − (misses + switches + FP) / objects) pooled over sequences; MOTA = mean over
  joints. IDF1 per joint = mean over sequences of motmetrics IDF1 ×100 (a sequence where a joint
  never occurs makes that joint's IDF1 NaN, as in the reference), IDF1 = mean over the non-NaN
  joints. IDSW = switches summed over joints and sequences. Duplicate predicted ids in a frame are
  allowed (the reference's placeholder id 1000); duplicate GT ids are an error.
"""

from __future__ import annotations

import copy
import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unitrack.eval.formats.posetrack_json import (  # noqa: F401  (the reader and its data model, re-exported)
    JOINT_NAMES,
    NUM_JOINTS,
    PT17_LIMBS,
    PT18_KEYPOINTS,
    PT18_LIMBS,
    PT18_TO_PT17,
    PTFrame,
    PTPerson,
    PTVideo,
    read_posetrack_json,
)
from unitrack.utils import UnitrackError, atomic_write_json

log = logging.getLogger("unitrack")

DIST_THRESH = 0.5
PLACEHOLDER_ID = -1  # poseval's dummy object/hypothesis for frames where GT or prediction is empty


# ---------------------------------------------------------------------------------------------------
# Writer
# ---------------------------------------------------------------------------------------------------


def write_posetrack_json(path: str | Path, video: PTVideo, track_ids: Mapping[tuple[int, int], int]) -> None:
    """Write ``video``'s JSON with ``track_id`` set for each (frame index, person index) in ``track_ids``.

    The structure (2018 or 2017) of the source file is kept, like the reference which copies the
    observation JSON and fills in the ids.
    """
    data = copy.deepcopy(video.raw)
    for (f, p), tid in track_ids.items():
        person = video.frames[f].people[p]
        if video.fmt == "2018":
            data["annotations"][person.source_index]["track_id"] = int(tid)
        else:
            data["annolist"][f]["annorect"][person.source_index]["track_id"] = [int(tid)]
    atomic_write_json(path, data)


# ---------------------------------------------------------------------------------------------------
# Dataset layout
# ---------------------------------------------------------------------------------------------------


def annotation_dir(root: str | Path, split: str = "val") -> Path:
    """Folder of per-video GT JSON files under a PoseTrack root (or the root itself)."""
    root = Path(root)
    for cand in (root / "annotations" / split, root / "posetrack_data" / "annotations" / split,
                 root / split, root / "annotations", root):
        if cand.is_dir() and any(cand.glob("*.json")):
            return cand
    raise UnitrackError(f"{root}: no PoseTrack annotation files (expected annotations/{split}/<seq>.json)")


def video_files(folder: Path) -> list[Path]:
    """Per-video JSON files in a folder, sorted; files that are not one video (e.g. COCO lists) skipped."""
    return sorted(p for p in folder.glob("*.json") if not p.name.startswith("."))


def image_root(root: str | Path, video: PTVideo) -> Path:
    """The folder that the video's image names are relative to."""
    root = Path(root)
    name = next((f.name for f in video.frames), None)
    for cand in (root, root / "posetrack_data", root.parent):
        if name is None or (cand / name).is_file():
            return cand
    raise UnitrackError(f"{video.path}: image {name} not found under {root}")


def observation_path(root: str | Path, seq: str, split: str = "val", obs_root: str | Path | None = None) -> Path:
    """Pose observations of one video: ``<obs_root>/[<split>/]<seq>.json`` or ``<root>/detections/<split>/<seq>.json``."""
    if obs_root is not None:
        o = Path(obs_root)
        for cand in (o / f"{seq}.json", o / split / f"{seq}.json"):
            if cand.is_file():
                return cand
        raise UnitrackError(f"{o}: no observation file {seq}.json")
    root = Path(root)
    for cand in (root / "detections" / split / f"{seq}.json", root / "obs" / split / f"{seq}.json"):
        if cand.is_file():
            return cand
    raise UnitrackError(f"{root}: no pose observations for {seq} (expected detections/{split}/{seq}.json, "
                        f"or set posetrack.observations to a folder of <seq>.json)")


# ---------------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------------


def _points_in_polygons(xy: np.ndarray, polys: Sequence[np.ndarray]) -> np.ndarray:
    from matplotlib.path import Path as MplPath

    inside = np.zeros(len(xy), bool)
    for poly in polys:
        inside |= MplPath(poly).contains_points(xy)
    return inside


def joints_outside(kpts: np.ndarray, polys: Sequence[np.ndarray]) -> np.ndarray:
    """N×K×3 keypoints (x, y, visibility/score) with the joints inside any ignore polygon made invisible
    (score 0): poseval's ignore-region rule on drawn skeletons."""
    kp = np.array(kpts, np.float64, copy=True)
    if not polys or not kp.size:
        return kp
    inside = _points_in_polygons(kp[..., :2].reshape(-1, 2), polys)
    kp[..., 2][inside.reshape(kp.shape[:2])] = 0
    return kp


def _clean_people(people: Iterable[PTPerson], regions: Sequence[np.ndarray]) -> list[PTPerson]:
    """Drop rects without annopoints; inside ignore regions drop points and then empty people."""
    out = [p for p in people if p.has_points]
    if not regions:
        return out
    kept = []
    for p in out:
        pres = p.present
        j = p.joints.copy()
        if pres.any():
            idx = np.flatnonzero(pres)
            j[idx[_points_in_polygons(j[idx, :2], regions)]] = np.nan
        if (~np.isnan(j[:, 0])).any():
            kept.append(PTPerson(j, p.track_id, p.head_box, True, p.source_index, p.score))
    return kept


@dataclass
class _Frame:
    gt_ids: np.ndarray
    gt_xy: np.ndarray  # G×15×2
    gt_has: np.ndarray  # G×15
    head: np.ndarray  # G
    pr_ids: np.ndarray
    pr_xy: np.ndarray
    pr_has: np.ndarray
    empty: bool  # GT or prediction empty → poseval placeholder


def _stack(people: Sequence[PTPerson]) -> tuple[np.ndarray, np.ndarray]:
    if not people:
        return np.zeros((0, NUM_JOINTS, 2)), np.zeros((0, NUM_JOINTS), bool)
    j = np.stack([p.joints for p in people])
    return j[..., :2], ~np.isnan(j[..., 0])


def prepare_sequence(gt: PTVideo, pred: PTVideo, drop_last_frame: bool = True) -> list[_Frame]:
    """Align, clean and convert one video pair to the frames that are evaluated (module doc)."""
    if len(gt.frames) != len(pred.frames):
        raise UnitrackError(f"{pred.path}: {len(pred.frames)} frames, but the ground truth {gt.path} has "
                            f"{len(gt.frames)} (predictions must list the same frames in the same order)")
    out: list[_Frame] = []
    for fi, (gf, pf) in enumerate(zip(gt.frames, pred.frames)):
        if not gf.people:
            continue
        g = _clean_people(gf.people, gf.ignore_regions)
        q = _clean_people(pf.people, gf.ignore_regions)
        gids = []
        for p in g:
            if p.track_id is None:
                raise UnitrackError(f"{gt.path}: frame {fi} ({gf.name}): a GT person has no track_id")
            gids.append(p.track_id)
        if len(set(gids)) != len(gids):
            raise UnitrackError(f"{gt.path}: frame {fi} ({gf.name}): duplicate GT track ids {sorted(gids)}")
        pids = []
        for p in q:
            if p.track_id is None:
                raise UnitrackError(f"{pred.path}: frame {fi} ({pf.name}): a predicted person has no track_id")
            pids.append(p.track_id)
        gxy, ghas = _stack(g)
        pxy, phas = _stack(q)
        head = np.full(len(g), np.nan)
        for k, p in enumerate(g):
            hs = p.head_size()
            if hs is None and ghas[k].any() and q:
                raise UnitrackError(f"{gt.path}: frame {fi} ({gf.name}): GT person {p.track_id} has joints but no "
                                    f"head box (bbox_head / x1,y1,x2,y2) nor head_top + head_bottom keypoints")
            head[k] = np.nan if hs is None else hs
        out.append(_Frame(np.asarray(gids, np.int64), gxy, ghas, head, np.asarray(pids, np.int64), pxy, phas,
                          empty=not g or not q))
    if drop_last_frame and out:
        out = out[:-1]
    return out


def _joint_events(fr: _Frame, thresh: float) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per joint: (GT ids, predicted ids, GT×pred distance matrix with NaN where no match is allowed)."""
    if fr.empty:
        ph = np.array([PLACEHOLDER_ID])
        return [(ph, ph, np.full((1, 1), np.nan))] * NUM_JOINTS
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.linalg.norm(fr.pr_xy[:, None] - fr.gt_xy[None], axis=-1) / fr.head[None, :, None]  # P×G×15
    valid = fr.pr_has[:, None] & fr.gt_has[None] & (d <= thresh)
    d = np.where(valid, d, np.nan)
    out = []
    for i in range(NUM_JOINTS):
        gi = np.flatnonzero(fr.gt_has[:, i])
        pi = np.flatnonzero(fr.pr_has[:, i])
        out.append((fr.gt_ids[gi], fr.pr_ids[pi], d[np.ix_(pi, gi, [i])][..., 0].T))
    return out


class JointAccumulator:
    """One joint of one sequence: motmetrics does the per-frame matching (MOTA counts), the identity
    counts for IDF1 are gathered from the same inputs.

    IDF1 equals motmetrics' ``idf1`` (global min-cost ID assignment over the raw GT/hypothesis pairs
    with a finite distance) without building its pandas tables per joint and sequence, which cost
    ~0.1 s each (PoseTrack-18 val: 170 sequences × 15 joints); ``tests/test_posetrack.py`` checks the
    equality with ``motmetrics.metrics.create().compute`` on random sequences.
    """

    def __init__(self):
        import motmetrics as mm

        self.acc = mm.MOTAccumulator(auto_id=True)
        self.obj_frames: Counter = Counter()  # GT id → frames it appears in
        self.hyp_frames: Counter = Counter()
        self.pairs: Counter = Counter()  # (GT id, hyp id) → raw pairs with a finite distance
        self.n_obj = 0
        self.n_hyp = 0

    def update(self, oids: np.ndarray, hids: np.ndarray, dist: np.ndarray) -> None:
        self.acc.update(oids.tolist(), hids.tolist(), dist)
        self.n_obj += len(oids)
        self.n_hyp += len(hids)
        self.obj_frames.update(set(oids.tolist()))
        self.hyp_frames.update(set(hids.tolist()))
        r, c = np.nonzero(~np.isnan(dist))
        self.pairs.update(zip(oids[r].tolist(), hids[c].tolist()))

    def counts(self) -> tuple[np.ndarray, float]:
        """((misses, switches, false positives, objects, detections) as motmetrics counts them, Σ distance
        of the matches) — one pass over motmetrics' event table."""
        if self.n_obj + self.n_hyp == 0:
            return np.zeros(5), 0.0
        ev = self.acc.mot_events
        tc = ev["Type"].value_counts()
        match, switch = int(tc.get("MATCH", 0)), int(tc.get("SWITCH", 0))
        miss, fp = int(tc.get("MISS", 0)), int(tc.get("FP", 0))
        sum_d = float(np.nansum(ev.loc[ev["Type"].isin(["MATCH", "SWITCH"]), "D"].to_numpy(float)))
        return np.array([miss, switch, fp, match + switch + miss, match + switch], dtype=float), sum_d

    def idf1(self) -> float:
        """motmetrics' IDF1 = 2·IDTP / (objects + predictions); NaN when both are 0."""
        from scipy.optimize import linear_sum_assignment

        denom = self.n_obj + self.n_hyp
        if denom == 0:
            return float("nan")
        best = 0.0
        if self.pairs:
            os_ = sorted({o for o, _ in self.pairs})
            hs = sorted({h for _, h in self.pairs})
            oi = {o: i for i, o in enumerate(os_)}
            hi = {h: i for i, h in enumerate(hs)}
            w = np.zeros((len(os_), len(hs)))
            for (o, h), n in self.pairs.items():
                w[oi[o], hi[h]] = n
            r, c = linear_sum_assignment(w, maximize=True)
            best = float(w[r, c].sum())
        idtp = self.n_obj - sum(self.obj_frames.values()) + best  # motmetrics: num_objects − IDFN
        return 2.0 * idtp / denom


def _nanmean(v: np.ndarray) -> float:
    v = v[~np.isnan(v)]
    return float(v.mean()) if v.size else float("nan")


def _mota(c: np.ndarray) -> np.ndarray:
    """c: ...×5 counts (misses, switches, fp, objects, detections) → MOTA in % (NaN without objects)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(c[..., 3] > 0, 100.0 * (1.0 - (c[..., 0] + c[..., 1] + c[..., 2]) / c[..., 3]), np.nan)


def evaluate_posetrack(pairs: Sequence[tuple[PTVideo, PTVideo]], drop_last_frame: bool = True,
                       dist_thresh: float = DIST_THRESH) -> tuple[dict[str, float], dict[str, dict[str, float]], dict]:
    """poseval-style tracking metrics for (GT video, predicted video) pairs → (metrics, per sequence, extra)."""
    counts, idf1s, sum_d, names, skipped, nfr = [], [], [], [], [], []
    for gt, pred in pairs:
        frames = prepare_sequence(gt, pred, drop_last_frame)
        if not frames:
            skipped.append(gt.name)
            if not any(f.people for f in gt.frames):
                why = "no annotated person in any frame (a split without ground truth?): not scored"
            else:
                why = ("no frame left to evaluate (labelled frames with people, minus the last one, poseval's "
                       "rule; posetrack.drop_last_frame=false keeps it): not scored")
            gt.skip(gt.path, why)
            continue
        accs = [JointAccumulator() for _ in range(NUM_JOINTS)]
        for fr in frames:
            for acc, (oids, hids, dist) in zip(accs, _joint_events(fr, dist_thresh)):
                acc.update(oids, hids, dist)
        cs = [a.counts() for a in accs]
        c = np.stack([x for x, _ in cs])
        sd = np.array([d for _, d in cs])
        idf = np.array([a.idf1() for a in accs])
        counts.append(c)
        idf1s.append(idf)
        sum_d.append(sd)
        names.append(gt.name)
        nfr.append(len(frames))
    if not names:
        files = ", ".join(str(gt.path) for gt, _ in pairs[:5]) + (" …" if len(pairs) > 5 else "")
        raise UnitrackError(
            f"PoseTrack evaluation: no sequence has a frame to evaluate ({files}; poseval drops frames without GT "
            "people and the last labelled frame of every sequence; with one labelled frame per video set "
            "posetrack.drop_last_frame=false)"
        )
    C = np.stack(counts)  # S×15×5
    IDF = np.stack(idf1s)  # S×15
    SD = np.stack(sum_d)
    tot = C.sum(0)  # 15×5
    mota_j = _mota(tot)
    idf1_j = 100.0 * IDF.sum(0) / len(names)  # NaN in any sequence propagates, as in the reference
    idsw_j = tot[:, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        motp_j = np.where(tot[:, 4] > 0, 100.0 * (1.0 - SD.sum(0) / tot[:, 4]), 0.0)
        pre_j = 100.0 * tot[:, 4] / (tot[:, 4] + tot[:, 2])
        rec_j = 100.0 * tot[:, 4] / tot[:, 3]
    metrics = {
        "MOTA": _nanmean(mota_j),
        "IDF1": _nanmean(idf1_j),
        "IDSW": int(idsw_j.sum()),
        "MOTP": _nanmean(motp_j),
        "Precision": _nanmean(pre_j),
        "Recall": _nanmean(rec_j),
    }
    per_seq = {}
    for s, n in enumerate(names):
        per_seq[n] = {"MOTA": _nanmean(_mota(C[s])), "IDF1": _nanmean(100.0 * IDF[s]), "IDSW": int(C[s, :, 1].sum()),
                     "frames": nfr[s]}
    extra = {
        "per_joint": {JOINT_NAMES[i]: {"MOTA": float(mota_j[i]), "IDF1": float(idf1_j[i]), "IDSW": int(idsw_j[i])}
                      for i in range(NUM_JOINTS)},
        "skipped_sequences": skipped,
        "num_sequences": len(names),
        "num_frames": int(sum(nfr)),
    }
    return metrics, per_seq, extra
