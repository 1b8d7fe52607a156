"""``unitrack sweep``: evaluate backbones × tasks × layers, resumable, locally or on a Ray cluster.

Every cell is one :func:`unitrack.api.evaluate` call. Resuming needs no bookkeeping of our own: the
results store writes each cell atomically and ``evaluate`` reuses a stored result whose fingerprint
matches, so a sweep that was killed is simply run again and only the missing cells are computed.
A failing cell is recorded with its message and the others go on; the summary lists the failures and
the exit status is non-zero when there are any.

Executors:

* ``local`` with ``--workers 1``: cells run one after the other in this process;
* ``local`` with ``--workers N``: a process pool (spawned processes, torch threads split between them);
* ``ray``: one Ray task per cell (``pip install 'unitrack[ray]'``); ``--address`` joins a running
  cluster (``auto`` or ``ray://host:10001``), otherwise Ray starts on this machine. No shared file
  system is needed: the driver owns the results store (see :func:`_iter_ray`).

Local workers send back only the cell's status, result path and error message. Ray workers send back
the packed result folder (``result.json`` plus the benchmark-format predictions) through Ray's object
store, and the driver commits it atomically into ``--out``.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from unitrack.utils import UnitrackError

log = logging.getLogger("unitrack.app.sweep")



@dataclass(frozen=True)
class Cell:
    """One evaluation of a sweep."""

    backbone: str
    task: str
    layer: int | None
    head: str | None = None  # task variant (SOT: xcorr | dcf)
    data: str = "demo"
    weights: str | None = None  # checkpoint path or "random" (--backbones name@weights); None = registry

    @property
    def label(self) -> str:
        t = self.task + (f":{self.head}" if self.head else "")
        bb = self.backbone + (f"@{self.weights}" if self.weights else "")
        return f"{t} {bb} layer{self.layer if self.layer is not None else '(default)'}"


@dataclass(frozen=True)
class SweepSpec:
    """Settings shared by all cells (sent to workers; keep it small and picklable)."""

    out: str = "results"
    config: str | None = None
    sets: tuple[str, ...] = ()
    device: str | None = None
    force: bool = False
    log_level: int = logging.WARNING  # logging level inside worker processes
    config_text: str | None = None  # the --config YAML's content (Ray workers get it instead of a path)


@dataclass
class CellOutcome:
    cell: Cell
    status: str  # "computed" | "reused" | "failed"
    path: str | None = None
    message: str = ""
    seconds: float = 0.0
    node: str = ""  # where it ran (Ray: host/node id); "" = this process
    attempts: int = 1  # > 1: resubmitted after a worker or node was lost


@dataclass
class SweepReport:
    outcomes: list[CellOutcome] = field(default_factory=list)
    wall_s: float = 0.0
    interrupted: bool = False

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def failed(self) -> list[CellOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    def per_node(self) -> dict[str, int]:
        """Finished cells per node (Ray executor)."""
        out: dict[str, int] = {}
        for o in self.outcomes:
            if o.node:
                out[o.node] = out.get(o.node, 0) + 1
        return out

    def to_json(self) -> dict[str, Any]:
        return {"wall_s": round(self.wall_s, 3), "interrupted": self.interrupted,
                "cells": [{"cell": o.cell.label, "status": o.status, "path": o.path, "node": o.node or "local",
                           "seconds": round(o.seconds, 3), "attempts": o.attempts, "message": o.message}
                          for o in self.outcomes]}

    def summary(self, total: int | None = None) -> str:
        total = total if total is not None else len(self.outcomes)
        head = (f"sweep: {len(self.outcomes)}/{total} cells finished — {self.count('computed')} computed, "
                f"{self.count('reused')} reused, {self.count('failed')} failed ({self.wall_s:.1f} s)")
        if self.interrupted:
            head += "; interrupted: run the same command again to finish the missing cells"
        lines = [head]
        if any(o.node for o in self.outcomes):
            lines.append("where the cells ran:")
            for node, n in sorted(self.per_node().items()):
                secs = sum(o.seconds for o in self.outcomes if o.node == node)
                lines.append(f"  {node}: {n} cell(s), {secs:.1f} s")
            retried = [o for o in self.outcomes if o.attempts > 1]
            if retried:
                lines.append("resubmitted after a lost worker or node: "
                             + ", ".join(f"{o.cell.label} (attempt {o.attempts})" for o in retried))
        if self.failed:
            lines.append("failed cells:")
            lines += [f"  {o.cell.label}: {o.message}" for o in self.failed]
        return "\n".join(lines)


CellFn = Callable[[Cell, SweepSpec], Any]


# ----------------------------------------------------------------------------- building the cell list


def split_list(text: str, what: str) -> list[str]:
    items = [s.strip() for s in str(text).split(",") if s.strip()]
    if not items:
        raise UnitrackError(f"--{what}: expected a comma-separated list, got {text!r}")
    return items


def parse_layers(text: str) -> list[int | None]:
    out: list[int | None] = []
    for s in split_list(text, "layers"):
        if s.lower() in ("default", "auto"):
            out.append(None)
            continue
        try:
            out.append(int(s))
        except ValueError:
            raise UnitrackError(f"--layers: {s!r} is not a layer number (e.g. --layers 3,4)") from None
    return out


def parse_backbones(text: str) -> list[tuple[str, str | None]]:
    """'a,b@ckpt.pth,c@random' → [(a, None), (b, 'ckpt.pth'), (c, 'random')]; 'all' = every registered name."""
    if text.strip() == "all":
        from unitrack.backbones import list_backbones

        return [(s.name, None) for s in list_backbones()]
    out = []
    for item in split_list(text, "backbones"):
        name, sep, weights = item.partition("@")
        if not name or (sep and not weights):
            raise UnitrackError(f"--backbones: {item!r}: expected NAME or NAME@WEIGHTS (a checkpoint path or 'random')")
        out.append((name, weights or None))
    return out


def parse_tasks(text: str) -> list[tuple[str, str | None]]:
    """'sot,vos' → [(sot, xcorr), (sot, dcf), (vos, None)]; 'sot:dcf' picks one head; 'all' = installed tasks."""
    from unitrack.tasks import available_tasks, get_spec, task_names

    if text.strip() == "all":
        names = available_tasks()
        missing = [t for t in task_names() if t not in names]
        if missing:
            log.warning("tasks that do not load, left out of 'all': %s", ", ".join(missing))
        if not names:
            raise UnitrackError("--tasks all: no task head is installed")
        items = names
    else:
        items = split_list(text, "tasks")
    out = []
    for item in items:
        task, _, head = item.partition(":")
        try:
            spec = get_spec(task)
        except UnitrackError as e:
            raise UnitrackError(f"--tasks: {e}") from None
        if head:
            if head not in spec.variants:
                raise UnitrackError(f"--tasks {item!r}: task {task!r} has "
                                    + (f"heads {', '.join(spec.variants)}" if spec.variants else "a single head"))
            out.append((task, head))
        else:  # a bare name expands to every head of the task (the paper reports SOT with both)
            out.extend((task, h) for h in (spec.variants or (None,)))
    return out


def parse_data(text: str | dict[str, str]) -> dict[str, str] | str:
    """'demo', one folder, or 'task=path,task=path'."""
    if isinstance(text, dict):
        return text
    if "=" not in text:
        return text
    out = {}
    for item in split_list(text, "data"):
        task, sep, path = item.partition("=")
        if not sep or not task.strip() or not path.strip():
            raise UnitrackError(f"--data: expected 'task=path' items, got {item!r}")
        out[task.strip()] = path.strip()
    return out


def task_data(task: str, data: dict[str, str] | str) -> str:
    """The --data of one task: demo, the task's entry of a mapping, or a per-task sub-folder of one folder."""
    if isinstance(data, dict):
        if task not in data:
            raise UnitrackError(f"--data has no entry for task {task!r} (give '{task}=PATH')")
        return data[task]
    if data == "demo":
        return data
    root = Path(data).expanduser()
    for sub in (task, _demo_subdir(task)):
        if sub and (root / sub).is_dir():
            return str((root / sub).resolve())
    return str(root.resolve())


