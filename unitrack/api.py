"""Python API mirroring the CLI: ``unitrack.evaluate(...)`` and ``unitrack.score(...)``."""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

from unitrack.config import Config, default_config, load_config
from unitrack.results import (
    PRED_DIR,
    Result,
    data_identity,
    fingerprint_key,
    package_versions,
    run_folder,
    weights_tag,
)
from unitrack.tasks import RunContext, TaskOutput, get_task
from unitrack.utils import atomic_dir, resolve_device, seed_everything, sha256_json

log = logging.getLogger("unitrack")


def _cfg_tag(cfg: Config) -> str | None:
    """Short hash of protocol parameters that differ from the task defaults (None when all default)."""
    ref = default_config(cfg.task)
    diff = {}
    for sec_name, sec, ref_sec in (("common", cfg.common, ref.common), (cfg.task, cfg.section, ref.section)):
        for f in dataclasses.fields(sec):
            if sec_name == "common" and f.name in ("backbone", "layer", "weights", "device", "batch_size",
                                                   "feature_cache"):
                continue
            if sec_name == cfg.task and f.name in ("head",):
                continue
            a, b = getattr(sec, f.name), getattr(ref_sec, f.name)
            if a != b:
                diff[f"{sec_name}.{f.name}"] = a
    return sha256_json(diff)[:8] if diff else None


@dataclasses.dataclass
class Plan:
    """One evaluation, resolved but not run: config, task, data, backbone and the fingerprint.

    ``rel`` is the result folder relative to a results root (``<task>/<dataset>/<name>``), so the same plan
    can be committed into any store (a Ray worker computes into scratch space, the driver commits).
    """

    task: str
    cfg: Config
    head: Any  # unitrack.tasks.Task
    dataset: str
    root: Path
    backbone: Any  # unitrack.backbones.Backbone
    fingerprint: dict[str, Any]
    rel: Path
    variant: str | None
    weights_tag: str | None
    cfg_tag: str | None

    @property
    def key(self) -> str:
        return self.fingerprint["key"]

    def folder(self, out: str | Path) -> Path:
        return Path(out) / self.rel


def plan(
    task: str,
    backbone: str | None = None,
    data: str | Path = "demo",
    *,
    layer: int | None = None,
    weights: str | Path | None = None,
    config: str | Path | None = None,
    sets: list[str] | None = None,
    device: str | None = None,
    exclude: list[str | Path] = (),
    **section_overrides: Any,
) -> Plan:
    """Resolve config, data and backbone, and compute the fingerprint (reads the data's annotations, builds
    the backbone; runs nothing). ``exclude``: folders inside the data root left out of its identity."""
    overrides: dict[str, Any] = {
        "common.backbone": backbone,
        "common.layer": layer,
        "common.weights": str(weights) if weights else None,
        "common.device": device,
    }
    overrides.update({f"{task}.{k}": v for k, v in section_overrides.items()})
    cfg = load_config(task, config, sets, overrides)
    t = get_task(task)
    dataset, root = t.resolve_data(data, cfg)

    from unitrack.backbones import build_backbone

    c = cfg.common
    bb = build_backbone(c.backbone, layer=c.layer, weights=c.weights, seed=c.seed)
    cfg.common.layer = bb.layer
    fp: dict[str, Any] = {
        "task": task,
        "dataset": dataset,
        "data_root": str(root),  # where the data was found (informational: not part of the key)
        "data_identity": data_identity(root, exclude=list(exclude)),
        "backbone": bb.fingerprint(),
        "weights_sha256": bb.weights_id,
        "layer": bb.layer,
        "protocol": cfg.protocol(),
    }
    fp["key"] = fingerprint_key(fp)
    wtag = weights_tag(c.weights, bb.weights_id)
    variant, cfg_tag = t.variant(cfg), _cfg_tag(cfg)
    rel = run_folder("", task, dataset, c.backbone, bb.layer, variant, cfg_tag, wtag)
    return Plan(task, cfg, t, dataset, root, bb, fp, rel, variant, wtag, cfg_tag)


