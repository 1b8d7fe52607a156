"""Single-object tracking head (docs/protocol.md §3): XCorr or DCF box propagation on OTB-style data.

Reads the dataset (OTB-2015 folders or ``OTB2015.json``, LaSOT, GOT-10k), runs the head chosen by
``sot.head`` on every sequence, writes ``<pred_dir>/<seq>.txt`` (one ``x,y,w,h`` line per frame, the first
line = the GT line), scores with the OPE toolkit of :mod:`unitrack.eval.otb` and draws success and
precision plots beside the predictions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from unitrack.config import Config
from unitrack.eval.base import skipped_items
from unitrack.eval.demo.otb import write_otb
from unitrack.eval.otb import (
    OPE,
    PYSOT_JSONS,
    OPEResult,
    SOTSequence,
    evaluate_ope,
    plot_ope,
    read_boxes,
    read_predictions,
    read_sot_dataset,
    write_boxes,
)
from unitrack.eval.view import Objects, SequenceView, find_prediction, one_based, prediction_names
from unitrack.features import read_rgb
from unitrack.sot import SOTConfig
from unitrack.tasks import RunContext, Task, TaskOutput, TaskSpec
from unitrack.utils import UnitrackError, prefetch, progress

log = logging.getLogger("unitrack")


def load_sequences(root: Path, cfg: Config) -> list[SOTSequence]:
    """Read the dataset; ``common.max_sequences`` and ``sot.max_frames`` cut it for quick looks."""
    seqs = read_sot_dataset(root, cfg.common.max_sequences)
    n = cfg.section.max_frames
    if n is not None:
        if n < 2:
            raise UnitrackError(f"sot.max_frames={n}: expected at least 2 (the first frame only initialises)")
        for s in seqs:
            s.frames = s.frames[:n]
            if s.evaluable:
                s.gt = s.gt[:n]
    return seqs


def valid_rule(cfg: Config) -> str:
    """GT validity for OPE: the reference toolkit's 'all of x,y,w,h > 0' (faithful) or 'w,h > 0' (fixed)."""
    return "xywh" if cfg.section.protocol == "faithful" else "wh"


def track_sequence(seq: SOTSequence, tracker, to_tensor: Callable[[np.ndarray], Any],
                   on_frame: Callable[[], Any] | None = None) -> tuple[np.ndarray, float]:
    """Run one tracker over a sequence; returns (N×4 OTB boxes, seconds spent). Frame 1 = the GT box."""
    out = np.zeros((len(seq.frames), 4), dtype=np.float64)
    t0 = time.perf_counter()
    for t, rgb in enumerate(prefetch(seq.frames, read_rgb)):
        img = to_tensor(rgb)
        if t == 0:
            tracker.init(img, seq.init_box)
            out[0] = seq.init_box
        else:
            out[t] = tracker.track(img)
        if on_frame is not None:
            on_frame()
    return out, time.perf_counter() - t0


def viz_sequences(root: Path, pred_dir: Path, cfg: dict, seqs: list[str] | None) -> list[SequenceView]:
    """What ``unitrack viz`` draws: predictions ``pred/<seq>.txt`` (red) over the ground truth (green) of
    the OTB / LaSOT / GOT-10k layouts read by :mod:`unitrack.eval.otb` (frame ranges, pysot JSON). Boxes
    are 1-based like OTB's, shifted to 0-based pixels here."""
    names = seqs or prediction_names(pred_dir, ".txt")
    data = {q.name: q for q in read_sot_dataset(root)}
    out = []
    for name in names:
        if name not in data:
            raise UnitrackError(f"SOT sequence {name} not found under {root}")
        q = data[name]
        pred = one_based(read_boxes(find_prediction(pred_dir, name, ".txt"))[:, :4])
        gt = one_based(np.asarray(q.gt, np.float64)[:, :4])
        T = min(len(q.frames), len(pred))
        if len(pred) != len(q.frames):
            log.warning("%s: %d predicted boxes for %d frames; drawing the first %d", name, len(pred), len(q.frames), T)
        preds = [Objects(ids=np.array([1]), boxes=pred[t:t + 1]) for t in range(T)]
        gts: list[Objects | None] = [
            Objects(ids=np.array([1]), boxes=gt[t:t + 1]) if t < len(gt) and np.isfinite(gt[t]).all() else None
            for t in range(T)
        ]
        out.append(SequenceView(name=name, frames=list(q.frames[:T]), pred=preds, gt=gts, fps=30.0,
                                colours="pred_gt", tags=False, gt_mode="overlay"))
    return out


