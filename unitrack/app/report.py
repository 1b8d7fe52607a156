"""``unitrack report``: Markdown + self-contained HTML report of a results folder.

What the report holds:

* a table like the paper's Tables 1–2: one row per backbone, one column per task metric, every cell
  ``layer3 / layer4``, the best value of each column and layer in bold (lower is better for ID switches);
* the radar plot of the paper's Figure 1: the rank of every backbone on every task metric (best of
  layer3/layer4 by default), the outer ring is rank 1, ImageNet-supervised drawn dashed — PNG + SVG;
* per-task plots where they help: SOT success curves, per-sequence bars of the task's main metric;
* with ``--with-paper``: the published Tables 1–2 numbers (shipped as ``unitrack/data/paper_tables_1_2.csv``)
  as a reference table labelled "published", the user's rows beside them, and the published radar.

The HTML page embeds every image (PNG as base64 data URIs, radar plots as inline SVG), so it is one file.
"""

from __future__ import annotations

import argparse
import base64
import csv
import html
import io
import logging
import math
from collections import defaultdict
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from unitrack.results import Result
from unitrack.utils import UnitrackError, atomic_write_text

log = logging.getLogger("unitrack.app.report")

PUBLISHED = "published"
LAYERS = (3, 4)
# metrics where a smaller value is better (counts of errors)
LOWER_IS_BETTER = {"IDSW", "IDs", "ID switches", "FP", "FN", "Frag", "num_switches"}
# rate metrics: shown in percent like the paper (heads differ: the OTB toolkit and poseval report %,
# TrackEval and the DAVIS evaluation fractions)
PERCENT_METRICS = {"AUC", "Precision@20", "NormPrecision@0.2", "J-Mean", "J&F-Mean", "F-Mean", "J-Recall",
                   "F-Recall", "J-Decay", "F-Decay", "IDF1", "IDP", "IDR", "HOTA", "DetA", "AssA", "LocA", "MOTA",
                   "MOTP", "sMOTSA", "MOTSA", "MOTSP", "Precision", "Recall"}
TASK_TITLES = {"sot": "SOT", "vos": "VOS", "poseprop": "Pose prop.", "mot": "MOT", "mots": "MOTS",
               "posetrack": "PoseTrack"}
TASK_ORDER = ("sot", "vos", "poseprop", "mot", "mots", "posetrack")

# paper CSV column prefix → (task, variant, metric name used by our heads)
PAPER_COLUMNS: dict[str, tuple[str, str | None, str]] = {
    "sot_auc_xcorr": ("sot", "xcorr", "AUC"),
    "sot_auc_dcf": ("sot", "dcf", "AUC"),
    "vos_jmean": ("vos", None, "J-Mean"),
    "mot_idf1": ("mot", None, "IDF1"),
    "mot_hota": ("mot", None, "HOTA"),
    "mots_idf1": ("mots", None, "IDF1"),
    "mots_hota": ("mots", None, "HOTA"),
    "posetrack_idf1": ("posetrack", None, "IDF1"),
    "posetrack_ids": ("posetrack", None, "IDSW"),
}
PAPER_DATASETS = {"sot": "OTB-2015", "vos": "DAVIS-2017 val", "mot": "MOT16 train", "mots": "MOTS20 train",
                  "posetrack": "PoseTrack-18 val"}

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
        for prefix, (task, variant, metric) in PAPER_COLUMNS.items():
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
    return [(t, PUBLISHED, v, m) for t, v, m in PAPER_COLUMNS.values()]


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
    try:
        from unitrack.tasks import get_task

        head = list(get_task(task).headline)
    except Exception:  # task module not installed: use what the result file holds
        head = []
    chosen = [m for m in head if m in available]
    return chosen or list(available)


