"""Small shared helpers: device resolution, seeding, logging, atomic file writes, paths."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import random
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("unitrack")


class UnitrackError(Exception):
    """An error caused by the user's input (data, config, checkpoint); the CLI prints it without a traceback."""


def resolve_device(device: str = "auto") -> str:
    """'auto' → 'cuda' when a GPU is visible, else 'cpu'; 'cuda[:i]' is checked to exist."""
    import torch

    device = (device or "auto").strip().lower()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UnitrackError(f"--device {device} requested but no CUDA device is available (use --device cpu or auto)")
        if ":" in device:
            idx = int(device.split(":", 1)[1])
            if idx >= torch.cuda.device_count():
                raise UnitrackError(f"--device {device}: only {torch.cuda.device_count()} CUDA device(s) visible")
        return device
    raise UnitrackError(f"unknown device {device!r}; expected auto, cpu, cuda or cuda:<index>")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) so that runs are reproducible."""
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def setup_logging(verbosity: int = 0) -> None:
    """-q → warnings only, default → info, -v → debug for unitrack, -vv → debug for the libraries too."""
    level = logging.WARNING if verbosity < 0 else (logging.INFO if verbosity == 0 else logging.DEBUG)
    logging.basicConfig(level=logging.DEBUG if verbosity > 1 else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    if verbosity > 1:
        logging.getLogger().setLevel(logging.DEBUG)
    log.setLevel(level)


def unitrack_home() -> Path:
    """Cache root for weights, demo data and features: $UNITRACK_HOME or ~/.cache/unitrack."""
    return Path(os.environ.get("UNITRACK_HOME", Path.home() / ".cache" / "unitrack")).expanduser()


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def sha256_json(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write a file via a temporary sibling + rename, so a crash never leaves it half-written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def json_safe(obj: Any) -> Any:
    """``obj`` with every non-finite float (NaN, ±inf) replaced by None, so the JSON is standard."""
    if isinstance(obj, float | np.floating):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    return obj


def atomic_write_json(path: str | Path, obj: Any) -> None:
    """Standard JSON (non-finite numbers become null), written atomically."""
    text = json.dumps(json_safe(obj), indent=2, sort_keys=False, default=_json_default, allow_nan=False)
    atomic_write_text(path, text + "\n")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o)}")


@contextlib.contextmanager
def file_lock(path: str | Path) -> Iterator[None]:
    """Exclusive advisory lock on ``path`` (POSIX ``flock``; elsewhere a no-op, renames still protect readers)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _host_tag() -> str:
    import socket

    host = "".join(c for c in socket.gethostname() if c.isalnum() or c in "-_")[:32] or "host"
    return f"{host}-{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def remove_stale_temp_dirs(final: str | Path) -> list[Path]:
    """Remove temporary siblings of ``final`` left by processes of this host that no longer run.

    :func:`atomic_dir` names them ``.<name>.<host>-<pid>.<random>.tmp``; a SIGKILLed run cannot clean up
    after itself, so the next run does. Temp folders of live processes and of other hosts stay.
    """
    final = Path(final)
    if not final.parent.is_dir():
        return []
    host = _host_tag().rsplit("-", 1)[0]
    removed = []
    prefix = f".{final.name}."
    for p in final.parent.iterdir():
        n = p.name
        if not (n.startswith(prefix) and n.endswith(".tmp") and p.is_dir()):
            continue
        tag = n[len(prefix):-4].split(".", 1)[0]
        h, _, pid = tag.rpartition("-")
        if h == host and pid.isdigit() and not _pid_alive(int(pid)):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
            log.info("removed %s, left by process %s which no longer runs", p, pid)
    old = final.with_name(f".{final.name}.old")
    if old.is_dir() and not removed and not any(x.name.startswith(prefix) and x.name.endswith(".tmp")
                                                for x in final.parent.iterdir()):
        shutil.rmtree(old, ignore_errors=True)
    return removed


@contextlib.contextmanager
def atomic_dir(final: str | Path, lock: bool = True) -> Iterator[Path]:
    """Yield a temporary directory next to `final`; on success it replaces `final` in one rename.

    The commit runs under a lock beside ``final``, so concurrent writers of one folder never collide; the
    last one wins (``lock=False``: no lock file, for outputs such as drawn frames where a concurrent
    writer may simply fail). Temp folders of dead processes of this host are removed first.
    """
    final = Path(final)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UnitrackError(f"cannot create folder {final.parent}: a file is in the way") from None
    except PermissionError:
        raise UnitrackError(f"cannot create folder {final.parent}: permission denied") from None
    remove_stale_temp_dirs(final)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.{_host_tag()}.", suffix=".tmp", dir=final.parent))
    except PermissionError:
        raise UnitrackError(f"cannot write into {final.parent}: permission denied") from None
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp creates 0700
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        # one lock file per parent folder (not one per result folder: no clutter beside every result)
        with file_lock(final.parent / ".unitrack-commit.lock") if lock else contextlib.nullcontext():
            if final.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{final.name}.{_host_tag()}.", suffix=".tmp",
                                            dir=final.parent))
                os.replace(final, old / "previous")
                os.replace(tmp, final)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def atomic_file(final: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `final` (same suffix) for a writer that needs a file name (video and
    image encoders); on success the file gets the usual umask permissions and replaces `final`."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=f".tmp{final.suffix}", dir=final.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def progress(iterable, **kw):
    """tqdm progress bar that stays quiet when logging is at WARNING or above."""
    from tqdm.auto import tqdm

    kw.setdefault("disable", log.getEffectiveLevel() > logging.INFO)
    kw.setdefault("leave", False)
    kw.setdefault("dynamic_ncols", True)
    return tqdm(iterable, **kw)


def prefetch(items, load, depth: int = 3, workers: int = 1):
    """Yield ``load(item)`` for each item, computed in background threads at most ``depth`` items ahead.

    Frame decoding (OpenCV releases the GIL) overlaps the backbone or drawing; memory stays bounded.
    """
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    it = iter(items)
    with ThreadPoolExecutor(max_workers=workers) as ex:
        futs: deque = deque(ex.submit(load, x) for _, x in zip(range(depth), it))
        while futs:
            f = futs.popleft()
            nxt = next(it, _END)
            if nxt is not _END:
                futs.append(ex.submit(load, nxt))
            yield f.result()


_END = object()
