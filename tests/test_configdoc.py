"""docs/config.md is generated from the config classes; `unitrack config show` prints a resolved config."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml

from unitrack.app.cli import main
from unitrack.app.configdoc import class_docstring, field_docs, render_config_doc
from unitrack.config import CommonConfig
from unitrack.tasks import all_specs

DOC = Path(__file__).resolve().parents[1] / "docs" / "config.md"


def test_committed_config_doc_is_up_to_date():
    assert DOC.is_file(), "docs/config.md is missing: run `unitrack config docs`"
    assert DOC.read_text(encoding="utf-8") == render_config_doc(), (
        "docs/config.md is stale (a config field, default or comment changed): run `unitrack config docs`")


def test_doc_lists_every_field_of_every_section():
    text = render_config_doc()
    assert "\n## common\n" in text
    for f in dataclasses.fields(CommonConfig):
        assert f"| `{f.name}` |" in text
    pos = [text.index(f"\n## {s.name}\n") for s in all_specs()]
    assert pos == sorted(pos)  # table order
    for s in all_specs():
        section = text[text.index(f"\n## {s.name}\n"):]
        for f in dataclasses.fields(s.config):
            assert f"| `{f.name}` |" in section


def test_trailing_comments_defaults_and_inherited_fields():
    from unitrack.heads.mots import MOTSConfig

    rows = {r["name"]: r for r in field_docs(CommonConfig)}
    assert rows["layer"]["type"] == "int | None" and rows["layer"]["default"] == "null"
    assert "backbone's default" in rows["layer"]["comment"]
    assert rows["backbone"]["default"] == '"imagenet_r18"' and rows["backbone"]["comment"] == ""
    mots = {r["name"]: r for r in field_docs(MOTSConfig)}
    assert mots["max_mask_area"]["default"] == "200" and mots["max_mask_area"]["origin"] == ""
    assert mots["feat_size"]["default"] == "[4, 10]" and mots["feat_size"]["origin"] == "AssociationConfig"
    assert mots["motion_gated"]["default"] == "false"  # re-declared in MOTSConfig with another default
    assert mots["similarity"]["comment"].startswith("rsm | ")  # comment read from the base class
    assert "re-declared here: `motion_gated`" in render_config_doc()
    assert class_docstring(CommonConfig).startswith("Settings shared by every task")
    assert class_docstring(MOTSConfig) == "" or not class_docstring(MOTSConfig).startswith("MOTSConfig(")
    assert "\\|" in render_config_doc()  # pipes inside cells are escaped for Markdown tables


def test_config_docs_check_and_write(tmp_path, capsys):
    out = tmp_path / "config.md"
    assert main(["config", "docs", "--out", str(out), "--check"]) == 1
    assert "unitrack config docs" in capsys.readouterr().err
    assert main(["config", "docs", "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == render_config_doc()
    assert main(["config", "docs", "--out", str(out), "--check"]) == 0
    out.write_text(out.read_text(encoding="utf-8") + "edited by hand\n", encoding="utf-8")
    assert main(["config", "docs", "--out", str(out), "--check"]) == 1
    assert "out of date" in capsys.readouterr().err


def test_config_show_prints_resolved_yaml(capsys, tmp_path):
    assert main(["config", "show", "--task", "vos", "--set", "vos.topk=20"]) == 0
    cfg = yaml.safe_load(capsys.readouterr().out)
    assert cfg["task"] == "vos" and cfg["vos"]["topk"] == 20 and cfg["vos"]["temperature"] == 0.05
    assert cfg["common"]["backbone"] == "imagenet_r18"
    f = tmp_path / "c.yaml"
    f.write_text("common:\n  seed: 3\nsot:\n  head: dcf\n")
    assert main(["config", "show", "--task", "sot", "--config", str(f), "--set", "protocol=fixed"]) == 0
    cfg = yaml.safe_load(capsys.readouterr().out)
    assert (cfg["common"]["seed"], cfg["sot"]["head"], cfg["sot"]["protocol"]) == (3, "dcf", "fixed")


def test_config_show_unknown_key_is_an_error(capsys):
    assert main(["config", "show", "--task", "vos", "--set", "vos.topkk=3"]) == 2
    err = capsys.readouterr().err
    assert "unknown key vos.topkk" in err and "did you mean 'topk'" in err
    assert main(["config"]) == 2
    assert "show or docs" in capsys.readouterr().err