def results_table(results: list[Result], percent: bool = True) -> tuple[list[ColKey], list[Row]]:
    """Columns (task, dataset, variant, headline metric) and one row per backbone (+ config tag).

    ``percent``: rate metrics stored as fractions are scaled to percent (decided per column, see
    :func:`percent_factor`), so every rate reads like the paper's tables.
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
        chosen += [m for t, v, m in PAPER_COLUMNS.values() if (t, v) == (task, variant) and m in avail
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
            vals = [v for row in rows.values() for v in row.values.get(col, {}).values()]
            f = percent_factor(col[3], vals)
            if f != 1.0:
                for row in rows.values():
                    if col in row.values:
                        row.values[col] = {k: f * v for k, v in row.values[col].items()}
    return columns, sorted(rows.values(), key=lambda row: row.label)


VARIANT_ORDER = {"xcorr": 0, "dcf": 1}  # the paper's column order


def _group_order(g: tuple[str, str, str | None]):
    task, dataset, variant = g
    return (TASK_ORDER.index(task) if task in TASK_ORDER else 99, task, dataset, VARIANT_ORDER.get(variant or "", 9),
            variant or "")


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def percent_factor(metric: str, values: list[float]) -> float:
    """100 when a rate metric is stored as a fraction (every value of the column within [-1, 1]), else 1.

    Heads differ (the SOT toolkit reports AUC in %, TrackEval fractions); the paper uses percent.
    """
    if metric in PERCENT_METRICS and values and all(-1.0 <= v <= 1.0 for v in values):
        return 100.0
    return 1.0


def comparison_rows(paper: list[Row], ours: list[Row]) -> list[Row]:
    """Published rows plus our rows (from :func:`results_table`, already in percent) on the paper's columns.

    A result fills a paper column when task, variant and metric match. Each of our rows becomes one row for
    its benchmark results and one for its demo results (marked not comparable, so never bold); the label
    names the datasets. Should one column have several datasets, the first in name order is used.
    """
    out = list(paper)
    wanted = set(PAPER_COLUMNS.values())
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
        lower = col[3] in LOWER_IS_BETTER
        for layer in LAYERS:
            vals = [(i, r.values.get(col, {}).get(layer)) for i, r in enumerate(rows) if r.comparable]
            vals = [(i, v) for i, v in vals if v is not None and math.isfinite(v)]
            if len(vals) < 2:
                continue
            target = min(v for _, v in vals) if lower else max(v for _, v in vals)
            best.update((i, col, layer) for i, v in vals if v == target)
    return best


def fmt_value(metric: str, v: float | None) -> str:
    if v is None or not math.isfinite(v):
        return "–"
    if metric in LOWER_IS_BETTER or float(v).is_integer() and abs(v) >= 100:
        return f"{v:.0f}"
    return f"{v:.3f}" if abs(v) <= 1.5 else f"{v:.1f}"


def _multi_dataset(columns: list[ColKey]) -> set[str]:
    """Tasks that appear with more than one dataset (their column titles name the dataset)."""
    seen: dict[str, set[str]] = defaultdict(set)
    for task, dataset, _, _ in columns:
        seen[task].add(dataset)
    return {t for t, d in seen.items() if len(d) > 1}


def column_title(col: ColKey, multi_dataset: bool = True) -> str:
    task, dataset, variant, metric = col
    t = TASK_TITLES.get(task, task)
    if variant:
        t += f" {variant}"
    if dataset != PUBLISHED and multi_dataset:
        t += f" ({dataset})"
    return f"{t} {metric}"


def _cells(rows: list[Row], columns: list[ColKey], bold_md: tuple[str, str]) -> list[list[str]]:
    best = best_cells(rows, columns)
    out = []
    for i, r in enumerate(rows):
        cells = []
        for col in columns:
            vals = r.values.get(col, {})
            parts = []
            for layer in LAYERS:
                s = fmt_value(col[3], vals.get(layer))
                if (i, col, layer) in best:
                    s = f"{bold_md[0]}{s}{bold_md[1]}"
                parts.append(s)
            cells.append(" / ".join(parts))
        out.append(cells)
    return out


def markdown_table(rows: list[Row], columns: list[ColKey]) -> str:
    multi = _multi_dataset(columns)
    titles = [column_title(c, c[0] in multi) for c in columns]
    lines = ["| backbone | " + " | ".join(titles) + " |", "|---|" + "---|" * len(columns)]
    for r, cells in zip(rows, _cells(rows, columns, ("**", "**"))):
        label = r.label + (" *(published)*" if r.published else "") + ("" if r.comparable else " †")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def html_table(rows: list[Row], columns: list[ColKey]) -> str:
    multi = _multi_dataset(columns)
    titles = "".join(f"<th>{html.escape(column_title(c, c[0] in multi))}</th>" for c in columns)
    body = []
    for r, cells in zip(rows, _cells(rows, columns, ("\x00b", "\x00/b"))):
        label = html.escape(r.label) + (' <span class="pub">published</span>' if r.published else "") + (
            "" if r.comparable else " †")
        tds = "".join(
            "<td>" + html.escape(c).replace("\x00b", "<b>").replace("\x00/b", "</b>") + "</td>" for c in cells
        )
        body.append(f'<tr class="{"published" if r.published else "ours"}"><th class="row">{label}</th>{tds}</tr>')
    return (f'<table><thead><tr><th>backbone</th>{titles}</tr></thead><tbody>\n' + "\n".join(body)
            + "\n</tbody></table>")


def table_csv(rows: list[Row], columns: list[ColKey]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    multi = _multi_dataset(columns)
    w.writerow(["backbone", "published"] + [f"{column_title(c, c[0] in multi)} layer{layer}" for c in columns
                                            for layer in LAYERS])
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


def pick_layer(values: dict[int, float], metric: str, layer: str | int = "best") -> float | None:
    """One number per cell: layer 3, layer 4, or the better of both ('best')."""
    if layer == "best":
        vals = [v for v in values.values() if v is not None and math.isfinite(v)]
        if not vals:
            return None
        return min(vals) if metric in LOWER_IS_BETTER else max(vals)
    v = values.get(int(layer))
    return v if v is not None and math.isfinite(v) else None


def ranks(rows: list[Row], columns: list[ColKey], layer: str | int = "best") -> np.ndarray:
    """rows × columns matrix of ranks (1 = best; ties share the mean rank; NaN where a value is missing)."""
    from scipy.stats import rankdata

    out = np.full((len(rows), len(columns)), np.nan)
    for j, col in enumerate(columns):
        picked = [pick_layer(r.values.get(col, {}), col[3], layer) for r in rows]
        vals = np.array([np.nan if v is None else v for v in picked], float)
        ok = np.isfinite(vals)
        if not ok.any():
            continue
        score = vals[ok] if col[3] in LOWER_IS_BETTER else -vals[ok]
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
    ax.set_xticklabels(["\n".join(column_title(c, multi_dataset=False).rsplit(" ", 1)) for c in columns], fontsize=9)
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
        nice = f"{TASK_TITLES.get(task, task)}{' ' + variant if variant else ''} on {dataset}"
        curves = [(r, c) for r in rs if (c := _curve(r.extra)) is not None]
        if curves:
            fig, ax = plt.subplots(figsize=(6.4, 4.4))
            for r, (xs, ys) in curves:
                auc = r.metrics.get("AUC")
                lab = f"{display_name(r)} L{r.layer}" + (f" [AUC {fmt_value('AUC', auc)}]" if auc is not None else "")
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
        metric = next((m for m in ("J&F-Mean", *headline_metrics(task, seq_metrics)) if m in seq_metrics), None)
        if metric is None:
            continue
        table = np.array([[r.per_sequence.get(s, {}).get(metric, np.nan) for s in seqs] for r in per_seq], object)
        table = np.array([[v if _is_number(v) else np.nan for v in row] for row in table], float)
        table *= percent_factor(metric, [v for v in table.ravel() if np.isfinite(v)])
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


CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1500px;color:#222;
padding:0 16px}
h1{font-size:24px}h2{font-size:19px;margin-top:34px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;font-size:13px;margin:10px 0}
th,td{border:1px solid #d4d4d4;padding:4px 8px;text-align:center;white-space:nowrap}
thead th{background:#f2f4f7}th.row{text-align:left;font-weight:600;background:#fafafa}
tr.published td,tr.published th.row{color:#555;background:#fbfbf6}
span.pub{font-size:10px;color:#fff;background:#8a8a5c;border-radius:3px;padding:1px 4px;margin-left:4px}
.note{color:#555;font-size:13px;max-width:1100px}.fig{margin:14px 0}.fig img,.fig svg{max-width:100%;height:auto}
.scroll{overflow-x:auto}
.previews{display:flex;flex-wrap:wrap;gap:12px}.preview{margin:0;width:244px;font-size:12px;color:#444}
.preview img{width:240px;border:1px solid #ddd}
"""


