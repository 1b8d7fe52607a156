"""Reports: the published reference table, the Tables 1–2 layout with bold best cells, ranks for the radar
plot, a self-contained HTML page (rendered in headless Chromium when available) and real images."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from unitrack.app.cli import main
from unitrack.app.report import (
    PUBLISHED,
    build_report,
    comparison_rows,
    load_paper_table,
    markdown_table,
    radar_columns,
    ranks,
    result_cfg_tag,
    result_variant,
    results_table,
)
from unitrack.results import Result, find_results, run_folder
from unitrack.tasks import find_metric
from unitrack.utils import UnitrackError

# backbone → task (variant) → metric → (layer3, layer4); VOS/MOT as fractions (DAVIS / TrackEval style),
# SOT AUC in percent (OTB toolkit style), PoseTrack ID switches as counts
VALUES = {
    "imagenet_r18": {"vos": {"J-Mean": (0.60, 0.55), "J&F-Mean": (0.62, 0.56)},
                     "mot": {"IDF1": (0.70, 0.72), "HOTA": (0.60, 0.61)},
                     "sot:xcorr": {"AUC": (50.0, 45.0)}, "sot:dcf": {"AUC": (60.0, 52.0)},
                     "posetrack": {"IDF1": (70.0, 71.0), "IDSW": (100, 120)}},
    "random_r18": {"vos": {"J-Mean": (0.30, 0.35), "J&F-Mean": (0.31, 0.33)},
                   "mot": {"IDF1": (0.20, 0.15), "HOTA": (0.20, 0.14)},
                   "sot:xcorr": {"AUC": (16.0, 18.0)}, "sot:dcf": {"AUC": (36.0, 32.0)},
                   "posetrack": {"IDF1": (52.0, 50.0), "IDSW": (900, 950)}},
    "mocov2": {"vos": {"J-Mean": (0.58, 0.62), "J&F-Mean": (0.60, 0.63)},
               "mot": {"IDF1": (0.72, 0.74), "HOTA": (0.61, 0.62)},
               "sot:xcorr": {"AUC": (53.0, 47.0)}, "sot:dcf": {"AUC": (61.0, 53.0)},
               "posetrack": {"IDF1": (73.0, 73.5), "IDSW": (90, 130)}},
}
DATASETS = {"vos": "davis2017", "mot": "mot16", "sot": "otb2015", "posetrack": "posetrack18"}


def write_results(root: Path, values=VALUES, datasets=DATASETS) -> Path:
    """Result folders exactly as evaluate() lays them out, with per-sequence metrics and an SOT curve."""
    for bb, tasks in values.items():
        for key, metrics in tasks.items():
            task, _, head = key.partition(":")
            for i, layer in enumerate((3, 4)):
                m = {k: v[i] for k, v in metrics.items()}
                folder = run_folder(root, task, datasets[task], bb, layer, head or None, None)
                per_seq = {s: {k: v * (0.9 + 0.1 * j) for k, v in m.items()} for j, s in enumerate(("bike", "dog"))}
                extra = {}
                if task == "sot":
                    auc = m["AUC"] / 100
                    extra["curves"] = {"success": list(np.clip(2 * auc * (1 - np.linspace(0, 1, 21) ** 2), 0, 1))}
                r = Result(task=task, dataset=datasets[task], backbone=bb, layer=layer, metrics=m,
                           per_sequence=per_seq, extra=extra,
                           fingerprint={"key": f"{bb}{task}{layer}", "data_root": f"/nonexistent/{task}",
                                        "weights_sha256": "random:seed0" if bb.startswith("random") else "abc",
                                        "wall_time_s": 1.5, "device": "cpu"})
                folder.mkdir(parents=True, exist_ok=True)
                r.save(folder)
    return root


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory) -> Path:
    return write_results(tmp_path_factory.mktemp("report") / "results")


@pytest.fixture(scope="module")
def paper_report(results_dir):
    """One report with the published tables, shared by the content and the Chromium tests (plots are slow)."""
    return build_report(results_dir, results_dir.parent / "rep", with_paper=True)


def assert_real_plot(path: Path, min_size=(400, 300)) -> None:
    """A real plot: big enough, many distinct colours, not a blank canvas."""
    img = np.asarray(Image.open(path).convert("RGB"))
    h, w, _ = img.shape
    assert w >= min_size[0] and h >= min_size[1], img.shape
    packed = (img[..., 0].astype(np.uint32) << 16) | (img[..., 1].astype(np.uint32) << 8) | img[..., 2]
    assert len(np.unique(packed)) > 50  # anti-aliased lines and text, not a flat fill
    assert (img < 200).any(axis=2).mean() > 0.02  # ink on the page


def test_paper_table_values():
    rows = load_paper_table()
    assert len(rows) == 25 and sum(r.arch == "R50" for r in rows) == 20
    by = {r.label: r for r in rows}
    assert by["ImageNet-sup. (R50)"].values[("sot", PUBLISHED, "dcf", "AUC")] == {3: 62.0, 4: 53.9}
    assert by["TimeCycle (R50)"].values[("posetrack", PUBLISHED, None, "IDSW")][4] == 27884
    assert by["CRW (R18)"].values[("vos", PUBLISHED, None, "J-Mean")] == {3: 63.2, 4: 60.7}
    assert all(r.published for r in rows)
    assert by["ImageNet-sup. (R18)"].imagenet_supervised and not by["CRW (R18)"].imagenet_supervised


def test_paper_table_bad_file(tmp_path):
    bad = tmp_path / "t.csv"
    bad.write_text("representation,arch,vos_jmean_layer3\nX,R50,62.x\n")
    with pytest.raises(UnitrackError, match=r"t.csv line 2: column vos_jmean_layer3: expected a number"):
        load_paper_table(bad)


def test_folder_name_parsing(results_dir):
    rs = {(r.task, r.backbone, r.layer, result_variant(r)) for r in find_results(results_dir)}
    assert ("sot", "mocov2", 4, "dcf") in rs and ("vos", "mocov2", 4, None) in rs
    r = Result(task="sot", dataset="otb", backbone="random_r18", layer=3, metrics={},
               path="/x/sot/otb/random_r18-layer3-dcf-cfg0123abcd")
    assert result_variant(r) == "dcf" and result_cfg_tag(r) == "0123abcd"


def test_units_from_specs():
    # TrackEval stores IDF1 as a fraction (×100 for the table), the OTB toolkit AUC in percent, ID switches are counts
    assert find_metric("mot", "IDF1").to_percent(0.2) == 20.0 and find_metric("mot", "IDF1").to_percent(0.74) == 74.0
    assert find_metric("sot", "AUC").to_percent(16.0) == 16.0 and find_metric("sot", "AUC").to_percent(61.0) == 61.0
    assert find_metric("posetrack", "IDSW").to_percent(1.0) == 1.0 and find_metric("posetrack", "IDSW").unit == "count"


def test_table_layout_and_bold(results_dir):
    columns, rows = results_table(find_results(results_dir))
    assert [r.label for r in rows] == ["imagenet_r18", "mocov2", "random_r18"]
    cols = {(c[0], c[2], c[3]) for c in columns}
    assert {("sot", "xcorr", "AUC"), ("sot", "dcf", "AUC"), ("vos", None, "J-Mean"), ("mot", None, "IDF1"),
            ("posetrack", None, "IDSW")} <= cols
    md = markdown_table(rows, columns)
    lines = {ln.split("|")[1].strip(): ln for ln in md.splitlines()[2:]}
    col_idx = {c: i for i, c in enumerate(columns)}

    def cell(row, task, metric):
        c = next(c for c in columns if c[0] == task and c[3] == metric)
        return lines[row].split("|")[2 + col_idx[c]].strip()

    # fractions → percent; best per column and layer in bold
    assert cell("imagenet_r18", "vos", "J-Mean") == "**60.0** / 55.0"
    assert cell("mocov2", "vos", "J-Mean") == "58.0 / **62.0**"
    assert cell("random_r18", "vos", "J-Mean") == "30.0 / 35.0"
    assert cell("mocov2", "mot", "IDF1") == "**72.0** / **74.0**"
    # ID switches: lower is better
    assert cell("mocov2", "posetrack", "IDSW") == "**90** / 130"
    assert cell("imagenet_r18", "posetrack", "IDSW") == "100 / **120**"


def test_ranks_best_of_layers(results_dir):
    columns, rows = results_table(find_results(results_dir))
    pick = [c for c in columns if (c[0], c[3]) in (("vos", "J-Mean"), ("posetrack", "IDSW"))]
    rk = ranks(rows, pick, "best")  # rows: imagenet, mocov2, random
    # VOS best of layers: 60, 62, 35 → ranks 2, 1, 3; IDSW min of layers: 100, 90, 900 → 2, 1, 3
    np.testing.assert_array_equal(rk, [[2, 2], [1, 1], [3, 3]])
    rk3 = ranks(rows, pick, 3)  # layer3 only: VOS 60, 58, 30
    np.testing.assert_array_equal(rk3[:, 0], [1, 2, 3])
    assert [c[3] for c in radar_columns(columns)].count("AUC") == 2  # one axis per SOT head


def test_comparison_rows_with_paper(results_dir):
    columns, rows = results_table(find_results(results_dir))
    comp = comparison_rows(load_paper_table(), rows)
    ours = [r for r in comp if not r.published]
    assert len(comp) == 25 + 3 and all(r.comparable for r in ours)
    moco = next(r for r in ours if r.backbone == "mocov2")
    assert moco.label == "mocov2 · davis2017, mot16, otb2015, posetrack18"
    assert moco.values[("vos", PUBLISHED, None, "J-Mean")] == pytest.approx({3: 58.0, 4: 62.0})
    assert moco.values[("sot", PUBLISHED, "dcf", "AUC")] == {3: 61.0, 4: 53.0}


def test_build_report_self_contained(paper_report):
    rep = paper_report
    out = rep.html.parent
    page = rep.html.read_text()
    md = rep.markdown.read_text()
    # self-contained: no external resources, images inline
    assert not re.search(r"""(src|href)=["'](https?:|file:|//|images/)""", page)
    # small multiples of every task metric, the SOT success curves (one panel per head), the correlation study
    assert page.count("data:image/png;base64,") == 3
    assert page.count("<svg") == 2  # our radar + the placement radar (published rows faint, ours strong), inline
    assert md.count("*(published)*") == 25 and "![radar](images/radar.png)" in md
    assert "**60.0** / 55.0" in md
    for name in ("radar.png", "placement_radar.png", "success.png", "metrics.png", "correlation.png"):
        assert_real_plot(out / "images" / name)
    assert (out / "images" / "radar.svg").read_text().lstrip().startswith("<?xml")
    csv_lines = (out / "table.csv").read_text().splitlines()
    assert len(csv_lines) == 4 and csv_lines[0].startswith("backbone,published,SOT xcorr AUC layer3")


