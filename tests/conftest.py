"""Shared fixtures: the real sample data (integration tests) and a small generated demo benchmark."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def sample_data_root() -> Path | None:
    """$UNITRACK_SAMPLE_DATA, or the sample-data folder the project is checked out beside; None when neither exists."""
    env = os.environ.get("UNITRACK_SAMPLE_DATA")
    for cand in ([Path(env)] if env else []) + [REPO.parent / "shared" / "data"]:
        if cand.is_dir():
            return cand
    return None


@pytest.fixture(scope="session")
def sample_data() -> Path:
    root = sample_data_root()
    if root is None:
        pytest.skip("real sample data not found ($UNITRACK_SAMPLE_DATA)")
    return root


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory) -> Path:
    """A small demo benchmark (all formats) generated once per test session."""
    from unitrack.eval.demo import generate_demo

    out = tmp_path_factory.mktemp("demo")
    return generate_demo(out, seed=0, num_sequences=2, num_frames=12, size=(128, 96))


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Never touch the user's ~/.cache/unitrack from tests."""
    monkeypatch.setenv("UNITRACK_HOME", str(tmp_path_factory.getbasetemp() / "unitrack_home"))
