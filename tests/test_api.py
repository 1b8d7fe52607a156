"""evaluate(): config → backbone → task → atomic result store with fingerprint reuse."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

import unitrack
from unitrack import api
from unitrack.eval.base import MetricSpec
from unitrack.results import Result, find_results
from unitrack.tasks import Task, TaskOutput, get_spec
from unitrack.utils import UnitrackError


class FakeTask(Task):
    """Scores the mean feature norm of two frames: exercises the extractor and the store."""

    # the VOS config section, one metric of its own
    spec = dataclasses.replace(get_spec("vos"), metrics=(MetricSpec("score", unit="count", headline=True),), paper_columns={})

    def __init__(self):
        self.calls = 0
        self.fail = False

    def resolve_data(self, data, cfg):
        return "fake", Path(data)

    def run(self, ctx, pred_dir):
        self.calls += 1
        pred_dir.mkdir(parents=True)
        (pred_dir / "seq.txt").write_text("1,2,3,4\n")
        if self.fail:
            raise RuntimeError("head crashed half-way")
        frames = [np.full((32, 48, 3), v, np.uint8) for v in (10, 200)]
        feats = ctx.extractor(ctx.extractor.normalize(frames))
        assert feats.shape[1:] == (ctx.backbone.out_channels, 4, 6)
        norm = float(feats.norm(dim=1).mean())
        return TaskOutput(metrics={"score": norm}, per_sequence={"seq": {"score": norm}})


@pytest.fixture
def fake(monkeypatch):
    t = FakeTask()
    monkeypatch.setattr(api, "get_task", lambda name: t)
    return t


def test_evaluate_stores_reuses_and_forces(fake, tmp_path):
    out = tmp_path / "res"
    r = unitrack.evaluate(task="vos", backbone="random_r18", data=tmp_path, out=out, device="cpu")
    folder = out / "vos" / "fake" / "random_r18-layer3"
    assert Path(r.path) == folder and (folder / "result.json").is_file() and (folder / "pred" / "seq.txt").is_file()
    stored = json.loads((folder / "result.json").read_text())
    fp = stored["fingerprint"]
    assert fp["task"] == "vos" and fp["layer"] == 3 and fp["dataset"] == "fake"
    assert fp["weights_sha256"].startswith("random")
    assert fp["protocol"]["vos"]["topk"] == 10 and fp["device"] == "cpu"
    assert {"torch", "unitrack", "trackeval"} <= set(fp["versions"]) and fp["wall_time_s"] >= 0
    assert stored["config"]["common"]["backbone"] == "random_r18"
    assert r.metrics["score"] > 0 and fake.calls == 1

    again = unitrack.evaluate(task="vos", backbone="random_r18", data=tmp_path, out=out, device="cpu")
    assert again.reused and fake.calls == 1 and again.metrics == r.metrics  # same fingerprint → reused
    forced = api.evaluate("vos", "random_r18", tmp_path, out=out, device="cpu", force=True)
    assert not forced.reused and fake.calls == 2
    assert forced.metrics["score"] == pytest.approx(r.metrics["score"], rel=1e-6)  # seeded → reproducible

    # a protocol change is a new fingerprint in its own folder; the default result is kept
    other = api.evaluate("vos", "random_r18", tmp_path, out=out, device="cpu", sets=["vos.topk=3"])
    assert fake.calls == 3 and Path(other.path).name.startswith("random_r18-layer3-cfg")
    assert other.key != r.key and (folder / "result.json").is_file()
    # runtime-only settings (batch size) do not change the fingerprint
    api.evaluate("vos", "random_r18", tmp_path, out=out, device="cpu", sets=["common.batch_size=1"])
    assert fake.calls == 3
    assert sorted(Path(x.path).name for x in find_results(out))[0] == "random_r18-layer3"


def test_failed_run_leaves_nothing_half_written(fake, tmp_path):
    out = tmp_path / "res"
    fake.fail = True
    with pytest.raises(RuntimeError, match="half-way"):
        api.evaluate("vos", "random_r18", tmp_path, out=out, device="cpu")
    parent = out / "vos" / "fake"
    assert not any(parent.iterdir()) if parent.exists() else True


def test_layer4_and_unknown_backbone(fake, tmp_path):
    r = api.evaluate("vos", "random_r18", tmp_path, out=tmp_path / "o", device="cpu", layer=4)
    assert r.layer == 4 and Path(r.path).name == "random_r18-layer4"
    with pytest.raises(UnitrackError, match="random_r18"):
        api.evaluate("vos", "random_r81", tmp_path, out=tmp_path / "o", device="cpu")


def test_result_load_errors(tmp_path):
    bad = tmp_path / "result.json"
    bad.write_text("{not json")
    with pytest.raises(UnitrackError, match="result.json"):
        Result.load(bad)


def test_atomic_writes_have_normal_permissions(tmp_path):
    import os
    import stat

    from unitrack.utils import atomic_dir, atomic_write_json

    old = os.umask(0o022)
    try:
        atomic_write_json(tmp_path / "a.json", {"x": 1})
        with atomic_dir(tmp_path / "run") as d:
            (d / "f").write_text("1")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "run").stat().st_mode) == 0o755
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": 1}
