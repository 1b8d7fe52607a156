"""``unitrack report``: Markdown + self-contained HTML report of a results folder.

What the report holds:

* with ``--with-paper``, where the models rank: every backbone placed, per layer that was run and per task
  metric of the paper's Tables 1–2, among the published rows of the same architecture (ResNet-18 against
  Table 2, ResNet-50 against Table 1) — one sentence per model, a rank table, and a radar with our rows drawn
  strong over the published ones drawn faint (top 3 labelled). Numbers from other data than the paper's (the
  demo benchmark, another dataset, a subset of sequences, a changed protocol) are ranked but flagged
  "not comparable";
* one compact table per task family (the specs' ``family``): backbones as rows, task metrics as columns, one
  value per layer that was run, ± the per-sequence bootstrap interval (``scipy.stats.bootstrap``, seeded) below
  it, the best value in bold; sticky header and sortable columns in HTML;
* cost and provenance: sequence and frame counts, wall time, frames per second, computed / reused (from the
  sweep's ``sweep_summary.json``) per cell;
* small multiples (one panel per task metric: bars, CI error bars, per-sequence dots, the baselines the heads
  store), SOT success curves, and with ``--with-paper`` the correlation study (linear-probe top-1 against each
  task metric: fit, bootstrap band, Pearson / Spearman with CIs, our models highlighted);
* the Figure-1 radar of ranks among our backbones, the published Tables 1–2 beside our rows, previews,
  protocol changes and the result files (values in the tables' units);
* ``table.csv`` (the Tables 1–2 layout) and ``cells.csv`` (every cell: value, interval, counts, cost, rank).

Titles, metric labels, units (rates in percent, counts as counts), directions (lower is better for ID switches
and decays), headline metrics, variant order and the paper's columns come from the task specs
(:mod:`unitrack.tasks`); a metric no spec declares is shown as stored, and a result whose task is not installed
shows its raw values under the task's name.

Both pages are rendered from one context dict (:func:`report_context`) through the jinja2 templates in
``unitrack/app/templates``. The HTML page embeds every image (PNG as base64 data URIs, radar plots as inline
SVG), so it is one file.
"""

from __future__ import annotations

import argparse
import base64
import csv
import functools
import io
import logging
import math
import re
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from unitrack.eval.base import MetricSpec
from unitrack.results import Result
from unitrack.tasks import TaskSpec, all_specs, get_spec
from unitrack.utils import UnitrackError, atomic_write_text

log = logging.getLogger("unitrack.app.report")

PUBLISHED = "published"
LAYERS = (3, 4)
TEMPLATES = "templates"  # folder of unitrack.app holding report.md.j2 / report.html.j2


# ----------------------------------------------------------------------------- what the task specs say

_broken: set[str] = set()


def task_spec(task: str) -> TaskSpec | None:
    """The spec of ``task``; None for a task that is not installed (its results show as stored, titled by name)."""
    try:
        return get_spec(task)
    except UnitrackError:
        return None
    except Exception as e:  # noqa: BLE001 - a task module that fails to import must not stop the report
        if task not in _broken:
            _broken.add(task)
            log.warning("task %r cannot be loaded (%s: %s); its results are shown as stored", task,
                        type(e).__name__, e)
        return None


def task_title(task: str) -> str:
    spec = task_spec(task)
    return spec.title if spec else task


def metric_spec(task: str, key: str) -> MetricSpec | None:
    """The declared spec of metric ``key`` of ``task`` (None: undeclared, or the task is not installed)."""
    spec = task_spec(task)
    return spec.metric_spec(key) if spec else None


def higher_is_better(task: str, key: str) -> bool:
    """The metric's direction as its spec declares it (an undeclared metric: higher is better)."""
    ms = metric_spec(task, key)
    return ms.higher_is_better if ms else True


def metric_label(task: str, key: str) -> str:
    ms = metric_spec(task, key)
    return ms.label if ms else key


def _variant_rank(spec: TaskSpec | None, variant: str | None) -> int:
    """Position of a variant in the spec's ``variants`` (the paper's column order); others after them."""
    if spec is not None and variant in spec.variants:
        return spec.variants.index(variant)
    return 9


def paper_column_map() -> dict[str, tuple[str, str | None, str]]:
    """Column prefix of the published-tables CSV → (task, variant, metric key), from every spec's
    ``paper_columns``, in table order (tasks by ``order``, variants by ``variants``)."""
    out: dict[str, tuple[str, str | None, str]] = {}
    for spec in all_specs():
        cols = sorted(spec.paper_columns.items(), key=lambda kv: _variant_rank(spec, kv[1][0]))
        out.update((prefix, (spec.name, variant, key)) for prefix, (variant, key) in cols)
    return out


def paper_datasets() -> dict[str, str]:
    """Task → the dataset of the published Tables 1–2, for the tasks that are in the paper."""
    return {spec.name: spec.paper_dataset for spec in all_specs() if spec.paper_dataset}


# (task, dataset, variant, metric); dataset is PUBLISHED for the paper's numbers
ColKey = tuple[str, str, "str | None", str]


@dataclass
class Row:
    """One table row: a backbone (or a published representation) with values per column and layer."""

    label: str
    values: dict[ColKey, dict[int, float]] = field(default_factory=dict)
    published: bool = False
    backbone: str | None = None  # registry name for our results
    representation: str | None = None  # paper naming, e.g. "MoCoV2"
    arch: str | None = None  # "R50", "R18"
    random_init: bool = False  # a pretrained entry evaluated with random weights
    comparable: bool = True  # False: shown, but not ranked against the others (demo rows beside published ones)
    # our rows: the result behind each cell, (task, dataset label, variant) → layer → Result
    sources: dict[tuple[str, str, str | None], dict[int, Result]] = field(default_factory=dict)
    # our rows: bootstrap confidence interval (low, high) of a cell, in the table's units
    ci: dict[ColKey, dict[int, tuple[float, float]]] = field(default_factory=dict)

    @property
    def imagenet_supervised(self) -> bool:
        name = (self.representation or self.backbone or self.label).lower()
        return name.startswith("imagenet") and not self.random_init


# ----------------------------------------------------------------------------- published reference table


def paper_csv_path() -> Path:
    return Path(str(resources.files("unitrack") / "data" / "paper_tables_1_2.csv"))


def read_csv_rows(path: str | Path) -> list[dict[str, str]]:
    """Rows of a CSV file as dicts (UnitrackError naming the file when it cannot be read)."""
    p = Path(path)
    try:
        with open(p, newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, csv.Error, UnicodeDecodeError) as e:
        raise UnitrackError(f"cannot read CSV file {p}: {e}") from None
    return rows


def load_paper_table(path: str | Path | None = None) -> list[Row]:
    """The published Tables 1 (ResNet-50) and 2 (ResNet-18) as rows, values in the paper's units (%)."""
    p = Path(path) if path else paper_csv_path()
    rows = []
    for i, rec in enumerate(read_csv_rows(p), start=2):
        rep, arch = (rec.get("representation") or "").strip(), (rec.get("arch") or "").strip()
        if not rep or not arch:
            raise UnitrackError(f"{p} line {i}: expected 'representation' and 'arch' columns")
        row = Row(label=f"{rep} ({arch})", published=True, representation=rep, arch=arch)
        for prefix, (task, variant, metric) in paper_column_map().items():
            for layer in LAYERS:
                raw = rec.get(f"{prefix}_layer{layer}")
                if raw is None or raw.strip() == "":
                    continue
                try:
                    v = float(raw)
                except ValueError:
                    raise UnitrackError(f"{p} line {i}: column {prefix}_layer{layer}: expected a number, "
                                        f"got {raw!r}") from None
                row.values.setdefault((task, PUBLISHED, variant, metric), {})[layer] = v
        rows.append(row)
    if not rows:
        raise UnitrackError(f"{p}: no rows")
    return rows


def paper_columns() -> list[ColKey]:
    return [(t, PUBLISHED, v, m) for t, v, m in paper_column_map().values()]


# ----------------------------------------------------------------------------- our results as a table


def result_variant(r: Result) -> str | None:
    """The result's variant (schema 2 stores it; older results: the folder suffix
    ``<backbone>[@<weights>]-layer<L>[-<variant>][-cfg<hash>]``)."""
    if r.variant:
        return r.variant
    if not r.path:
        return None
    name = Path(r.path).name
    stem = f"{r.backbone}@{r.weights_tag}" if r.weights_tag else r.backbone
    rest = name[len(f"{stem}-layer{r.layer}"):] if name.startswith(f"{stem}-layer{r.layer}") else ""
    parts = [p for p in rest.split("-") if p]
    parts = [p for p in parts if not p.startswith("cfg")]
    return "-".join(parts) or None


def result_cfg_tag(r: Result) -> str | None:
    if r.cfg_tag:
        return r.cfg_tag
    if not r.path:
        return None
    for p in Path(r.path).name.split("-")[1:]:
        if p.startswith("cfg") and len(p) == 11:
            return p[3:]
    return None


def is_demo(r: Result) -> bool:
    """Whether a result ran on the generated demo benchmark (``--data demo`` or a `datasets demo` folder)."""
    if r.dataset == "demo":
        return True
    root = r.fingerprint.get("data_root")
    if not root:
        return False
    for cand in (Path(root) / "manifest.json", Path(root).parent / "manifest.json"):
        try:
            if cand.is_file() and '"layout"' in cand.read_text()[:4000]:
                return True
        except OSError:
            continue
    return False


def dataset_label(r: Result) -> str:
    """The dataset name shown in tables; generated demo folders are marked so they are never mistaken for
    the real benchmark of the same format."""
    if r.dataset == "demo" or not is_demo(r):
        return r.dataset
    return f"demo:{r.dataset}"


_NOT_PROTOCOL = {"backbone", "layer", "weights", "device", "batch_size", "feature_cache", "head"}


def protocol_changes(r: Result) -> dict[str, Any]:
    """The stored config's parameters that differ from the task's published-protocol defaults."""
    from unitrack.config import default_config

    try:
        ref = default_config(r.task).to_dict()
    except Exception:  # unknown task in an old/foreign result: nothing to compare with
        return {}
    out = {}
    for section in ("common", r.task):
        got = r.config.get(section, {}) or {}
        for k, v in (ref.get(section) or {}).items():
            if k not in _NOT_PROTOCOL and k in got and got[k] != v:
                out[f"{section}.{k}"] = got[k]
    return out


def is_random_init(r: Result) -> bool:
    """A registered pretrained backbone evaluated with ``weights="random"`` (it is not that model)."""
    return str(r.fingerprint.get("weights_sha256", "")).startswith("random") and not r.backbone.startswith("random")


def display_name(r: Result) -> str:
    return r.backbone + (" (random init)" if is_random_init(r) else "")


# ----------------------------------------------------------------------------- what the backbone registry says

RANDOM_INIT = "Random Init."  # the published row of a randomly initialised network


