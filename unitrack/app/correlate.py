"""``unitrack correlate``: does ImageNet linear-probe accuracy predict tracking performance? (Figure 6)

For every task metric and layer (layer3, layer4, and the better of both per model) we compute Pearson r
and Spearman ρ between the metric and ImageNet linear-probe top-1 over the models that have both, with
scipy's p-values and seeded bootstrap 95% confidence intervals (models resampled with replacement).

Inputs:

* ``--paper``: the published Tables 1–2 (``unitrack/data/paper_tables_1_2.csv``) joined with the shipped
  linear-probe figures (``unitrack/data/linear_probe_top1.csv``). The join key is ``(representation, arch)``,
  exact strings — both CSVs use the paper's row names ("ImageNet-sup.", "MoCoV2", "BarLow", ...) and "R50"/"R18".
  Paper rows without a probe figure (Random Init., PixPro, DetCo, TimeCycle, VFS, every R18 video model)
  are left out and listed; registry-only entries of the probe CSV (``dino_r50``, ``dinov2_*``) have no
  paper row.
* ``RESULTS_DIR``: our stored results, joined by registry name with the backbone registry's
  ``linear_probe_top1`` (or, with ``--probe CSV``, a user file).

A user CSV has a name column (``backbone``, ``name`` or ``representation``), an optional ``arch`` column,
a top-1 column (``imagenet_linear_top1``, ``linear_probe_top1`` or ``top1``) and an optional ``source``.

"Across the five tasks" (the paper's summary) uses one metric per task; the primary selection is SOT AUC
(DCF), VOS J-mean, MOT IDF1, MOTS IDF1 and PoseTrack IDF1, and two alternatives are reported beside it
(SOT XCorr instead of DCF; HOTA instead of IDF1 for MOT/MOTS). Each is given for layer3, layer4 and best.
"""

from __future__ import annotations

import argparse
import logging
import math
import warnings
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from unitrack.app.report import (
    PUBLISHED,
    ColKey,
    Row,
    higher_is_better,
    load_paper_table,
    metric_spec,
    paper_columns,
    pick_layer,
    read_csv_rows,
    results_table,
    task_title,
)
from unitrack.utils import UnitrackError, atomic_write_json, atomic_write_text

log = logging.getLogger("unitrack.app.correlate")

# published facts (paper, Figure 6 / Section 5): across the five tasks, over 16 models
PAPER_RANGES = {"pearson": (-0.38, 0.20), "spearman": (-0.36, 0.26), "models": 16}
LAYER_CHOICES = ("3", "4", "best")
# one metric per task for the "across the five tasks" summary: name → [(task, variant, metric key)]; the study's
# definitions — titles, units and directions of these metrics come from the task specs
SELECTIONS: dict[str, list[tuple[str, str | None, str]]] = {
    "primary (SOT DCF, IDF1)": [("sot", "dcf", "AUC"), ("vos", None, "J-Mean"), ("mot", None, "IDF1"),
                                ("mots", None, "IDF1"), ("posetrack", None, "IDF1")],
    "SOT XCorr, IDF1": [("sot", "xcorr", "AUC"), ("vos", None, "J-Mean"), ("mot", None, "IDF1"),
                        ("mots", None, "IDF1"), ("posetrack", None, "IDF1")],
    "SOT DCF, HOTA": [("sot", "dcf", "AUC"), ("vos", None, "J-Mean"), ("mot", None, "HOTA"),
                      ("mots", None, "HOTA"), ("posetrack", None, "IDF1")],
}
PRIMARY = next(iter(SELECTIONS))


# ----------------------------------------------------------------------------- statistics


@dataclass
class Corr:
    """Pearson and Spearman coefficients with p-values and bootstrap confidence intervals."""

    n: int
    pearson_r: float
    pearson_p: float
    pearson_ci: tuple[float, float]
    spearman_rho: float
    spearman_p: float
    spearman_ci: tuple[float, float]


def _rowwise_pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r of every row pair of two B×n arrays (NaN for a constant row)."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    den = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (a * b).sum(axis=1) / den
    r[den <= 1e-12 * max(1.0, float(np.nanmax(den)) if den.size else 1.0)] = np.nan
    return np.clip(r, -1.0, 1.0)