def test_report_cli_and_errors(results_dir, tmp_path, capsys):
    assert main(["report", str(results_dir), "--out", str(tmp_path / "r"), "--radar-layer", "4"]) == 0
    assert "3 backbone rows" in capsys.readouterr().out
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty"), "--out", str(tmp_path / "r2")]) == 2
    assert "no result.json below" in capsys.readouterr().err


def _chromium() -> str | None:
    return next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars"]

# injected into a copy of the page: what the page measures at 1,400 px, and one click on a sortable header
MEASURE = """<script>
window.addEventListener("load", function () {
  var right = 0;
  document.querySelectorAll("table, img, svg").forEach(function (e) {
    right = Math.max(right, e.getBoundingClientRect().right);
  });
  var box = document.getElementById("results-box").querySelector("table");
  var before = Array.prototype.map.call(box.tBodies[0].rows, function (r) { return r.cells[0].textContent; });
  box.tHead.rows[0].cells[1].click();
  var after = Array.prototype.map.call(box.tBodies[0].rows, function (r) { return r.cells[0].textContent; });
  var pre = document.createElement("pre");
  pre.id = "measure";
  pre.textContent = JSON.stringify({scroll: document.documentElement.scrollWidth, right: right,
                                    inner: window.innerWidth, before: before, after: after});
  document.body.appendChild(pre);
});
</script>"""