def raw_task_data(task: str, data: dict[str, str] | str) -> str:
    """The --data of one task as the user gave it (the task's entry of a mapping, or the one value)."""
    if isinstance(data, dict):
        if task not in data:
            raise UnitrackError(f"--data has no entry for task {task!r} (give '{task}=PATH')")
        return data[task]
    return data


def _demo_subdir(task: str) -> str:
    from unitrack.tasks import get_spec

    try:
        return get_spec(task).demo_subdir
    except UnitrackError:  # the task does not load: its cell will report it
        return ""


def expand_cells(backbones: Sequence[str | tuple[str, str | None]], tasks: Sequence[tuple[str, str | None]],
                 layers: Sequence[int | None], data: dict[str, str] | str = "demo",
                 resolve: bool = True) -> list[Cell]:
    """Every (backbone, task[:head], layer) combination, backbone-major, with each task's data path.

    ``resolve=False`` keeps each task's ``--data`` as given, to be resolved where the cell runs (a Ray
    worker node has its own file system).
    """
    cells = []
    seen = set()
    for bb in backbones:
        name, weights = (bb, None) if isinstance(bb, str) else bb
        for task, head in tasks:
            d = task_data(task, data) if resolve else raw_task_data(task, data)
            for layer in layers:
                c = Cell(name, task, layer, head, d, weights)
                if c not in seen:
                    seen.add(c)
                    cells.append(c)
    return cells


