"""The wheel maps backbones/, heads/ and eval/ into the single `unitrack` namespace."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_contains_and_imports_mapped_subpackages(tmp_path: Path):
    wheel_dir = tmp_path / "wheel"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheel_dir), str(REPO)],
        check=True,
        cwd=tmp_path,
    )
    (whl,) = wheel_dir.glob("unitrack-*.whl")
    names = zipfile.ZipFile(whl).namelist()
    for pkg in ("unitrack", "unitrack/backbones", "unitrack/heads", "unitrack/eval"):
        assert f"{pkg}/__init__.py" in names, f"{pkg} missing from {whl.name}"
    assert not any(n.startswith(("heads/", "backbones/", "eval/", "tests/")) for n in names)
    assert "unitrack/data/paper_tables_1_2.csv" in names or not (REPO / "unitrack/data/paper_tables_1_2.csv").exists()

    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(whl)], check=True
    )
    code = (
        "import unitrack, unitrack.backbones, unitrack.heads, unitrack.eval, unitrack.config;"
        "print(unitrack.__file__); print(unitrack.heads.__file__); print(unitrack.eval.__file__);"
        "print(unitrack.backbones.__file__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=tmp_path,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
    ).stdout.split()
    assert len(out) == 4
    assert all(p.startswith(str(site)) for p in out), out
