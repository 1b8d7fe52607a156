"""Correlation with ImageNet linear-probe top-1: hand-computed coefficients, the vectorised bootstrap against
a plain loop, the join of the published tables with the probe figures, user CSVs and the CLI."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from unitrack.app.cli import main
from unitrack.app.correlate import (
    PRIMARY,
    _rowwise_pearson,
    correlation,
    paper_study,
    probe_csv_path,
    read_probe_csv,
    results_study,
)
from unitrack.app.report import paper_csv_path
from unitrack.results import Result, run_folder
from unitrack.utils import UnitrackError

NO_PROBE = {"Random Init. (R50)", "VFS (R50)", "PixPro (R50)", "DetCo (R50)", "TimeCycle (R50)",
            "Random Init. (R18)", "ImageNet-sup. (R18)", "Color.+mem. (R18)", "UVC (R18)", "CRW (R18)"}


def test_hand_computed_coefficients():
    # x − x̄ = (−2, −1, 0, 1, 2), y − ȳ = (−2, 0, 1, 0, 1): Σxy = 6, Σx² = 10, Σy² = 6 → r = 6/√60
    # ranks of y = (1, 2.5, 4.5, 2.5, 4.5) → centred (−2, −.5, 1.5, −.5, 1.5): Σ = 7, Σy² = 9 → ρ = 7/√90
    c = correlation([1, 2, 3, 4, 5], [2, 4, 5, 4, 5], n_boot=500, seed=1)
    assert c.n == 5
    assert c.pearson_r == pytest.approx(6 / math.sqrt(60))
    assert c.spearman_rho == pytest.approx(7 / math.sqrt(90))
    assert 0 < c.pearson_p < 1 and 0 < c.spearman_p < 1
    assert c.pearson_ci[0] <= c.pearson_r <= c.pearson_ci[1] <= 1.0
    # monotone but not linear: ρ = 1 exactly, r < 1
    c = correlation([1, 2, 3, 4, 5, 6], [1, 8, 27, 64, 125, 216], n_boot=200)
    assert c.spearman_rho == pytest.approx(1.0) and c.pearson_r < 0.99
    assert c.spearman_ci == pytest.approx((1.0, 1.0))


def test_bootstrap_is_seeded_and_matches_a_plain_loop():
    rng = np.random.default_rng(3)
    x = rng.normal(size=12)
    y = 0.5 * x + rng.normal(size=12)
    a, b = correlation(x, y, n_boot=300, seed=7), correlation(x, y, n_boot=300, seed=7)
    assert a == b
    assert correlation(x, y, n_boot=300, seed=8).pearson_ci != a.pearson_ci
    # the same resamples, one scipy call each
    idx = np.random.default_rng(7).integers(0, 12, size=(300, 12))
    rs, ss = [], []
    for i in idx:
        if np.ptp(x[i]) > 0 and np.ptp(y[i]) > 0:
            rs.append(stats.pearsonr(x[i], y[i]).statistic)
            ss.append(stats.spearmanr(x[i], y[i]).statistic)
    assert a.pearson_ci == pytest.approx(tuple(np.percentile(rs, [2.5, 97.5])))
    assert a.spearman_ci == pytest.approx(tuple(np.percentile(ss, [2.5, 97.5])))


def test_rowwise_pearson_and_degenerate_inputs():
    a = np.array([[1.0, 2, 3], [1, 1, 1]])
    b = np.array([[2.0, 4, 7], [1, 2, 3]])
    r = _rowwise_pearson(a, b)
    assert r[0] == pytest.approx(stats.pearsonr(a[0], b[0]).statistic) and np.isnan(r[1])
    assert math.isnan(correlation([1, 2], [3, 4]).pearson_r)  # n < 3
    assert math.isnan(correlation([1, 1, 1], [3, 4, 5]).spearman_rho)  # constant
    with pytest.raises(ValueError):
        correlation([1, 2, 3], [1, 2])


def _independent_join() -> dict[tuple[str, str], tuple[float, dict[str, str]]]:
    with open(probe_csv_path(), newline="") as f:
        probe = {(r["representation"], r["arch"]): float(r["imagenet_linear_top1"]) for r in csv.DictReader(f)}
    with open(paper_csv_path(), newline="") as f:
        return {(r["representation"], r["arch"]): (probe[(r["representation"], r["arch"])], r)
                for r in csv.DictReader(f) if (r["representation"], r["arch"]) in probe}


def test_paper_study_join_and_values():
    st = paper_study(n_boot=200)
    assert len(st.included) == 15 and set(st.excluded) == NO_PROBE
    assert st.included["MoCoV2 (R50)"].top1 == 71.1 and st.included["BarLow (R50)"].top1 == 73.2
    joined = _independent_join()
    x = np.array([v[0] for v in joined.values()])
    for col, (task, variant, metric) in {"vos_jmean": ("vos", None, "J-Mean"),
                                         "mot_idf1": ("mot", None, "IDF1"),
                                         "sot_auc_dcf": ("sot", "dcf", "AUC")}.items():
        for layer in ("3", "4"):
            y = np.array([float(v[1][f"{col}_layer{layer}"]) for v in joined.values()])
            e = st.entry(task, variant, metric, layer)
            assert e.corr.n == 15
            assert e.corr.pearson_r == pytest.approx(np.corrcoef(x, y)[0, 1])
            assert e.corr.spearman_rho == pytest.approx(stats.spearmanr(x, y).statistic)
    # "best" = the better layer per model (ID switches: the smaller)
    e = st.entry("posetrack", None, "IDSW", "best")
    ids = {m: v for m, v in zip(e.models, e.values)}
    assert ids["PCLV1 (R50)"] == 6855 and ids["PIRL (R50)"] == 7173
    # the numbers the closing note quotes (published Tables 1–2, 15 models)
    assert st.entry("vos", None, "J-Mean", "3").corr.pearson_r == pytest.approx(-0.411, abs=1e-3)
    s = st.summary(PRIMARY, "best")
    assert s["tasks"] == 5 and s["n_models"] == [15]
    assert s["pearson"] == pytest.approx((-0.411, 0.195), abs=1e-3)
    assert s["spearman"] == pytest.approx((-0.336, 0.296), abs=1e-3)


def test_probe_csv_validation(tmp_path):
    p = tmp_path / "probe.csv"
    p.write_text("backbone,top1\nmine,70.5\nother,7o\n")
    with pytest.raises(UnitrackError, match=r"probe.csv line 3: top1 must be a number, got '7o'"):
        read_probe_csv(p)
    p.write_text("model,acc\nmine,70\n")
    with pytest.raises(UnitrackError, match=r"probe.csv line 1: expected a name column"):
        read_probe_csv(p)
    p.write_text("backbone,top1\nmine,0.7\n")
    with pytest.raises(UnitrackError, match="not a top-1 accuracy in percent"):
        read_probe_csv(p)
    p.write_text("representation,arch,imagenet_linear_top1,source\nMoCoV2,R50,71.1,paper\nX,R18,,\n")
    t = read_probe_csv(p)
    assert t[("MoCoV2", "R50")].top1 == 71.1 and t[("MoCoV2", None)].source == "paper" and ("X", "R18") not in t


def test_results_study_with_user_csv(tmp_path):
    top1 = {"a": 60.0, "b": 65.0, "c": 70.0, "d": 75.0, "e": 80.0}
    jm = {"a": 0.50, "b": 0.58, "c": 0.52, "d": 0.61, "e": 0.55, "nofig": 0.4}
    for bb, v in jm.items():
        for layer, off in ((3, 0.0), (4, -0.05)):
            Result(task="vos", dataset="davis2017", backbone=bb, layer=layer, metrics={"J-Mean": v + off},
                   fingerprint={"key": bb}).save(run_folder(tmp_path / "res", "vos", "davis2017", bb, layer, None, None))
    probe = tmp_path / "probe.csv"
    probe.write_text("backbone,top1,source\n" + "".join(f"{k},{v},my notes\n" for k, v in top1.items()))
    st = results_study(tmp_path / "res", probe, n_boot=100)
    e = st.entry("vos", None, "J-Mean", "3")
    x, y = [top1[m] for m in "abcde"], [jm[m] for m in "abcde"]
    assert e.models == list("abcde") and st.excluded == ["nofig"]
    assert e.corr.pearson_r == pytest.approx(np.corrcoef(x, y)[0, 1])
    # layer3 is the better layer everywhere; rates are shown (and plotted) in percent
    assert st.entry("vos", None, "J-Mean", "best").values == pytest.approx([100 * v for v in y])
    assert st.included["a"].source == "my notes"


def test_registry_probe_not_used_for_random_init(tmp_path):
    """mocov2 evaluated with weights='random' is not MoCo v2: its registry top-1 must not be attached."""
    for bb, wid in (("mocov2", "sha-of-the-checkpoint"), ("swav", "random:seed0")):
        Result(task="vos", dataset="davis2017", backbone=bb, layer=3, metrics={"J-Mean": 0.5},
               fingerprint={"key": bb, "weights_sha256": wid}).save(
            run_folder(tmp_path, "vos", "davis2017", bb, 3, None, None))
    st = results_study(tmp_path, n_boot=10)
    assert st.included["mocov2"].top1 == 71.1 and "ssl-transfer" in st.included["mocov2"].source
    assert st.excluded == ["swav (random init)"]


def test_cli_paper_writes_tables_and_plots(tmp_path, capsys):
    out = tmp_path / "corr"
    assert main(["correlate", "--paper", "--bootstrap", "200", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "15 models with a linear-probe figure" in text and "Pearson r from -0.38 to +0.20" in text
    data = json.loads((out / "correlation.json").read_text())
    assert data["n_boot"] == 200 and len(data["entries"]) == 9 * 3
    rows = list(csv.DictReader((out / "correlation.csv").open()))
    assert {r["layer"] for r in rows} == {"3", "4", "best"}
    md = (out / "correlation.md").read_text()
    assert "## Across the five tasks" in md and "![scatter_layerbest](scatter_layerbest.png)" in md
    from test_report import assert_real_plot

    for layer in ("3", "4", "best"):
        assert_real_plot(out / f"scatter_layer{layer}.png", min_size=(1200, 350))
        assert (out / f"scatter_layer{layer}.svg").stat().st_size > 10_000
    assert main(["correlate"]) == 2
    assert "needs RESULTS_DIR or --paper" in capsys.readouterr().err


def test_packaged_tables_match_shared_docs():
    shared = Path(__file__).resolve().parents[2] / "shared" / "docs" / "paper_tables_1_2.csv"
    if not shared.is_file():
        pytest.skip("the published-tables sources are not present")
    assert paper_csv_path().read_text() == shared.read_text()


def test_selections_are_published_metrics_of_the_specs():
    from unitrack.app.correlate import SELECTIONS, Entry
    from unitrack.tasks import get_spec

    for sel in SELECTIONS.values():
        assert len({t for t, _, _ in sel}) == 5  # one metric per task
        for task, variant, key in sel:
            spec = get_spec(task)
            assert key in spec.metric and (variant is None or variant in spec.variants)
            assert (variant, key) in spec.paper_columns.values()
    c = correlation([1, 2, 3], [1, 2, 3], n_boot=10)
    assert Entry("poseprop", "jhmdb", None, "PCK@0.1", "3", [], [], [], c).name == "Pose prop. PCK@0.1"  # spec title
    assert Entry("sot", "otb", "dcf", "AUC", "3", [], [], [], c).name == "SOT dcf AUC"
    assert Entry("nosuchtask", "x", None, "score", "3", [], [], [], c).name == "nosuchtask score"
