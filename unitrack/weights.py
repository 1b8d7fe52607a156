"""Checkpoint files: resolve ``--weights`` / registry sources, download into the cache, verify, load.

Resolution order for a registered backbone (see :func:`resolve_weights`):

1. ``weights=PATH`` — always wins and never touches the network; the file must exist.
2. ``weights="random"`` — explicit random initialisation (seeded), for any backbone.
3. the registry source: ``torchvision:<file>`` / ``url:<url>`` are looked up in the cache
   (``$UNITRACK_HOME/weights``, plus torch.hub's checkpoint folder for torchvision files) and
   downloaded there when missing and a network exists, verified by sha256 (full digest when the
   registry knows it, else the ``-<hex>.`` prefix that torch.hub/mmcv file names carry);
   ``supply --weights`` entries use ``$UNITRACK_HOME/weights/<name>.<ext>`` when the user put the
   file there, else fail with a message naming where to get it; ``random`` entries need nothing.

The id recorded in result fingerprints is :func:`weights_id`: the sha256 of the file that was loaded.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import urllib.error
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from unitrack.utils import UnitrackError, sha256_file, unitrack_home

log = logging.getLogger("unitrack.weights")

CKPT_EXTS = (".pth", ".pth.tar", ".pt", ".ckpt", ".tar", ".safetensors", ".bin")
_HASH_IN_NAME = re.compile(r"-([a-f0-9]{6,64})\.")  # torch.hub / mmcv convention: sha256 prefix


@dataclass(frozen=True)
class WeightsRef:
    """A resolved checkpoint: the local file plus how it was found (for fingerprints and messages)."""

    path: Path
    origin: str  # "user" | "cache" | "download" | "torchvision"
    source: str  # the registry source string or "--weights"

    @property
    def sha256(self) -> str:
        return file_sha256(self.path)


def weights_dir() -> Path:
    """Folder of downloaded / user-placed checkpoints: ``$UNITRACK_HOME/weights``."""
    return unitrack_home() / "weights"


_SHA_CACHE: dict[tuple[str, int, int], str] = {}


def file_sha256(path: str | Path) -> str:
    """sha256 of a file, memoised per (path, size, mtime) for this process (checkpoints are large)."""
    p = Path(path).resolve()
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime_ns)
    if key not in _SHA_CACHE:
        _SHA_CACHE[key] = sha256_file(p)
    return _SHA_CACHE[key]


def torchvision_url(file_name: str) -> str:
    """Download URL of a torchvision weight file (torchvision serves them all from one folder)."""
    return f"https://download.pytorch.org/models/{file_name}"


def expected_hash(url_or_name: str, sha256: str | None) -> tuple[str | None, bool]:
    """(digest or prefix to check, is_full). Full sha256 from the registry, else the prefix in the name."""
    if sha256:
        return sha256.lower(), True
    m = _HASH_IN_NAME.search(Path(url_or_name.split("?")[0]).name)
    return (m.group(1), False) if m else (None, False)


def verify_sha256(path: Path, url_or_name: str, sha256: str | None) -> str:
    """Check a file against the registry's sha256 (or the file-name prefix); returns the digest."""
    digest = file_sha256(path)
    want, full = expected_hash(url_or_name, sha256)
    if want is not None and (digest != want if full else not digest.startswith(want)):
        raise UnitrackError(
            f"checksum mismatch for {path}: sha256 {digest} but {'expected' if full else 'the name says it starts with'} "
            f"{want}. The file is corrupt or not the published checkpoint; delete it and retry, or pass --weights"
        )
    return digest


def cache_file_name(name: str, url: str) -> str:
    """Cache file name for a URL: keep the published basename (it often carries the hash prefix)."""
    base = Path(url.split("?")[0]).name or f"{name}.pth"
    if base in ("checkpoint.pth", "resnet50.pth", "pretrained.pth", "model.pth"):
        base = f"{name}-{base}"  # generic published names would collide in one cache folder
    return base


def download(url: str, dst: Path, sha256: str | None = None) -> Path:
    """Download ``url`` to ``dst`` (atomically), verify sha256; clear UnitrackError when offline."""
    import torch

    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.part")
    log.info("downloading %s -> %s", url, dst)
    try:
        torch.hub.download_url_to_file(url, str(tmp), hash_prefix=None, progress=log.isEnabledFor(logging.INFO))
    except (urllib.error.URLError, OSError, ValueError) as e:
        tmp.unlink(missing_ok=True)
        raise UnitrackError(
            f"could not download {url} ({e.__class__.__name__}: {e}). No network? Download it yourself to "
            f"{dst} or pass --weights PATH"
        ) from None
    try:
        verify_sha256(tmp, url, sha256)
    except UnitrackError:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, dst)
    return dst


