"""VOS head: semi-supervised video object segmentation on DAVIS by soft-label propagation (docs/protocol.md §2).

Per sequence: the first-frame annotation (palette indices = object ids, background first) becomes a
one-hot map, bilinearly downsampled to the feature grid; labels are propagated frame by frame with
:class:`unitrack.propagation.LabelPropagator` (features streamed in batches, only the context kept);
each prediction is bilinearly upsampled to the frame size, arg-maxed (ties → lowest channel) and
written as an indexed PNG ``<pred>/<seq>/<frame>.png`` with the DAVIS palette, channel l carrying the
true object id of the first frame (non-contiguous ids kept). Scored with :mod:`unitrack.eval.davis`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from unitrack.config import Config
from unitrack.eval.base import skipped_items
from unitrack.eval.davis import (
    VOID,
    DavisSequence,
    JandF,
    evaluate_davis,
    read_davis,
    read_mask,
    write_mask,
)
from unitrack.eval.demo.davis import write_davis
from unitrack.eval.formats import require_prediction_folders
from unitrack.eval.view import Objects, SequenceView
from unitrack.propagation import LabelPropagator, PropagationParams, resize_labels
from unitrack.tasks import RunContext, Task, TaskOutput, TaskSpec
from unitrack.utils import UnitrackError, progress

log = logging.getLogger("unitrack")


@dataclass
class VOSConfig:
    """Soft-label propagation on DAVIS (docs/protocol.md §2.1)."""

    protocol: str = "unitrack"  # named preset of the propagation values: unitrack | crw | dino (docs/protocol.md §2.9)
    temperature: float = 0.05
    topk: int = 10
    radius: float = 12.0  # locality radius in feature cells (strict <), short-term frames only
    n_context: int = 5  # short-term context frames ("videoLen")
    long_mem: list[int] = field(default_factory=lambda: [0])
    down_factor: int = 8
    l2_normalize: bool = True
    norm_mask: bool = False
    split: str = "val"
    year: str = "2017"
    resolution: str = "480p"
    crop_size: int = -1  # -1 = native resolution
    memory_budget_mb: int = 512  # bounds the per-chunk affinity tensors
    score_objects: str = "official"  # official: ids 1..max(first frame) as davis2017-evaluation | present


def first_frame_labels(seq: DavisSequence) -> tuple[np.ndarray, list[int]]:
    """First annotation (void → background) and the label set [0, ids present…] (sorted)."""
    ann = seq.read_annotation(0).copy()
    ann[ann == VOID] = 0
    ids = [0] + [int(v) for v in np.unique(ann) if v != 0]
    return ann, ids


def one_hot(ann: np.ndarray, ids: list[int]) -> np.ndarray:
    """H×W×L float32 one-hot of an id map over the label set ``ids`` (channel l ↔ id ids[l])."""
    return (ann[:, :, None] == np.asarray(ids, dtype=ann.dtype)[None, None, :]).astype(np.float32)


def labels_to_ids(pred: torch.Tensor | np.ndarray, proc_hw: tuple[int, int], out_hw: tuple[int, int],
                  ids: list[int], norm_mask: bool = False) -> np.ndarray:
    """L×h×w soft labels → H×W uint8 object ids: bilinear upsample, (optional per-pixel min-max), argmax."""
    p = pred.detach().float().cpu().numpy() if isinstance(pred, torch.Tensor) else np.asarray(pred, np.float32)
    up = resize_labels(np.ascontiguousarray(p.transpose(1, 2, 0)), proc_hw)  # H×W×L
    if up.ndim == 2:
        up = up[:, :, None]
    if norm_mask:
        mn = up.min(-1, keepdims=True)
        up = (up - mn) / np.maximum(up.max(-1, keepdims=True) - mn, 1e-12)
    lut = np.asarray(ids, dtype=np.uint8)
    out = lut[np.argmax(up, axis=-1)]
    if tuple(proc_hw) != tuple(out_hw):
        out = cv2.resize(out, (out_hw[1], out_hw[0]), interpolation=cv2.INTER_NEAREST)
    return out


def _proc_size(seq: DavisSequence, crop_size: int) -> tuple[int, int]:
    return (crop_size, crop_size) if crop_size and crop_size > 0 else seq.size


def propagate_sequence(seq: DavisSequence, extractor, params: PropagationParams, out_dir: Path,
                       crop_size: int = -1, norm_mask: bool = False, batch_size: int = 8) -> int:
    """Propagate the first-frame masks of ``seq`` through all frames; writes ``out_dir/<frame>.png``.

    Returns the number of frames written.
    """
    ann, ids = first_frame_labels(seq)
    H, W = seq.size
    proc = _proc_size(seq, crop_size)
    palette = seq.palette
    if len(ids) == 1:
        seq.skip(seq.annotations[0], f"sequence {seq.name}: the first-frame annotation has no object; writing "
                 "empty masks")
        zero = np.zeros((H, W), np.uint8)
        for p in seq.frames:
            write_mask(out_dir / f"{p.stem}.png", zero, palette)
        return len(seq)
    if proc != (H, W):  # docs/protocol.md §7.2 #24 fixed: nearest, (w, h) order
        ann = cv2.resize(ann, (proc[1], proc[0]), interpolation=cv2.INTER_NEAREST)
    onehot = one_hot(ann, ids)
    prop = LabelPropagator(params)
    t = 0
    bar = progress(None, total=len(seq), desc=seq.name, unit="frame")
    for b0 in range(0, len(seq), batch_size):
        paths = seq.frames[b0:b0 + batch_size]
        feats = extractor.from_files(paths, size=None if proc == (H, W) else (proc[1], proc[0]))
        for f in feats:
            if t == 0:
                h, w = f.shape[-2:]
                lab0 = resize_labels(onehot, (h, w))
                lab0 = torch.from_numpy(np.ascontiguousarray(lab0.reshape(h, w, -1).transpose(2, 0, 1)))
                pred = prop.start(f, lab0.to(f.device))
            else:
                pred = prop.step(f)
            write_mask(out_dir / f"{seq.frames[t].stem}.png", labels_to_ids(pred, proc, (H, W), ids, norm_mask),
                       palette)
            t += 1
            bar.update(1)
    bar.close()
    return t


def write_first_frame_baseline(sequences: list[DavisSequence], pred_dir: str | Path) -> None:
    """The "repeat the first-frame mask" baseline: every frame gets the first annotation (void → 0)."""
    pred_dir = Path(pred_dir)
    for seq in sequences:
        ann, _ = first_frame_labels(seq)
        for p in seq.frames:
            write_mask(pred_dir / seq.name / f"{p.stem}.png", ann, seq.palette)


def viz_sequences(root: Path, pred_dir: Path, cfg: dict, seqs: list[str] | None) -> list[SequenceView]:
    """What ``unitrack viz`` draws: the masks ``pred/<seq>/<frame>.png`` (DAVIS palette colours by object
    id) over the frames of the DAVIS sequences read by :mod:`unitrack.eval.davis`; annotations where
    they exist. The configured resolution, else the first one under ``JPEGImages/``."""
    sec = cfg.get("vos") or {}
    res = sec.get("resolution", "480p")
    if not (root / "JPEGImages" / res).is_dir():
        jpeg = root / "JPEGImages"
        cands = sorted(p for p in jpeg.glob("*") if p.is_dir()) if jpeg.is_dir() else []
        if not cands:
            raise UnitrackError(f"{root}: not a DAVIS folder (expected JPEGImages/{res}/<sequence>/)")
        res = cands[0].name
    names = seqs or sorted(p.name for p in pred_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    out = []
    for seq in read_davis(root, year=str(sec.get("year", "2017")), resolution=res, sequences=names):
        pdir = pred_dir / seq.name
        if not pdir.is_dir():
            raise UnitrackError(f"no predictions for sequence {seq.name} (expected folder {pdir})")
        preds, gts = [], []
        for i, f in enumerate(seq.frames):
            pp = pdir / f"{f.stem}.png"
            preds.append(Objects(labels=(lambda p=pp: read_mask(p))) if pp.is_file() else Objects())
            gts.append(Objects(labels=(lambda i=i, s=seq: s.read_annotation(i))) if seq.annotations[i] else None)
        out.append(SequenceView(name=seq.name, frames=seq.frames, pred=preds, gt=gts, fps=24.0, colours="palette",
                                tags=False))
    return out


class VOSTask(Task):
    spec = TaskSpec(
        name='vos',
        title='VOS',
        order=1,
        config=VOSConfig,
        benchmark='DAVIS-2017',
        family='propagation',
        data_help='<root>/JPEGImages/480p/<seq>, Annotations/480p/<seq> (indexed PNG), ImageSets/2017/val.txt',
        demo_subdir='davis',
        viz_loader=viz_sequences,
        demo_writer=write_davis,
        demo_stream=102,
        paper_dataset='DAVIS-2017 val',
        paper_columns={'vos_jmean': (None, 'J-Mean')},
        metrics=JandF.fields,  # declared once, by the metric
    )

    def dataset_name(self, root: Path, cfg: Config) -> str:
        s = cfg.section
        name = f"davis{s.year}"
        return name if s.split == "val" else f"{name}-{s.split}"

    def sequences(self, root: Path, cfg: Config) -> list[DavisSequence]:
        s = cfg.section
        seqs = read_davis(root, split=s.split, year=s.year, resolution=s.resolution)
        n = cfg.common.max_sequences
        return seqs[:n] if n else seqs

    def check(self, root: Path, cfg: Config) -> dict:
        seqs = self.sequences(Path(root), cfg)
        objs = {s.name: len(s.object_ids()) for s in seqs}
        return {
            "sequences": len(seqs),
            "frames": sum(len(s) for s in seqs),
            "objects": sum(objs.values()),
            "fully annotated (scorable)": sum(s.fully_annotated for s in seqs),
            "sizes (HxW)": sorted({f"{s.size[0]}x{s.size[1]}" for s in seqs}),
            "objects per sequence": objs,
        }

    def run(self, ctx: RunContext, pred_dir: Path) -> TaskOutput:
        s = ctx.cfg.section
        params = PropagationParams.from_config(s)
        seqs = self.sequences(ctx.data_root, ctx.cfg)
        bs = max(1, int(ctx.cfg.common.batch_size))
        n_frames = 0
        with torch.inference_mode():
            for seq in progress(seqs, desc="vos", unit="seq"):
                log.info("vos: %s (%d frames, %dx%d)", seq.name, len(seq), seq.size[1], seq.size[0])
                n_frames += propagate_sequence(seq, ctx.extractor, params, pred_dir / seq.name, s.crop_size,
                                               s.norm_mask, bs)
        out = self._score(seqs, pred_dir, ctx.cfg)
        out.extra["frames"] = n_frames
        return out

    def _score(self, seqs: list[DavisSequence], pred_dir: Path, cfg: Config) -> TaskOutput:
        scorable = [q for q in seqs if q.fully_annotated]  # the reader noted the others (run, not scored)
        if not scorable:
            out = TaskOutput(metrics={}, extra={"scored_sequences": 0})
        else:
            sc = evaluate_davis(scorable, pred_dir, cfg.section.score_objects)
            out = TaskOutput(metrics=sc.metrics, per_sequence=sc.per_sequence,
                             extra={"per_object": sc.per_object, "scored_sequences": len(scorable)})
        out.skipped += skipped_items(seqs)
        return out

    def score(self, gt_root: Path, pred_dir: Path, cfg: Config) -> TaskOutput:
        seqs = self.sequences(Path(gt_root), cfg)
        require_prediction_folders(pred_dir, [q.name for q in seqs], "sequence", "<pred>/<sequence>/<frame>.png")
        return self._score(seqs, Path(pred_dir), cfg)


def first_frame_baseline(root: str | Path, pred_dir: str | Path, cfg: Config | None = None) -> TaskOutput:
    """Write and score the "repeat the first-frame mask" baseline on a DAVIS root."""
    from unitrack.config import default_config

    cfg = cfg or default_config("vos")
    seqs = TASK.sequences(Path(root), cfg)
    write_first_frame_baseline(seqs, pred_dir)
    return TASK._score(seqs, Path(pred_dir), cfg)


TASK = VOSTask()

