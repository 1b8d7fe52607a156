"""VIP head: human part label propagation on VIP (Video Instance-level Parsing), frozen features.

The protocol of the correspondence papers that report VIP (TimeCycle, UVC, CRW): the first frame's
part labels are propagated through the video and scored with semantic mIoU and, at the instance
level, with the part-instance AP^r (:mod:`unitrack.eval.vip`).

* Frames are resized to ``crop_size``×``crop_size`` = 560×560 (aspect not kept): UVC's VIP command
  (``test_mask_vip.py --scale_size 560 560``, UVC README). CRW evaluates VIP following UVC; its
  released code has no VIP script, so its exact VIP settings are not checked here.
  ``crop_size = -1`` keeps the native size.
* Propagation: :class:`unitrack.propagation.LabelPropagator` with the VOS parameters (temperature
  0.05, top-k 10, radius 12 cells, 5 short-term frames, the first frame as long-term memory). UVC's
  own VIP values (``--pre_num 1``, ``--topk 5``, ``--temp 1``) belong to another affinity (a softmax
  over all reference pixels inside its model, a per-reference-frame top-k, the average of separate
  first-frame and previous-frame propagations), so they do not carry over; the VOS values are used.
* Labels: frame 0's part labels (void 255 → background) become one-hot channels of the classes
  present, its persons (``Human_ids``, else the persons of ``Instance_ids``) one-hot channels of the
  persons present; both are resized (nearest) to the processing size, bilinearly downsampled to the
  feature grid and propagated together (the propagation is linear in the labels, so this is two
  propagations with the same weights). Each prediction is bilinearly upsampled to the processing
  size, arg-maxed (ties → lowest channel), and resized (nearest) to the frame size.
* Frame 0's prediction is its annotation itself (UVC copies the first annotation into its results;
  its ``eval_vip.py`` scores every result file, the copy included: ``score_first_frame``).
* Part instances (AP^r): a part pixel (class ≥ 1) belongs to the most probable propagated person
  (background channel excluded); ``part_instances = person``: one instance per (person, part class)
  present — ATEN's ``write_inst_part_result`` (the reference output the AP code reads);
  ``components``: one per 8-connected component of a class within a person. Score = mean probability
  of the instance's class over its pixels × the person's score (mean probability of the person over
  its part pixels), as ATEN scores mean part probability × person confidence.

Outputs: ``<pred>/<video>/<frame>.png`` for every frame and ``<pred>/<video>/instance_part/<frame>.png``
with ``.txt`` (:mod:`unitrack.eval.vip`); only the labelled frames are scored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from unitrack.config import Config
from unitrack.eval.base import MetricSpec
from unitrack.eval.demo.vip import write_vip
from unitrack.eval.formats import require_prediction_folders
from unitrack.eval.view import Objects, SequenceView
from unitrack.eval.vip import (
    AP_THRESHOLDS,
    IGNORE,
    INSTANCE_DIR,
    NUM_CLASSES,
    PartInstances,
    VIPSequence,
    ap_key,
    evaluate_vip,
    read_parts,
    read_vip,
    write_instances,
    write_parts,
)
from unitrack.propagation import LabelPropagator, PropagationParams, resize_labels
from unitrack.tasks import RunContext, Task, TaskOutput, TaskSpec
from unitrack.utils import UnitrackError, progress

log = logging.getLogger("unitrack")

PART_INSTANCE_MODES = ("person", "components")


@dataclass
class VIPConfig:
    """Part label propagation on VIP: VOS propagation (docs/protocol.md §2.1) on frames resized to 560×560 (UVC)."""

    protocol: str = "unitrack"  # named preset of the propagation values: unitrack | crw | dino (docs/protocol.md §2.9)
    temperature: float = 0.05
    topk: int = 10
    radius: float = 12.0  # locality radius in feature cells (strict <), short-term frames only
    n_context: int = 5  # short-term context frames ("videoLen")
    long_mem: list[int] = field(default_factory=lambda: [0])
    l2_normalize: bool = True
    norm_mask: bool = False  # per-pixel min-max of the part channels before the argmax
    crop_size: int = 560  # frames resized to crop×crop (UVC: --scale_size 560 560); -1 = native size
    split: str = "val"
    split_file: str = ""  # list of videos, relative to the root; "" → lists/<split>_videos.txt (or _id, .txt)
    score_first_frame: bool = True  # the reference scores the copied first annotation too
    part_instances: str = "person"  # person (one per person and class, as ATEN) | components (8-connected)
    ap_thresholds: list[float] = field(default_factory=lambda: list(AP_THRESHOLDS))  # AP^r_vol = mean over these
    ap_matching: str = "reference"  # reference (a ground truth may be hit twice, as ATEN's code) | voc (once)
    memory_budget_mb: int = 512  # bounds the per-chunk affinity tensors

    def validate(self) -> None:
        """Called when the config is loaded (``unitrack.config.validate_config``)."""
        bad = [t for t in self.ap_thresholds if not 0 <= float(t) < 1]
        if bad or not self.ap_thresholds:
            raise UnitrackError(f"vip.ap_thresholds must be IoU values in [0, 1), got {list(self.ap_thresholds)}")


def one_hot(ids_map: np.ndarray, ids: list[int]) -> np.ndarray:
    """H×W×L float32 one-hot of an id map over ``ids`` (channel l ↔ id ids[l])."""
    return (ids_map[:, :, None] == np.asarray(ids, dtype=ids_map.dtype)[None, None, :]).astype(np.float32)


def part_instances(parts: np.ndarray, persons: np.ndarray, p_part: np.ndarray, p_person: np.ndarray,
                   mode: str = "person") -> PartInstances:
    """Part instances of one frame from its part labels and person ids (0 = none), with scores.

    Ids 1..N in the order part class 1..19, then person id, then component (ATEN's counter order).
    """
    if mode not in PART_INSTANCE_MODES:
        raise UnitrackError(f"vip.part_instances must be one of {PART_INSTANCE_MODES}, got {mode!r}")
    ids = np.zeros(parts.shape, np.int64)
    classes: dict[int, int] = {}
    scores: dict[int, float] = {}
    body = parts > 0
    person_score = {int(h): float(p_person[body & (persons == h)].mean()) for h in np.unique(persons[body]) if h > 0}
    n = 0
    for c in range(1, NUM_CLASSES):
        cls = parts == c
        if not cls.any():
            continue
        for h in np.unique(persons[cls]):
            if h <= 0:
                continue
            m = cls & (persons == h)
            if mode == "person":
                comps = [m]
            else:
                k, lab = cv2.connectedComponents(m.astype(np.uint8), connectivity=8)
                comps = [lab == j for j in range(1, k)]
            for cm in comps:
                n += 1
                ids[cm] = n
                classes[n] = c
                scores[n] = float(p_part[cm].mean()) * person_score[int(h)]
    return PartInstances(ids=ids, classes=classes, scores=scores)


def decode(pred: torch.Tensor | np.ndarray, n_parts: int, proc_hw: tuple[int, int], out_hw: tuple[int, int],
           part_ids: list[int], person_ids: list[int], norm_mask: bool = False):
    """L×h×w soft labels (part channels, then person channels) → frame-size (parts, persons, p_part, p_person).

    Bilinear upsample to the processing size; parts = argmax of the part channels (ties → lowest, with
    optional per-pixel min-max); persons = argmax of the non-background person channels on part pixels;
    p_part / p_person = the probability of the chosen channel. Maps are resized (nearest) to ``out_hw``.
    """
    p = pred.detach().float().cpu().numpy() if isinstance(pred, torch.Tensor) else np.asarray(pred, np.float32)
    up = resize_labels(np.ascontiguousarray(p.transpose(1, 2, 0)), proc_hw)
    if up.ndim == 2:
        up = up[:, :, None]
    pp = up[:, :, :n_parts]
    if norm_mask:
        mn = pp.min(-1, keepdims=True)
        pp = (pp - mn) / np.maximum(pp.max(-1, keepdims=True) - mn, 1e-12)
    k = np.argmax(pp, axis=-1)
    parts = np.asarray(part_ids, np.uint8)[k]
    p_part = np.take_along_axis(up[:, :, :n_parts], k[..., None], -1)[..., 0]
    if len(person_ids) > 1:
        pq = up[:, :, n_parts + 1:]
        j = np.argmax(pq, axis=-1)
        persons = np.where(parts > 0, np.asarray(person_ids[1:], np.int64)[j], 0)
        p_person = np.take_along_axis(pq, j[..., None], -1)[..., 0]
    else:
        persons, p_person = None, None
    if tuple(proc_hw) != tuple(out_hw):
        size = (out_hw[1], out_hw[0])
        parts = cv2.resize(parts, size, interpolation=cv2.INTER_NEAREST)
        p_part = cv2.resize(p_part, size, interpolation=cv2.INTER_LINEAR)
        if persons is not None:
            persons = cv2.resize(persons.astype(np.int32), size, interpolation=cv2.INTER_NEAREST).astype(np.int64)
            p_person = cv2.resize(p_person, size, interpolation=cv2.INTER_LINEAR)
    return parts, persons, p_part, p_person


def write_frame(pred_dir: Path, seq: VIPSequence, i: int, parts: np.ndarray, inst: PartInstances | None) -> None:
    """The task's writer: ``<pred>/<video>/<frame>.png`` and ``instance_part/<frame>.png|.txt``."""
    stem = seq.frames[i].stem
    write_parts(pred_dir / seq.name / f"{stem}.png", parts)
    if inst is not None:
        write_instances(pred_dir / seq.name / INSTANCE_DIR / f"{stem}.png", inst)


def _first(seq: VIPSequence, with_instances: bool, mode: str):
    lab, persons = seq.first_labels()
    if with_instances and persons is None:
        raise UnitrackError(f"video {seq.name}: no Human_ids / Instance_ids for its first frame "
                            f"{seq.frames[0].name}; the instance level needs the first frame's persons")
    inst = None
    if with_instances:
        one = np.ones(lab.shape, np.float32)
        inst = part_instances(lab, persons, one, one, mode)
    return lab, (persons if with_instances else None), inst


def propagate_video(seq: VIPSequence, extractor, params: PropagationParams, pred_dir: Path, crop_size: int = 560,
                    norm_mask: bool = False, batch_size: int = 8, mode: str = "person",
                    with_instances: bool = True) -> int:
    """Propagate frame 0's part labels (and persons) of ``seq`` through all its frames; returns frames written."""
    lab, persons, inst0 = _first(seq, with_instances, mode)
    H, W = seq.size
    proc = (crop_size, crop_size) if crop_size and crop_size > 0 else (H, W)
    part_ids = [0] + [int(v) for v in np.unique(lab) if v != 0]
    person_ids = [0] + [int(v) for v in np.unique(persons) if v != 0] if persons is not None else [0]
    lab_p, per_p = lab, persons
    if proc != (H, W):
        lab_p = cv2.resize(lab, (proc[1], proc[0]), interpolation=cv2.INTER_NEAREST)
        if persons is not None:
            per_p = cv2.resize(persons.astype(np.int32), (proc[1], proc[0]), interpolation=cv2.INTER_NEAREST)
    chans = [one_hot(lab_p, part_ids)]
    if persons is not None:
        chans.append(one_hot(per_p.astype(np.int64), person_ids))
    onehot = np.concatenate(chans, axis=-1)
    prop = LabelPropagator(params)
    t = 0
    bar = progress(None, total=len(seq), desc=seq.name, unit="frame")
    for b0 in range(0, len(seq), batch_size):
        feats = extractor.from_files(seq.frames[b0:b0 + batch_size], size=None if proc == (H, W) else (proc[1], proc[0]))
        for f in feats:
            if t == 0:
                h, w = f.shape[-2:]
                lab0 = resize_labels(onehot, (h, w)).reshape(h, w, -1)
                prop.start(f, torch.from_numpy(np.ascontiguousarray(lab0.transpose(2, 0, 1))).to(f.device))
                write_frame(pred_dir, seq, 0, lab, inst0)  # the first annotation itself, as the reference
            else:
                parts, pers, p_part, p_pers = decode(prop.step(f), len(part_ids), proc, (H, W), part_ids, person_ids,
                                                     norm_mask)
                inst = part_instances(parts, pers, p_part, p_pers, mode) if with_instances else None
                write_frame(pred_dir, seq, t, parts, inst)
            t += 1
            bar.update(1)
    bar.close()
    return t


def write_first_frame_baseline(seqs: list[VIPSequence], pred_dir: str | Path, mode: str = "person") -> None:
    """The "repeat the first-frame labels" baseline: every frame gets frame 0's parts and part instances."""
    pred_dir = Path(pred_dir)
    for seq in seqs:
        lab, _, inst = _first(seq, seq.has_instances, mode)
        for i in range(len(seq)):
            write_frame(pred_dir, seq, i, lab, inst)


def _gt_view(seq: VIPSequence, i: int) -> np.ndarray:
    g = seq.read_label(i)
    return np.where(g == IGNORE, 0, g).astype(np.uint8)


def viz_sequences(root: Path, pred_dir: Path, cfg: dict, seqs: list[str] | None) -> list[SequenceView]:
    """What ``unitrack viz`` draws: the predicted parts ``pred/<video>/<frame>.png`` (palette colours by
    part class) over the VIP frames; the ``Category_ids`` labels where they exist (ignore shown as background)."""
    names = seqs or sorted(p.name for p in Path(pred_dir).iterdir() if p.is_dir() and not p.name.startswith("."))
    out = []
    for seq in read_vip(root, videos=names, validate=False) if names else []:
        pdir = Path(pred_dir) / seq.name
        if not pdir.is_dir():
            raise UnitrackError(f"no predictions for video {seq.name} (expected folder {pdir})")
        preds, gts = [], []
        for i, f in enumerate(seq.frames):
            pp = pdir / f"{f.stem}.png"
            preds.append(Objects(labels=(lambda p=pp: read_parts(p))) if pp.is_file() else Objects())
            gts.append(Objects(labels=(lambda i=i, s=seq: _gt_view(s, i))) if seq.labels[i] is not None else None)
        out.append(SequenceView(name=seq.name, frames=seq.frames, pred=preds, gt=gts, fps=10.0, colours="palette",
                                tags=False))
    return out


def read_sequences(root: Path, cfg: Config) -> list[VIPSequence]:
    """The task's reader: the videos of the configured split, validated (``common.max_sequences`` applies)."""
    s = cfg.section
    seqs = read_vip(root, split=s.split, split_file=s.split_file)
    n = cfg.common.max_sequences
    return seqs[:n] if n else seqs


class VIPTask(Task):
    spec = TaskSpec(
        name="vip",
        title="VIP",
        order=7,
        config=VIPConfig,
        benchmark="VIP",
        family="propagation",
        data_help="<root>/Images/<video>/<frame>.jpg, [Annotations/]Category_ids/<video>/<frame>.png "
                  "(+ Human_ids, Instance_ids), lists/val_videos.txt",
        demo_subdir="vip",
        demo_writer=write_vip,
        demo_stream=108,
        reader=read_sequences,
        writer=write_frame,
        viz_loader=viz_sequences,
        metrics=(
            MetricSpec("mIoU", label="mIoU", unit="fraction", headline=True,
                       description="semantic parts, 20 classes with background (TimeCycle/UVC eval_vip.py)"),
            MetricSpec("APr_vol", label="AP^r_vol", unit="fraction", headline=True,
                       description="part-instance region AP, mean over IoU 0.1..0.9 (ATEN test_inst_part_ap.py)"),
            MetricSpec("mIoU-parts", label="mIoU (parts)", unit="fraction",
                       description="the 19 part classes present in the ground truth, background excluded"),
            *(MetricSpec(ap_key(t), label=f"AP^r@{t:g}", unit="fraction") for t in AP_THRESHOLDS),
        ),
    )

    def dataset_name(self, root: Path, cfg: Config) -> str:
        s = cfg.section
        return "vip" if s.split == "val" and not s.split_file else f"vip-{Path(s.split_file).stem or s.split}"

    def sequences(self, root: Path, cfg: Config) -> list[VIPSequence]:
        return read_sequences(Path(root), cfg)

    def check(self, root: Path, cfg: Config) -> dict:
        seqs = self.sequences(Path(root), cfg)
        return {
            "videos": len(seqs),
            "frames": sum(len(s) for s in seqs),
            "labelled frames": sum(len(s.annotated) for s in seqs),
            "instance level (Instance_ids)": all(s.has_instances for s in seqs),
            "sizes (HxW)": sorted({f"{s.size[0]}x{s.size[1]}" for s in seqs}),
        }

    def _mode(self, cfg: Config) -> str:
        m = str(cfg.section.part_instances)
        if m not in PART_INSTANCE_MODES:
            raise UnitrackError(f"vip.part_instances must be one of {PART_INSTANCE_MODES}, got {m!r}")
        return m

    def run(self, ctx: RunContext, pred_dir: Path) -> TaskOutput:
        s = ctx.cfg.section
        mode = self._mode(ctx.cfg)
        params = PropagationParams.from_config(s)
        seqs = self.sequences(ctx.data_root, ctx.cfg)
        bs = max(1, int(ctx.cfg.common.batch_size))
        n_frames = 0
        with torch.inference_mode():
            for seq in progress(seqs, desc="vip", unit="video"):
                log.info("vip: %s (%d frames, %d labelled, %dx%d)", seq.name, len(seq), len(seq.annotated),
                         seq.size[1], seq.size[0])
                n_frames += propagate_video(seq, ctx.extractor, params, pred_dir, s.crop_size, s.norm_mask, bs, mode,
                                            seq.has_instances)
        out = self._score(seqs, pred_dir, ctx.cfg)
        out.extra["frames"] = n_frames
        return out

    def _score(self, seqs: list[VIPSequence], pred_dir: Path, cfg: Config) -> TaskOutput:
        s = cfg.section
        sc = evaluate_vip(seqs, pred_dir, s.ap_thresholds, s.score_first_frame, s.ap_matching)
        return TaskOutput(metrics=sc.metrics, per_sequence=sc.per_sequence,
                          extra={"per_class_IoU": sc.per_class_iou, "per_class_AP": sc.per_class_ap,
                                 "scored_frames": sc.scored_frames, "instance_level": sc.instance_level},
                          skipped=list(sc.skipped))

    def score(self, gt_root: Path, pred_dir: Path, cfg: Config) -> TaskOutput:
        seqs = self.sequences(Path(gt_root), cfg)
        require_prediction_folders(pred_dir, [q.name for q in seqs], "video", "<pred>/<video>/<frame>.png")
        return self._score(seqs, Path(pred_dir), cfg)


def first_frame_baseline(root: str | Path, pred_dir: str | Path, cfg: Config | None = None) -> TaskOutput:
    """Write and score the "repeat the first-frame labels" baseline on a VIP root."""
    from unitrack.config import default_config

    cfg = cfg or default_config("vip")
    seqs = TASK.sequences(Path(root), cfg)
    write_first_frame_baseline(seqs, pred_dir, TASK._mode(cfg))
    return TASK._score(seqs, Path(pred_dir), cfg)


TASK = VIPTask()
