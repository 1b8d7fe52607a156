import subprocess
import sys

import pytest

from unitrack.app.cli import build_parser, main


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    for cmd in ("eval", "score", "sweep", "report", "correlate", "viz", "backbones", "datasets"):
        assert cmd in text


def test_python_dash_m_entry_point():
    out = subprocess.run([sys.executable, "-m", "unitrack", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip().startswith("unitrack ")


def test_eval_bad_config_key_is_a_clear_error(capsys, tmp_path):
    rc = main(["eval", "--task", "vos", "--backbone", "random_r18", "--set", "vos.topkk=3", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2 and "unknown key vos.topkk" in err and "did you mean 'topk'" in err
    assert not any(tmp_path.iterdir())


def test_eval_parses_task_specific_flags():
    a = build_parser().parse_args(["eval", "--task", "sot", "--head", "dcf", "--layer", "4", "--set", "sot.protocol=fixed"])
    assert (a.task, a.head, a.layer, a.sets, a.data) == ("sot", "dcf", 4, ["sot.protocol=fixed"], "demo")


def test_head_only_for_sot(capsys):
    rc = main(["eval", "--task", "vos", "--head", "dcf"])
    assert rc == 2 and "--head applies to --task sot" in capsys.readouterr().err


def test_datasets_demo_writes_all_formats(tmp_path, capsys):
    rc = main(["datasets", "demo", "--out", str(tmp_path / "d"), "--sequences", "1", "--frames", "10", "--size", "96x72"])
    assert rc == 0
    for sub in ("otb", "davis", "jhmdb", "mot", "mots", "posetrack"):
        assert (tmp_path / "d" / sub).is_dir()
    assert main(["datasets", "demo", "--out", str(tmp_path / "e"), "--size", "big"]) == 2
    assert "expected WxH" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["--size", "10x10"], "error: demo size 10x10: width and height must lie in [64, 256]"),
    (["--frames", "999"], "error: demo num_frames=999: must lie in [10, 30]"),
    (["--sequences", "0"], "error: demo num_sequences=0: must lie in [1, 20]"),
])  # fmt: skip
def test_datasets_demo_range_errors_are_clear(tmp_path, capsys, args, message):
    assert main(["datasets", "demo", "--out", str(tmp_path / "d"), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "d").exists()


def test_datasets_check_reports_and_names_bad_input(tmp_path, capsys, demo_root):
    assert main(["datasets", "check", "--task", "mot", str(demo_root / "mot")]) == 0
    out = capsys.readouterr().out
    assert "sequences: 2" in out
    bad = tmp_path / "bad"
    (bad / "train" / "S1" / "img1").mkdir(parents=True)
    assert main(["datasets", "check", "--task", "mot", "--data", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "S1" in err or str(bad) in err
    assert main(["datasets", "check", "--task", "vos"]) == 2
    assert "needs a dataset folder" in capsys.readouterr().err


def test_quiet_and_verbose_before_or_after_the_subcommand():
    import logging

    for argv in (["-q", "backbones"], ["backbones", "-q"]):
        assert main(argv) == 0
        assert logging.getLogger("unitrack").getEffectiveLevel() == logging.WARNING
    assert main(["backbones"]) == 0
    assert logging.getLogger("unitrack").getEffectiveLevel() == logging.INFO
    assert main(["-v", "backbones"]) == 0
    assert logging.getLogger("unitrack").getEffectiveLevel() == logging.DEBUG
    assert main(["backbones", "-v"]) == 0
    assert logging.getLogger("unitrack").getEffectiveLevel() == logging.DEBUG