@functools.cache
def backbone_paper_row(name: str) -> tuple[str | None, str | None]:
    """(representation, arch) of a registered backbone in the paper's naming, e.g. ("MoCoV2", "R50"), from the
    registry's ``paper_row``; a backbone without one gets its arch from the spec ("ResNet-18" → "R18", others
    as the spec names them) and no representation; (None, None) when the name is not registered."""
    try:
        from unitrack.backbones import get_spec as backbone_spec

        spec = backbone_spec(name)
    except Exception:  # noqa: BLE001 - an unknown or unloadable backbone is simply not placed
        return None, None
    if spec.paper_row and "," in spec.paper_row:
        rep, arch = spec.paper_row.rsplit(",", 1)
        return rep.strip(), arch.strip()
    m = re.fullmatch(r"ResNet-(\d+)", spec.arch or "")
    arch = f"R{m.group(1)}" if m else (spec.arch if spec.arch and spec.arch != "unknown" else None)
    return None, arch


# ----------------------------------------------------------------------------- uncertainty and cost

CI_LEVEL = 0.95
CI_RESAMPLES = 9999
CI_SEED = 0
CI_BCA_FROM = 10  # sequences; fewer: percentile intervals (BCa's jackknife is unstable on a handful)


def bootstrap_ci(values, statistic: str = "mean", level: float = CI_LEVEL, n_resamples: int = CI_RESAMPLES,
                 seed: int = CI_SEED) -> tuple[float, float] | None:
    """Seeded bootstrap interval (``scipy.stats.bootstrap``) of the mean (or the sum, for counts) of per-sequence
    values; None for fewer than two finite values (no interval is shown then).

    BCa from :data:`CI_BCA_FROM` values, percentile below; sequences are resampled with replacement.
    """
    from scipy import stats

    x = np.asarray([float(v) for v in values if _is_number(v)], float)
    if len(x) < 2:
        return None
    fn = np.sum if statistic == "sum" else np.mean
    if np.ptp(x) == 0:
        v = float(fn(x))
        return v, v
    method = "BCa" if len(x) >= CI_BCA_FROM else "percentile"
    kw = dict(n_resamples=n_resamples, confidence_level=level, method=method, vectorized=True, axis=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = stats.bootstrap((x,), fn, rng=np.random.default_rng(seed), **kw)
        except TypeError:  # scipy < 1.15 names the generator random_state
            res = stats.bootstrap((x,), fn, random_state=np.random.default_rng(seed), **kw)
    lo, hi = (float(v) for v in res.confidence_interval)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    return lo, hi


def sequence_values(r: Result, metric: str) -> list[float]:
    """The finite per-sequence values of ``metric`` in a result (as stored)."""
    return [float(m[metric]) for m in r.per_sequence.values() if _is_number(m.get(metric))]


def metric_ci(r: Result, metric: str) -> tuple[float, float] | None:
    """Bootstrap interval over sequences of a headline metric of ``r`` (stored units); None when the metric is no
    headline metric of its task's spec, or fewer than two sequences carry it. Counts (ID switches) add up over
    sequences, so their interval is of the sum; rates of the mean."""
    spec = task_spec(r.task)
    ms = spec.metric_spec(metric) if spec else None
    if spec is not None and (ms is None or not ms.headline):
        return None
    return bootstrap_ci(sequence_values(r, metric), "sum" if ms is not None and ms.unit == "count" else "mean")


def sequence_count(r: Result) -> int | None:
    """Sequences the result covers: its per-sequence entries, else what the head counted in ``extra``."""
    if r.per_sequence:
        return len(r.per_sequence)
    for k in ("sequences", "num_sequences", "scored_sequences", "videos"):
        v = r.extra.get(k)
        if isinstance(v, int) and not isinstance(v, bool):
            return v
    return None


def frame_count(r: Result) -> int | None:
    """Frames the head processed: ``extra.frames`` (every head that records them), else the per-sequence
    ``frames`` entries, else ``extra.num_frames``; None where the result holds no frame count."""
    v = r.extra.get("frames")
    if _is_number(v):
        return int(v)
    per = [m.get("frames") for m in r.per_sequence.values()]
    if per and all(_is_number(f) for f in per):
        return int(sum(per))
    v = r.extra.get("num_frames")
    return int(v) if _is_number(v) else None


def _cell_key(path: str | Path) -> tuple[str, ...]:
    """``task/dataset/folder`` of a result folder: matches a sweep summary's path after the folder moved."""
    return Path(path).parts[-3:]


def sweep_statuses(results_dir: str | Path) -> dict[tuple[str, ...], dict[str, Any]]:
    """Per result folder, what the last sweep into ``results_dir`` did (``sweep_summary.json``: status computed /
    reused, node, seconds); empty without a readable summary."""
    p = Path(results_dir) / "sweep_summary.json"
    if not p.is_file():
        return {}
    try:
        import json

        cells = json.loads(p.read_text()).get("cells") or []
    except (OSError, ValueError, AttributeError) as e:
        log.warning("cannot read %s (%s): computed/reused not shown", p, e)
        return {}
    # a failed cell leaves an older result in place (if any): that one is 'stored', not what the sweep did
    return {_cell_key(c["path"]): c for c in cells
            if isinstance(c, dict) and c.get("path") and c.get("status") in ("computed", "reused")}


@dataclass
class CellInfo:
    """Counts and cost of one result (task × dataset × variant × backbone × layer)."""

    sequences: int | None
    frames: int | None
    wall_s: float | None
    fps: float | None  # frames / wall time (backbone, head and scoring together)
    status: str  # computed | reused | stored (no sweep summary names the folder)
    node: str | None = None


def cell_info(r: Result, statuses: dict[tuple[str, ...], dict[str, Any]] | None = None) -> CellInfo:
    frames = frame_count(r)
    wall = r.fingerprint.get("wall_time_s")
    wall = float(wall) if _is_number(wall) and wall > 0 else None
    fps = frames / wall if frames and wall else None
    st = (statuses or {}).get(_cell_key(r.path)) if r.path else None
    status = str(st["status"]) if st and st.get("status") else ("reused" if r.reused else "stored")
    node = st.get("node") if st else None
    return CellInfo(sequence_count(r), frames, wall, fps, status, node if node and node != "local" else None)


def load_results(root: str | Path) -> list[Result]:
    """Every readable result.json below ``root`` (like :func:`find_results`, but an unreadable file is
    skipped with a warning naming it instead of stopping the report)."""
    from unitrack.results import RESULT_FILE

    root = Path(root)
    out = []
    for p in sorted(root.rglob(RESULT_FILE)):
        if any(s.startswith(".") for s in p.relative_to(root).parts):
            continue  # temporary folders of runs in progress or killed
        try:
            out.append(Result.load(p))
        except UnitrackError as e:
            log.warning("skipping %s", e)
    return out


def headline_metrics(task: str, available: list[str]) -> list[str]:
    """The task's headline metrics that the results contain (fallback: every metric of the result)."""
    spec = task_spec(task)
    head = list(spec.headline) if spec else []  # task not installed: use what the result file holds
    chosen = [m for m in head if m in available]
    return chosen or list(available)


def results_table(results: list[Result], percent: bool = True) -> tuple[list[ColKey], list[Row]]:
    """Columns (task, dataset, variant, headline metric) and one row per backbone (+ config tag).

    ``percent``: values in the paper's units as the metric's spec says (:meth:`MetricSpec.to_percent`: a
    ``fraction`` rate ×100, a ``percent`` rate and a count as stored); a metric no spec declares stays as stored.
    """
    rows: dict[str, Row] = {}
    metrics_by_group: dict[tuple[str, str, str | None], list[str]] = {}
    labels = {id(r): dataset_label(r) for r in results}
    for r in results:
        group = (r.task, labels[id(r)], result_variant(r))
        avail = metrics_by_group.setdefault(group, [])
        avail.extend(m for m in r.metrics if m not in avail and _is_number(r.metrics[m]))
    columns: list[ColKey] = []
    for group in sorted(metrics_by_group, key=_group_order):
        task, dataset, variant = group
        avail = metrics_by_group[group]
        chosen = headline_metrics(task, avail)
        # also every metric of the paper's tables (e.g. PoseTrack ID switches), so --with-paper can compare
        spec = task_spec(task)
        chosen += [m for v, m in (spec.paper_columns.values() if spec else ()) if v == variant and m in avail
                   and m not in chosen]
        columns.extend((task, dataset, variant, m) for m in chosen)
    wanted = set(columns)
    # a non-default protocol (cfg tag) gets its own row only where one backbone has several for one column
    tags: dict[tuple, set] = defaultdict(set)
    for r in results:
        tags[(r.backbone, r.task, labels[id(r)], result_variant(r))].add(result_cfg_tag(r))
    for r in results:
        tag = result_cfg_tag(r)
        if len(tags[(r.backbone, r.task, labels[id(r)], result_variant(r))]) < 2:
            tag = None
        random_init = is_random_init(r)
        label = display_name(r) + (f" [cfg {tag}]" if tag else "")
        row = rows.get(label)
        if row is None:
            rep, arch = backbone_paper_row(r.backbone)
            row = rows[label] = Row(label=label, backbone=r.backbone, random_init=random_init, arch=arch,
                                    representation=RANDOM_INIT if random_init and rep else rep)
        variant = result_variant(r)
        row.sources.setdefault((r.task, labels[id(r)], variant), {})[r.layer] = r
        for m, v in r.metrics.items():
            key = (r.task, labels[id(r)], variant, m)
            if key in wanted and _is_number(v):
                row.values.setdefault(key, {})[r.layer] = float(v)
                ci = metric_ci(r, m)
                if ci is not None:
                    row.ci.setdefault(key, {})[r.layer] = ci
    if percent:
        for col in columns:
            ms = metric_spec(col[0], col[3])
            if ms is None:
                log.debug("%s %s: no task spec declares this metric; shown as stored", col[0], col[3])
                continue
            for row in rows.values():
                if col in row.values:
                    row.values[col] = {k: ms.to_percent(v) for k, v in row.values[col].items()}
                if col in row.ci:
                    row.ci[col] = {k: (ms.to_percent(lo), ms.to_percent(hi)) for k, (lo, hi) in row.ci[col].items()}
    return columns, sorted(rows.values(), key=lambda row: row.label)


def _group_order(g: tuple[str, str, str | None]):
    task, dataset, variant = g
    spec = task_spec(task)
    return (spec.order if spec else 10**6, task, dataset, _variant_rank(spec, variant), variant or "")


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def comparison_rows(paper: list[Row], ours: list[Row]) -> list[Row]:
    """Published rows plus our rows (from :func:`results_table`, already in percent) on the paper's columns.

    A result fills a paper column when task, variant and metric match. Each of our rows becomes one row for
    its benchmark results and one for its demo results (marked not comparable, so never bold); the label
    names the datasets. Should one column have several datasets, the first in name order is used.
    """
    out = list(paper)
    wanted = set(paper_column_map().values())
    for row in ours:
        for demo in (False, True):
            dst = Row(label="", backbone=row.backbone, random_init=row.random_init, comparable=not demo)
            datasets: list[str] = []
            for key in sorted(row.values, key=lambda k: (k[1], str(k))):
                task, dataset, variant, metric = key
                if (task, variant, metric) not in wanted or dataset.startswith("demo") != demo:
                    continue
                pkey = (task, PUBLISHED, variant, metric)
                if pkey in dst.values:
                    continue
                dst.values[pkey] = dict(row.values[key])
                if dataset not in datasets:
                    datasets.append(dataset)
            if dst.values:
                shown = "demo" if demo else ", ".join(datasets)
                dst.label = f"{row.label} · {shown}"
                out.append(dst)
    return out


# ----------------------------------------------------------------------------- formatting


def best_cells(rows: list[Row], columns: list[ColKey]) -> set[tuple[int, ColKey, int]]:
    """(row index, column, layer) of the best value of every column and layer (ties for the best all marked;
    none when every row has the same value)."""
    best = set()
    for col in columns:
        lower = not higher_is_better(col[0], col[3])
        for layer in LAYERS:
            vals = [(i, r.values.get(col, {}).get(layer)) for i, r in enumerate(rows) if r.comparable]
            vals = [(i, v) for i, v in vals if v is not None and math.isfinite(v)]
            if len(vals) < 2 or len({v for _, v in vals}) < 2:
                continue  # nothing to compare, or every row ties (bold would mark them all)
            target = min(v for _, v in vals) if lower else max(v for _, v in vals)
            best.update((i, col, layer) for i, v in vals if v == target)
    return best


def _fmt_stored(v: float) -> str:
    """A value no spec describes, as stored (the digits follow its size; it is never rescaled)."""
    if float(v).is_integer() and abs(v) >= 100:
        return f"{v:.0f}"
    return f"{v:.3f}" if abs(v) <= 1.5 else f"{v:.1f}"


def fmt_value(ms: MetricSpec | None, v: float | None) -> str:
    """Table text of a value in the table's units (:func:`results_table`: rates already in percent)."""
    if v is None or not math.isfinite(v):
        return "–"
    if ms is None:
        return _fmt_stored(v)
    return f"{v:.1f}" if ms.is_rate else ms.display(v)


def fmt_stored(task: str, key: str, v: float | None) -> str:
    """Text of a value as a result stores it, in the paper's units where the metric's spec says them."""
    ms = metric_spec(task, key)
    if ms is None:
        return "–" if v is None or not math.isfinite(v) else _fmt_stored(v)
    return ms.display(v)


def _multi_dataset(columns: list[ColKey]) -> set[str]:
    """Tasks that appear with more than one dataset (their column titles name the dataset)."""
    seen: dict[str, set[str]] = defaultdict(set)
    for task, dataset, _, _ in columns:
        seen[task].add(dataset)
    return {t for t, d in seen.items() if len(d) > 1}


def column_parts(col: ColKey, multi_dataset: bool = True, label: bool = True) -> tuple[str, str]:
    """(task title [variant] [(dataset)], metric) of a column; the metric by its spec's label (``label``) or by
    its key in ``result.json``."""
    task, dataset, variant, metric = col
    t = task_title(task)
    if variant:
        t += f" {variant}"
    if dataset != PUBLISHED and multi_dataset:
        t += f" ({dataset})"
    return t, metric_label(task, metric) if label else metric


def column_title(col: ColKey, multi_dataset: bool = True, label: bool = True) -> str:
    return " ".join(column_parts(col, multi_dataset, label))


def table_context(rows: list[Row], columns: list[ColKey], layers: tuple[int, ...] | list[int] = LAYERS
                  ) -> dict[str, Any]:
    """What the table macros of both templates draw: titles, and per row its label and cells (one text and
    a bold flag per layer of ``layers``)."""
    multi = _multi_dataset(columns)
    best = best_cells(rows, columns)
    specs = [metric_spec(c[0], c[3]) for c in columns]
    out_rows = []
    for i, r in enumerate(rows):
        cells = [[{"text": fmt_value(ms, r.values.get(col, {}).get(layer)), "bold": (i, col, layer) in best}
                  for layer in layers] for col, ms in zip(columns, specs)]
        out_rows.append({"label": r.label, "published": r.published, "comparable": r.comparable, "cells": cells})
    return {"titles": [column_title(c, c[0] in multi) for c in columns], "rows": out_rows}


def markdown_table(rows: list[Row], columns: list[ColKey]) -> str:
    return _macro("macros.md.j2", "table")(table_context(rows, columns))


def html_table(rows: list[Row], columns: list[ColKey]) -> str:
    return str(_macro("macros.html.j2", "table")(table_context(rows, columns)))


def table_csv(rows: list[Row], columns: list[ColKey]) -> str:
    """The table as CSV, values in the table's units; columns named by metric key (as in ``result.json``)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    multi = _multi_dataset(columns)
    w.writerow(["backbone", "published"] + [f"{column_title(c, c[0] in multi, label=False)} layer{layer}"
                                            for c in columns for layer in LAYERS])
    for r in rows:
        w.writerow([r.label, int(r.published)] + [
            "" if (v := r.values.get(c, {}).get(layer)) is None else f"{v:.6g}" for c in columns for layer in LAYERS
        ])
    return buf.getvalue()


# ----------------------------------------------------------------------------- tables of the pages
#
# Every table of both pages is one "grid" dict (rendered by the ``grid`` macros): heads (lines, a small
# line, a tooltip, a sort type) and rows (label, marks, cells). A cell holds one part per layer that was
# run (text + bold), an optional second line (``sub``: the ± of the confidence intervals, or the value
# behind a rank), a tooltip and the number its column sorts by.

FAMILY_TITLES = {"box": "Box tracking", "propagation": "Propagation", "association": "Association",
                 "other": "Other tasks"}
ARCH_NAMES = {"R50": "ResNet-50", "R18": "ResNet-18"}
PAPER_TABLE_OF_ARCH = {"R50": "Table 1", "R18": "Table 2"}


def family_of(task: str) -> str:
    spec = task_spec(task)
    return spec.family if spec else "other"


def unit_text(ms: MetricSpec | None) -> str:
    """The unit of a table column: % for rates (tables show them in percent), 'count', or '' (undeclared)."""
    if ms is None:
        return ""
    return "%" if ms.is_rate else "count"


def layers_of(rows: list[Row], columns: list[ColKey]) -> list[int]:
    """The layers that were run for any of ``columns`` (only those get a value per cell)."""
    return sorted({layer for r in rows for c in columns for layer in r.values.get(c, {})}) or [LAYERS[0]]


def _fmt_half(ms: MetricSpec | None, lo: float, hi: float) -> str:
    h = (hi - lo) / 2
    if ms is not None and ms.unit == "count":
        return f"±{h:.0f}"
    return f"±{h:.1f}" if ms is not None or abs(h) >= 0.05 else f"±{h:.3f}"


def _fmt_ci(ms: MetricSpec | None, lo: float, hi: float) -> str:
    f = (lambda v: f"{v:.0f}") if ms is not None and ms.unit == "count" else (lambda v: fmt_value(ms, v))
    return f"[{f(lo)}, {f(hi)}]"


def _counts(infos: list[CellInfo]) -> str:
    """'2 seq · 40 frames' over the cells of a column (ranges where they differ)."""
    def span(vals: list[int | None], unit: str) -> str:
        got = sorted({v for v in vals if v is not None})
        if not got:
            return ""
        return f"{got[0]}{'–' + str(got[-1]) if len(got) > 1 else ''} {unit}"

    parts = [span([i.sequences for i in infos], "seq"), span([i.frames for i in infos], "frames")]
    return " · ".join(p for p in parts if p)


def _sources(rows: list[Row], group: tuple[str, str, str | None]) -> list[Result]:
    return [r for row in rows for r in row.sources.get(group, {}).values()]


def metric_head(col: ColKey, multi: bool, rows: list[Row] | None = None,
                statuses: dict[tuple[str, ...], dict[str, Any]] | None = None) -> dict[str, Any]:
    """Header of a metric column: task [variant] [(dataset)], metric label with unit and direction, counts."""
    t, m = column_parts(col, multi)
    ms = metric_spec(col[0], col[3])
    hib = higher_is_better(col[0], col[3])
    unit = unit_text(ms)
    line2 = m + (f" ({unit})" if unit else "") + (" ↑" if hib else " ↓")
    small = _counts([cell_info(r, statuses) for r in _sources(rows, col[:3])]) if rows else ""
    tip = f"{t} {m}: {'higher' if hib else 'lower'} is better" + (
        "; in percent" if unit == "%" else "; a count" if unit == "count" else "; as stored (no task spec)")
    return {"lines": [t, line2], "small": small, "title": tip, "num": True}


def value_cell(row: Row, col: ColKey, layers: list[int], best: set, index: int,
               ms: MetricSpec | None) -> dict[str, Any]:
    """One value per layer run (bold where best), the ± of its bootstrap interval below, the intervals in the
    tooltip."""
    vals = row.values.get(col, {})
    parts = [{"text": fmt_value(ms, vals.get(layer)), "bold": (index, col, layer) in best} for layer in layers]
    cis = [row.ci.get(col, {}).get(layer) for layer in layers]
    sub = " / ".join(_fmt_half(ms, *ci) if ci else "–" for ci in cis) if any(cis) else ""
    tips = []
    for layer, ci in zip(layers, cis):
        r = row.sources.get(col[:3], {}).get(layer)
        n = sequence_count(r) if r is not None else None
        if ci:
            tips.append(f"layer{layer}: {CI_LEVEL:.0%} CI {_fmt_ci(ms, *ci)} over {n} sequences")
        elif layer in vals:
            tips.append(f"layer{layer}: no interval ({n or 0} sequence(s) with per-sequence values)")
    first = next((vals[layer] for layer in layers if layer in vals and math.isfinite(vals[layer])), None)
    return {"parts": parts, "sub": sub, "title": "; ".join(tips), "sort": "" if first is None else f"{first:.6g}"}


def family_tables(rows: list[Row], columns: list[ColKey],
                  statuses: dict[tuple[str, ...], dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """One compact table per task family (the specs' ``family``): our backbones as rows, the family's task
    metrics as columns, one value per layer that was run, ± the bootstrap interval's half-width below."""
    ours = [r for r in rows if not r.published]
    multi = _multi_dataset(columns)
    by_family: dict[str, list[ColKey]] = defaultdict(list)
    for c in columns:
        by_family[family_of(c[0])].append(c)
    order = [f for f in ("box", "propagation", "association", "other") if f in by_family]
    out = []
    for fam in order:
        cols = by_family[fam]
        layers = layers_of(ours, cols)
        best = best_cells(ours, cols)
        specs = [metric_spec(c[0], c[3]) for c in cols]
        tasks = list(dict.fromkeys(task_title(c[0]) for c in cols))
        grid_rows = [{"label": r.label, "cls": "ours", "badge": None, "mark": "",
                      "cells": [value_cell(r, c, layers, best, i, ms) for c, ms in zip(cols, specs)]}
                     for i, r in enumerate(ours)]
        out.append({
            "id": f"results-{fam}", "title": f"{FAMILY_TITLES.get(fam, fam.title())}: {', '.join(tasks)}",
            "layers": layers, "layer_text": " / ".join(f"layer{layer}" for layer in layers),
            "heads": [{"lines": ["backbone"], "small": "", "title": "", "num": False}]
                     + [metric_head(c, c[0] in multi, ours, statuses) for c in cols],
            "rows": grid_rows,
        })
    return out


def _fmt_seconds(s: float | None) -> str:
    if s is None:
        return "–"
    if s >= 600:
        return f"{s / 60:.1f} min"
    return f"{s:.1f} s" if s < 100 else f"{s:.0f} s"


def _fmt_fps(f: float | None) -> str:
    if f is None:
        return "– fr/s"
    return f"{f:.2f} fr/s" if f < 1 else f"{f:.1f} fr/s" if f < 100 else f"{f:.0f} fr/s"


def cost_table(rows: list[Row], columns: list[ColKey],
               statuses: dict[tuple[str, ...], dict[str, Any]] | None = None) -> dict[str, Any] | None:
    """Wall time, frames per second and computed / reused per cell: backbones as rows, one column per task
    (variant, dataset), a line per layer that was run; sequence and frame counts in the header."""
    ours = [r for r in rows if not r.published]
    groups = list(dict.fromkeys(c[:3] for c in columns))
    if not ours or not groups:
        return None
    one_dataset = len({g[1] for g in groups}) == 1
    layers = layers_of(ours, columns)
    heads = [{"lines": ["backbone"], "small": "", "title": "", "num": False}]
    for g in groups:
        t = task_title(g[0]) + (f" {g[2]}" if g[2] else "")
        heads.append({"lines": [t, "" if one_dataset else g[1]],
                      "small": _counts([cell_info(r, statuses) for r in _sources(ours, g)]),
                      "title": f"{t} on {g[1]}: wall time of the evaluation (backbone, head and scoring), frames "
                               "per second over that time, and whether the last sweep computed or reused it",
                      "num": True})
    grid_rows = []
    for row in ours:
        cells = []
        for g in groups:
            parts, walls = [], []
            for layer in layers:
                r = row.sources.get(g, {}).get(layer)
                if r is None:
                    parts.append({"text": "–", "bold": False, "status": "", "node": ""})
                    continue
                info = cell_info(r, statuses)
                walls.append(info.wall_s)
                parts.append({"text": (f"L{layer} " if len(layers) > 1 else "")
                              + _fmt_seconds(info.wall_s) + ("" if info.fps is None else f" · {_fmt_fps(info.fps)}"),
                              "bold": False, "status": info.status,
                              "node": info.node or ""})
            first = next((w for w in walls if w is not None), None)
            cells.append({"parts": parts, "sub": "", "title": "", "sort": "" if first is None else f"{first:.6g}",
                          "lines": True})
        grid_rows.append({"label": row.label, "cls": "ours", "badge": None, "mark": "", "cells": cells})
    n = {s: sum(1 for row in ours for g in groups for r in row.sources.get(g, {}).values()
                if cell_info(r, statuses).status == s) for s in ("computed", "reused", "stored")}
    if sum(1 for v in n.values() if v) <= 1:  # one status for every cell: said once in the note, not per cell
        for gr in grid_rows:
            for c in gr["cells"]:
                for p in c["parts"]:
                    p["status"] = ""
    return {"id": "cost", "heads": heads, "rows": grid_rows, "counts": n}


# ----------------------------------------------------------------------------- placement among the published rows


def _norm(s: str) -> str:
    return "".join(ch for ch in s.lower() if ch.isalnum())


def same_benchmark(dataset: str, paper_dataset: str) -> bool:
    """Whether a result's dataset name is the paper's benchmark ("mot16" ~ "MOT16 train", "davis2017" ~
    "DAVIS-2017 val"): by name, since a result records the dataset's name and identity, not which split
    of which release it is."""
    d = _norm(dataset)
    return bool(d) and d in (_norm(paper_dataset), _norm(paper_dataset.split()[0]))


def comparability(r: Result) -> list[str]:
    """Why the numbers of ``r`` are not comparable with the paper's (empty: they are): the generated demo
    benchmark, another dataset than the spec's paper benchmark, or a protocol that differs from the published
    one (a subset of the sequences included)."""
    reasons = []
    spec = task_spec(r.task)
    if is_demo(r):
        reasons.append("demo data")
    elif spec is not None and spec.paper_dataset and not same_benchmark(r.dataset, spec.paper_dataset):
        reasons.append(f"dataset {r.dataset}, the paper's is {spec.paper_dataset}")
    for k, v in sorted(protocol_changes(r).items()):
        if k == "common.max_sequences":
            reasons.append(f"first {v} sequences only")
        else:
            reasons.append(f"{k}={v}")
    return reasons


@dataclass
class Placement:
    """Where one of our cells (backbone × layer × task metric) falls among the published rows of its arch."""

    row: Row
    layer: int
    col: ColKey  # the published column: (task, PUBLISHED, variant, metric)
    value: float  # ours, in the table's units
    rank: int  # 1 + the published rows that are better
    of: int  # published rows with a value + 1
    counterpart: float | None  # the paper's number for the same representation and arch, if any
    reasons: list[str]  # why not comparable (empty: comparable)
    best: float | None = None  # the best published value

    @property
    def comparable(self) -> bool:
        return not self.reasons


def _better(a: float, b: float, hib: bool) -> bool:
    """``a`` strictly better than ``b`` (a relative tolerance absorbs the ×100 of fractions)."""
    tol = 1e-9 * max(1.0, abs(a), abs(b))
    return a - b > tol if hib else b - a > tol


def _reasons(row: Row, key: ColKey) -> list[str]:
    return sorted({w for r in row.sources.get(key[:3], {}).values() for w in comparability(r)})


def our_key(row: Row, task: str, variant: str | None, metric: str) -> ColKey | None:
    """The column of one of our rows that fills a published column (task, variant, metric): of several
    datasets the comparable one first, then by name."""
    keys = [k for k in row.values if (k[0], k[2], k[3]) == (task, variant, metric)]
    return min(keys, key=lambda k: (len(_reasons(row, k)), k[1])) if keys else None


def place_models(rows: list[Row], paper: list[Row]) -> list[Placement]:
    """Each of our backbones ranked, per layer that was run and per task metric that has a published column,
    among the published rows of the same architecture (R18 with Table 2, R50 with Table 1) at the same layer;
    the direction from the metric's spec. Rows without a published architecture are not placed."""
    out = []
    cols = list(paper_column_map().values())
    for row in rows:
        if row.published or not row.arch:
            continue
        pub = [p for p in paper if p.arch == row.arch]
        if not pub:
            continue
        twin = next((p for p in pub if row.representation and p.representation == row.representation), None)
        for task, variant, metric in cols:
            pcol = (task, PUBLISHED, variant, metric)
            key = our_key(row, task, variant, metric)
            if key is None:
                continue
            hib = higher_is_better(task, metric)
            reasons = _reasons(row, key)
            for layer, v in sorted(row.values[key].items()):
                if v is None or not math.isfinite(v):
                    continue
                vals = [x for p in pub if (x := p.values.get(pcol, {}).get(layer)) is not None and math.isfinite(x)]
                if not vals:
                    continue
                better = sum(_better(x, v, hib) for x in vals)
                cp = twin.values.get(pcol, {}).get(layer) if twin else None
                src = row.sources.get(key[:3], {}).get(layer)
                out.append(Placement(row, layer, pcol, v, better + 1, len(vals) + 1, cp,
                                     comparability(src) if src is not None else reasons,
                                     max(vals) if hib else min(vals)))
    return out


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def rank_sentences(places: list[Placement], rows: list[Row]) -> list[str]:
    """One sentence per backbone and layer: its ranks, best placement first ("imagenet_r18 ranks 3rd of 6 on
    MOTS IDF1, …"); a clear mark when its numbers come from other data than the paper's."""
    out = []
    by: dict[tuple[str, int], list[Placement]] = defaultdict(list)
    for p in places:
        by[(p.row.label, p.layer)].append(p)
    multi_layer = len({p.layer for p in places}) > 1
    for (label, layer), ps in by.items():
        row = ps[0].row
        groups: dict[tuple[int, int], list[str]] = defaultdict(list)
        for p in sorted(ps, key=lambda p: (p.rank / p.of, p.rank)):
            groups[(p.rank, p.of)].append(column_title(p.col, multi_dataset=False))
        parts = [f"{ordinal(rk)} of {of} on {_and(names)}" for (rk, of), names in groups.items()]
        table = PAPER_TABLE_OF_ARCH.get(row.arch or "", "the published tables")
        s = (f"{label}{f' at layer {layer}' if multi_layer else ''} ranks {_and(parts)} among the published "
             f"{ARCH_NAMES.get(row.arch or '', row.arch)} rows of {table}"
             + ("" if multi_layer else f" at layer {layer}"))
        reasons = sorted({w for p in ps for w in p.reasons})
        if reasons:
            s += f" — not comparable ({'; '.join(reasons)}): these numbers come from other data than the paper's."
        else:
            s += "."
        out.append(s)
    placed = {p.row.label for p in places}
    for row in rows:
        if row.published or row.label in placed or not any(k[0] in {t for t, _, _ in paper_column_map().values()}
                                                           for k in row.values):
            continue
        arch = row.arch or "unknown architecture"
        out.append(f"{row.label} is not ranked: the published tables have no {arch} rows (ResNet-50 in Table 1, "
                   "ResNet-18 in Table 2).")
    return out


def rank_table(places: list[Placement]) -> dict[str, Any] | None:
    """Rows: backbone × layer; columns: the published task metrics; cells: rank / rows compared (bold: 1st),
    below it our value and the paper's for the same model; † where the numbers are not comparable."""
    if not places:
        return None
    cols = [c for c in paper_columns() if any(p.col == c for p in places)]
    keys = list(dict.fromkeys((p.row.label, p.layer) for p in places))
    at = {(p.row.label, p.layer, p.col): p for p in places}
    one_layer = len({p.layer for p in places}) == 1
    heads = [{"lines": ["backbone", ""], "small": "", "title": "", "num": False}]
    if not one_layer:
        heads.append({"lines": ["layer", ""], "small": "", "title": "", "num": True})
    heads.append({"lines": ["compared with", ""], "small": "", "title": "published rows of the same architecture",
                  "num": False})
    for c in cols:
        t, m = column_parts(c, multi_dataset=False)
        arrow = " ↑" if higher_is_better(c[0], c[3]) else " ↓"
        heads.append({"lines": [t, m + arrow], "small": "", "num": True,
                      "title": f"rank among the published rows at the same layer; the paper's benchmark: "
                               f"{task_spec(c[0]).paper_dataset if task_spec(c[0]) else '?'}"})
    grid_rows = []
    for label, layer in keys:
        ps = [p for p in places if (p.row.label, p.layer) == (label, layer)]
        row = ps[0].row
        n_pub = max(p.of for p in ps) - 1
        reasons = sorted({w for p in ps for w in p.reasons})
        cells = [] if one_layer else [{"parts": [{"text": str(layer), "bold": False}], "sub": "", "title": "",
                                       "sort": str(layer)}]
        cells.append({"parts": [{"text": f"{n_pub} {row.arch} rows ({PAPER_TABLE_OF_ARCH.get(row.arch or '', '?')})",
                                 "bold": False}],
                      "sub": ("not comparable: " + "; ".join(reasons)) if reasons else "same benchmark",
                      "title": "", "sort": "", "cls": "wrap"})
        for c in cols:
            p = at.get((label, layer, c))
            if p is None:
                cells.append({"parts": [{"text": "–", "bold": False}], "sub": "", "title": "", "sort": ""})
                continue
            ms = metric_spec(c[0], c[3])
            sub = fmt_value(ms, p.value) + (f" · paper {fmt_value(ms, p.counterpart)}" if p.counterpart is not None
                                            else "")
            tip = (f"{p.rank - 1} of {p.of - 1} published {row.arch} rows are better; best published "
                   f"{fmt_value(ms, p.best)}") + (f"; not comparable: {'; '.join(p.reasons)}" if p.reasons else "")
            cells.append({"parts": [{"text": f"{p.rank}/{p.of}" + ("" if p.comparable else " †"),
                                     "bold": p.rank == 1}],
                          "sub": sub, "title": tip, "sort": str(p.rank)})
        grid_rows.append({"label": label, "cls": "ours", "badge": None, "mark": "", "cells": cells})
    return {"id": "ranks", "heads": heads, "rows": grid_rows}


def grid_of_table(t: dict[str, Any], id_: str) -> dict[str, Any]:
    """A legacy :func:`table_context` table (titles, rows of per-layer parts) as a grid."""
    heads = [{"lines": ["backbone"], "small": "", "title": "", "num": False}]
    heads += [{"lines": [h], "small": "", "title": "", "num": True} for h in t["titles"]]
    rows = []
    for r in t["rows"]:
        cells = []
        for parts in r["cells"]:
            first = next((p["text"] for p in parts if p["text"] != "–"), "")
            cells.append({"parts": parts, "sub": "", "title": "", "sort": first})
        rows.append({"label": r["label"], "cls": "published" if r["published"] else "ours",
                     "badge": "published" if r["published"] else None, "mark": "" if r["comparable"] else "†",
                     "cells": cells})
    return {"id": id_, "heads": heads, "rows": rows}


# ----------------------------------------------------------------------------- plots


def _mpl():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def pick_layer(values: dict[int, float], higher_better: bool = True, layer: str | int = "best") -> float | None:
    """One number per cell: layer 3, layer 4, or the better of both ('best'; ``higher_better`` from the
    metric's spec, see :func:`higher_is_better`)."""
    if layer == "best":
        vals = [v for v in values.values() if v is not None and math.isfinite(v)]
        if not vals:
            return None
        return max(vals) if higher_better else min(vals)
    v = values.get(int(layer))
    return v if v is not None and math.isfinite(v) else None


def ranks(rows: list[Row], columns: list[ColKey], layer: str | int = "best") -> np.ndarray:
    """rows × columns matrix of ranks (1 = best; ties share the mean rank; NaN where a value is missing)."""
    from scipy.stats import rankdata

    out = np.full((len(rows), len(columns)), np.nan)
    for j, col in enumerate(columns):
        hib = higher_is_better(col[0], col[3])
        picked = [pick_layer(r.values.get(col, {}), hib, layer) for r in rows]
        vals = np.array([np.nan if v is None else v for v in picked], float)
        ok = np.isfinite(vals)
        if not ok.any():
            continue
        score = -vals[ok] if hib else vals[ok]
        out[ok, j] = rankdata(score, method="average")
    return out


def radar_columns(columns: list[ColKey]) -> list[ColKey]:
    """One axis per (task, dataset, variant): its first (headline) metric."""
    out, seen = [], set()
    for c in columns:
        if c[:3] not in seen:
            seen.add(c[:3])
            out.append(c)
    return out


def radar_plot(rows: list[Row], columns: list[ColKey], stem: str | Path, title: str,
               layer: str | int = "best") -> tuple[Path, Path]:
    """Figure-1-style radar: rank of each row on each column (outer ring = rank 1); PNG + SVG."""
    plt = _mpl()
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    rk = ranks(rows, columns, layer)
    n = len(rows)
    angles = np.linspace(0, 2 * np.pi, len(columns), endpoint=False)
    closed = np.concatenate([angles, angles[:1]])
    fig = plt.figure(figsize=(8.0, 7.4 + 0.17 * math.ceil(n / (2 if n > 4 else 1))))
    ax = fig.add_subplot(111, projection="polar")
    cmap = plt.get_cmap("tab20" if n > 10 else "tab10")
    for i, r in enumerate(rows):
        radius = n + 1 - rk[i]  # rank 1 → outermost
        radius = np.concatenate([radius, radius[:1]])
        if r.imagenet_supervised:
            ax.plot(closed, radius, "k--", lw=2.4, label=r.label + " (reference)", zorder=5)
        else:
            ax.plot(closed, radius, "-", lw=1.4 if n > 8 else 2.0, color=cmap(i % cmap.N), label=r.label,
                    alpha=0.9, marker="o", ms=3)
            if n <= 8:
                ax.fill(closed, np.nan_to_num(radius), color=cmap(i % cmap.N), alpha=0.06)
    _rank_axes(ax, angles, columns, n, fontsize=9)
    which = "best of layer3/layer4" if layer == "best" else f"layer{layer}"
    ax.set_title(f"{title}\nrank per task metric ({which}; outer = better)", fontsize=11, pad=30)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), fontsize=8, frameon=False,
              ncol=2 if n > 4 else 1)
    fig.tight_layout()
    png, svg = stem.with_suffix(".png"), stem.with_suffix(".svg")
    fig.savefig(png, dpi=110, bbox_inches="tight")
    fig.savefig(svg, bbox_inches="tight")
    plt.close(fig)
    return png, svg