# ----------------------------------------------------------------------------- running one cell


def check_sets(sets: Iterable[str], tasks: Iterable[str]) -> None:
    """Every --set of a sweep names its section (common or a task), since cells of several tasks share them."""
    from unitrack.tasks import task_names

    names = task_names()
    for item in sets:
        key = item.split("=", 1)[0]
        section = key.split(".", 1)[0] if "." in key else None
        if "=" not in item or section is None or section not in ("common", *names):
            raise UnitrackError(f"--set {item!r}: a sweep needs section.key=value with section 'common' or a "
                                f"task ({', '.join(names)})")
        if section != "common" and section not in tasks:
            log.warning("--set %s: task %s is not part of this sweep", item, section)


def sets_for(task: str, sets: Iterable[str]) -> list[str]:
    """The --set items that apply to one task: 'common.*' and '<task>.*'."""
    return [s for s in sets if s.split("=", 1)[0].split(".", 1)[0] in ("common", task)]


def _cell_kwargs(cell: Cell, spec: SweepSpec) -> dict[str, Any]:
    from unitrack.tasks import get_spec

    kw: dict[str, Any] = {get_spec(cell.task).variant_key: cell.head} if cell.head else {}
    kw.update(layer=cell.layer, weights=cell.weights, config=spec.config, sets=sets_for(cell.task, spec.sets),
              device=spec.device)
    return kw


def evaluate_cell(cell: Cell, spec: SweepSpec):
    """The default cell function: one stored (or reused) evaluation."""
    from unitrack.api import evaluate

    return evaluate(cell.task, cell.backbone, cell.data, out=spec.out, force=spec.force, **_cell_kwargs(cell, spec))


def run_cell(cell_fn: CellFn, cell: Cell, spec: SweepSpec) -> CellOutcome:
    """Run one cell and return only its outcome; exceptions become a 'failed' outcome with their message.

    The cell function may return a Result (``.path``, ``.reused``), a path, or a CellOutcome.
    KeyboardInterrupt/SystemExit are not caught: they stop the sweep.
    """
    t0 = time.perf_counter()
    try:
        ret = cell_fn(cell, spec)
    except Exception as e:  # noqa: BLE001 — a failing cell must not stop the others
        log.debug("cell %s failed:\n%s", cell.label, traceback.format_exc())
        msg = f"{type(e).__name__}: {e}" if not isinstance(e, UnitrackError) else str(e)
        if not isinstance(e, UnitrackError):
            tb = traceback.extract_tb(e.__traceback__)
            if tb:
                msg += f" (at {Path(tb[-1].filename).name}:{tb[-1].lineno})"
        return CellOutcome(cell, "failed", None, msg, time.perf_counter() - t0)
    dt = time.perf_counter() - t0
    if isinstance(ret, CellOutcome):
        return replace(ret, cell=cell, seconds=ret.seconds or dt)
    if ret is None or isinstance(ret, (str, Path)):
        return CellOutcome(cell, "computed", None if ret is None else str(ret), "", dt)
    path = getattr(ret, "path", None)
    return CellOutcome(cell, "reused" if getattr(ret, "reused", False) else "computed",
                       None if path is None else str(path), "", dt)