@pytest.mark.skipif(_chromium() is None, reason="chromium not on PATH (Debian: apt-get install chromium)")
def test_report_renders_in_headless_chromium(paper_report, tmp_path):
    import json

    rep = paper_report
    shot = tmp_path / "shot.png"
    probe = tmp_path / "measure.html"
    probe.write_text(rep.html.read_text().replace("</body>", MEASURE + "</body>"))
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={shot}",
                        "--window-size=1400,2000", rep.html.resolve().as_uri()], capture_output=True, timeout=120)
        dom = subprocess.run([_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--window-size=1400,2000",
                              "--dump-dom", probe.resolve().as_uri()], capture_output=True, text=True,
                             timeout=120).stdout
    assert shot.is_file(), "chromium wrote no screenshot"
    img = np.asarray(Image.open(shot).convert("RGB"))
    assert img.shape[:2] == (2000, 1400)
    assert (img < 128).any(axis=2).mean() > 0.01  # text and tables were painted
    m = re.search(r'<pre id="measure">(.*?)</pre>', dom, re.S)
    assert m, "the measuring script did not run"
    measured = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    # the page fits 1,400 px: no horizontal scroll, no table or image beyond the window
    assert measured["inner"] == 1400 and measured["scroll"] <= 1400 and measured["right"] <= 1400, measured
    # the columns sort: SOT xcorr AUC, layer3 first, descending on the first click (mocov2 53 > imagenet 50 > random)
    assert measured["before"] == ["imagenet_r18", "mocov2", "random_r18"]
    assert measured["after"] == ["mocov2", "imagenet_r18", "random_r18"]
    # the rank table, the placement radar (inline SVG) and the CI lines are in the parsed page
    assert '<div class="grid sortable" id="ranks"><table>' in dom and "18/21" in dom
    assert re.search(r'<div class="fig" id="placement-radar"><svg', dom)
    assert dom.count('<span class="ci">') >= 3 * 8 and "±3.0 / ±2.8" in dom
    assert dom.count("data:image/png;base64,") == 3 and dom.count("<svg") == 2