def _rank_axes(ax, angles, columns: list, outer: int, fontsize: float) -> None:
    """Polar axes of a rank radar: one labelled spoke per column, rings for ranks 1 (outermost) … ``outer``."""
    ax.set_xticks(angles)
    ax.set_xticklabels(["\n".join(column_parts(c, multi_dataset=False)) for c in columns], fontsize=fontsize)
    ax.tick_params(axis="x", pad=12)
    ax.set_ylim(0, outer + 0.6)
    ticks = sorted({1, max(1, (outer + 1) // 2), outer})
    ax.set_yticks([outer + 1 - t for t in ticks])
    ax.set_yticklabels([])
    _ring_labels(ax, ticks, outer + 1, len(columns))


def _ring_labels(ax, ticks: list[int], top: int, n_axes: int) -> None:
    """Rank labels of the rings, drawn inside the plot halfway between the first two axes (a tick label on
    the outer ring collides with the axis labels)."""
    for t in ticks:
        ax.text(np.pi / n_axes, top - t, ordinal(t), fontsize=7, color="0.35", ha="center", va="center", zorder=6,
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85})


USER_COLORS = ("#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
TOP_COLORS = ("#2e8b57", "#b8860b", "#8e44ad", "#a0522d", "#4682b4")


def radar_layer_for(rows: list[Row], layer: str | int = "best") -> str | int:
    """The layer a radar compares: as asked, except that 'best' with only one layer run compares that layer
    (the published rows then at the same layer, not their better one)."""
    if layer != "best":
        return int(layer)
    run = {lay for r in rows if not r.published for v in r.values.values() for lay in v}
    return next(iter(run)) if len(run) == 1 else "best"


def _rank_among(v: np.ndarray, pub: np.ndarray, hibs: list[bool]) -> np.ndarray:
    """Per axis: 1 + the published values (rows of ``pub``) better than ``v``; NaN where ``v`` is missing."""
    r = np.full(len(v), np.nan)
    for j in range(len(v)):
        if np.isfinite(v[j]):
            col = pub[:, j][np.isfinite(pub[:, j])]
            r[j] = 1 + sum(_better(x, v[j], hibs[j]) for x in col)
    return r


def placement_radar(ours: list[Row], paper: list[Row], stem: str | Path, layer: str | int = "best",
                    top_k: int = 3) -> tuple[Path, Path] | None:
    """Our backbones drawn strong over the published rows of their architecture drawn faint (one polar panel
    per architecture), the ``top_k`` published rows by mean rank labelled. A ring = the number of published
    rows that are better + 1 (outer = rank 1), for published and our rows alike. PNG + SVG; None when none of
    our rows has a published architecture and a value on a published column."""
    plt = _mpl()
    archs = [a for a in ("R50", "R18") if any(r.arch == a and not r.published for r in ours)]
    if not ours:
        archs = ["R50"]
    pcols = paper_columns()
    covered = [c for c in pcols if any(k[0] == c[0] and k[2] == c[2] and k[3] == c[3] for r in ours
                                       for k in r.values)]
    axes_cols = covered if len(covered) >= 3 else pcols
    if not archs:
        return None
    n_ax = len(axes_cols)
    angles = np.linspace(0, 2 * np.pi, n_ax, endpoint=False)
    closed = np.concatenate([angles, angles[:1]])
    fig = plt.figure(figsize=(6.6 * len(archs), 7.4))
    which = "best of layer3/layer4" if layer == "best" else f"layer{layer}"

    def values(row: Row, published: bool) -> np.ndarray:
        out = []
        for c in axes_cols:
            hib = higher_is_better(c[0], c[3])
            if published:
                v = pick_layer(row.values.get(c, {}), hib, layer)
            else:  # our rows: any dataset of the column (the comparable one first, as in place_models)
                key = our_key(row, c[0], c[2], c[3])
                v = pick_layer(row.values[key], hib, layer) if key else None
            out.append(np.nan if v is None else v)
        return np.asarray(out, float)

    for k, arch in enumerate(archs):
        ax = fig.add_subplot(1, len(archs), k + 1, projection="polar")
        pub = [p for p in paper if p.arch == arch]
        pv = np.stack([values(p, True) for p in pub]) if pub else np.zeros((0, n_ax))
        n = len(pub)
        hibs = [higher_is_better(c[0], c[3]) for c in axes_cols]
        pub_ranks = np.stack([_rank_among(v, pv, hibs) for v in pv]) if n else np.zeros((0, n_ax))
        order = np.argsort(np.nanmean(pub_ranks, axis=1)) if n else []
        top = set(order[:top_k])
        outer = n + 1  # rank 1 (positions 1 … n + 1: our rows can come after every published row)

        def radius(rk: np.ndarray, outer: int = outer) -> np.ndarray:
            r = outer + 1 - rk
            return np.concatenate([r, r[:1]])

        for i in range(n):
            if i in top:
                continue
            ax.plot(closed, radius(pub_ranks[i]), "-", color="0.55", lw=0.8, alpha=0.35, zorder=1)
        if n > len(top):
            ax.plot([], [], "-", color="0.55", lw=0.8, alpha=0.5, label=f"other published ({n - len(top)})")
        for c_i, i in enumerate(order[:top_k]):
            ax.plot(closed, radius(pub_ranks[i]), "-", color=TOP_COLORS[c_i % len(TOP_COLORS)], lw=1.3, alpha=0.8,
                    zorder=2, label=f"{pub[i].representation} (published, #{c_i + 1} by mean rank)")
        everyone = [r for r in ours if not r.published]  # colours by position among all of ours, as elsewhere
        drawn: list[tuple[str, np.ndarray]] = []
        for c_i, row in enumerate(everyone):
            if row.arch != arch:
                continue
            rk = _rank_among(values(row, False), pv, hibs)
            demo = any(comparability(r) for rs in row.sources.values() for r in rs.values())
            color = USER_COLORS[c_i % len(USER_COLORS)]
            same = next((lab for lab, r0 in drawn if np.array_equal(r0, rk, equal_nan=True)), None)
            drawn.append((row.label, rk))
            ax.plot(closed, radius(rk), "--" if demo else "-", color=color, lw=2.8, marker="o", ms=5, zorder=5,
                    label=row.label + (" † not comparable" if demo else "")
                    + (f" (= {same})" if same else ""))
            ax.fill(closed, np.nan_to_num(radius(rk)), color=color, alpha=0.08, zorder=4)
        _rank_axes(ax, angles, axes_cols, outer, fontsize=8.5)
        ax.grid(alpha=0.4)
        title = (f"{ARCH_NAMES.get(arch, arch)} · {PAPER_TABLE_OF_ARCH.get(arch, '')}: rank among {n} published "
                 f"rows\n({which}; outer ring = 1st)")
        ax.set_title(title, fontsize=10.5, pad=44)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), fontsize=8, frameon=False, ncol=2)
    fig.tight_layout()
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    png, svg = stem.with_suffix(".png"), stem.with_suffix(".svg")
    fig.savefig(png, dpi=100, bbox_inches="tight")
    fig.savefig(svg, bbox_inches="tight")
    plt.close(fig)
    return png, svg


BASELINE_STYLES = ("--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)))
BASELINE_NAMES = {"static_box_baseline": "static first box", "first_frame_baseline": "first-frame copy",
                  "oracle": "oracle: GT tracks", "oracle_ids": "GT association"}


def baselines(r: Result, metric: str) -> dict[str, float]:
    """Reference numbers a head stores beside its metrics in ``extra`` (SOT: the static first box; pose
    propagation: the first-frame copy; VIS: the ground-truth oracles), stored units: ``{name: value}``."""
    out = {}
    for k, v in r.extra.items():
        if isinstance(v, dict) and ("baseline" in k or k.startswith("oracle")) and _is_number(v.get(metric)):
            out[BASELINE_NAMES.get(k, k.replace("_", " "))] = float(v[metric])
    return out


def metric_panels(rows: list[Row], columns: list[ColKey], path: Path) -> Path | None:
    """Small multiples: one small panel per task metric; a bar per backbone (and layer) with its bootstrap
    interval as error bar, the per-sequence values as dots, the head's baselines as dashed lines."""
    ours = [r for r in rows if not r.published]
    cols = [c for c in columns if any(c in r.values for r in ours)]
    if not ours or not cols:
        return None
    plt = _mpl()
    ncols = min(6, len(cols))
    nrows = math.ceil(len(cols) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.3 * ncols, 2.15 * nrows + 0.8), squeeze=False)
    multi = _multi_dataset(columns)
    layers = layers_of(ours, cols)
    width = 0.8 / max(1, len(layers))
    rng = np.random.default_rng(0)
    drew_base: dict[str, str] = {}  # baseline name → line style (one style per name over all panels)
    for ax, col in zip(axes.flat, cols):
        ms = metric_spec(col[0], col[3])
        conv = ms.to_percent if ms is not None else (lambda v: v)
        base_done: dict[str, float] = {}
        for i, row in enumerate(ours):
            color = USER_COLORS[i % len(USER_COLORS)]
            for j, layer in enumerate(layers):
                v = row.values.get(col, {}).get(layer)
                if v is None:
                    continue
                x = i + (j - (len(layers) - 1) / 2) * width
                ci = row.ci.get(col, {}).get(layer)
                yerr = None if ci is None else [[max(0.0, v - ci[0])], [max(0.0, ci[1] - v)]]
                ax.bar(x, v, width * 0.9, color=color, alpha=0.85 if j == 0 else 0.55,
                       hatch=None if j == 0 else "//", edgecolor="white", lw=0.5, zorder=2)
                if yerr is not None:
                    # the interval is of the per-sequence mean: drawn as its half-width around the cell's value
                    h = (ci[1] - ci[0]) / 2
                    ax.errorbar(x, v, yerr=h, color="0.15", lw=1, capsize=2.5, zorder=4)
                r = row.sources.get(col[:3], {}).get(layer)
                if r is not None:
                    seq = [conv(s) for s in sequence_values(r, col[3])]
                    if len(seq) > 1:
                        ax.scatter(x + rng.uniform(-width * 0.25, width * 0.25, len(seq)), seq, s=7,
                                   color="0.1", alpha=0.6, zorder=5, lw=0)
                    for name, b in baselines(r, col[3]).items():
                        base_done.setdefault(name, conv(b))
        for name, b in base_done.items():
            style = drew_base.setdefault(name, BASELINE_STYLES[len(drew_base) % len(BASELINE_STYLES)])
            ax.axhline(b, color="#444444", ls=style, lw=1.2, zorder=3)
        t, m = column_parts(col, col[0] in multi)
        unit = unit_text(ms)
        ax.set_title(f"{t}\n{m}" + ("" if higher_is_better(col[0], col[3]) else " (↓ better)"), fontsize=8)
        ax.set_ylabel(unit, fontsize=7)
        ax.set_xticks([] if len(layers) == 1 else [i + (j - (len(layers) - 1) / 2) * width
                                                     for i in range(len(ours)) for j in range(len(layers))])
        if len(layers) > 1:
            ax.set_xticklabels([f"L{layer}" for _ in ours for layer in layers], fontsize=6)
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(axis="y", alpha=0.3, zorder=0)
        ax.set_xlim(-0.6, len(ours) - 0.4)
        lo = min(0.0, *(v for r in ours for v in r.values.get(col, {}).values()))
        ax.set_ylim(bottom=lo)
    for ax in list(axes.flat)[len(cols):]:
        ax.set_visible(False)
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [Patch(color=USER_COLORS[i % len(USER_COLORS)], label=r.label) for i, r in enumerate(ours)]
    handles.append(Line2D([], [], color="0.15", marker="|", ls="", ms=8, label="± 95% bootstrap CI"))
    handles.append(Line2D([], [], color="0.1", marker=".", ls="", ms=5, label="per sequence"))
    for name, style in drew_base.items():
        handles.append(Line2D([], [], color="#444444", ls=style, lw=1.2, label=name))
    if len(layers) > 1:
        handles.append(Patch(facecolor="0.6", hatch="//", edgecolor="white", label=f"layer{layers[1]}"))
    ncol = min(len(handles), 5)
    legend_rows = math.ceil(len(handles) / ncol)
    height = 2.15 * nrows + 0.25 + 0.22 * legend_rows
    fig.set_size_inches(2.3 * ncols, height)
    fig.legend(handles=handles, loc="upper center", ncol=ncol, fontsize=8, frameon=False, bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout(rect=(0, 0, 1, 1 - (0.1 + 0.22 * legend_rows) / height))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def success_panels(results: list[Result], path: Path) -> Path | None:
    """SOT success curves, one small panel per head (and dataset); the static-box baseline's AUC in the legend."""
    groups: dict[tuple[str, str, str | None], list[Result]] = defaultdict(list)
    for r in results:
        if _curve(r.extra) is not None:
            groups[(r.task, dataset_label(r), result_variant(r))].append(r)
    if not groups:
        return None
    plt = _mpl()
    keys = sorted(groups, key=_group_order)
    fig, axes = plt.subplots(1, len(keys), figsize=(4.6 * len(keys), 3.5), squeeze=False)
    labels = sorted({display_name(r) for rs in groups.values() for r in rs})
    for ax, key in zip(axes[0], keys):
        task, dataset, variant = key
        for r in sorted(groups[key], key=lambda r: (display_name(r), r.layer)):
            xs, ys = _curve(r.extra)
            auc = r.metrics.get("AUC")
            lab = f"{display_name(r)} L{r.layer}" + (f" · AUC {fmt_stored(task, 'AUC', auc)}" if auc is not None
                                                     else "")
            ax.plot(xs, ys, lw=1.8, color=USER_COLORS[labels.index(display_name(r)) % len(USER_COLORS)],
                    ls="-" if r.layer == 3 else "--", label=lab)
        base = next((b for r in groups[key] if (b := baselines(r, "AUC"))), {})
        for name, v in base.items():
            ax.plot([], [], " ", label=f"{name} · AUC {fmt_stored(task, 'AUC', v)}")
        ax.set_xlabel("overlap threshold", fontsize=8)
        ax.set_ylabel("success rate", fontsize=8)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
        ax.set_title(f"{task_title(task)}{' ' + variant if variant else ''} · {dataset}", fontsize=9)
        ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def probe_scatter(rows: list[Row], path: Path, layer: str | int = "best", n_boot: int = 2000,
                  seed: int = 0) -> tuple[Path, list[dict[str, Any]], list[str]] | None:
    """The correlation study as small multiples: ImageNet linear-probe top-1 against each published task
    metric over the published models with a probe figure, the least-squares line with its bootstrap band,
    Pearson and Spearman with bootstrap CIs (:mod:`unitrack.app.correlate`); our models highlighted (those
    without a probe figure as a dotted line at their value). Returns the PNG, one stats line per panel and
    the notes."""
    from unitrack.app.correlate import paper_study, registry_probes, regression_band

    lay = str(layer)
    st = paper_study(n_boot=n_boot, seed=seed)
    entries = [e for c in paper_columns() if (e := st.entry(c[0], c[2], c[3], lay)) is not None and e.corr.n >= 3]
    if not entries:
        return None
    plt = _mpl()
    probes = registry_probes()
    ours = [r for r in rows if not r.published]
    ncols = min(5, len(entries))
    nrows = math.ceil(len(entries) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.75 * ncols, 2.7 * nrows + 0.45), squeeze=False)
    stats_rows, no_probe = [], set()
    legend: dict[str, tuple[str, str, bool]] = {}  # our model → (star | line, colour, not comparable)
    for ax, e in zip(axes.flat, entries):
        x, y = np.asarray(e.top1), np.asarray(e.values)
        ax.scatter(x, y, s=14, color="#4a78b0", alpha=0.75, zorder=3, lw=0)
        grid = np.linspace(x.min() - 1, x.max() + 1, 50)
        fit, lo, hi = regression_band(x, y, grid, n_boot=n_boot, seed=seed)
        ax.fill_between(grid, lo, hi, color="#c0392b", alpha=0.15, lw=0, zorder=1)
        ax.plot(grid, fit, color="#c0392b", lw=1.3, zorder=2)
        col = (e.task, PUBLISHED, e.variant, e.metric)
        hib = higher_is_better(e.task, e.metric)
        pad = 0.12 * max(float(np.ptp(y)), 1e-9)
        ylo, yhi = float(y.min()) - pad, float(y.max()) + pad
        lines: dict[float, list[tuple[str, str]]] = defaultdict(list)  # our models without a probe figure
        for i, row in enumerate(ours):
            key = our_key(row, e.task, e.variant, e.metric)
            v = None if key is None else pick_layer(row.values[key], hib, layer)
            if v is None:
                continue
            color = USER_COLORS[i % len(USER_COLORS)]
            demo = any(comparability(r) for r in row.sources.get(key[:3], {}).values())
            name = row.label + (" †" if demo else "")
            p = None if row.random_init else probes.get(row.backbone or "")
            if p is None:
                no_probe.add(row.label)
                lines[round(v, 6)].append((name, color))
                continue
            vy = min(max(v, ylo), yhi)  # outside the published range: on the edge, its value written
            ax.scatter([p.top1], [vy], marker="*" if vy == v else ("^" if v > yhi else "v"), s=110, zorder=6,
                       color="white" if demo else color, edgecolors=color, linewidths=1.4, clip_on=False)
            if vy != v:
                ax.annotate(fmt_value(metric_spec(e.task, e.metric), v), (p.top1, vy), fontsize=6.5, color=color,
                            xytext=(5, -3), textcoords="offset points")
            legend.setdefault(name, ("star", color, demo))
        for v, who in lines.items():
            vy = min(max(v, ylo), yhi)
            color = who[0][1]
            ax.axhline(vy, color=color, ls=":", lw=1.6, zorder=5)
            if vy != v:  # off the published range: the line sits on the edge, with its value and an arrow
                ax.annotate(f"{'↑' if v > yhi else '↓'} {fmt_value(metric_spec(e.task, e.metric), v)}", (0.02, vy),
                            xycoords=("axes fraction", "data"), fontsize=6.5, color=color,
                            xytext=(0, -9 if v > yhi else 2), textcoords="offset points")
            for name, c in who:
                legend.setdefault(name, ("line", c, "†" in name))
        ax.set_ylim(ylo, yhi)
        c = e.corr
        ms = metric_spec(e.task, e.metric)
        ax.set_title(f"{column_title(col, False)}\nr {_sgn(c.pearson_r)} [{_sgn(c.pearson_ci[0])}, "
                     f"{_sgn(c.pearson_ci[1])}] · ρ {_sgn(c.spearman_rho)}", fontsize=7.5)
        ax.set_ylabel(unit_text(ms) + ("" if hib else " (↓ better)"), fontsize=7)
        ax.tick_params(labelsize=6.5)
        ax.grid(alpha=0.3)
        stats_rows.append({"metric": column_title(col, False), "n": c.n,
                           "pearson": f"{_sgn(c.pearson_r)} [{_sgn(c.pearson_ci[0])}, {_sgn(c.pearson_ci[1])}]",
                           "pearson_p": "–" if not math.isfinite(c.pearson_p) else f"{c.pearson_p:.3f}",
                           "spearman": f"{_sgn(c.spearman_rho)} [{_sgn(c.spearman_ci[0])}, "
                                       f"{_sgn(c.spearman_ci[1])}]",
                           "spearman_p": "–" if not math.isfinite(c.spearman_p) else f"{c.spearman_p:.3f}"})
    for ax in list(axes.flat)[len(entries):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("ImageNet linear-probe top-1 (%)", fontsize=7)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], marker="o", color="#4a78b0", ls="", ms=4, label="published models"),
               Line2D([], [], color="#c0392b", lw=1.3, label="least-squares fit ± 95% bootstrap band")]
    for name, (kind, color, demo) in legend.items():
        if kind == "star":
            handles.append(Line2D([], [], marker="*", ms=10, ls="", color=color,
                                  markerfacecolor="white" if demo else color, label=name))
        else:
            handles.append(Line2D([], [], ls=":", lw=1.6, color=color, label=f"{name} (no probe figure: its value)"))
    ncol = min(len(handles), 4)
    rows_l = math.ceil(len(handles) / ncol)
    fig.set_size_inches(2.75 * ncols, 2.7 * nrows + 0.2 + 0.22 * rows_l)
    fig.legend(handles=handles, loc="upper center", ncol=ncol, fontsize=7.5, frameon=False, bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout(rect=(0, 0, 1, 1 - (0.1 + 0.22 * rows_l) / (2.7 * nrows + 0.2 + 0.22 * rows_l)))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    notes = [f"{len(st.included)} published models have a linear-probe figure (the fit and the coefficients are "
             f"over them, {st.n_boot} bootstrap resamples of the models, seed {st.seed}, 95% percentile intervals; "
             f"band: pointwise interval of the fitted line)."]
    if no_probe:
        notes.append(f"No linear-probe figure for {', '.join(sorted(no_probe))} (random weights, or none in the "
                     "backbone registry): drawn as a dotted line at its value.")
    return path, stats_rows, notes


def _sgn(v: float) -> str:
    return "–" if v is None or not math.isfinite(v) else f"{v:+.2f}"


def _curve(extra: dict) -> tuple[np.ndarray, np.ndarray] | None:
    """The success curve the SOT head stores in ``extra`` (``curves.success``: rates at thresholds 0…1)."""
    curves = extra.get("curves")
    if isinstance(curves, dict) and isinstance(curves.get("success"), list) and len(curves["success"]) > 2:
        ys = np.asarray(curves["success"], float)
        return np.linspace(0.0, 1.0, len(ys)), ys
    for key, val in extra.items():
        if "success" not in key.lower():
            continue
        if isinstance(val, dict):
            xs = val.get("thresholds") or val.get("x")
            ys = val.get("success") or val.get("rates") or val.get("y") or val.get("values")
            if xs is not None and ys is not None and len(xs) == len(ys) > 2:
                return np.asarray(xs, float), np.asarray(ys, float)
        elif isinstance(val, list) and len(val) > 2 and all(_is_number(v) for v in val):
            ys = np.asarray(val, float)
            xs_key = next((k for k in extra if "threshold" in k.lower()), None)
            xs = np.asarray(extra[xs_key], float) if xs_key else np.linspace(0, 1, len(ys))
            if len(xs) == len(ys):
                return xs, ys
    return None


# ----------------------------------------------------------------------------- the report


@functools.lru_cache(maxsize=1)
def _env():
    """The jinja2 environment of the report templates (autoescaping on for ``*.html.j2``)."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("unitrack.app", TEMPLATES),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False,
                                            default=False),
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined,
    )


def _macro(template: str, name: str):
    return getattr(_env().get_template(template).module, name)


def render(template: str, ctx: dict[str, Any]) -> str:
    """One report page from the context of :func:`report_context`."""
    return _env().get_template(template).render(ctx)


def _svg_inline(path: Path) -> str:
    text = path.read_text()
    start = text.find("<svg")
    return text[start:] if start >= 0 else text


def _embedded(caption: str, path: Path) -> dict[str, str]:
    """An image for both pages: its file under ``images/`` (Markdown) and its bytes in base64 (HTML)."""
    return {"caption": caption, "file": f"images/{path.name}", "data": base64.b64encode(path.read_bytes()).decode()}


@dataclass
class Report:
    markdown: Path
    html: Path
    images: list[Path]
    rows: int
    columns: int


def previews(results: list[Result], img_dir: Path, max_previews: int = 48) -> list[tuple[str, Path]]:
    """A small animated GIF per result with predictions (task × backbone × layer), drawn by unitrack.app.viz.

    A result whose frames or predictions cannot be read (dataset moved, no pred/ folder) is skipped with
    a warning: the report is still written.
    """
    from unitrack.app.viz import render_preview

    out: list[tuple[str, Path]] = []
    for r in results[:max_previews]:
        if not r.path or not (Path(r.path) / "pred").is_dir():
            continue
        variant = result_variant(r)
        stem = f"preview_{r.task}_{r.dataset}_{r.backbone}-layer{r.layer}" + (f"-{variant}" if variant else "")
        stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)
        caption = f"{task_title(r.task)} · {dataset_label(r)} · {display_name(r)} layer{r.layer}" + (
            f" ({variant})" if variant else "")
        try:
            gif = render_preview(r.path, img_dir / f"{stem}.gif", max_frames=16, width=240)
        except Exception as e:  # noqa: BLE001 - one unreadable result must not stop the report
            log.warning("no preview for %s: %s", r.path, e)
            continue
        out.append((caption, gif))
    if len(results) > max_previews:
        log.info("previews drawn for the first %d of %d results", max_previews, len(results))
    return out


def _result_line(r: Result, results_dir: Path, info: CellInfo) -> dict[str, str]:
    """One line of the 'Result files' list: the metrics in the tables' units (from the specs), path, cost."""
    variant = result_variant(r)
    vals = []
    for k, v in r.metrics.items():
        if not _is_number(v):
            continue
        ms = metric_spec(r.task, k)
        vals.append(f"{ms.label if ms else k} {fmt_stored(r.task, k, v)}{' %' if ms is not None and ms.is_rate else ''}")
    try:
        rel = Path(r.path).relative_to(results_dir) if r.path else "?"
    except ValueError:
        rel = r.path
    cost = f"{_fmt_seconds(info.wall_s)} on {r.fingerprint.get('device') or '?'}, {info.status}" if info.wall_s \
        else info.status
    return {"text": f"{task_title(r.task)}{' ' + variant if variant else ''} · {dataset_label(r)} · "
                    f"{display_name(r)} layer{r.layer}: {', '.join(vals) or 'no metrics'}",
            "path": str(rel), "cost": cost}


def _ci_note(rows: list[Row]) -> str:
    n = sorted({n for r in rows if not r.published for rs in r.sources.values() for res in rs.values()
                if (n := sequence_count(res)) is not None})
    few = n and n[0] < CI_BCA_FROM
    return (f"± = half the width of the {CI_LEVEL:.0%} bootstrap interval of the per-sequence mean "
            f"(scipy.stats.bootstrap, {CI_RESAMPLES} resamples of the sequences, seed {CI_SEED}; "
            f"BCa from {CI_BCA_FROM} sequences, percentile below"
            + ("; with a handful of sequences the interval is little more than their range" if few else "")
            + "); the exact interval is in each cell's tooltip and in cells.csv. No ± where a cell has fewer "
            "than two sequences with per-sequence values, and none for non-headline metrics (ID switches).")


def cells_csv(rows: list[Row], columns: list[ColKey], places: list[Placement],
              statuses: dict[tuple[str, ...], dict[str, Any]]) -> str:
    """Every cell of our results: value and interval (tables' units), counts, cost, computed/reused, rank."""
    at = {(p.row.label, p.layer, p.col[0], p.col[2], p.col[3]): p for p in places}
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["backbone", "task", "dataset", "variant", "metric", "unit", "layer", "value", "ci_low", "ci_high",
                "sequences", "frames", "wall_s", "frames_per_s", "status", "rank", "of", "comparable",
                "not_comparable_because"])
    for row in rows:
        if row.published:
            continue
        for col in columns:
            for layer, v in sorted(row.values.get(col, {}).items()):
                r = row.sources.get(col[:3], {}).get(layer)
                info = cell_info(r, statuses) if r is not None else None
                ci = row.ci.get(col, {}).get(layer)
                p = at.get((row.label, layer, col[0], col[2], col[3]))
                p = p if p is not None and our_key(row, col[0], col[2], col[3]) == col else None
                w.writerow([row.label, col[0], col[1], col[2] or "", col[3], unit_text(metric_spec(col[0], col[3])),
                            layer, f"{v:.6g}", *(("", "") if ci is None else (f"{ci[0]:.6g}", f"{ci[1]:.6g}")),
                            *(("",) * 5 if info is None else (
                                info.sequences if info.sequences is not None else "",
                                info.frames if info.frames is not None else "",
                                "" if info.wall_s is None else f"{info.wall_s:.3f}",
                                "" if info.fps is None else f"{info.fps:.4g}", info.status)),
                            *(("", "", "", "") if p is None else (p.rank, p.of, int(p.comparable),
                                                                 "; ".join(p.reasons)))])
    return buf.getvalue()


