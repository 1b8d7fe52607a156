"""Task registry: the interface every level-3 head implements, and lazy lookup by name.

A task module (``unitrack.heads.<task>``) defines a subclass of :class:`Task` and exposes it as
``TASK``. The framework (``unitrack.api``) handles config, backbone, fingerprint and storage; a
task only reads its dataset, runs its head, writes the benchmark's own result format and scores it.
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from unitrack.config import TASKS, Config
from unitrack.utils import UnitrackError

# task name → (module, issue that brings it)
TASK_MODULES: dict[str, tuple[str, int]] = {
    "sot": ("unitrack.heads.sot", 5),
    "vos": ("unitrack.heads.vos", 4),
    "poseprop": ("unitrack.heads.poseprop", 4),
    "mot": ("unitrack.heads.mot", 6),
    "mots": ("unitrack.heads.mots", 6),
    "posetrack": ("unitrack.heads.posetrack", 6),
}
assert set(TASK_MODULES) == set(TASKS)


@dataclass
class TaskOutput:
    """What a head returns: overall metrics, per-sequence metrics, free-form extras (curves, counts)."""

    metrics: dict[str, float]
    per_sequence: dict[str, dict[str, float]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunContext:
    """Everything a head needs for one evaluation. The feature extractor is built on first use."""

    cfg: Config
    data_root: Path
    dataset: str
    backbone: Any  # unitrack.backbones.Backbone
    device: str

    @cached_property
    def extractor(self):
        from unitrack.features import FeatureExtractor

        c = self.cfg.common
        return FeatureExtractor(
            self.backbone, device=self.device, amp=c.amp, batch_size=c.batch_size, cache_dir=c.feature_cache
        )


class Task:
    """Base class of a task head. Subclasses set ``name``, ``headline`` and implement run/score."""

    name: str = ""
    headline: tuple[str, ...] = ()  # the metrics a report shows first
    demo_subdir: str = ""  # folder of the generated demo benchmark holding this task's data

    def resolve_data(self, data: str | Path, cfg: Config) -> tuple[str, Path]:
        """Map ``--data`` to (dataset name, root folder). 'demo' → the generated demo benchmark."""
        if str(data) == "demo":
            from unitrack.eval.demo import demo_task_root

            return "demo", demo_task_root(self.name)
        root = Path(data).expanduser().resolve()
        if not root.exists():
            raise UnitrackError(f"--data {data}: folder does not exist")
        return self.dataset_name(root, cfg), root

    def dataset_name(self, root: Path, cfg: Config) -> str:
        return root.name.lower()

    def variant(self, cfg: Config) -> str | None:
        """A suffix for the result folder when one backbone/layer has several heads (e.g. SOT xcorr/dcf)."""
        return None

    def run(self, ctx: RunContext, pred_dir: Path) -> TaskOutput:
        """Run the head on every sequence, write predictions under ``pred_dir``, score them."""
        raise NotImplementedError

    def score(self, gt_root: Path, pred_dir: Path, cfg: Config) -> TaskOutput:
        """Score existing prediction files against the ground truth under ``gt_root``."""
        raise NotImplementedError


def get_task(name: str) -> Task:
    if name not in TASK_MODULES:
        close = difflib.get_close_matches(name, list(TASK_MODULES), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise UnitrackError(f"unknown task {name!r}{hint} (tasks: {', '.join(TASK_MODULES)})")
    module, issue = TASK_MODULES[name]
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name == module:
            raise UnitrackError(f"task {name!r} is not implemented yet (planned in issue #{issue})") from None
        raise
    return mod.TASK


def available_tasks() -> list[str]:
    """Tasks whose head module is importable in this installation."""
    out = []
    for name, (module, _) in TASK_MODULES.items():
        if importlib.util.find_spec(module) is not None:
            out.append(name)
    return out