def test_report_embeds_animated_preview_per_result(tmp_path, demo_root):
    import base64
    import io

    import unitrack
    from unitrack.app.report import build_report

    res = tmp_path / "res"
    unitrack.evaluate(task="vos", backbone="random_r18", data=demo_root / "davis", out=res, device="cpu",
                      sets=["common.max_sequences=1"])
    rep = build_report(res, tmp_path / "rep")
    page = rep.html.read_text()
    gifs = re.findall(r'src="data:image/gif;base64,([^"]+)"', page)
    assert len(gifs) == 1 and "Previews" in page
    im = Image.open(io.BytesIO(base64.b64decode(gifs[0])))
    assert im.format == "GIF" and im.n_frames > 1 and im.size[0] == 240
    no_prev = build_report(res, tmp_path / "rep2", with_previews=False)
    assert "data:image/gif" not in no_prev.html.read_text()


# ----------------------------------------------------------------------------- units and directions from the specs


def _save(root: Path, task: str, dataset: str, backbone: str, metrics: dict, layer: int = 3,
          variant: str | None = None) -> None:
    Result(task=task, dataset=dataset, backbone=backbone, layer=layer, metrics=metrics,
           fingerprint={"key": f"{task}{backbone}{layer}{variant}"}).save(
        run_folder(root, task, dataset, backbone, layer, variant, None))


def _cells(root: Path) -> dict[str, list[str]]:
    """backbone → cells of the Markdown results table."""
    columns, rows = results_table(find_results(root))
    lines = markdown_table(rows, columns).splitlines()[2:]
    return {ln.split("|")[1].strip(): [c.strip() for c in ln.split("|")[2:-1]] for ln in lines}


def test_negative_mota_is_still_a_fraction_shown_in_percent(tmp_path):
    # MOTA can be below -1 (more errors than objects); the old value-range guess then left the column unscaled
    _save(tmp_path, "mot", "mot16", "a", {"MOTA": -1.5})
    _save(tmp_path, "mot", "mot16", "b", {"MOTA": 0.4})
    assert _cells(tmp_path) == {"a": ["-150.0 / –"], "b": ["**40.0** / –"]}


def test_lone_sot_auc_in_percent_is_not_rescaled(tmp_path):
    # the OTB toolkit reports AUC in percent: a (poor) AUC of 0.8 % stays 0.8, it is not 80 %
    assert find_metric("sot", "AUC").unit == "percent"
    _save(tmp_path, "sot", "otb2015", "a", {"AUC": 0.8}, variant="dcf")
    assert _cells(tmp_path) == {"a": ["0.8 / –"]}


def test_decay_is_lower_is_better(tmp_path):
    assert find_metric("vos", "J-Decay").higher_is_better is False
    for bb, decay in (("a", 0.2), ("b", 0.4), ("c", 0.3)):
        _save(tmp_path, "vos", "davis2017", bb, {"J-Decay": decay})
    assert _cells(tmp_path) == {"a": ["**20.0** / –"], "b": ["40.0 / –"], "c": ["30.0 / –"]}
    columns, rows = results_table(find_results(tmp_path))
    np.testing.assert_array_equal(ranks(rows, columns, "best")[:, 0], [1, 3, 2])


def test_undeclared_metric_and_unknown_task_shown_as_stored(tmp_path, caplog):
    # a PCK threshold the user added (poseprop declares 0.1 … 0.5, in percent) and a task that is not installed
    _save(tmp_path, "poseprop", "jhmdb", "a", {"PCK@0.15": 0.42})
    _save(tmp_path, "nosuchtask", "toydata", "a", {"score": 0.5, "hits": 120})
    _save(tmp_path, "nosuchtask", "toydata", "b", {"score": 0.7, "hits": 90})
    with caplog.at_level("DEBUG", logger="unitrack.app.report"):
        columns, rows = results_table(find_results(tmp_path))
    assert [(c[0], c[3]) for c in columns] == [("poseprop", "PCK@0.15"), ("nosuchtask", "score"),
                                               ("nosuchtask", "hits")]  # installed tasks first
    assert "PCK@0.15: no task spec declares this metric" in caplog.text
    assert rows[0].values[("poseprop", "jhmdb", None, "PCK@0.15")] == {3: 0.42}  # never rescaled
    md = markdown_table(rows, columns)
    assert md.splitlines()[0] == "| backbone | Pose prop. PCK@0.15 | nosuchtask score | nosuchtask hits |"
    assert md.splitlines()[2] == "| a | 0.420 / – | 0.500 / – | **120** / – |"
    rep = build_report(tmp_path, tmp_path / "rep", title="<R&D> report", with_previews=False)
    page, text = rep.html.read_text(), rep.markdown.read_text()
    assert "<title>&lt;R&amp;D&gt; report</title>" in page and "<h1>&lt;R&amp;D&gt; report</h1>" in page
    assert text.startswith("# <R&D> report\n") and "nosuchtask toydata" in text