def stored_result(p: Plan, out: str | Path) -> Result | None:
    """The result stored under ``out`` for this plan when its fingerprint key matches, else None."""
    rf = p.folder(out) / "result.json"
    if not rf.exists():
        return None
    try:
        old = Result.load(rf)
    except Exception as e:  # unreadable old result: recompute
        log.warning("ignoring unreadable stored result %s (%s)", rf, e)
        return None
    if old.key != p.key:
        log.info("stored result %s has another fingerprint: recomputing", rf)
        return None
    old.reused = True
    return old


def execute(p: Plan, out: str | Path) -> Result:
    """Run the plan's head and commit result.json + predictions atomically into ``p.folder(out)``."""
    cfg, c = p.cfg, p.cfg.common
    folder = p.folder(out)
    dev = resolve_device(c.device)
    seed_everything(c.seed)
    log.info("config:\n%s", cfg.dump())
    log.info("evaluating %s on %s (%s) with %s layer%d on %s", p.task, p.dataset, p.root, c.backbone,
             p.backbone.layer, dev)
    ctx = RunContext(cfg=cfg, data_root=p.root, dataset=p.dataset, backbone=p.backbone, device=dev)
    fp = dict(p.fingerprint)
    t0 = time.perf_counter()
    with atomic_dir(folder) as tmp:
        output: TaskOutput = p.head.run(ctx, tmp / PRED_DIR)
        wall = time.perf_counter() - t0
        fp.update({"device": dev, "versions": package_versions(), "wall_time_s": round(wall, 3)})
        result = Result(
            task=p.task,
            dataset=p.dataset,
            backbone=c.backbone,
            layer=p.backbone.layer,
            metrics=output.metrics,
            per_sequence=output.per_sequence,
            fingerprint=fp,
            config=cfg.to_dict(),
            extra=output.extra,
            variant=p.variant,
            weights_tag=p.weights_tag,
            cfg_tag=p.cfg_tag,
            skipped=list(output.skipped),
        )
        result.save(tmp)
    result.path = str(folder)
    log.info("%s  (%.1fs) → %s", result.summary(), wall, folder)
    if result.skipped:
        log.warning("%d item(s) were left out and are listed under 'skipped' in %s", len(result.skipped),
                    folder / "result.json")
    return result


def evaluate(
    task: str,
    backbone: str | None = None,
    data: str | Path = "demo",
    *,
    layer: int | None = None,
    weights: str | Path | None = None,
    out: str | Path = "results",
    config: str | Path | None = None,
    sets: list[str] | None = None,
    device: str | None = None,
    force: bool = False,
    **section_overrides: Any,
) -> Result:
    """Evaluate one backbone on one task; returns the stored (or reused) :class:`Result`.

    ``section_overrides`` set fields of the task section, e.g. ``evaluate("sot", head="dcf")``.
    """
    p = plan(task, backbone, data, layer=layer, weights=weights, config=config, sets=sets, device=device,
             exclude=[out], **section_overrides)
    if not force:
        old = stored_result(p, out)
        if old is not None:
            log.info("reusing stored result %s (same fingerprint; --force to recompute)", old.path)
            return old
    return execute(p, out)


def score(task: str, gt: str | Path, pred: str | Path, *, config: str | Path | None = None,
          sets: list[str] | None = None, **section_overrides: Any) -> TaskOutput:
    """Score existing benchmark-format prediction files against ground truth (no backbone involved)."""
    cfg = load_config(task, config, sets, {f"{task}.{k}": v for k, v in section_overrides.items()})
    t = get_task(task)
    from unitrack.utils import UnitrackError

    gt, pred = Path(gt), Path(pred)
    for p, what in ((gt, "--gt"), (pred, "--pred")):
        if not p.exists():
            raise UnitrackError(f"{what} {p}: does not exist")
    return t.score(gt, pred, cfg)
