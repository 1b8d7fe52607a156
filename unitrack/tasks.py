"""Task specs and the task registry: every task is described once, next to its head.

A task module defines a subclass of :class:`Task` whose class attribute ``spec`` is a :class:`TaskSpec`
(name, title, order in tables, config section, dataset reader and writer, metrics with units and
directions, demo data, visualisation loader, variants) and exposes an instance as ``TASK``. The
framework (``unitrack.api``) handles config, backbone, fingerprint and storage; a task reads its
dataset, runs its head, writes the benchmark's own result format and scores it. The application
layer (CLI, sweep, report, viz, correlate) reads only the specs.

Where tasks come from:

* built-in: every public module of ``unitrack.heads`` is one task named after the module (found without
  importing it, so listing task names is cheap; a module is imported when its spec is first needed);
* plug-ins: entry points in the group ``unitrack.tasks`` (``name = "pkg.module:TASK"``), pointing at a
  ``Task`` instance or subclass. A plug-in cannot replace a built-in task of the same name.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata as md
import logging
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from unitrack.eval.base import MetricSpec, metric_table
from unitrack.utils import UnitrackError

if TYPE_CHECKING:  # pragma: no cover
    from unitrack.config import Config

log = logging.getLogger("unitrack")

ENTRY_POINT_GROUP = "unitrack.tasks"
FAMILIES = ("box", "propagation", "association", "other")


@dataclass(frozen=True)
class TaskSpec:
    """Everything the framework and the application layer know about a task."""

    name: str
    title: str  # short title for tables ("VOS", "Pose prop.")
    order: int  # position in tables, sweeps and radar plots
    config: type  # the task's config-section dataclass (defaults = the published protocol)
    metrics: tuple[MetricSpec, ...]  # every metric the head stores, headline ones first
    benchmark: str = ""  # default benchmark ("DAVIS-2017")
    family: str = "other"  # box | propagation | association | other (report grouping, viz error strips)
    data_help: str = ""  # one line: the dataset layout ``--data`` points at
    demo_subdir: str = ""  # sub-folder of the generated demo benchmark holding this task's data ("" = none)
    demo_writer: Callable[..., dict] | None = None  # (out_dir, rngs, n, T, W, H) -> manifest entry
    demo_stream: int = 0  # independent random stream of the demo generator
    demo_frames: int | None = None  # frames per sequence of the default demo (None: the demo's common count)
    reader: Callable[..., list] | None = None  # (root, cfg) -> list of eval.base.Sequence
    writer: Callable[..., Any] | None = None  # writes predictions in the benchmark's format
    viz_loader: Callable[..., list] | None = None  # (root, pred_dir, cfg dict, seqs) -> list[SequenceView]
    variants: tuple[str, ...] = ()  # values of config field ``variant_key`` that a bare task name expands to
    variant_key: str = "head"
    paper_dataset: str = ""  # dataset of the published Tables 1–2 ("" = the task is not in the paper)
    paper_columns: dict[str, tuple[str | None, str]] = field(default_factory=dict)  # CSV prefix → (variant, key)

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"task {self.name!r}: family must be one of {FAMILIES}")
        table = metric_table(self.metrics)
        for prefix, (_, key) in self.paper_columns.items():
            if key not in table:
                raise ValueError(f"task {self.name!r}: paper column {prefix!r} names undeclared metric {key!r}")

    @cached_property
    def metric(self) -> dict[str, MetricSpec]:
        """``{key: MetricSpec}``."""
        return metric_table(self.metrics)

    @property
    def headline(self) -> tuple[str, ...]:
        return tuple(m.key for m in self.metrics if m.headline)

    def metric_spec(self, key: str) -> MetricSpec | None:
        return self.metric.get(key)


@dataclass
class TaskOutput:
    """What a head returns: overall metrics, per-sequence metrics, free-form extras (curves, counts)."""

    metrics: dict[str, float]
    per_sequence: dict[str, dict[str, float]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)  # [{"item": ..., "reason": ...}] left out, with why

    def skip(self, item: str, reason: str) -> None:
        """Record that ``item`` (a sequence, frame, file) was left out and why; logged and stored in result.json."""
        log.warning("skipped %s: %s", item, reason)
        self.skipped.append({"item": str(item), "reason": str(reason)})


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
    """Base class of a task head. Subclasses set ``spec`` and implement ``run`` and ``score``."""

    spec: TaskSpec

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def headline(self) -> tuple[str, ...]:
        return self.spec.headline

    @property
    def demo_subdir(self) -> str:
        return self.spec.demo_subdir

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
        """The result-folder suffix when one backbone/layer has several heads (e.g. SOT xcorr/dcf)."""
        if not self.spec.variants:
            return None
        return str(getattr(cfg.section, self.spec.variant_key))

    def check(self, root: Path, cfg: Config) -> dict | None:
        """Summary of a dataset folder for ``unitrack datasets check`` (None: the task has no check)."""
        return None

    def run(self, ctx: RunContext, pred_dir: Path) -> TaskOutput:
        """Run the head on every sequence, write predictions under ``pred_dir``, score them."""
        raise NotImplementedError

    def score(self, gt_root: Path, pred_dir: Path, cfg: Config) -> TaskOutput:
        """Score existing prediction files against the ground truth under ``gt_root``."""
        raise NotImplementedError


# ----------------------------------------------------------------------------- registry

_loaded: dict[str, Task] = {}


def _builtin_names() -> list[str]:
    import unitrack.heads as heads

    return sorted(m.name for m in pkgutil.iter_modules(heads.__path__) if not m.name.startswith("_"))


def _entry_points() -> dict[str, md.EntryPoint]:
    try:
        eps = md.entry_points(group=ENTRY_POINT_GROUP)
    except Exception as e:  # broken metadata of some installed distribution
        log.warning("cannot read entry points %s: %s", ENTRY_POINT_GROUP, e)
        return {}
    return {ep.name: ep for ep in eps}


def task_names() -> list[str]:
    """Names of every task: built-in ones, then plug-ins (no module is imported)."""
    names = _builtin_names()
    names += [n for n in sorted(_entry_points()) if n not in names]
    return names


def _as_task(obj: Any, where: str) -> Task:
    if isinstance(obj, type) and issubclass(obj, Task):
        obj = obj()
    if not isinstance(obj, Task) or not isinstance(getattr(obj, "spec", None), TaskSpec):
        raise UnitrackError(f"{where}: expected a unitrack.tasks.Task (instance or subclass) with a TaskSpec "
                            f"`spec`, got {type(obj).__name__}")
    return obj


def get_task(name: str) -> Task:
    """The task ``name`` (its module is imported on first use)."""
    if name in _loaded:
        return _loaded[name]
    builtin = _builtin_names()
    if name in builtin:
        task = _as_task(getattr(importlib.import_module(f"unitrack.heads.{name}"), "TASK", None),
                        f"unitrack.heads.{name}.TASK")
    else:
        eps = _entry_points()
        if name not in eps:
            known = builtin + [n for n in sorted(eps) if n not in builtin]
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UnitrackError(f"unknown task {name!r}{hint} (tasks: {', '.join(known)})")
        ep = eps[name]
        try:
            obj = ep.load()
        except Exception as e:
            raise UnitrackError(f"task plug-in {name!r} ({ep.value}, entry point group {ENTRY_POINT_GROUP}) "
                                f"cannot be loaded: {type(e).__name__}: {e}") from e
        task = _as_task(obj, f"task plug-in {name!r} ({ep.value})")
    if task.spec.name != name:
        raise UnitrackError(f"task {name!r}: its spec is named {task.spec.name!r}")
    _loaded[name] = task
    return task


def get_spec(name: str) -> TaskSpec:
    return get_task(name).spec


def all_specs() -> list[TaskSpec]:
    """Every task's spec in table order (tasks whose module fails to import are logged and left out)."""
    out = []
    for n in task_names():
        try:
            out.append(get_spec(n))
        except UnitrackError as e:
            log.warning("%s", e)
    return sorted(out, key=lambda s: (s.order, s.name))


def available_tasks() -> list[str]:
    """Names of the tasks that load in this installation, in table order."""
    return [s.name for s in all_specs()]


def task_order(name: str) -> tuple[int, str]:
    """Sort key of a task name (unknown tasks last)."""
    try:
        return (get_spec(name).order, name)
    except UnitrackError:
        return (10**6, name)


def find_metric(task: str, key: str) -> MetricSpec | None:
    """The declared spec of metric ``key`` of ``task`` (None when the task or metric is unknown)."""
    try:
        return get_spec(task).metric_spec(key)
    except UnitrackError:
        return None