def test_paper_columns_come_from_the_specs():
    from unitrack.app.report import paper_column_map, paper_csv_path, paper_datasets

    cols = paper_column_map()
    assert list(cols) == ["sot_auc_xcorr", "sot_auc_dcf", "vos_jmean", "mot_idf1", "mot_hota", "mots_idf1",
                          "mots_hota", "posetrack_idf1", "posetrack_ids"]  # the published tables' order
    assert cols["sot_auc_dcf"] == ("sot", "dcf", "AUC") and cols["posetrack_ids"] == ("posetrack", None, "IDSW")
    header = paper_csv_path().read_text().splitlines()[0].split(",")
    assert {h.rsplit("_layer", 1)[0] for h in header if "_layer" in h} == set(cols)
    assert paper_datasets() == {"sot": "OTB-2015", "vos": "DAVIS-2017 val", "mot": "MOT16 train",
                                "mots": "MOTS20 train", "posetrack": "PoseTrack-18 val"}


def test_one_context_renders_both_pages(results_dir, tmp_path):
    from unitrack.app.report import render, report_context

    columns, rows = results_table(find_results(results_dir))
    ctx = report_context(find_results(results_dir), results_dir, columns, rows, tmp_path, with_previews=False)
    md, page = render("report.md.j2", ctx), render("report.html.j2", ctx)
    assert ctx["table"]["titles"][:2] == ["SOT xcorr AUC", "SOT dcf AUC"]
    assert "PoseTrack ID switches" in ctx["table"]["titles"]  # the metric's label from its spec
    assert "| mocov2 | " in md and "<b>90</b> / 130" in page and "**90** / 130" in md
    assert page.count("<svg") == 1 and md.count("![radar](images/radar.png)") == 1


# ----------------------------------------------------------------------------- rank and placement among the published rows


def _fab(root: Path, task: str, dataset: str, backbone: str, metrics: dict, layer: int = 3,
         variant: str | None = None, per_sequence: dict | None = None, extra: dict | None = None,
         wall: float | None = None) -> Path:
    folder = run_folder(root, task, dataset, backbone, layer, variant, None)
    fp = {"key": f"{task}{dataset}{backbone}{layer}{variant}"}
    if wall is not None:
        fp["wall_time_s"] = wall
    Result(task=task, dataset=dataset, backbone=backbone, layer=layer, metrics=metrics, variant=variant,
           per_sequence=per_sequence or {}, extra=extra or {}, fingerprint=fp).save(folder)
    return folder


def test_rank_among_the_published_rows_of_the_same_arch(tmp_path):
    from unitrack.app.report import place_models, rank_sentences

    # hand-checked against unitrack/data/paper_tables_1_2.csv, Table 2 (R18) at layer 3:
    # MOTS IDF1 = 34.5, 67.6, 68.8, 69.9, 69.0 → 68.5 has 3 better → 4th of 6;
    # MOT IDF1 = 18.4, 74.8, 64.9, 66.9, 67.8 → 74.8 ties ImageNet-sup. → 1st of 6 (0.748 × 100 is not "worse")
    _fab(tmp_path, "mots", "mots20", "imagenet_r18", {"IDF1": 0.685})
    _fab(tmp_path, "mot", "mot16", "imagenet_r18", {"IDF1": 0.748})
    _fab(tmp_path, "mots", "demo", "random_r18", {"IDF1": 0.40})  # 4 better → 5th, demo data
    _fab(tmp_path, "mot", "mot17", "uvc", {"IDF1": 0.70})  # another dataset than the paper's MOT16
    _fab(tmp_path, "mot", "mot16", "dino_vits16", {"IDF1": 0.70})  # no ViT rows in the paper
    # Table 1 (R50), VOS J-Mean layer 3: 17 of the 20 published values beat 58.0 → 18th of 21; lower is better
    # for PoseTrack ID switches: 90 beats all 20 → 1st
    _fab(tmp_path, "vos", "davis2017", "mocov2", {"J-Mean": 0.58})
    _fab(tmp_path, "posetrack", "posetrack18", "mocov2", {"IDF1": 73.0, "IDSW": 90})
    columns, rows = results_table(find_results(tmp_path))
    places = place_models(rows, load_paper_table())
    got = {(p.row.label, p.col[0], p.col[3]): (p.rank, p.of, p.comparable) for p in places}
    assert got[("imagenet_r18", "mots", "IDF1")] == (4, 6, True)
    assert got[("imagenet_r18", "mot", "IDF1")] == (1, 6, True)
    assert got[("random_r18", "mots", "IDF1")] == (5, 6, False)
    assert got[("uvc", "mot", "IDF1")] == (2, 6, False)
    assert got[("mocov2", "vos", "J-Mean")] == (18, 21, True)
    assert got[("mocov2", "posetrack", "IDSW")] == (1, 21, True)
    assert not any(p.row.label == "dino_vits16" for p in places)
    twin = next(p for p in places if (p.row.label, p.col[0]) == ("imagenet_r18", "mots"))
    assert twin.counterpart == 67.6  # the paper's own ImageNet-sup. (R18) row
    uvc = next(p for p in places if p.row.label == "uvc")
    assert uvc.reasons == ["dataset mot17, the paper's is MOT16 train"]
    text = rank_sentences(places, rows)
    assert ("imagenet_r18 ranks 1st of 6 on MOT IDF1 and 4th of 6 on MOTS IDF1 among the published ResNet-18 rows "
            "of Table 2 at layer 3.") in text
    assert ("random_r18 ranks 5th of 6 on MOTS IDF1 among the published ResNet-18 rows of Table 2 at layer 3 — "
            "not comparable (demo data): these numbers come from other data than the paper's.") in text
    assert any(s.startswith("mocov2 ranks 1st of 21 on PoseTrack ID switches") and "18th of 21 on VOS J" in s
               for s in text)
    assert any(s.startswith("dino_vits16 is not ranked: the published tables have no ViT-S/16 rows") for s in text)