def _worker_init(log_level: int, threads: int) -> None:
    """Pool worker set-up: logging level, and the CPU threads torch may use (read when torch is imported)."""
    import sys

    from unitrack.utils import setup_logging

    setup_logging(0 if log_level <= logging.INFO else -1)
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, threads)))
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(max(1, threads))


# ----------------------------------------------------------------------------- executors


def _iter_local(cells: list[Cell], spec: SweepSpec, cell_fn: CellFn) -> Iterable[CellOutcome]:
    for cell in cells:
        log.info("cell %s", cell.label)
        yield run_cell(cell_fn, cell, spec)


def _iter_pool(cells: list[Cell], spec: SweepSpec, cell_fn: CellFn, workers: int) -> Iterable[CellOutcome]:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    threads = max(1, (os.cpu_count() or 1) // workers)
    ex = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"), initializer=_worker_init,
                             initargs=(spec.log_level, threads))
    futures = {ex.submit(run_cell, cell_fn, c, spec): c for c in cells}
    try:
        for fut in as_completed(futures):
            try:
                yield fut.result()
            except BrokenProcessPool as e:  # a worker died (killed, out of memory)
                yield CellOutcome(futures[fut], "failed", None, f"worker process died: {e}")
            except Exception as e:  # noqa: BLE001 — e.g. an unpicklable return value
                yield CellOutcome(futures[fut], "failed", None, f"{type(e).__name__}: {e}")
    except BaseException:
        ex.shutdown(wait=False, cancel_futures=True)
        raise
    ex.shutdown(wait=True)


# --- Ray: the driver owns the store; workers compute into node-local scratch and send the folder back

RAY_SYSTEM_RETRIES = 2  # resubmissions of a cell whose worker or node died


def _node_identity() -> dict[str, str]:
    import socket

    info = {"host": socket.gethostname(), "node": "local"}
    try:
        import ray

        if ray.is_initialized():
            info["node"] = ray.get_runtime_context().get_node_id()
    except Exception:  # noqa: BLE001 — identity is informational
        pass
    return info


def worker_data_path(raw: str) -> str:
    """Resolve a cell's --data on the node that runs it.

    ``demo`` is generated on the node (deterministically, so every node fingerprints it alike). A relative
    path is taken below ``$UNITRACK_DATA`` when that is set on the node, else below its working directory.
    """
    if raw == "demo":
        return raw
    p = Path(raw).expanduser()
    base = os.environ.get("UNITRACK_DATA")
    if not p.is_absolute() and base:
        p = Path(base).expanduser() / p
    if not p.exists():
        who = _node_identity()
        raise UnitrackError(f"node {who['host']} ({who['node'][:12]}): data folder {p} not found"
                            + (f" (UNITRACK_DATA={base})" if base else " (set UNITRACK_DATA on the node, or give "
                               "a path that exists on every node)"))
    return str(p)


def _scratch_root() -> Path:
    import tempfile

    root = Path(os.environ.get("UNITRACK_SCRATCH") or Path(tempfile.gettempdir()) / "unitrack-scratch")
    root.mkdir(parents=True, exist_ok=True)
    return root


def _pack_folder(folder: Path) -> bytes:
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=3) as tar:
        for f in sorted(folder.rglob("*")):
            tar.add(f, arcname=f.relative_to(folder).as_posix(), recursive=False)
    return buf.getvalue()


