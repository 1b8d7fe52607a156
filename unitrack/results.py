"""Results store: one folder per (task, dataset, backbone-layer[-variant]) with result.json and the
benchmark-format predictions beside it, written atomically and reused by fingerprint."""

from __future__ import annotations

import json
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from unitrack.utils import UnitrackError, atomic_write_json, sha256_json

RESULT_FILE = "result.json"
PRED_DIR = "pred"
SCHEMA = 1


def package_versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("unitrack", "torch", "torchvision", "timm", "trackeval", "numpy"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def fingerprint_key(fp: dict) -> str:
    """Hash of the parts of a fingerprint that determine the numbers (not device, versions, timings)."""
    keep = {k: fp[k] for k in ("task", "dataset", "data_root", "backbone", "weights_sha256", "layer", "protocol") if k in fp}
    return sha256_json(keep)


@dataclass
class Result:
    """Metrics of one evaluation plus the fingerprint that identifies how they were produced."""

    task: str
    dataset: str
    backbone: str
    layer: int
    metrics: dict[str, float]
    per_sequence: dict[str, dict[str, float]] = field(default_factory=dict)
    fingerprint: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    path: str | None = None  # folder holding result.json (not stored)
    reused: bool = False

    @property
    def key(self) -> str:
        return self.fingerprint.get("key", "")

    @property
    def pred_dir(self) -> Path | None:
        return Path(self.path) / PRED_DIR if self.path else None

    def to_json(self) -> dict:
        d = asdict(self)
        d.pop("path")
        d.pop("reused")
        d["schema"] = SCHEMA
        return d

    def save(self, folder: str | Path) -> Path:
        p = Path(folder) / RESULT_FILE
        atomic_write_json(p, self.to_json())
        return p

    @classmethod
    def load(cls, path: str | Path) -> Result:
        p = Path(path)
        if p.is_dir():
            p = p / RESULT_FILE
        try:
            d = json.loads(p.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise UnitrackError(f"cannot read result file {p}: {e}") from None
        d.pop("schema", None)
        try:
            r = cls(**d)
        except TypeError as e:
            raise UnitrackError(f"{p}: not a unitrack result file ({e})") from None
        r.path = str(p.parent)
        return r

    def summary(self) -> str:
        head = ", ".join(f"{k}={_fmt(v)}" for k, v in self.metrics.items())
        return f"{self.task}/{self.dataset} {self.backbone} layer{self.layer}: {head}"


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def run_folder(out: str | Path, task: str, dataset: str, backbone: str, layer: int, variant: str | None,
               cfg_tag: str | None) -> Path:
    name = f"{backbone}-layer{layer}"
    if variant:
        name += f"-{variant}"
    if cfg_tag:
        name += f"-cfg{cfg_tag}"
    return Path(out) / task / dataset / name


def find_results(root: str | Path) -> list[Result]:
    """Every result.json below ``root`` (sorted by path)."""
    root = Path(root)
    paths = sorted(root.rglob(RESULT_FILE))
    return [Result.load(p) for p in paths if not any(s.startswith(".") for s in p.relative_to(root).parts)]