def test_rank_table_and_sentences_in_the_report(paper_report):
    md = paper_report.markdown.read_text()
    assert "## Where these models rank among the published Tables 1–2" in md
    # mocov2 (R50) at layer 3 / 4 on VOS J-Mean: 18th / 1st of 21 (values 58.0 / 62.0, the paper's MoCoV2: 61.2 / 54.0)
    assert "| mocov2 | 3 | 20 R50 rows (Table 1) (same benchmark) |" in md
    assert "18/21 (58.0 · paper 61.2)" in md and "**1/21** (62.0 · paper 54.0)" in md
    assert "- mocov2 at layer 4 ranks 1st of 21 on VOS J and PoseTrack ID switches" in md
    assert "![placement radar](images/placement_radar.png)" in md


# ----------------------------------------------------------------------------- uncertainty and cost


def test_bootstrap_ci_is_scipy_seeded_and_needs_two_sequences():
    from scipy import stats

    from unitrack.app.report import bootstrap_ci

    x = [0.2, 0.5, 0.4, 0.9]
    lo, hi = bootstrap_ci(x)
    ref = stats.bootstrap((np.asarray(x),), np.mean, n_resamples=9999, method="percentile", vectorized=True,
                          axis=-1, rng=np.random.default_rng(0)).confidence_interval
    assert (lo, hi) == (ref.low, ref.high) and bootstrap_ci(x) == (lo, hi)  # seeded: the same every time
    assert lo < np.mean(x) < hi
    assert bootstrap_ci([0.5]) is None and bootstrap_ci([]) is None and bootstrap_ci([0.3, float("nan")]) is None
    assert bootstrap_ci([0.3, 0.3]) == (0.3, 0.3)
    assert bootstrap_ci([100, 120], "sum") == (200.0, 240.0)  # counts add up over sequences
    lo, hi = bootstrap_ci(list(np.linspace(0, 1, 12)))  # BCa from 10 sequences
    assert 0.3 < lo < 0.5 < hi < 0.7


def test_ci_columns(results_dir, paper_report):
    from unitrack.app.report import family_tables

    columns, rows = results_table(find_results(results_dir))
    imnet = next(r for r in rows if r.label == "imagenet_r18")
    # per-sequence J-Mean 0.54 and 0.60 (layer 3): the bootstrap means are 0.54, 0.57, 0.60 with probability
    # 1/4, 1/2, 1/4, so the 95% percentile interval is exactly [54, 60] % → ±3.0
    assert imnet.ci[("vos", "davis2017", None, "J-Mean")][3] == pytest.approx((54.0, 60.0))
    assert ("posetrack", "posetrack18", None, "IDSW") not in imnet.ci  # ID switches: no headline metric
    fams = family_tables(rows, columns)
    assert [f["id"] for f in fams] == ["results-box", "results-propagation", "results-association"]
    vos = fams[1]
    cell = vos["rows"][0]["cells"][[h["lines"][1] for h in vos["heads"][1:]].index("J (%) ↑")]
    assert cell["sub"] == "±3.0 / ±2.8" and "95% CI [54.0, 60.0] over 2 sequences" in cell["title"]
    md = paper_report.markdown.read_text()
    assert "| imagenet_r18 | 50.0 / 45.0 (±2.5 / ±2.2) |" in md  # SOT xcorr AUC, its CI below it
    cells = list(csv.DictReader(io.StringIO((paper_report.html.parent / "cells.csv").read_text())))
    row = next(c for c in cells if (c["backbone"], c["task"], c["metric"], c["layer"]) == ("imagenet_r18", "vos",
                                                                                             "J-Mean", "3"))
    assert (float(row["ci_low"]), float(row["ci_high"]), row["sequences"]) == (54.0, 60.0, "2")
    # Table 2, layer-3 J-Mean: 33.0, 58.4, 53.6, 56.5, 63.2 — only CRW's 63.2 beats 60.0 → 2nd of 6
    assert (row["rank"], row["of"], row["comparable"]) == ("2", "6", "1")