def report_context(results: list[Result], results_dir: Path, columns: list[ColKey], rows: list[Row],
                   img_dir: Path, with_paper: bool = False, radar_layer: str | int = "best",
                   title: str | None = None, with_previews: bool = True) -> dict[str, Any]:
    """The one dict both templates render (``report.md.j2``, ``report.html.j2``); draws the plots into
    ``img_dir`` on the way (``images``: every file written; ``places``: the placements among the published
    rows; ``statuses``: the sweep summary's computed/reused per folder)."""
    title = title or f"unitrack report — {results_dir}"
    images: list[Path] = []
    statuses = sweep_statuses(results_dir)
    ours = [r for r in rows if not r.published]
    layers = layers_of(ours, columns)
    groups = {c[:3] for c in columns}
    datasets = sorted({c[1] for c in columns})
    lead = (f"{len(results)} result(s): {len(ours)} backbone(s) × {len(groups)} task cell(s) "
            f"({len({c[0] for c in columns})} task(s)), layer{'s' if len(layers) > 1 else ''} "
            f"{' and '.join(map(str, layers))}, on {', '.join(datasets) or 'no data'}"
            + (" (demo = the generated demo benchmark, not the paper's data)" if any(d.startswith("demo")
                                                                                  for d in datasets) else "")
            + ".") if results else "No results: the published tables only."
    units = ("Units from the metric specs: rates in percent, counts as counts; ↑ higher is better, ↓ lower is "
             "better; the best value of a column (and layer) is in bold.")
    ctx: dict[str, Any] = {
        "title": title, "lead": lead, "units": units, "ci_note": _ci_note(rows) if ours else "",
        "layer_text": " / ".join(f"layer{layer}" for layer in layers),
        "placement": None, "placement_hint": None, "table": None, "cost": None, "radar": None,
        "radar_skipped": None, "paper": None, "panels": None, "plots": [], "correlation": None, "previews": [],
        "protocol": None, "result_files": [], "images": images, "places": [], "statuses": statuses,
    }
    rl = radar_layer_for(rows, radar_layer)

    if with_paper:
        paper = load_paper_table()
        places = place_models(ours, paper)
        ctx["places"] = places
        made = placement_radar(ours, paper, img_dir / "placement_radar", layer=rl)
        radar = None
        if made:
            png, svg = made
            images += [png, svg]
            radar = {"png": f"images/{png.name}", "svg": _svg_inline(svg),
                     "note": "Our backbones drawn strong over the published rows of the same architecture drawn "
                             "faint; the three best published rows by mean rank are labelled. A ring is a rank: "
                             "1 + the published rows that are better (outer ring = 1st); dashed = not comparable "
                             "(other data than the paper's)."}
        ctx["placement"] = {
            "sentences": rank_sentences(places, ours), "table": rank_table(places), "radar": radar,
            "note": "Each of our backbones is ranked, per layer that was run and per task metric of the paper's "
                    "Tables 1–2, among the published rows of the same architecture at the same layer (ResNet-18 "
                    "against Table 2, ResNet-50 against Table 1); rank r of n = r − 1 published rows are better. "
                    "Below each rank: our value and, where the paper has the same model, the paper's. "
                    "† = not comparable: the numbers come from other data than the paper's benchmark (the demo "
                    "data, another dataset, a subset of sequences or a changed protocol); the rank is shown "
                    "as a placement only.",
        }
    elif ours:
        ctx["placement_hint"] = ("pass --with-paper to rank these backbones among the published Tables 1–2 rows "
                                 "of the same architecture")

    if ours:
        fams = family_tables(rows, columns, statuses)
        ctx["table"] = {"titles": [column_title(c, c[0] in _multi_dataset(columns)) for c in columns],
                        "families": fams}
        cost = cost_table(rows, columns, statuses)
        if cost:
            n = cost["counts"]
            cost["note"] = (f"Per cell: wall time of the evaluation (backbone features, head and scoring; for a "
                            f"reused cell the time of the run that computed it) and frames per second over it "
                            f"(none where the head records no frame count). {n['computed']} computed, {n['reused']} "
                            f"reused by the last sweep"
                            + (f", {n['stored']} stored before it (no sweep_summary.json names them)" if n["stored"]
                               else "") + ". Header: sequences and frames per task.")
            ctx["cost"] = cost
        axes = radar_columns(columns)
        if len(ours) >= 2 and len(axes) >= 3:
            png, svg = radar_plot(ours, axes, img_dir / "radar", "Our results", layer=rl)
            images += [png, svg]
            ref = ("ImageNet-supervised (dashed) is the reference" if any(r.imagenet_supervised for r in ours) else
                   "No ImageNet-supervised backbone among these results, so no dashed reference line")
            ref += "; outer ring = rank 1 among these backbones, one axis per task (its first headline metric)."
            ctx["radar"] = {"note": ref, "png": f"images/{png.name}", "svg": _svg_inline(svg)}
        elif len(ours) < 2:
            ctx["radar_skipped"] = ("it ranks these backbones against each other, and there is only one"
                                    + ("; the placement radar above places it among the published rows"
                                       if with_paper else ""))
        else:
            ctx["radar_skipped"] = "fewer than 3 tasks"
        p = metric_panels(rows, columns, img_dir / "metrics.png")
        if p:
            images.append(p)
            ctx["panels"] = _embedded("Every task metric: one panel each", p)
        p = success_panels(results, img_dir / "success.png")
        if p:
            images.append(p)
            ctx["plots"].append(_embedded("SOT success curves", p))

    if with_paper:
        pcols = paper_columns()
        note = ("Published numbers of the paper's Tables 1 (ResNet-50) and 2 (ResNet-18), in percent (ID switches "
                "as counts), on " + ", ".join(f"{task_title(t)} {d}" for t, d in paper_datasets().items())
                + f", at {ctx['layer_text'] if ours else 'layer3 / layer4'}. Rows labelled *published* are copied "
                "from the paper, not re-run; ours are labelled with the dataset they ran on. Rows marked † ran on "
                "the generated demo benchmark: shown, never bold.")
        comp = comparison_rows(load_paper_table(), ours)
        ctx["paper"] = {"note": note,
                        "table": grid_of_table(table_context(comp, pcols, layers if ours else LAYERS), "published")}
        made = probe_scatter(ours, img_dir / "correlation.png", layer=rl)
        if made:
            p, stats_rows, notes = made
            images.append(p)
            which = "the better of layer3/layer4" if rl == "best" else f"layer{rl}"
            ctx["correlation"] = {**_embedded("ImageNet linear-probe top-1 against each task metric", p),
                                  "stats": stats_rows, "notes": notes, "layer": which}

    for caption, gif in previews(results, img_dir) if (results and with_previews) else []:
        images.append(gif)
        ctx["previews"].append(_embedded(caption, gif))

    changed: dict[tuple[str, str], set] = {}
    for r in results:
        diff = protocol_changes(r)
        if diff:
            key = (task_title(r.task), ", ".join(f"{k}={v}" for k, v in sorted(diff.items())))
            changed.setdefault(key, set()).add(r.path or id(r))
    if changed:
        ctx["protocol"] = {
            "head": "Settings that differ from the published protocol (numbers with them are not comparable with "
                    "the paper's):",
            "lines": [f"{task}: {diff} ({len(who)} result(s))" for (task, diff), who in sorted(changed.items())],
        }

    for r in sorted(results, key=lambda r: (_group_order((r.task, dataset_label(r), result_variant(r))),
                                            display_name(r), r.layer)):
        ctx["result_files"].append(_result_line(r, results_dir, cell_info(r, statuses)))
    return ctx


