"""``unitrack report``: Markdown + self-contained HTML report of a results folder.

What the report holds:

* a table like the paper's Tables 1–2: one row per backbone, one column per task metric, every cell
  ``layer3 / layer4``, the best value of each column and layer in bold (lower is better for ID switches);
* the radar plot of the paper's Figure 1: the rank of every backbone on every task metric (best of
  layer3/layer4 by default), the outer ring is rank 1, ImageNet-supervised drawn dashed — PNG + SVG;
* per-task plots where they help: SOT success curves, per-sequence bars of the task's main metric;
* with ``--with-paper``: the published Tables 1–2 numbers (shipped as ``unitrack/data/paper_tables_1_2.csv``)
  as a reference table labelled "published", the user's rows beside them, and the published radar.

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
    """The variant suffix of a result folder (``<backbone>-layer<L>[-<variant>][-cfg<hash>]``)."""
    if not r.path:
        return None
    name = Path(r.path).name
    rest = name[len(f"{r.backbone}-layer{r.layer}"):] if name.startswith(f"{r.backbone}-layer{r.layer}") else ""
    parts = [p for p in rest.split("-") if p]
    parts = [p for p in parts if not p.startswith("cfg")]
    return "-".join(parts) or None


def result_cfg_tag(r: Result) -> str | None:
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
        row = rows.setdefault(label, Row(label=label, backbone=r.backbone, random_init=random_init))
        variant = result_variant(r)
        for m, v in r.metrics.items():
            key = (r.task, labels[id(r)], variant, m)
            if key in wanted and _is_number(v):
                row.values.setdefault(key, {})[r.layer] = float(v)
    if percent:
        for col in columns:
            ms = metric_spec(col[0], col[3])
            if ms is None:
                log.debug("%s %s: no task spec declares this metric; shown as stored", col[0], col[3])
                continue
            for row in rows.values():
                if col in row.values:
                    row.values[col] = {k: ms.to_percent(v) for k, v in row.values[col].items()}
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
    """(row index, column, layer) of the best value of every column and layer (ties all marked)."""
    best = set()
    for col in columns:
        lower = not higher_is_better(col[0], col[3])
        for layer in LAYERS:
            vals = [(i, r.values.get(col, {}).get(layer)) for i, r in enumerate(rows) if r.comparable]
            vals = [(i, v) for i, v in vals if v is not None and math.isfinite(v)]
            if len(vals) < 2:
                continue
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


def table_context(rows: list[Row], columns: list[ColKey]) -> dict[str, Any]:
    """What the table macros of both templates draw: titles, and per row its label and cells (one text and
    a bold flag per layer)."""
    multi = _multi_dataset(columns)
    best = best_cells(rows, columns)
    specs = [metric_spec(c[0], c[3]) for c in columns]
    out_rows = []
    for i, r in enumerate(rows):
        cells = [[{"text": fmt_value(ms, r.values.get(col, {}).get(layer)), "bold": (i, col, layer) in best}
                  for layer in LAYERS] for col, ms in zip(columns, specs)]
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
    fig = plt.figure(figsize=(9.5, 7.2))
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
    ax.set_xticks(angles)
    ax.set_xticklabels(["\n".join(column_parts(c, multi_dataset=False)) for c in columns], fontsize=9)
    ax.tick_params(axis="x", pad=9)
    ax.set_ylim(0, n + 0.5)
    ticks = sorted({1, max(1, (n + 1) // 2), n})
    ax.set_yticks([n + 1 - t for t in ticks])
    ax.set_yticklabels([f"rank {t}" for t in ticks], fontsize=7, color="0.4")
    ax.set_rlabel_position(180 / len(columns))  # between the first two axes
    which = "best of layer3/layer4" if layer == "best" else f"layer{layer}"
    ax.set_title(f"{title}\nrank per task metric ({which}; outer = better)", fontsize=11, pad=18)
    ax.legend(loc="center left", bbox_to_anchor=(1.08, 0.5), fontsize=8, frameon=False)
    fig.tight_layout()
    png, svg = stem.with_suffix(".png"), stem.with_suffix(".svg")
    fig.savefig(png, dpi=110, bbox_inches="tight")
    fig.savefig(svg, bbox_inches="tight")
    plt.close(fig)
    return png, svg


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


def task_plots(results: list[Result], out_dir: Path) -> list[tuple[str, Path]]:
    """Per-task plots: SOT success curves; per-sequence bars of the first headline metric."""
    plt = _mpl()
    out_dir.mkdir(parents=True, exist_ok=True)
    groups: dict[tuple[str, str, str | None], list[Result]] = defaultdict(list)
    for r in results:
        groups[(r.task, dataset_label(r), result_variant(r))].append(r)
    made = []
    for (task, dataset, variant), rs in sorted(groups.items(), key=lambda kv: _group_order(kv[0])):
        rs = sorted(rs, key=lambda r: (r.backbone, r.layer))
        name = f"{task}{'-' + variant if variant else ''}-{dataset.replace(':', '-')}"
        nice = f"{task_title(task)}{' ' + variant if variant else ''} on {dataset}"
        curves = [(r, c) for r in rs if (c := _curve(r.extra)) is not None]
        if curves:
            fig, ax = plt.subplots(figsize=(6.4, 4.4))
            for r, (xs, ys) in curves:
                auc = r.metrics.get("AUC")
                lab = f"{display_name(r)} L{r.layer}" + (f" [AUC {fmt_stored(task, 'AUC', auc)}]" if auc is not None
                                                         else "")
                ax.plot(xs, ys, lw=1.6, label=lab)
            ax.set_xlabel("overlap threshold")
            ax.set_ylabel("success rate")
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1.02)
            ax.grid(alpha=0.3)
            ax.set_title(f"Success plot — {nice}")
            ax.legend(fontsize=8)
            fig.tight_layout()
            p = out_dir / f"success-{name}.png"
            fig.savefig(p, dpi=110)
            plt.close(fig)
            made.append((f"Success plot — {nice}", p))
        per_seq = [r for r in rs if r.per_sequence]
        seqs = sorted({s for r in per_seq for s in r.per_sequence})
        if len(seqs) < 2:  # one bar per backbone says nothing the table does not
            continue
        seq_metrics = list(next(iter(per_seq[0].per_sequence.values())))
        metric = next(iter(headline_metrics(task, seq_metrics)), None)
        if metric is None:
            continue
        table = np.array([[r.per_sequence.get(s, {}).get(metric, np.nan) for s in seqs] for r in per_seq], object)
        table = np.array([[v if _is_number(v) else np.nan for v in row] for row in table], float)
        ms = metric_spec(task, metric)
        if ms is not None:
            table = ms.to_percent(table)
        else:
            log.debug("%s %s: no task spec declares this metric; plotted as stored", task, metric)
        width = 0.8 / len(per_seq)
        fig, ax = plt.subplots(figsize=(min(16.0, max(6.4, 0.35 * len(seqs) * len(per_seq) + 2)), 4.4))
        x = np.arange(len(seqs))
        for k, r in enumerate(per_seq):
            ax.bar(x + (k - (len(per_seq) - 1) / 2) * width, table[k], width, label=f"{display_name(r)} L{r.layer}")
        ax.set_xticks(x)
        ax.set_xticklabels(seqs, rotation=30 if len(seqs) > 4 else 0, ha="right" if len(seqs) > 4 else "center",
                           fontsize=8)
        ax.set_ylabel(metric)
        ax.grid(axis="y", alpha=0.3)
        ax.set_title(f"{metric} per sequence — {nice}")
        ax.legend(fontsize=7, ncol=max(1, len(per_seq) // 6))
        fig.tight_layout()
        p = out_dir / f"per-sequence-{name}.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        made.append((f"{metric} per sequence — {nice}", p))
    return made


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


def report_context(results: list[Result], results_dir: Path, columns: list[ColKey], rows: list[Row],
                   img_dir: Path, with_paper: bool = False, radar_layer: str | int = "best",
                   title: str | None = None, with_previews: bool = True) -> dict[str, Any]:
    """The one dict both templates render (``report.md.j2``, ``report.html.j2``); draws the plots into
    ``img_dir`` on the way (``images``: every file written)."""
    title = title or f"unitrack report — {results_dir}"
    images: list[Path] = []
    n_tasks = len({c[0] for c in columns})
    rest = ("; the best value of each column and layer is in bold (lower is better for ID switches); rates are in "
            "percent.")
    by_task: dict[str, list[str]] = defaultdict(list)
    for task, dataset, _, _ in columns:
        if dataset not in by_task[task]:
            by_task[task].append(dataset)
    if by_task:
        rest += " Datasets: " + "; ".join(f"{task_title(t)} {', '.join(d)}" for t, d in by_task.items())
        rest += " (demo:… = the generated demo benchmark)." if any(
            d.startswith("demo") for ds in by_task.values() for d in ds) else "."
    ctx: dict[str, Any] = {
        "title": title,
        "intro": {"lead": f"{len(results)} result(s): {len(rows)} backbone row(s) × {len(columns)} task metric "
                          f"column(s) over {n_tasks} task(s). Every cell is ",
                  "emph": "layer3 / layer4", "rest": rest},
        "table": None, "radar": None, "radar_skipped": None, "paper": None, "plots": [], "previews": [],
        "protocol": None, "result_files": [], "images": images,
    }

    if rows:
        ctx["table"] = table_context(rows, columns)
        axes = radar_columns(columns)
        if len(rows) >= 2 and len(axes) >= 3:
            png, svg = radar_plot(rows, axes, img_dir / "radar", "Our results", layer=radar_layer)
            images += [png, svg]
            ref = ("ImageNet-supervised (dashed) is the reference" if any(r.imagenet_supervised for r in rows) else
                   "No ImageNet-supervised backbone among these results, so no dashed reference line")
            ref += "; outer ring = rank 1, one axis per task (its first headline metric)."
            ctx["radar"] = {"note": ref, "png": f"images/{png.name}", "svg": _svg_inline(svg)}
        elif len(rows) < 2:
            ctx["radar_skipped"] = "it ranks backbones, and there is only one"
        else:
            ctx["radar_skipped"] = "fewer than 3 tasks"

    if with_paper:
        paper = load_paper_table()
        note = ("Published numbers of the paper's Tables 1 (ResNet-50) and 2 (ResNet-18), in percent (ID switches "
                "as counts), on " + ", ".join(f"{task_title(t)} {d}" for t, d in paper_datasets().items())
                + ". Rows labelled *published* are copied from the paper, not re-run. Our rows are in percent and "
                "labelled with the dataset they were evaluated on; only rows on the same full benchmarks are "
                "comparable. Rows marked † ran on the generated demo benchmark: shown, never bold.")
        pcols = paper_columns()
        r50 = [r for r in paper if r.arch == "R50"]
        png, svg = radar_plot(r50, pcols, img_dir / "radar_published", "Published Table 1 (ResNet-50)",
                              layer=radar_layer)
        images += [png, svg]
        ctx["paper"] = {"note": note, "table": table_context(comparison_rows(paper, rows), pcols),
                        "png": f"images/{png.name}", "svg": _svg_inline(svg)}

    for caption, p in task_plots(results, img_dir) if results else []:
        images.append(p)
        ctx["plots"].append(_embedded(caption, p))

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

    for r in results:
        rel = Path(r.path).relative_to(results_dir) if r.path else "?"
        wall = r.fingerprint.get("wall_time_s")
        ctx["result_files"].append(f"{r.summary()} — `{rel}`"
                                   + (f" ({wall:.1f} s on {r.fingerprint.get('device')})" if wall else ""))
    return ctx


def build_report(results_dir: str | Path, out: str | Path, with_paper: bool = False,
                 radar_layer: str | int = "best", title: str | None = None, with_previews: bool = True) -> Report:
    """Write ``report.md``, ``report.html`` (self-contained), ``table.csv`` and ``images/`` under ``out``."""
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
    if rows:
        atomic_write_text(out / "table.csv", table_csv(rows, columns))
    ctx = report_context(results, results_dir, columns, rows, img_dir, with_paper=with_paper,
                         radar_layer=radar_layer, title=title, with_previews=with_previews)
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