def test_one_sequence_shows_no_ci(tmp_path):
    from unitrack.app.report import family_tables

    _fab(tmp_path, "vos", "davis2017", "a", {"J-Mean": 0.5, "J&F-Mean": 0.5}, per_sequence={"s1": {"J-Mean": 0.5}})
    _fab(tmp_path, "vos", "davis2017", "b", {"J-Mean": 0.6, "J&F-Mean": 0.6})
    columns, rows = results_table(find_results(tmp_path))
    assert all(not r.ci for r in rows)
    cells = [c for r in family_tables(rows, columns)[0]["rows"] for c in r["cells"]]
    assert all(c["sub"] == "" for c in cells)
    assert "no interval (1 sequence(s)" in cells[0]["title"] + cells[1]["title"]


def test_counts_cost_and_computed_or_reused(tmp_path):
    import json

    from unitrack.app.report import cell_info, frame_count, sweep_statuses

    seqs = {"s1": {"IDF1": 0.5, "HOTA": 0.4}, "s2": {"IDF1": 0.7, "HOTA": 0.5}}
    a = _fab(tmp_path, "mot", "mot16", "a", {"IDF1": 0.6, "HOTA": 0.45}, per_sequence=seqs, extra={"frames": 100},
             wall=2.0)
    b = _fab(tmp_path, "mot", "mot16", "b", {"IDF1": 0.5, "HOTA": 0.4}, per_sequence=seqs, wall=4.0)
    _fab(tmp_path, "mot", "mot16", "c", {"IDF1": 0.4, "HOTA": 0.3},
         per_sequence={"s1": {"IDF1": 0.4, "frames": 30}, "s2": {"IDF1": 0.4, "frames": 20}}, wall=5.0)
    (tmp_path / "sweep_summary.json").write_text(json.dumps({"cells": [
        {"cell": "mot a layer3", "status": "computed", "path": f"/elsewhere/{a.relative_to(tmp_path)}",
         "node": "local"},
        {"cell": "mot b layer3", "status": "reused", "path": str(b), "node": "node-2"}]}))
    st = sweep_statuses(tmp_path)
    infos = {r.backbone: cell_info(r, st) for r in find_results(tmp_path)}
    assert (infos["a"].frames, infos["a"].fps, infos["a"].status, infos["a"].sequences) == (100, 50.0, "computed", 2)
    assert (infos["b"].frames, infos["b"].fps, infos["b"].status, infos["b"].node) == (None, None, "reused", "node-2")
    assert (infos["c"].frames, infos["c"].fps, infos["c"].status) == (50, 10.0, "stored")  # frames per sequence
    assert frame_count(Result(task="x", dataset="d", backbone="b", layer=3, metrics={}, extra={"num_frames": 7})) == 7
    rep = build_report(tmp_path, tmp_path / "rep", with_previews=False)
    page, md = rep.html.read_text(), rep.markdown.read_text()
    assert "2.0 s · 50.0 fr/s" in page and '<span class="st st-reused">reused</span>' in page
    assert "| a | 2.0 s · 50.0 fr/s · computed |" in md and "| c | 5.0 s · 10.0 fr/s · stored |" in md
    assert "1 computed, 1 reused by the last sweep, 1 stored before it" in md
    assert "<sub>2 seq · 50–100 frames</sub>" in md
    cells = {c["backbone"]: c for c in csv.DictReader(io.StringIO((rep.html.parent / "cells.csv").read_text()))
             if c["metric"] == "IDF1"}
    assert (cells["a"]["status"], cells["a"]["frames_per_s"], cells["b"]["status"]) == ("computed", "50", "reused")


# ----------------------------------------------------------------------------- tables: the layers that ran