class SOTTask(Task):
    spec = TaskSpec(
        name='sot',
        title='SOT',
        order=0,
        config=SOTConfig,
        benchmark='OTB-2015',
        family='box',
        data_help='<root>/<Seq>/img/*.jpg + groundtruth_rect.txt (optional OTB2015.json); LaSOT/GOT-10k folders',
        demo_subdir='otb',
        demo_writer=write_otb,
        demo_stream=101,
        demo_frames=12,  # three 520² crops per frame make SOT the dearest demo task: shorter sequences
        viz_loader=viz_sequences,
        variants=('xcorr', 'dcf'),
        paper_dataset='OTB-2015',
        paper_columns={'sot_auc_xcorr': ('xcorr', 'AUC'), 'sot_auc_dcf': ('dcf', 'AUC')},
        metrics=OPE.fields,  # declared once, by the metric
    )

    def dataset_name(self, root: Path, cfg: Config) -> str:
        from unitrack.eval.otb import is_gt_sequence, is_otb_sequence

        if is_otb_sequence(root) or is_gt_sequence(root):  # one sequence folder, e.g. otb/Crossing
            return f"{root.parent.name.lower()}-{root.name.lower()}"
        if (root / "OTB2015.json").is_file():
            return "otb2015"
        return root.name.lower()

    def check(self, root: Path, cfg: Config) -> dict:
        seqs = load_sequences(root, cfg)
        fmt = "pysot json" if any((root / j).is_file() for j in PYSOT_JSONS) else (
            "OTB folders" if any(s.gt_file.name.startswith("groundtruth_rect") for s in seqs) else "LaSOT/GOT-10k")
        names = [s.name for s in seqs]
        return {
            "format": fmt,
            "sequences": len(seqs),
            "frames": sum(len(s) for s in seqs),
            "objects": len(seqs),
            "scored sequences": sum(s.evaluable for s in seqs),
            "names": ", ".join(names[:8]) + (f", … (+{len(names) - 8})" if len(names) > 8 else ""),
        }

    def run(self, ctx: RunContext, pred_dir: Path) -> TaskOutput:
        import torch

        from unitrack.sot import check_config, make_tracker

        cfg = ctx.cfg
        sc = cfg.section
        check_config(sc)
        seqs = load_sequences(ctx.data_root, cfg)
        ext = ctx.extractor
        device = ext.device
        if ext.batch_size < sc.num_scale:  # the scale crops of a frame must be one backbone batch
            ext.batch_size = sc.num_scale

        def to_tensor(rgb: np.ndarray) -> torch.Tensor:
            # upload uint8, normalise on the device (mean colour = 0, the crop border value)
            return ext.normalize(torch.from_numpy(rgb).to(device, non_blocking=True))[0]

        pred_dir = Path(pred_dir)
        pred_dir.mkdir(parents=True, exist_ok=True)
        preds: dict[str, np.ndarray] = {}
        secs: dict[str, float] = {}
        log.info("SOT %s head (%s protocol) on %d sequence(s), crop %d px", sc.head, sc.protocol, len(seqs), sc.crop_sz)
        frames = sum(len(s) for s in seqs)
        bar = progress(None, total=frames, desc=f"sot/{sc.head}", unit="frame")
        try:
            with torch.inference_mode():
                for seq in seqs:
                    bar.set_postfix_str(seq.name)
                    tracker = make_tracker(sc, ext, device)
                    boxes, dt = track_sequence(seq, tracker, to_tensor, on_frame=bar.update)
                    write_boxes(pred_dir / f"{seq.name}.txt", boxes)
                    preds[seq.name], secs[seq.name] = boxes, dt
        finally:
            bar.close()
        total = sum(secs.values())
        extra: dict[str, Any] = {
            "frames": frames,
            "tracking_time_s": round(total, 3),
            "fps": round(frames / total, 3) if total > 0 else None,
            "fps_per_sequence": {n: round(len(preds[n]) / t, 3) for n, t in secs.items() if t > 0},
            "head": sc.head,
            "protocol": sc.protocol,
        }
        scored = [s for s in seqs if s.evaluable]
        if not scored:
            return _not_scored(TaskOutput(metrics={}, extra=extra), seqs)
        ope = evaluate_ope({s.name: s.gt for s in scored}, {s.name: preds[s.name] for s in scored}, valid_rule(cfg))
        static = static_baseline(scored, valid_rule(cfg))
        label = f"{cfg.common.backbone} L{ctx.backbone.layer} {sc.head}"
        try:
            plots = plot_ope({label: ope.curves, "static first box": static.curves}, pred_dir.parent,
                             title=ctx.dataset)
            extra["plots"] = [p.name for p in plots]
        except Exception as e:  # plotting is a convenience; never lose a finished run over it
            log.warning("could not draw OPE plots: %s", e)
        extra["curves"] = {k: np.round(v, 6).tolist() for k, v in ope.curves.items()}
        extra["static_box_baseline"] = static.metrics
        return _not_scored(TaskOutput(metrics=ope.metrics, per_sequence=ope.per_sequence, extra=extra), seqs)

    def score(self, gt_root: Path, pred_dir: Path, cfg: Config) -> TaskOutput:
        everything = load_sequences(gt_root, cfg)
        seqs = [s for s in everything if s.evaluable]
        if not seqs:
            raise UnitrackError(f"{gt_root}: no sequence with per-frame ground truth to score")
        preds = read_predictions(pred_dir, seqs, allow_longer=cfg.section.max_frames is not None)
        ope = evaluate_ope({s.name: s.gt for s in seqs}, preds, valid_rule(cfg))
        return _not_scored(TaskOutput(metrics=ope.metrics, per_sequence=ope.per_sequence,
                                      extra={"curves": {k: v.tolist() for k, v in ope.curves.items()}}), everything)


def _not_scored(out: TaskOutput, seqs: list[SOTSequence]) -> TaskOutput:
    """Record in ``out`` what the reader left out and the sequences tracked but not scored."""
    out.skipped += skipped_items(seqs)
    for s in seqs:
        if not s.evaluable:
            out.skip(s.name, f"{s.gt_file} annotates only the first frame (e.g. GOT-10k test): tracked, not scored")
    return out


def static_baseline(seqs: list[SOTSequence], rule: str = "xywh") -> OPEResult:
    """OPE of a tracker that never moves the first-frame box (the floor a head must clearly beat)."""
    return evaluate_ope({s.name: s.gt for s in seqs}, {s.name: np.repeat(s.gt[:1], len(s.gt), 0) for s in seqs}, rule)


TASK = SOTTask()
