"""A tiny third-party task, installed in the tests through the ``unitrack.tasks`` entry point group.

"Toy" measures temporal feature stability: the mean cosine similarity of the pooled backbone features
of consecutive frames, per sequence. Data layout: ``<root>/<sequence>/<NNNNN>.png``. It touches no file
of unitrack: everything the framework needs is in this one module.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from unitrack.eval.base import MetricSpec, Sequence
from unitrack.tasks import RunContext, Task, TaskOutput, TaskSpec
from unitrack.utils import UnitrackError, atomic_write_json


@dataclass
class ToyConfig:
    """Stability of pooled features between consecutive frames."""

    stride: int = 1  # compare frame t with frame t + stride


def read_toy(root: Path, cfg) -> list[Sequence]:
    seqs = []
    for d in sorted(p for p in Path(root).iterdir() if p.is_dir()):
        frames = sorted(d.glob("*.png"))
        if len(frames) < 2:
            raise UnitrackError(f"{d}: a toy sequence needs at least 2 frames (*.png), found {len(frames)}")
        seqs.append(Sequence(name=d.name, frames=frames))
    if not seqs:
        raise UnitrackError(f"{root}: no sequence folders")
    return seqs


def write_toy_demo(out: Path, rngs, n: int, T: int, W: int, H: int) -> dict:
    """Demo data: a bright square drifting over noise."""
    import cv2

    names = []
    for i in range(n):
        rng = rngs(i)
        d = out / f"toy{i}"
        d.mkdir(parents=True, exist_ok=True)
        base = rng.integers(0, 80, size=(H, W, 3), dtype=np.uint8)
        for t in range(T):
            img = base.copy()
            x = (5 + 3 * t) % max(1, W - 20)
            img[20:40, x:x + 20] = 230
            cv2.imwrite(str(d / f"{t:05d}.png"), img)
        names.append(d.name)
    return {"sequences": names}


class ToyTask(Task):
    spec = TaskSpec(
        name="toy",
        title="Toy",
        order=100,
        config=ToyConfig,
        benchmark="toy frames",
        data_help="<root>/<sequence>/<NNNNN>.png",
        demo_subdir="toy",
        demo_writer=write_toy_demo,
        demo_stream=900,
        reader=read_toy,
        metrics=(MetricSpec("stability", label="Stab.", unit="fraction", headline=True),
                 MetricSpec("pairs", unit="count")),
    )

    def run(self, ctx: RunContext, pred_dir: Path) -> TaskOutput:
        k = int(ctx.cfg.section.stride)
        per_seq = {}
        with torch.inference_mode():
            for seq in read_toy(ctx.data_root, ctx.cfg):
                f = ctx.extractor.from_files(seq.frames).mean(dim=(2, 3))
                f = torch.nn.functional.normalize(f, dim=1)
                sims = (f[:-k] * f[k:]).sum(1)
                per_seq[seq.name] = {"stability": float(sims.mean()), "pairs": int(len(sims))}
        atomic_write_json(pred_dir / "stability.json", per_seq)
        return self.score_dict(per_seq)

    def score_dict(self, per_seq: dict) -> TaskOutput:
        stab = float(np.mean([m["stability"] for m in per_seq.values()]))
        return TaskOutput(metrics={"stability": stab, "pairs": sum(m["pairs"] for m in per_seq.values())},
                          per_sequence=per_seq)

    def score(self, gt_root: Path, pred_dir: Path, cfg) -> TaskOutput:
        import json

        return self.score_dict(json.loads((Path(pred_dir) / "stability.json").read_text()))


TASK = ToyTask()