def test_layer_3_only_tables(tmp_path):
    seqs = {f"s{i}": {"J-Mean": 0.5 + 0.02 * i, "J&F-Mean": 0.5 + 0.01 * i, "IDF1": 0.6 + 0.01 * i,
                      "HOTA": 0.5, "AUC": 40.0 + i} for i in range(3)}
    for bb, k in (("imagenet_r18", 0.0), ("random_r18", -0.2)):
        _fab(tmp_path, "vos", "davis2017", bb, {"J-Mean": 0.55 + k, "J&F-Mean": 0.52 + k}, per_sequence=seqs)
        _fab(tmp_path, "mot", "mot16", bb, {"IDF1": 0.62 + k, "HOTA": 0.5 + k}, per_sequence=seqs)
        _fab(tmp_path, "sot", "otb2015", bb, {"AUC": 41.0 + 100 * k}, variant="dcf", per_sequence=seqs)
    rep = build_report(tmp_path, tmp_path / "rep", with_paper=True, with_previews=False)
    md, page = rep.markdown.read_text(), rep.html.read_text()
    assert "/ –" not in md and "– /" not in md and "layer3 / layer4" not in md
    assert "Cells: layer3." in md and ", layer 3, on " in md
    assert "| imagenet_r18 | **52.0** (±1.0) | **55.0** (±2.0) |" in md  # VOS: J&F first, then J
    assert "| random_r18 | 32.0 (±1.0) | 35.0 (±2.0) |" in md
    # the published comparison shows the same layer only (ImageNet-sup. R50: SOT dcf AUC 62.0 at layer3)
    assert "| ImageNet-sup. (R50) *(published)* | **58.6** | 62.0 |" in md
    assert page.count('<div class="grid sortable"') == 1 + 3 + 1 + 1  # ranks, 3 families, cost, published


def test_one_user_backbone_gets_the_placement_radar(tmp_path):
    from unitrack.app.report import report_context

    _fab(tmp_path, "vos", "davis2017", "imagenet_r18", {"J-Mean": 0.6, "J&F-Mean": 0.6})
    _fab(tmp_path, "mot", "mot16", "imagenet_r18", {"IDF1": 0.7, "HOTA": 0.6})
    _fab(tmp_path, "sot", "otb2015", "imagenet_r18", {"AUC": 55.0}, variant="dcf")
    results = find_results(tmp_path)
    columns, rows = results_table(results)
    ctx = report_context(results, tmp_path, columns, rows, tmp_path / "img", with_paper=True, with_previews=False)
    assert ctx["placement"]["radar"] is not None and "placement radar" in render_md(ctx)
    assert_real_plot(tmp_path / "img" / "placement_radar.png")
    assert ctx["radar"] is None and "the placement radar above places it" in ctx["radar_skipped"]


def render_md(ctx) -> str:
    from unitrack.app.report import render

    return render("report.md.j2", ctx)


# ----------------------------------------------------------------------------- baselines the heads store


def test_baselines_from_extra():
    from unitrack.app.report import baselines

    r = Result(task="sot", dataset="otb", backbone="a", layer=3, metrics={"AUC": 50.0},
               extra={"static_box_baseline": {"AUC": 22.3}, "oracle": {"AUC": 99.0, "what": "x"}, "curves": {}})
    assert baselines(r, "AUC") == {"static first box": 22.3, "oracle: GT tracks": 99.0}
    assert baselines(r, "Precision@20") == {}


def test_pose_propagation_stores_the_first_frame_baseline_and_frames(demo_root, tmp_path):
    from unitrack.config import default_config
    from unitrack.heads.poseprop import TASK, first_frame_pose_baseline

    cfg = default_config("poseprop")
    ref = first_frame_pose_baseline(demo_root / "jhmdb", tmp_path / "pred", cfg)  # written and scored
    vids = TASK.videos(demo_root / "jhmdb", cfg)
    assert ref.extra["first_frame_baseline"] == ref.metrics  # the in-memory copy scores the same
    assert ref.extra["frames"] == sum(v.joints.shape[2] for v in vids)


def test_regression_band():
    from unitrack.app.correlate import regression_band

    x = np.array([60.0, 65, 70, 75, 80])
    grid = np.array([60.0, 70, 80])
    fit, lo, hi = regression_band(x, 2 * x + 1, grid, n_boot=300)
    np.testing.assert_allclose(fit, 2 * grid + 1)
    np.testing.assert_allclose(lo, fit) and np.testing.assert_allclose(hi, fit)  # no noise, no band
    y = 2 * x + np.array([3.0, -2, 1, -4, 2])
    fit, lo, hi = regression_band(x, y, grid, n_boot=500, seed=1)
    assert (lo <= fit).all() and (fit <= hi).all() and (hi - lo)[1] < (hi - lo)[0]  # narrowest near the mean
    assert regression_band(x, y, grid, n_boot=500, seed=1)[1].tolist() == lo.tolist()  # seeded
    assert np.isnan(regression_band([1.0, 1, 1], [1.0, 2, 3], grid)[0]).all()
