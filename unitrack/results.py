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
SCHEMA = 2  # 2: variant, weights_tag, cfg_tag, skipped fields; fingerprint.data_identity


def package_versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("unitrack", "torch", "torchvision", "timm", "trackeval", "numpy"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


KEY_FIELDS = ("task", "dataset", "data_identity", "backbone", "weights_sha256", "layer", "protocol")
# files identified by relative path and size only (frames); every other file also by a hash of its content
FRAME_SUFFIXES = frozenset({".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".mp4", ".avi"})


def fingerprint_key(fp: dict) -> str:
    """Hash of the parts of a fingerprint that determine the numbers (not where the data lies, not device,
    versions or timings): a moved data folder or checkpoint keeps its stored results."""
    keep = {k: fp[k] for k in KEY_FIELDS if k in fp}
    return sha256_json(keep)


_CONTENT_HASHES: dict[tuple[str, int, int, int], str] = {}  # (path, inode, size, mtime_ns) → sha256


def data_identity(root: str | Path, exclude: list[str | Path] = ()) -> dict[str, Any]:
    """What the data is, independent of where it lies: the relative layout (every file's path and size)
    plus the content hash of every annotation-like file (anything but frames and videos).

    Hidden files and folders are left out, and so are the folders in ``exclude`` (e.g. a results folder
    inside the data folder). Cost: one ``stat`` per file and reading the annotations.
    """
    import hashlib
    import os

    from unitrack.utils import sha256_file

    root = Path(root)
    if root.is_file():
        return {"files": 1, "hashed": 1, "sha256": sha256_file(root)}
    h = hashlib.sha256()
    files = hashed = 0
    skip = {Path(e).resolve() for e in exclude}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames
                             if not d.startswith(".") and (Path(dirpath) / d).resolve() not in skip)
        for fn in sorted(filenames):
            if fn.startswith("."):
                continue
            p = Path(dirpath) / fn
            try:
                st = p.stat()
            except OSError as e:
                raise UnitrackError(f"cannot read {p}: {e.strerror}") from None
            h.update(f"{p.relative_to(root).as_posix()}\0{st.st_size}\0".encode())
            files += 1
            if p.suffix.lower() not in FRAME_SUFFIXES:
                # a sweep fingerprints the same data once per cell: hash a file again only when it changed
                sig = (str(p), st.st_ino, st.st_size, st.st_mtime_ns)
                if sig not in _CONTENT_HASHES:
                    try:
                        _CONTENT_HASHES[sig] = sha256_file(p)
                    except OSError as e:
                        raise UnitrackError(f"cannot read {p}: {e.strerror}") from None
                h.update(_CONTENT_HASHES[sig].encode())
                hashed += 1
    return {"files": files, "hashed": hashed, "sha256": h.hexdigest()}


def weights_tag(weights: str | Path | None, weights_id: str) -> str | None:
    """Short tag of an explicitly chosen checkpoint (``--weights`` / ``NAME@PATH``) for the folder name.

    Two checkpoints of one registered backbone then never share a folder. None for the registry default.
    """
    if weights is None or str(weights) == "":
        return None
    if str(weights) == "random":
        return "random"
    digest = str(weights_id).rsplit(":", 1)[-1]
    hexpart = "".join(ch for ch in digest.lower() if ch in "0123456789abcdef")
    return hexpart[:8] if len(hexpart) >= 8 else sha256_json(str(weights_id))[:8]


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
    variant: str | None = None  # the task's head when it has several (SOT: xcorr | dcf)
    weights_tag: str | None = None  # short sha of an explicitly chosen checkpoint, "random", or None
    cfg_tag: str | None = None  # hash of the non-default protocol parameters, None when all default
    skipped: list[dict[str, str]] = field(default_factory=list)  # items left out: [{"item", "reason"}]
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
        except UnicodeDecodeError:
            raise UnitrackError(f"cannot read result file {p}: not text (expected unitrack's result.json)") from None
        except (OSError, json.JSONDecodeError) as e:
            raise UnitrackError(f"cannot read result file {p}: {e}") from None
        if not isinstance(d, dict):
            raise UnitrackError(f"{p}: not a unitrack result file (expected a JSON object)")
        d.pop("schema", None)
        try:
            r = cls(**d)
        except TypeError as e:
            raise UnitrackError(f"{p}: not a unitrack result file ({e})") from None
        r._check(p)
        r.path = str(p.parent)
        return r

    def _check(self, p: Path) -> None:
        """Field types of a loaded result (a hand-edited or foreign file fails here, naming the field)."""
        def bad(field_: str, expected: str, value: Any) -> UnitrackError:
            return UnitrackError(f"{p}: field {field_!r} must be {expected}, got {value!r}")

        for name in ("task", "dataset", "backbone"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise bad(name, "a non-empty string", getattr(self, name))
        if not isinstance(self.layer, int) or isinstance(self.layer, bool):
            raise bad("layer", "an integer", self.layer)
        for name in ("metrics", "per_sequence", "fingerprint", "config", "extra"):
            if not isinstance(getattr(self, name), dict):
                raise bad(name, "an object", getattr(self, name))
        for name in ("variant", "weights_tag", "cfg_tag"):
            v = getattr(self, name)
            if v is not None and not isinstance(v, str):
                raise bad(name, "a string or null", v)
        if not isinstance(self.skipped, list) or not all(isinstance(x, dict) for x in self.skipped):
            raise bad("skipped", "a list of {item, reason} objects", self.skipped)
        for seq, m in self.per_sequence.items():
            if not isinstance(m, dict):
                raise bad(f"per_sequence.{seq}", "an object", m)

    def summary(self) -> str:
        head = ", ".join(f"{k}={_fmt(v)}" for k, v in self.metrics.items())
        return f"{self.task}/{self.dataset} {self.backbone} layer{self.layer}: {head}"


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def run_folder(out: str | Path, task: str, dataset: str, backbone: str, layer: int, variant: str | None,
               cfg_tag: str | None, weights_tag: str | None = None) -> Path:
    """``<out>/<task>/<dataset>/<backbone>[@<weights>]-layer<L>[-<variant>][-cfg<hash>]``."""
    name = backbone + (f"@{weights_tag}" if weights_tag else "") + f"-layer{layer}"
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