def compute_cell_payload(cell: Cell, spec: SweepSpec, keys: dict[str, str]) -> dict[str, Any]:
    """Runs on a Ray worker. Plans the cell (fingerprint); when the driver's store (``keys``: relative folder →
    stored fingerprint key) already holds that key for the cell's folder, answers 'reused'; else computes the
    cell into node-local scratch space and returns the packed result folder.

    Never touches the driver's ``--out`` (it is not even sent). Exceptions become a 'failed' payload.
    """
    import shutil
    import tempfile

    from unitrack.api import execute, plan
    from unitrack.utils import setup_logging

    setup_logging(0 if spec.log_level <= logging.INFO else -1)
    who = _node_identity()
    t0 = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix="cell-", dir=_scratch_root()))
    base = {"node": who["node"], "host": who["host"], "scratch": str(scratch.parent)}
    try:
        config = None
        if spec.config_text is not None:
            config = scratch / "config.yaml"
            config.write_text(spec.config_text)
        kw = _cell_kwargs(cell, replace(spec, config=str(config) if config else None))
        p = plan(cell.task, cell.backbone, worker_data_path(cell.data), **kw)
        if keys.get(p.rel.as_posix()) == p.key and not spec.force:
            return {**base, "status": "reused", "rel": p.rel.as_posix(), "key": p.key,
                    "seconds": time.perf_counter() - t0}
        out = scratch / "out"
        result = execute(p, out)
        return {**base, "status": "computed", "rel": p.rel.as_posix(), "key": p.key,
                "archive": _pack_folder(Path(result.path)), "seconds": time.perf_counter() - t0}
    except Exception as e:  # noqa: BLE001 — a failing cell must not stop the others
        log.debug("cell %s failed:\n%s", cell.label, traceback.format_exc())
        msg = str(e) if isinstance(e, UnitrackError) else f"{type(e).__name__}: {e}"
        return {**base, "status": "failed", "message": msg, "seconds": time.perf_counter() - t0}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def commit_payload(out: str | Path, payload: dict[str, Any]) -> Path:
    """Unpack a computed cell's folder into the driver's store, atomically (temp folder + rename, locked)."""
    import io
    import tarfile

    from unitrack.utils import atomic_dir

    rel = Path(payload["rel"])
    if rel.is_absolute() or ".." in rel.parts or len(rel.parts) != 3:
        raise UnitrackError(f"worker sent an invalid result folder {payload['rel']!r}")
    final = Path(out) / rel
    with atomic_dir(final) as tmp:
        with tarfile.open(fileobj=io.BytesIO(payload["archive"]), mode="r:gz") as tar:
            tar.extractall(tmp, filter="data")
        if not (tmp / "result.json").is_file():
            raise UnitrackError(f"worker's result for {rel} has no result.json")
    return final