def build_report(results_dir: str | Path, out: str | Path, with_paper: bool = False,
                 radar_layer: str | int = "best", title: str | None = None, with_previews: bool = True) -> Report:
    """Write ``report.md``, ``report.html`` (self-contained), ``table.csv``, ``cells.csv`` and ``images/``
    under ``out``."""
    results_dir, out = Path(results_dir), Path(out)
    if not results_dir.is_dir():
        raise UnitrackError(f"results folder {results_dir} does not exist")
    results = load_results(results_dir)
    if not results and not with_paper:
        raise UnitrackError(f"no result.json below {results_dir} (run `unitrack eval` or `unitrack sweep` first, "
                            "or pass --with-paper for the published tables only)")
    img_dir = out / "images"
    img_dir.mkdir(parents=True, exist_ok=True)
    columns, rows = results_table(results)
    ctx = report_context(results, results_dir, columns, rows, img_dir, with_paper=with_paper,
                         radar_layer=radar_layer, title=title, with_previews=with_previews)
    if rows:
        atomic_write_text(out / "table.csv", table_csv(rows, columns))
        atomic_write_text(out / "cells.csv", cells_csv(rows, columns, ctx["places"], ctx["statuses"]))
    atomic_write_text(out / "report.md", render("report.md.j2", ctx))
    atomic_write_text(out / "report.html", render("report.html.j2", ctx))
    return Report(markdown=out / "report.md", html=out / "report.html", images=ctx["images"], rows=len(rows),
                  columns=len(columns))


def cli(args: argparse.Namespace) -> int:
    rep = build_report(args.results_dir, args.out, with_paper=args.with_paper,
                       with_previews=not getattr(args, "no_previews", False),
                       radar_layer=getattr(args, "radar_layer", "best") or "best")
    print(f"report: {rep.html}  ({rep.rows} backbone rows × {rep.columns} task metrics, {len(rep.images)} images)")
    print(f"markdown: {rep.markdown}")
    return 0
