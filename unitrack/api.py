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
    bfp = bb.fingerprint()
    fp: dict[str, Any] = {
        "task": task,
        "dataset": dataset,
        "data_root": str(root),  # where the data was found (informational: not part of the key)
        "data_identity": data_identity(root, exclude=[out]),
        "backbone": bfp,
        "weights_sha256": bb.weights_id,
        "layer": bb.layer,
        "protocol": cfg.protocol(),
    }
    fp["key"] = fingerprint_key(fp)
    wtag = weights_tag(c.weights, bb.weights_id)
    variant, cfg_tag = t.variant(cfg), _cfg_tag(cfg)
    folder = run_folder(out, task, dataset, c.backbone, bb.layer, variant, cfg_tag, wtag)
    rf = folder / "result.json"
    if rf.exists() and not force:
        try:
            old = Result.load(rf)
        except Exception as e:  # unreadable old result: recompute
            log.warning("ignoring unreadable stored result %s (%s)", rf, e)
        else:
            if old.key == fp["key"]:
                log.info("reusing stored result %s (same fingerprint; --force to recompute)", rf)
                old.reused = True
                return old
            log.info("stored result %s has another fingerprint: recomputing", rf)

    dev = resolve_device(c.device)
    seed_everything(c.seed)
    log.info("config:\n%s", cfg.dump())
    log.info("evaluating %s on %s (%s) with %s layer%d on %s", task, dataset, root, c.backbone, bb.layer, dev)
    ctx = RunContext(cfg=cfg, data_root=root, dataset=dataset, backbone=bb, device=dev)
    t0 = time.perf_counter()
    with atomic_dir(folder) as tmp:
        output: TaskOutput = t.run(ctx, tmp / PRED_DIR)
        wall = time.perf_counter() - t0
        fp.update({"device": dev, "versions": package_versions(), "wall_time_s": round(wall, 3)})
        result = Result(
            task=task,
            dataset=dataset,
            backbone=c.backbone,
            layer=bb.layer,
            metrics=output.metrics,
            per_sequence=output.per_sequence,
            fingerprint=fp,
            config=cfg.to_dict(),
            extra=output.extra,
            variant=variant,
            weights_tag=wtag,
            cfg_tag=cfg_tag,
        )
        result.save(tmp)
    result.path = str(folder)
    log.info("%s  (%.1fs) → %s", result.summary(), wall, folder)
    return result


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