def stored_keys(out: str | Path) -> dict[str, str]:
    """``{relative folder: fingerprint key}`` of every readable result in the driver's store."""
    import json

    out = Path(out)
    keys = {}
    if not out.is_dir():
        return keys
    for rf in out.glob("*/*/*/result.json"):
        if any(part.startswith(".") for part in rf.relative_to(out).parts):
            continue
        try:
            keys[rf.parent.relative_to(out).as_posix()] = json.loads(rf.read_text())["fingerprint"]["key"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return keys


def _iter_ray(cells: list[Cell], spec: SweepSpec, cell_fn: CellFn, address: str | None, cpus_per_cell: float,
              gpus_per_cell: float, retries: int = RAY_SYSTEM_RETRIES,
              on_event: Callable[[str, dict], None] | None = None) -> Iterable[CellOutcome]:
    """Cells as Ray tasks. The driver holds the store: each task gets the key stored for its folder (if any)
    and either answers 'reused' or returns its packed result folder, which the driver commits. A task lost to
    a dead worker or node is resubmitted (Ray schedules it on a live node) up to ``retries`` times."""
    try:
        import ray
        from ray.exceptions import RayError, RayTaskError
    except ImportError:
        raise UnitrackError("--executor ray needs Ray: pip install 'unitrack[ray]'") from None
    if cell_fn is not evaluate_cell:
        raise UnitrackError("the Ray executor runs the standard evaluation cells only")
    started = False
    if not ray.is_initialized():
        kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": spec.log_level <= logging.INFO}
        if address:
            kw["address"] = address
        ray.init(**kw)
        started = True
    out = spec.out
    worker_spec = replace(spec, out="", config=None,
                          config_text=Path(spec.config).read_text() if spec.config else None)
    # a cell's folder is known only once a worker has planned it (that needs the data): every task gets the
    # driver's {folder: key} map (small; put into the object store once)
    keys = ray.put({} if spec.force else stored_keys(out))
    remote = ray.remote(num_cpus=cpus_per_cell, num_gpus=gpus_per_cell, max_retries=0)(compute_cell_payload)
    emit = on_event or (lambda kind, info: None)

    def submit(cell: Cell, attempt: int):
        return remote.remote(cell, worker_spec, keys)

    refs = {}
    for c in cells:
        refs[submit(c, 1)] = (c, 1)
    pending = list(refs)
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                cell, attempt = refs.pop(ref)
                try:
                    payload = ray.get(ref)
                except RayTaskError as e:  # the function itself raised outside its own handler
                    yield CellOutcome(cell, "failed", None, f"{type(e).__name__}: {str(e).splitlines()[0]}",
                                      attempts=attempt)
                    continue
                except RayError as e:  # worker crash, node loss, lost object: try again elsewhere
                    why = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
                    if attempt <= retries:
                        emit("retry", {"cell": cell.label, "attempt": attempt, "error": why})
                        log.warning("cell %s lost (%s); resubmitting (attempt %d of %d)", cell.label, why,
                                    attempt + 1, retries + 1)
                        new = submit(cell, attempt + 1)
                        refs[new] = (cell, attempt + 1)
                        pending.append(new)
                    else:
                        yield CellOutcome(cell, "failed", None, f"lost {attempt} times; last: {why}",
                                          attempts=attempt)
                    continue
                node = f"{payload.get('host', '?')}/{str(payload.get('node', '?'))[:8]}"
                status = payload["status"]
                if status == "computed":
                    try:
                        path = str(commit_payload(out, payload))
                    except Exception as e:  # noqa: BLE001 — e.g. --out not writable
                        yield CellOutcome(cell, "failed", None, f"cannot store the result: {e}", payload["seconds"],
                                          node=node, attempts=attempt)
                        continue
                    yield CellOutcome(cell, "computed", path, "", payload["seconds"], node=node, attempts=attempt)
                elif status == "reused":
                    yield CellOutcome(cell, "reused", str(Path(out) / payload["rel"]), "", payload["seconds"],
                                      node=node, attempts=attempt)
                else:
                    yield CellOutcome(cell, "failed", None, payload.get("message", ""), payload["seconds"],
                                      node=node, attempts=attempt)
    except BaseException:
        for ref in pending:
            try:
                ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001 — best effort on the way out
                pass
        raise
    finally:
        if started:
            ray.shutdown()


def run_sweep(cells: list[Cell], spec: SweepSpec | None = None, *, cell_fn: CellFn | None = None,
              executor: str = "local", workers: int = 1, address: str | None = None, cpus_per_cell: float = 1,
              gpus_per_cell: float = 0, show_progress: bool = True, retries: int = RAY_SYSTEM_RETRIES) -> SweepReport:
    """Run every cell; failures are collected, KeyboardInterrupt stops the sweep (the report says so).

    Cells already stored with the same fingerprint come back as 'reused' (``evaluate`` skips them).
    ``cell_fn(cell, spec)`` defaults to :func:`evaluate_cell`; for process pools and Ray it must be
    picklable (a module-level function; Ray also takes closures).
    """
    from tqdm.auto import tqdm

    spec = spec or SweepSpec()
    cell_fn = cell_fn or evaluate_cell
    rep = SweepReport()
    t0 = time.perf_counter()
    if executor == "local":
        it = _iter_local(cells, spec, cell_fn) if workers <= 1 else _iter_pool(cells, spec, cell_fn, workers)
    elif executor == "ray":
        it = _iter_ray(cells, spec, cell_fn, address, cpus_per_cell, gpus_per_cell, retries=retries)
    else:
        raise UnitrackError(f"unknown executor {executor!r} (local or ray)")
    bar = tqdm(total=len(cells), desc="sweep", unit="cell", disable=not show_progress, dynamic_ncols=True)
    try:
        for o in it:
            rep.outcomes.append(o)
            bar.update(1)
            post = {"computed": rep.count("computed"), "reused": rep.count("reused"), "failed": rep.count("failed")}
            if o.node:
                post["pending"] = len(cells) - len(rep.outcomes)
                post["nodes"] = " ".join(f"{n.split('/')[-1]}:{k}" for n, k in sorted(rep.per_node().items()))
            bar.set_postfix(post)
            line = f"[{len(rep.outcomes)}/{len(cells)}] {o.cell.label}: {o.status} ({o.seconds:.1f} s"
            line += (f" on {o.node}" if o.node else "") + (f", attempt {o.attempts}" if o.attempts > 1 else "") + ")"
            if o.status == "failed":
                line += f" — {o.message}"
            (bar.write if show_progress else log.info)(line)
    except KeyboardInterrupt:
        rep.interrupted = True
    finally:
        bar.close()
        rep.wall_s = time.perf_counter() - t0
    return rep


# ----------------------------------------------------------------------------- command line


def cli(args: argparse.Namespace) -> int:
    sets = list(args.sets)
    if getattr(args, "max_sequences", None) is not None:
        sets.append(f"common.max_sequences={args.max_sequences}")
    backbones = parse_backbones(args.backbones)
    tasks = parse_tasks(args.tasks)
    check_sets(sets, {t for t, _ in tasks})
    # on Ray, each node resolves --data in its own file system
    cells = expand_cells(backbones, tasks, parse_layers(args.layers), parse_data(args.data),
                         resolve=args.executor != "ray")
    level = logging.getLogger("unitrack").getEffectiveLevel()
    # evaluate() logs every config at INFO: below -v the cells stay quiet and the sweep prints one line per cell
    cell_level = level if level <= logging.DEBUG else logging.WARNING
    spec = SweepSpec(out=args.out, config=args.config, sets=tuple(sets), device=args.device, force=args.force,
                     log_level=cell_level)
    n_tasks = len({(c.task, c.head) for c in cells})
    print(f"sweep: {len(cells)} cells = {len(backbones)} backbone(s) × {n_tasks} task(s) × "
          f"{len(cells) // max(1, len(backbones) * n_tasks)} layer(s) → {args.out}  "
          f"[{args.executor}{', ' + str(args.workers) + ' workers' if args.executor == 'local' else ''}]", flush=True)
    if args.executor == "local" and args.workers <= 1:
        logging.getLogger("unitrack").setLevel(cell_level)
    import signal
    import threading

    def _terminate(signum, frame):  # `kill PID` stops like Ctrl-C: temp folders removed, summary printed
        raise KeyboardInterrupt

    main_thread = threading.current_thread() is threading.main_thread()
    old_handler = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    try:
        rep = run_sweep(cells, spec, executor=args.executor, workers=args.workers, address=args.address,
                        cpus_per_cell=getattr(args, "cpus_per_cell", 1) or 1,
                        gpus_per_cell=getattr(args, "gpus_per_cell", 0) or 0,
                        retries=getattr(args, "retries", RAY_SYSTEM_RETRIES))
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, old_handler if old_handler is not None else signal.SIG_DFL)
    print(rep.summary(len(cells)), flush=True)
    if rep.outcomes:
        from unitrack.utils import atomic_write_json

        try:
            atomic_write_json(Path(args.out) / "sweep_summary.json", {"executor": args.executor, **rep.to_json()})
        except (OSError, UnitrackError) as e:
            log.warning("cannot write the sweep summary into %s: %s", args.out, e)
    if rep.interrupted:
        return 130
    return 1 if rep.failed else 0
