"""Reports: the published reference table, the Tables 1–2 layout with bold best cells, ranks for the radar
plot, a self-contained HTML page (rendered in headless Chromium when available) and real images."""

from __future__ import annotations

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
    assert page.count("data:image/png;base64,") == 7  # 2 success plots + 5 per-sequence plots
    assert page.count("<svg") == 2  # our radar + the published radar, inline
    assert md.count("*(published)*") == 25 and "![radar](images/radar.png)" in md
    assert "**60.0** / 55.0" in md
    for name in ("radar.png", "radar_published.png", "success-sot-dcf-otb2015.png",
                 "per-sequence-vos-davis2017.png"):
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


@pytest.mark.skipif(_chromium() is None, reason="chromium not on PATH (Debian: apt-get install chromium)")
def test_report_renders_in_headless_chromium(paper_report, tmp_path):
    rep = paper_report
    shot = tmp_path / "shot.png"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--hide-scrollbars"]
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([_chromium(), *flags, f"--user-data-dir={profile}", f"--screenshot={shot}",
                        "--window-size=1400,2000", rep.html.resolve().as_uri()], capture_output=True, timeout=120)
        dom = subprocess.run([_chromium(), *flags, f"--user-data-dir={profile}", "--dump-dom",
                              rep.html.resolve().as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert shot.is_file(), "chromium wrote no screenshot"
    img = np.asarray(Image.open(shot).convert("RGB"))
    assert img.shape[:2] == (2000, 1400)
    assert (img < 128).any(axis=2).mean() > 0.01  # text and tables were painted
    # the parsed page holds the tables, the inline SVG radar and the embedded PNGs
    assert dom.count("<table>") == 2 and "<svg" in dom and dom.count("data:image/png;base64,") == 7


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