def _svg_inline(path: Path) -> str:
    text = path.read_text()
    start = text.find("<svg")
    return text[start:] if start >= 0 else text


def _img_tag(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


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
        caption = f"{TASK_TITLES.get(r.task, r.task)} · {dataset_label(r)} · {display_name(r)} layer{r.layer}" + (
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
    title = title or f"unitrack report — {results_dir}"
    md: list[str] = [f"# {title}", ""]
    hb: list[str] = [f"<h1>{html.escape(title)}</h1>"]
    images: list[Path] = []

    n_tasks = len({c[0] for c in columns})
    intro = (f"{len(results)} result(s): {len(rows)} backbone row(s) × {len(columns)} task metric column(s) over "
             f"{n_tasks} task(s). Every cell is *layer3 / layer4*; the best value of each column and layer is in "
             "bold (lower is better for ID switches); rates are in percent.")
    by_task: dict[str, list[str]] = defaultdict(list)
    for task, dataset, _, _ in columns:
        if dataset not in by_task[task]:
            by_task[task].append(dataset)
    if by_task:
        intro += " Datasets: " + "; ".join(f"{TASK_TITLES.get(t, t)} {', '.join(d)}" for t, d in by_task.items())
        intro += " (demo:… = the generated demo benchmark)." if any(
            d.startswith("demo") for ds in by_task.values() for d in ds) else "."
    md += [intro, ""]
    hb.append(f'<p class="note">{html.escape(intro).replace("*layer3 / layer4*", "<i>layer3 / layer4</i>")}</p>')

    if rows:
        md += ["## Results (Tables 1–2 layout)", "", markdown_table(rows, columns), ""]
        hb += ["<h2>Results (Tables 1–2 layout)</h2>", f'<div class="scroll">{html_table(rows, columns)}</div>']
        atomic_write_text(out / "table.csv", table_csv(rows, columns))
        axes = radar_columns(columns)
        if len(rows) >= 2 and len(axes) >= 3:
            png, svg = radar_plot(rows, axes, img_dir / "radar", "Our results", layer=radar_layer)
            images += [png, svg]
            ref = ("ImageNet-supervised (dashed) is the reference" if any(r.imagenet_supervised for r in rows) else
                   "No ImageNet-supervised backbone among these results, so no dashed reference line")
            ref += "; outer ring = rank 1, one axis per task (its first headline metric)."
            md += ["## Ranks per task (Figure 1 layout)", "", ref, "", "![radar](images/radar.png)", ""]
            hb += ["<h2>Ranks per task (Figure 1 layout)</h2>", f'<p class="note">{html.escape(ref)}</p>',
                   f'<div class="fig">{_svg_inline(svg)}</div>']
        elif len(rows) < 2:
            md += ["*(radar plot skipped: it ranks backbones, and there is only one)*", ""]
            hb.append('<p class="note">Radar plot skipped: it ranks backbones, and there is only one.</p>')
        else:
            md += ["*(radar plot skipped: fewer than 3 tasks)*", ""]
            hb.append('<p class="note">Radar plot skipped: fewer than 3 tasks.</p>')

    if with_paper:
        paper = load_paper_table()
        comp = comparison_rows(paper, rows)
        pcols = paper_columns()
        note = ("Published numbers of the paper's Tables 1 (ResNet-50) and 2 (ResNet-18), in percent (ID switches "
                "as counts), on " + ", ".join(f"{TASK_TITLES[t]} {d}" for t, d in PAPER_DATASETS.items())
                + ". Rows labelled *published* are copied from the paper, not re-run. Our rows are in percent and "
                "labelled with the dataset they were evaluated on; only rows on the same full benchmarks are "
                "comparable. Rows marked † ran on the generated demo benchmark: shown, never bold.")
        md += ["## Comparison with the published Tables 1–2", "", note, "", markdown_table(comp, pcols), ""]
        hb += ["<h2>Comparison with the published Tables 1–2</h2>", f'<p class="note">{html.escape(note)}</p>',
               f'<div class="scroll">{html_table(comp, pcols)}</div>']
        r50 = [r for r in paper if r.arch == "R50"]
        png, svg = radar_plot(r50, pcols, img_dir / "radar_published", "Published Table 1 (ResNet-50)",
                              layer=radar_layer)
        images += [png, svg]
        md += ["![published radar](images/radar_published.png)", ""]
        hb.append(f'<div class="fig">{_svg_inline(svg)}</div>')

    plots = task_plots(results, img_dir) if results else []
    if plots:
        md += ["## Per-task plots", ""]
        hb.append("<h2>Per-task plots</h2>")
        for caption, p in plots:
            images.append(p)
            md += [f"### {caption}", "", f"![{caption}](images/{p.name})", ""]
            hb.append(f'<div class="fig"><h3>{html.escape(caption)}</h3>{_img_tag(p, caption)}</div>')

    anims = previews(results, img_dir) if (results and with_previews) else []
    if anims:
        md += ["## Previews", ""]
        hb += ["<h2>Previews</h2>", '<div class="previews">']
        for caption, gif in anims:
            images.append(gif)
            md += [f"![{caption}](images/{gif.name})", f"*{caption}*", ""]
            data = base64.b64encode(gif.read_bytes()).decode()
            hb.append(f'<figure class="preview"><img alt="{html.escape(caption)}" src="data:image/gif;base64,{data}">'
                      f"<figcaption>{html.escape(caption)}</figcaption></figure>")
        hb.append("</div>")

    changed = {}
    for r in results:
        diff = protocol_changes(r)
        if diff:
            key = (TASK_TITLES.get(r.task, r.task), ", ".join(f"{k}={v}" for k, v in sorted(diff.items())))
            changed.setdefault(key, set()).add(r.path or id(r))
    if changed:
        head = ("Settings that differ from the published protocol (numbers with them are not comparable with the "
                "paper's):")
        md += ["## Protocol changes", "", head, ""]
        hb += ["<h2>Protocol changes</h2>", f'<p class="note">{html.escape(head)}</p><ul>']
        for (task, diff), who in sorted(changed.items()):
            line = f"{task}: {diff} ({len(who)} result(s))"
            md.append(f"- {line}")
            hb.append(f"<li>{html.escape(line)}</li>")
        md.append("")
        hb.append("</ul>")

    if results:
        md += ["## Result files", ""]
        hb.append("<h2>Result files</h2><ul>")
        for r in results:
            rel = Path(r.path).relative_to(results_dir) if r.path else "?"
            wall = r.fingerprint.get("wall_time_s")
            line = f"{r.summary()} — `{rel}`" + (f" ({wall:.1f} s on {r.fingerprint.get('device')})" if wall else "")
            md.append(f"- {line}")
            hb.append(f"<li>{html.escape(line)}</li>")
        hb.append("</ul>")
    page = ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>\n" + "\n".join(hb)
            + "\n</body></html>\n")
    atomic_write_text(out / "report.md", "\n".join(md) + "\n")
    atomic_write_text(out / "report.html", page)
    return Report(markdown=out / "report.md", html=out / "report.html", images=images, rows=len(rows),
                  columns=len(columns))


def cli(args: argparse.Namespace) -> int:
    rep = build_report(args.results_dir, args.out, with_paper=args.with_paper,
                       with_previews=not getattr(args, "no_previews", False),
                       radar_layer=getattr(args, "radar_layer", "best") or "best")
    print(f"report: {rep.html}  ({rep.rows} backbone rows × {rep.columns} task metrics, {len(rep.images)} images)")
    print(f"markdown: {rep.markdown}")
    return 0