def _torchvision_candidates(file_name: str) -> list[Path]:
    cands = [weights_dir() / file_name]
    try:
        import torch

        cands.append(Path(torch.hub.get_dir()) / "checkpoints" / file_name)
    except Exception:  # pragma: no cover - torch.hub misconfigured
        pass
    return cands


def _user_placed(name: str) -> Path | None:
    for ext in CKPT_EXTS:
        p = weights_dir() / f"{name}{ext}"
        if p.is_file():
            return p
    return None


def local_weights(spec: Any) -> Path | None:
    """The local checkpoint file a registry entry would use without downloading, or None."""
    src = spec.weights_source
    if src.startswith("torchvision:"):
        for p in _torchvision_candidates(src.split(":", 1)[1]):
            if p.is_file():
                return p
        return None
    if src.startswith("url:"):
        p = weights_dir() / cache_file_name(spec.name, src[4:])
        if p.is_file():
            return p
    return _user_placed(spec.name)


def weights_available(spec: Any) -> bool:
    """True when the backbone can be built offline (random init, or its checkpoint is in the cache)."""
    return spec.weights_source == "random" or local_weights(spec) is not None


def resolve_weights(spec: Any, weights: str | Path | None, download_ok: bool = True) -> WeightsRef | None:
    """Turn ``--weights`` and the registry entry into a local file (None = random initialisation)."""
    if weights is not None and str(weights).strip().lower() in ("", "none", "null"):
        weights = None  # YAML / CLI spellings of "no file" (the reference treated the string 'None' as a path)
    if weights is not None and str(weights).strip().lower() == "random":
        return None
    if weights is not None:
        p = Path(weights).expanduser()
        if not p.is_file():
            hint = " (it is a directory)" if p.is_dir() else ""
            raise UnitrackError(f"--weights {weights}: file not found{hint}")
        return WeightsRef(p, "user", "--weights")
    src = spec.weights_source
    if src == "random":
        return None
    if src.startswith("torchvision:"):
        fname = src.split(":", 1)[1]
        for p in _torchvision_candidates(fname):
            if p.is_file():
                verify_sha256(p, fname, spec.weights_sha256)
                return WeightsRef(p, "cache", src)
        url = spec.weights_url or torchvision_url(fname)
        if not download_ok:
            raise UnitrackError(f"{spec.name}: weights not in the cache; download {url} to {weights_dir() / fname}")
        return WeightsRef(download(url, weights_dir() / fname, spec.weights_sha256), "download", src)
    if src.startswith("url:"):
        url = src[4:]
        dst = weights_dir() / cache_file_name(spec.name, url)
        if dst.is_file():
            verify_sha256(dst, url, spec.weights_sha256)
            return WeightsRef(dst, "cache", src)
        placed = _user_placed(spec.name)
        if placed is not None:
            return WeightsRef(placed, "cache", src)
        if not download_ok:
            raise UnitrackError(f"{spec.name}: weights not in the cache; download {url} to {dst} or pass --weights")
        return WeightsRef(download(url, dst, spec.weights_sha256), "download", src)
    # "supply --weights"
    placed = _user_placed(spec.name)
    if placed is not None:
        return WeightsRef(placed, "cache", src)
    note = f" {spec.notes}" if getattr(spec, "notes", "") else ""
    raise UnitrackError(
        f"backbone {spec.name!r} has no downloadable checkpoint: pass --weights PATH (or put the file at "
        f"{weights_dir() / (spec.name + '.pth')}).{note}"
    )


def load_checkpoint(path: str | Path) -> Any:
    """Read a checkpoint on the CPU: safetensors, or torch.load (weights-only first; legacy pickles after).

    Published research checkpoints often pickle an ``argparse.Namespace`` or NumPy scalars next to the
    weights; those need the full unpickler, which is only used as a fallback for a file the user chose.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise UnitrackError(f"weights file not found: {path}")
    if path.suffix == ".safetensors":
        try:
            from safetensors.torch import load_file
        except ImportError as e:  # pragma: no cover
            raise UnitrackError(f"{path}: reading .safetensors needs the 'safetensors' package") from e
        try:
            return load_file(str(path), device="cpu")
        except Exception as e:
            raise UnitrackError(f"{path}: not a readable safetensors file ({e})") from None
    safe = getattr(torch.serialization, "safe_globals", None)  # torch ≥ 2.5
    try:
        with safe([argparse.Namespace]) if safe else contextlib.nullcontext():
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as first:
        msg = str(first)
        if "Weights only load failed" not in msg and "weights_only" not in msg and "Unsupported" not in msg:
            raise UnitrackError(f"{path}: not a readable PyTorch checkpoint ({first.__class__.__name__}: "
                                f"{msg.splitlines()[0] if msg else ''})") from None
    log.warning("%s holds pickled Python objects besides tensors; loading it with the full unpickler "
                "(only do this for files you trust)", path)
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:
        raise UnitrackError(f"{path}: not a readable PyTorch checkpoint ({e.__class__.__name__}: {e})") from None