def correlation(x, y, n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> Corr:
    """Pearson r / Spearman ρ of x and y with scipy p-values and a seeded percentile bootstrap CI.

    Resamples that draw a constant vector (undefined r) are dropped from the CI.
    """
    from scipy import stats

    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError("x and y must be 1-D arrays of the same length")
    n = len(x)
    nan2 = (math.nan, math.nan)
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return Corr(n, math.nan, math.nan, nan2, math.nan, math.nan, nan2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pr = stats.pearsonr(x, y)
        sr = stats.spearmanr(x, y)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    xb, yb = x[idx], y[idx]
    rb = _rowwise_pearson(xb, yb)
    sb = _rowwise_pearson(stats.rankdata(xb, axis=1), stats.rankdata(yb, axis=1))
    q = [100 * (1 - level) / 2, 100 * (1 + level) / 2]

    def ci(v: np.ndarray) -> tuple[float, float]:
        v = v[np.isfinite(v)]
        return (float(np.percentile(v, q[0])), float(np.percentile(v, q[1]))) if len(v) else nan2

    return Corr(n, float(pr.statistic), float(pr.pvalue), ci(rb), float(sr.statistic), float(sr.pvalue), ci(sb))


def regression_band(x, y, grid, n_boot: int = 2000, seed: int = 0, level: float = 0.95
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The least-squares line of y on x at ``grid`` and its pointwise bootstrap band (models resampled with
    replacement, as in :func:`correlation`; percentile interval; resamples with a constant x are dropped).

    Returns (fit, low, high); NaN arrays for fewer than 3 points or a constant x.
    """
    x, y, grid = np.asarray(x, float), np.asarray(y, float), np.asarray(grid, float)
    nan = np.full(grid.shape, np.nan)
    n = len(x)
    if n < 3 or np.ptp(x) == 0:
        return nan, nan.copy(), nan.copy()
    k, b = np.polyfit(x, y, 1)
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    xb, yb = x[idx], y[idx]
    xm, ym = xb.mean(axis=1), yb.mean(axis=1)
    sxx = ((xb - xm[:, None]) ** 2).sum(axis=1)
    ok = sxx > 1e-12 * max(1.0, float(sxx.max()))
    slope = ((xb - xm[:, None]) * (yb - ym[:, None])).sum(axis=1)[ok] / sxx[ok]
    lines = slope[:, None] * (grid[None, :] - xm[ok, None]) + ym[ok, None]
    q = [100 * (1 - level) / 2, 100 * (1 + level) / 2]
    lo, hi = np.percentile(lines, q, axis=0) if len(lines) else (nan, nan.copy())
    return k * grid + b, lo, hi


# ----------------------------------------------------------------------------- linear-probe figures


@dataclass
class Probe:
    top1: float
    source: str


def probe_csv_path() -> Path:
    return Path(str(resources.files("unitrack") / "data" / "linear_probe_top1.csv"))


_NAME_COLS = ("backbone", "name", "representation")
_TOP1_COLS = ("imagenet_linear_top1", "linear_probe_top1", "top1")


def read_probe_csv(path: str | Path) -> dict[tuple[str, str | None], Probe]:
    """Linear-probe figures keyed by (name, arch) and (name, None); see the module docstring for columns."""
    p = Path(path)
    rows = read_csv_rows(p)
    if not rows:
        raise UnitrackError(f"{p}: no rows (expected a header and one line per model)")
    cols = list(rows[0].keys())
    name_col = next((c for c in _NAME_COLS if c in cols), None)
    top1_col = next((c for c in _TOP1_COLS if c in cols), None)
    if name_col is None or top1_col is None:
        raise UnitrackError(f"{p} line 1: expected a name column ({' or '.join(_NAME_COLS)}) and a top-1 column "
                            f"({' or '.join(_TOP1_COLS)}); found {', '.join(cols)}")
    out: dict[tuple[str, str | None], Probe] = {}
    for i, rec in enumerate(rows, start=2):
        name = (rec.get(name_col) or "").strip()
        raw = (rec.get(top1_col) or "").strip()
        if not name:
            raise UnitrackError(f"{p} line {i}: empty {name_col}")
        if not raw:
            continue
        try:
            top1 = float(raw)
        except ValueError:
            raise UnitrackError(f"{p} line {i}: {top1_col} must be a number, got {raw!r}") from None
        if not 1 < top1 <= 100:
            raise UnitrackError(f"{p} line {i}: {top1_col} = {top1} is not a top-1 accuracy in percent "
                                "(expected a value in (1, 100]; a fraction like 0.76 must be written 76)")
        src = (rec.get("source") or "").strip() or f"{p.name} line {i}"
        arch = (rec.get("arch") or "").strip() or None
        probe = Probe(top1, src)
        if arch:
            out[(name, arch)] = probe
        out.setdefault((name, None), probe)
    return out


def lookup_probe(table: dict[tuple[str, str | None], Probe], name: str, arch: str | None) -> Probe | None:
    return table.get((name, arch)) or (table.get((name, None)) if arch is None else None)


def registry_probes() -> dict[str, Probe]:
    """Linear-probe figures of registered backbones (name → Probe), empty if the registry is unavailable."""
    try:
        from unitrack.backbones import list_backbones
    except ImportError:
        return {}
    out = {}
    for spec in list_backbones():
        top1 = getattr(spec, "linear_probe_top1", None)
        if top1 is not None:
            out[spec.name] = Probe(float(top1), getattr(spec, "linear_probe_source", None) or "backbone registry")
    return out


# ----------------------------------------------------------------------------- the study


@dataclass
class Entry:
    """The correlation of one task metric (one layer choice) with linear-probe top-1."""

    task: str
    dataset: str
    variant: str | None
    metric: str
    layer: str  # "3", "4" or "best"
    models: list[str]
    top1: list[float]
    values: list[float]
    corr: Corr

    @property
    def name(self) -> str:
        t = task_title(self.task) + (f" {self.variant}" if self.variant else "")
        return f"{t} {self.metric}"


@dataclass
class Study:
    source: str  # what the task metrics are
    probe_source: str
    entries: list[Entry]
    included: dict[str, Probe]
    excluded: list[str]
    n_boot: int
    seed: int
    notes: list[str] = field(default_factory=list)

    def entry(self, task: str, variant: str | None, metric: str, layer: str) -> Entry | None:
        return next((e for e in self.entries if (e.task, e.variant, e.metric, e.layer) == (task, variant, metric,
                                                                                           layer)), None)

    def summary(self, selection: str = PRIMARY, layer: str = "best") -> dict:
        """Range of r and ρ across the selected one-metric-per-task entries."""
        es = [e for t, v, m in SELECTIONS[selection] if (e := self.entry(t, v, m, layer)) is not None
              and math.isfinite(e.corr.pearson_r)]
        if not es:
            return {"selection": selection, "layer": layer, "tasks": 0}
        rs = [e.corr.pearson_r for e in es]
        ss = [e.corr.spearman_rho for e in es]
        return {"selection": selection, "layer": layer, "tasks": len(es), "metrics": [e.name for e in es],
                "n_models": sorted({e.corr.n for e in es}),
                "pearson": (min(rs), max(rs)), "spearman": (min(ss), max(ss)),
                "per_task": {e.name: (e.corr.pearson_r, e.corr.spearman_rho) for e in es}}


def _study(rows: list[Row], probes: dict[str, Probe], columns: list[ColKey], source: str, probe_source: str,
           n_boot: int, seed: int) -> Study:
    entries = []
    for col in columns:
        task, dataset, variant, metric = col
        hib = higher_is_better(task, metric)
        for layer in LAYER_CHOICES:
            models, xs, ys = [], [], []
            for r in rows:
                if r.label not in probes:
                    continue
                v = pick_layer(r.values.get(col, {}), hib, layer)
                if v is None:
                    continue
                models.append(r.label)
                xs.append(probes[r.label].top1)
                ys.append(v)
            if not models:
                continue
            entries.append(Entry(task, dataset, variant, metric, layer, models, xs, ys,
                                 correlation(xs, ys, n_boot=n_boot, seed=seed)))
    excluded = [r.label for r in rows if r.label not in probes]
    return Study(source, probe_source, entries, {k: v for k, v in probes.items()}, excluded, n_boot, seed)


def paper_study(probe_csv: str | Path | None = None, n_boot: int = 2000, seed: int = 0,
                arch: str | None = None) -> Study:
    """Correlations on the published Tables 1–2 numbers (joined on (representation, arch))."""
    rows = load_paper_table()
    if arch:
        rows = [r for r in rows if r.arch == arch]
    path = Path(probe_csv) if probe_csv else probe_csv_path()
    if not path.exists():
        raise UnitrackError(f"linear-probe table {path} not found (pass --probe CSV)")
    table = read_probe_csv(path)
    probes = {}
    for r in rows:
        p = lookup_probe(table, r.representation or "", r.arch)
        if p is not None:
            probes[r.label] = p
    st = _study(rows, probes, paper_columns(), "published Tables 1–2 (paper_tables_1_2.csv)", str(path), n_boot,
                seed)
    st.notes.append("Join: paper row (representation, arch) = probe row (representation, arch), exact names.")
    return st


def results_study(results_dir: str | Path, probe_csv: str | Path | None = None, n_boot: int = 2000,
                  seed: int = 0) -> Study:
    """Correlations on our stored results; top-1 from the backbone registry or a user CSV."""
    from unitrack.app.report import load_results

    if not Path(results_dir).is_dir():
        raise UnitrackError(f"results folder {results_dir} does not exist")
    results = load_results(results_dir)
    if not results:
        raise UnitrackError(f"no result.json below {results_dir}")
    columns, rows = results_table(results)
    reg = registry_probes()
    table = read_probe_csv(probe_csv) if probe_csv else {}
    probes = {}
    for r in rows:
        p = lookup_probe(table, r.label, None) or lookup_probe(table, r.backbone or "", None) if table else None
        if p is None and not r.random_init:  # a registry figure describes the trained weights only
            p = reg.get(r.backbone or "")
        if p is not None:
            probes[r.label] = p
    src = str(probe_csv) + " (then the backbone registry)" if probe_csv else "backbone registry"
    st = _study(rows, probes, columns, f"results in {results_dir}", src, n_boot, seed)
    if len(probes) < 3:
        st.notes.append(f"Only {len(probes)} backbone(s) have a linear-probe figure: a correlation needs at least "
                        "3 (supply more with --probe CSV).")
    return st


# ----------------------------------------------------------------------------- output


def _f(v: float, digits: int = 2) -> str:
    return "–" if v is None or not math.isfinite(v) else f"{v:+.{digits}f}"


def _p(v: float) -> str:
    return "–" if not math.isfinite(v) else f"{v:.3f}"


def comparison_text(st: Study) -> str:
    """How the primary five-task ranges compare with the paper's stated ranges."""
    lines = []
    pr, sr = PAPER_RANGES["pearson"], PAPER_RANGES["spearman"]
    lines.append(f"Paper (Figure 6, {PAPER_RANGES['models']} models): Pearson r from {_f(pr[0])} to {_f(pr[1])}, "
                 f"Spearman ρ from {_f(sr[0])} to {_f(sr[1])} across the five tasks.")
    for sel in SELECTIONS:
        for layer in LAYER_CHOICES:
            s = st.summary(sel, layer)
            if not s["tasks"]:
                continue
            d = (abs(s["pearson"][0] - pr[0]) + abs(s["pearson"][1] - pr[1]) + abs(s["spearman"][0] - sr[0])
                 + abs(s["spearman"][1] - sr[1]))
            lines.append(f"Ours, {sel}, layer {layer} ({s['tasks']} tasks, n = "
                         f"{'/'.join(map(str, s['n_models']))} models): r {_f(s['pearson'][0])} … "
                         f"{_f(s['pearson'][1])}, ρ {_f(s['spearman'][0])} … {_f(s['spearman'][1])} "
                         f"(sum of |endpoint differences| to the paper: {d:.2f})")
    return "\n".join(lines)


def markdown(st: Study, plots: list[Path]) -> str:
    md = ["# Correlation with ImageNet linear-probe top-1", "",
          f"- task metrics: {st.source}", f"- linear-probe figures: {st.probe_source}",
          f"- models with a figure ({len(st.included)}): " + ", ".join(
              f"{k} {v.top1:.1f}" for k, v in st.included.items()),
          f"- left out (no linear-probe figure): {', '.join(st.excluded) or 'none'}",
          f"- bootstrap: {st.n_boot} resamples of the models, seed {st.seed}, 95% percentile intervals", ""]
    md += [f"- {n}" for n in st.notes]
    md += ["", "## Across the five tasks", "", "| selection | layer | Pearson r range | Spearman ρ range | "
           "per task (r / ρ) |", "|---|---|---|---|---|"]
    for sel in SELECTIONS:
        for layer in LAYER_CHOICES:
            s = st.summary(sel, layer)
            if not s["tasks"]:
                continue
            per = "; ".join(f"{k}: {_f(a)} / {_f(b)}" for k, (a, b) in s["per_task"].items())
            md.append(f"| {sel} | {layer} | {_f(s['pearson'][0])} … {_f(s['pearson'][1])} | "
                      f"{_f(s['spearman'][0])} … {_f(s['spearman'][1])} | {per} |")
    md += ["", "```", comparison_text(st), "```", "", "## Every task metric", "",
           "| task metric | layer | n | Pearson r [95% CI] | p | Spearman ρ [95% CI] | p |",
           "|---|---|---|---|---|---|---|"]
    for e in st.entries:
        c = e.corr
        md.append(f"| {e.name}{'' if e.dataset == PUBLISHED else ' (' + e.dataset + ')'} | {e.layer} | {c.n} | "
                  f"{_f(c.pearson_r)} [{_f(c.pearson_ci[0])}, {_f(c.pearson_ci[1])}] | {_p(c.pearson_p)} | "
                  f"{_f(c.spearman_rho)} [{_f(c.spearman_ci[0])}, {_f(c.spearman_ci[1])}] | {_p(c.spearman_p)} |")
    if plots:
        md += ["", "## Scatter plots (Figure 6 layout)", ""]
        md += [f"![{p.stem}]({p.name})" for p in plots if p.suffix == ".png"]
    return "\n".join(md) + "\n"


def scatter_plot(st: Study, layer: str, stem: str | Path, selection: str = PRIMARY) -> tuple[Path, Path] | None:
    """One panel per task (the selection's metric): points, labels, least-squares fit line, r and ρ."""
    es = [e for t, v, m in SELECTIONS[selection] if (e := st.entry(t, v, m, layer)) is not None]
    if not any(e.corr.n >= 3 for e in es):
        # results mode: the selection may not match; take the first metric of every task present
        seen, es = set(), []
        for e in st.entries:
            if e.layer == layer and e.task not in seen and e.corr.n >= 3:
                seen.add(e.task)
                es.append(e)
    if not es:
        return None
    from unitrack.app.report import _mpl

    plt = _mpl()
    fig, axes = plt.subplots(1, len(es), figsize=(3.6 * len(es), 3.9), squeeze=False)
    for ax, e in zip(axes[0], es):
        x, y = np.asarray(e.top1), np.asarray(e.values)
        ax.scatter(x, y, s=26, color="#3a6fb0", zorder=3)
        for xi, yi, name in zip(x, y, e.models):
            ax.annotate(name.split(" (")[0], (xi, yi), fontsize=6, xytext=(2, 2), textcoords="offset points",
                        color="0.3")
        if e.corr.n >= 3 and np.ptp(x) > 0:
            k, b = np.polyfit(x, y, 1)
            xx = np.linspace(x.min() - 1, x.max() + 1, 10)
            ax.plot(xx, k * xx + b, color="#c0392b", lw=1.5)
        ms = metric_spec(e.task, e.metric)
        unit = " (%)" if ms is not None and ms.is_rate else ""  # values in the paper's units (results_table)
        better = "" if higher_is_better(e.task, e.metric) else "lower is better"
        ax.set_title(f"{e.name}\nr = {_f(e.corr.pearson_r)}, ρ = {_f(e.corr.spearman_rho)} (n={e.corr.n})",
                     fontsize=9)
        ax.set_xlabel("ImageNet linear-probe top-1 (%)", fontsize=8)
        ax.set_ylabel(f"{e.metric}{unit} {better}".strip(), fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    which = "best of layer3/layer4" if layer == "best" else f"layer{layer}"
    fig.suptitle(f"Tracking performance vs ImageNet linear probe ({which})", fontsize=11)
    fig.tight_layout()
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    png, svg = stem.with_suffix(".png"), stem.with_suffix(".svg")
    fig.savefig(png, dpi=110)
    fig.savefig(svg)
    plt.close(fig)
    return png, svg


def study_json(st: Study) -> dict:
    return {
        "source": st.source, "probe_source": st.probe_source, "n_boot": st.n_boot, "seed": st.seed,
        "included": {k: asdict(v) for k, v in st.included.items()}, "excluded": st.excluded, "notes": st.notes,
        "paper_ranges": PAPER_RANGES,
        "summaries": [st.summary(sel, layer) for sel in SELECTIONS for layer in LAYER_CHOICES],
        "entries": [{**{k: v for k, v in asdict(e).items() if k != "corr"}, **asdict(e.corr), "name": e.name}
                    for e in st.entries],
    }


def write_study(st: Study, out: str | Path) -> list[Path]:
    """correlation.md / .json / .csv and Figure-6 scatter plots (PNG + SVG per layer choice) under ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    plots: list[Path] = []
    for layer in LAYER_CHOICES:
        made = scatter_plot(st, layer, out / f"scatter_layer{layer}")
        if made:
            plots.extend(made)
    atomic_write_text(out / "correlation.md", markdown(st, plots))
    atomic_write_json(out / "correlation.json", study_json(st))
    lines = ["task,dataset,variant,metric,layer,n,pearson_r,pearson_p,pearson_ci_low,pearson_ci_high,"
             "spearman_rho,spearman_p,spearman_ci_low,spearman_ci_high"]
    for e in st.entries:
        c = e.corr
        lines.append(",".join(str(x) for x in (
            e.task, e.dataset, e.variant or "", e.metric, e.layer, c.n, *(f"{v:.6g}" for v in (
                c.pearson_r, c.pearson_p, *c.pearson_ci, c.spearman_rho, c.spearman_p, *c.spearman_ci)))))
    atomic_write_text(out / "correlation.csv", "\n".join(lines) + "\n")
    return [out / "correlation.md", out / "correlation.json", out / "correlation.csv", *plots]


def cli(args: argparse.Namespace) -> int:
    n_boot, seed = getattr(args, "bootstrap", 2000), getattr(args, "seed", 0)
    probe = getattr(args, "probe", None)
    if args.paper:
        if args.results_dir:
            raise UnitrackError("pass either RESULTS_DIR or --paper, not both")
        st = paper_study(probe, n_boot=n_boot, seed=seed)
    elif args.results_dir:
        st = results_study(args.results_dir, probe, n_boot=n_boot, seed=seed)
    else:
        raise UnitrackError("correlate needs RESULTS_DIR or --paper (the published Tables 1–2)")
    print(f"{len(st.included)} models with a linear-probe figure; left out: {', '.join(st.excluded) or 'none'}")
    for n in st.notes:
        print(n)
    print()
    print(f"{'task metric':<26}{'layer':>6}{'n':>4}{'Pearson r':>11}{'95% CI':>17}{'p':>7}"
          f"{'Spearman ρ':>12}{'95% CI':>17}{'p':>7}")
    for e in st.entries:
        c = e.corr
        print(f"{e.name[:25]:<26}{e.layer:>6}{c.n:>4}{_f(c.pearson_r):>11}"
              f"{'[' + _f(c.pearson_ci[0]) + ', ' + _f(c.pearson_ci[1]) + ']':>17}{_p(c.pearson_p):>7}"
              f"{_f(c.spearman_rho):>12}{'[' + _f(c.spearman_ci[0]) + ', ' + _f(c.spearman_ci[1]) + ']':>17}"
              f"{_p(c.spearman_p):>7}")
    print()
    print(comparison_text(st))
    if args.out:
        files = write_study(st, args.out)
        print(f"\nwritten: {', '.join(str(f) for f in files)}")
    return 0
