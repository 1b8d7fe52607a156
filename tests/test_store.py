"""Result folders: keyed by checkpoint, data identity instead of paths, locked commits, stale temp folders."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from unitrack import api
from unitrack.eval.base import MetricSpec
from unitrack.results import Result, data_identity, weights_tag
from unitrack.tasks import Task, TaskOutput, get_spec
from unitrack.utils import _host_tag, atomic_dir, atomic_write_json, remove_stale_temp_dirs


class _MeanTask(Task):
    """Mean of the features of one constant frame: cheap, but depends on the weights."""

    spec = dataclasses.replace(get_spec("vos"), metrics=(MetricSpec("mean", unit="count", headline=True),),
                               paper_columns={})

    def __init__(self):
        self.calls = 0

    def resolve_data(self, data, cfg):
        return Path(data).name, Path(data)

    def run(self, ctx, pred_dir):
        import numpy as np

        self.calls += 1
        pred_dir.mkdir(parents=True)
        x = ctx.extractor.normalize([np.full((32, 32, 3), 90, np.uint8)])
        return TaskOutput(metrics={"mean": float(ctx.extractor(x).mean()), "nan": float("nan")})


@pytest.fixture
def task(monkeypatch):
    t = _MeanTask()
    monkeypatch.setattr(api, "get_task", lambda name: t)
    return t


@pytest.fixture
def data(tmp_path):
    d = tmp_path / "mydata"
    (d / "seq").mkdir(parents=True)
    (d / "seq" / "00001.jpg").write_bytes(b"frame")
    (d / "seq" / "gt.txt").write_text("1,1,10,10,20,20\n")
    return d


def _checkpoint(path: Path, seed: int) -> Path:
    import torchvision

    torch.manual_seed(seed)
    torch.save(torchvision.models.resnet18().state_dict(), path)
    return path


def test_two_checkpoints_of_one_backbone_get_their_own_folders(task, data, tmp_path):
    a, b = _checkpoint(tmp_path / "a.pth", 1), _checkpoint(tmp_path / "b.pth", 2)
    out = tmp_path / "res"
    ra = api.evaluate("vos", "imagenet_r18", data, weights=a, out=out, device="cpu")
    rb = api.evaluate("vos", "imagenet_r18", data, weights=b, out=out, device="cpu")
    assert ra.path != rb.path and ra.metrics["mean"] != rb.metrics["mean"]
    assert Path(ra.path).name == f"imagenet_r18@{ra.fingerprint['weights_sha256'][:8]}-layer3"
    assert ra.weights_tag == ra.fingerprint["weights_sha256"][:8] and rb.weights_tag != ra.weights_tag
    # rerunning both reuses both
    assert api.evaluate("vos", "imagenet_r18", data, weights=a, out=out, device="cpu").reused
    assert api.evaluate("vos", "imagenet_r18", data, weights=b, out=out, device="cpu").reused
    assert task.calls == 2
    # a moved checkpoint is the same checkpoint
    moved = tmp_path / "elsewhere" / "a_copy.pth"
    moved.parent.mkdir()
    shutil.copy(a, moved)
    again = api.evaluate("vos", "imagenet_r18", data, weights=moved, out=out, device="cpu")
    assert again.reused and again.path == ra.path and task.calls == 2
    r0 = api.evaluate("vos", "imagenet_r18", data, weights="random", out=out, device="cpu")
    assert Path(r0.path).name == "imagenet_r18@random-layer3"


def test_moved_data_reuses_and_changed_annotations_recompute(task, data, tmp_path):
    out = tmp_path / "res"
    r = api.evaluate("vos", "random_r18", data, out=out, device="cpu")
    assert r.fingerprint["data_identity"] == {"files": 2, "hashed": 1, "sha256": data_identity(data)["sha256"]}
    moved = tmp_path / "disk2" / "mydata"
    shutil.copytree(data, moved)
    assert api.evaluate("vos", "random_r18", moved, out=out, device="cpu").reused and task.calls == 1
    (moved / "seq" / "gt.txt").write_text("1,1,11,10,20,20\n")  # same size, other content
    assert not api.evaluate("vos", "random_r18", moved, out=out, device="cpu").reused and task.calls == 2


def test_nan_metric_is_stored_as_null(task, data, tmp_path):
    r = api.evaluate("vos", "random_r18", data, out=tmp_path / "res", device="cpu")
    text = (Path(r.path) / "result.json").read_text()
    assert "NaN" not in text and json.loads(text)["metrics"]["nan"] is None
    assert Result.load(r.path).metrics["nan"] is None and math.isnan(r.metrics["nan"])


def test_weights_tag():
    assert weights_tag(None, "abc") is None
    assert weights_tag("random", "random:seed0") == "random"
    assert weights_tag("x.pth", "0123456789abcdef" * 4) == "01234567"
    assert weights_tag("x.pth", "torchvision:resnet18-f37072fd.pth:f37072fd1234abcd") == "f37072fd"


def test_stale_temp_folders_of_dead_processes_are_removed(tmp_path):
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    host = _host_tag().rsplit("-", 1)[0]
    final = tmp_path / "vos" / "demo" / "r18-layer3"
    final.parent.mkdir(parents=True)
    dead = final.parent / f".{final.name}.{host}-{p.pid}.abc123.tmp"
    live = final.parent / f".{final.name}.{_host_tag()}.def456.tmp"
    other_host = final.parent / f".{final.name}.otherhost-{p.pid}.ghi789.tmp"
    for d in (dead, live, other_host):
        (d / "pred").mkdir(parents=True)
    assert remove_stale_temp_dirs(final) == [dead]
    assert not dead.exists() and live.exists() and other_host.exists()
    with atomic_dir(final) as tmp:
        (tmp / "result.json").write_text("{}")
    assert (final / "result.json").is_file()
    assert oct(final.stat().st_mode & 0o777) != oct(0o700)


def test_concurrent_commits_to_one_folder_never_raise(tmp_path):
    final = tmp_path / "cell"
    errors = []

    def commit(i):
        try:
            with atomic_dir(final) as tmp:
                atomic_write_json(tmp / "result.json", {"writer": i})
        except Exception as e:  # pragma: no cover - the failure this test is about
            errors.append(e)

    threads = [threading.Thread(target=commit, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert json.loads((final / "result.json").read_text())["writer"] in range(8)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == ["cell"]
