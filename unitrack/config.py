"""Typed configuration: one dataclass per task whose defaults are the published protocol.

A full run config is ``Config(task, common, <task section>)``. Defaults reproduce UNITRACK_SPEC.md;
a YAML file (``common:`` plus one section named after the task) and ``--set section.key=value``
override them. Unknown keys are errors that suggest the closest valid key.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from unitrack.utils import UnitrackError


@dataclass
class CommonConfig:
    """Settings shared by every task (backbone, device, batching, seeds)."""

    backbone: str = "imagenet_r18"
    layer: int | None = None  # None → the backbone's default (3 for ResNets)
    weights: str | None = None  # path to a checkpoint; None → registry source
    device: str = "auto"
    amp: bool = False  # mixed precision for the backbone on GPU
    batch_size: int = 8
    seed: int = 0
    feature_cache: str | None = None  # directory of the on-disk feature cache (None = off)
    max_sequences: int | None = None  # evaluate only the first N sequences (quick looks)


@dataclass
class VOSConfig:
    """Soft-label propagation on DAVIS (§2.1)."""

    temperature: float = 0.05
    topk: int = 10
    radius: float = 12.0  # locality radius in feature cells (strict <), short-term frames only
    n_context: int = 5  # short-term context frames ("videoLen")
    long_mem: list[int] = field(default_factory=lambda: [0])
    down_factor: int = 8
    l2_normalize: bool = True
    norm_mask: bool = False
    split: str = "val"
    year: str = "2017"
    resolution: str = "480p"
    crop_size: int = -1  # -1 = native resolution
    memory_budget_mb: int = 512  # bounds the per-chunk affinity tensors
    score_objects: str = "official"  # official: ids 1..max(first frame) as davis2017-evaluation | present


@dataclass
class PosePropConfig:
    """Pose (belief-map) propagation on JHMDB (§2.8); propagation values as VOS."""

    temperature: float = 0.05
    topk: int = 10
    radius: float = 12.0
    n_context: int = 5
    long_mem: list[int] = field(default_factory=lambda: [0])
    down_factor: int = 8
    l2_normalize: bool = True
    norm_mask: bool = False
    crop_size: int = 320
    split_file: str = "split.txt"
    readout_topk: int = 3
    pck_thresholds: list[float] = field(default_factory=lambda: [0.1, 0.2, 0.3, 0.4, 0.5])
    imagenet_stats: bool = True  # §7.2 #23: the reference hard-codes ImageNet mean/std for JHMDB
    memory_budget_mb: int = 512


@dataclass
class SOTConfig:
    """Box propagation on OTB (§3); geometry and both protocols are documented in ``unitrack/sot.py``."""

    head: str = "xcorr"  # xcorr | dcf
    protocol: str = "faithful"  # faithful (published quirks, §7.1 #4–7) | fixed (corrected geometry)
    crop_sz: int = 520  # search/exemplar crop side, a multiple of downscale (smaller = faster quick looks)
    downscale: int = 8  # backbone stride: features are crop_sz/downscale per side (65)
    padding: float = 3.5
    num_scale: int = 3
    scale_step: float = 1.0275
    scale_penalty: float = 0.985
    min_scale_factor: float = 0.2
    max_scale_factor: float = 5.0
    xcorr_out_scale: float = 0.1
    dcf_lambda: float = 1e-4
    dcf_output_sigma_factor: float = 0.1
    dcf_interp_factor: float = 0.01
    max_frames: int | None = None  # track/score only the first N frames of each sequence (quick looks)


@dataclass
class _AssociationConfig:
    """Fields shared by the three association tasks (§4, §6); consumed by
    ``unitrack.association.AssociationTracker.from_config`` (MOTSConfig/PoseTrackConfig inherit them)."""

    similarity: str = "rsm"  # rsm | cosine_pooled | cosine_flat | iou | idol
    rsm_inv_temperature: float = 100.0
    feat_size: list[int] = field(default_factory=lambda: [4, 10])
    track_buffer: int = 30
    conf_thres: float = 0.5
    first_stage_thres: float = 0.7
    dup_iou_thres: float = 0.15
    confirm_iou_thres: float = 0.7
    use_kalman: bool = True
    asso_with_motion: bool = False  # Tables 1–2 use the *_womotion setting
    motion_lambda: float = 0.98
    motion_gated: bool = True
    idol_memory: int = 10  # IDOL-style option: embeddings remembered per track
    idol_threshold: float = 0.5
    idol_inv_temperature: float = 10.0  # sharpening of the bi-softmax on unit-norm frozen features
    observations: str | None = None  # folder of user observations; None = the benchmark's det files
    faithful: bool = True  # reproduce §7.1 quirks (e.g. #12 PoseTrack re_activate not copying the pose)


@dataclass
class MOTConfig(_AssociationConfig):
    """Box association on MOTChallenge (§4.1.1, §4.7, §5); `asso_with_motion=True` = the "with motion" rows."""

    img_size: list[int] = field(default_factory=lambda: [1088, 608])  # letterbox (width, height)
    min_box_area: float = 200.0
    max_aspect: float = 1.6
    benchmark: str = "MOT17"  # MOT16 | MOT17 | MOT15 (preprocessing rules of TrackEval)
    split: str = "train"
    gt_as_observations: bool = False  # use gt/gt.txt boxes (score 1) as observations


@dataclass
class MOTSConfig(_AssociationConfig):
    max_mask_area: int = 200
    motion_gated: bool = False
    split: str = "train"


@dataclass
class PoseTrackConfig(_AssociationConfig):
    frame_rate: float = 6.0
    max_mask_area: int = 400
    dup_iou_thres: float = 0.2
    confirm_iou_thres: float = 0.6
    motion_lambda: float = 0.9999
    motion_gated: bool = False
    split: str = "val"
    drop_last_frame: bool = True  # poseval drops the last labelled frame of every sequence


TASK_CONFIGS: dict[str, type] = {
    "sot": SOTConfig,
    "vos": VOSConfig,
    "poseprop": PosePropConfig,
    "mot": MOTConfig,
    "mots": MOTSConfig,
    "posetrack": PoseTrackConfig,
}
TASKS = tuple(TASK_CONFIGS)


@dataclass
class Config:
    task: str
    common: CommonConfig
    section: Any  # the task's dataclass

    def to_dict(self) -> dict:
        return {"task": self.task, "common": dataclasses.asdict(self.common), self.task: dataclasses.asdict(self.section)}

    def protocol(self) -> dict:
        """The parameters that change results (goes into the fingerprint)."""
        c = dataclasses.asdict(self.common)
        for k in ("device", "batch_size", "feature_cache", "amp"):
            c.pop(k)
        c["amp"] = self.common.amp  # mixed precision can change numbers slightly: keep it
        return {"common": c, self.task: dataclasses.asdict(self.section)}

    def dump(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


def _suggest(key: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    return f"; did you mean {close[0]!r}?" if close else f"; valid keys: {', '.join(valid)}"


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Convert a YAML/CLI value to the field's declared type, with a clear error."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            if type(None) in args:
                return None
        non_none = [a for a in args if a is not type(None)]
        return _coerce(value, non_none[0], where)
    if origin is list:
        if isinstance(value, str):
            try:
                value = yaml.safe_load(value)
            except yaml.YAMLError as e:
                raise UnitrackError(f"{where}: cannot parse {value!r} as a list: {e}") from None
            if not isinstance(value, list):
                value = [value]
        if not isinstance(value, list):
            raise UnitrackError(f"{where}: expected a list, got {value!r}")
        return [_coerce(v, args[0], where) for v in value] if args else list(value)
    try:
        if tp is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "yes", "1", "on"):
                return True
            if isinstance(value, str) and value.lower() in ("false", "no", "0", "off"):
                return False
            if isinstance(value, int) and value in (0, 1):
                return bool(value)
            raise ValueError
        if tp is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if tp is float:
            return float(value)
        if tp is str:
            return str(value)
    except (TypeError, ValueError):
        raise UnitrackError(f"{where}: expected {getattr(tp, '__name__', tp)}, got {value!r}") from None
    return value


def _apply(obj: Any, values: dict, section: str, source: str) -> None:
    types = _field_types(type(obj))
    for k, v in values.items():
        if k not in types:
            raise UnitrackError(f"{source}: unknown key {section}.{k}{_suggest(k, list(types))}")
        setattr(obj, k, _coerce(v, types[k], f"{source}: {section}.{k}"))


def default_config(task: str) -> Config:
    if task not in TASK_CONFIGS:
        raise UnitrackError(f"unknown task {task!r}{_suggest(task, list(TASK_CONFIGS))}")
    return Config(task=task, common=CommonConfig(), section=TASK_CONFIGS[task]())


def load_config(
    task: str,
    yaml_file: str | Path | None = None,
    sets: list[str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> Config:
    """Defaults ← YAML file ← ``--set section.key=value`` ← explicit overrides (e.g. CLI flags)."""
    cfg = default_config(task)
    if yaml_file:
        path = Path(yaml_file)
        if not path.is_file():
            raise UnitrackError(f"config file {path} does not exist")
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as e:
            raise UnitrackError(f"config file {path}: not valid YAML: {e}") from None
        if not isinstance(data, dict):
            raise UnitrackError(f"config file {path}: expected a mapping with sections 'common' and {task!r}")
        for section, values in data.items():
            if section == "task":
                continue
            if section not in ("common", *TASK_CONFIGS):
                raise UnitrackError(f"{path}: unknown section {section!r}{_suggest(section, ['common', *TASK_CONFIGS])}")
            if section not in ("common", task):
                continue  # sections of other tasks may share one file
            if not isinstance(values, dict):
                raise UnitrackError(f"{path}: section {section!r} must be a mapping")
            _apply(cfg.common if section == "common" else cfg.section, values, section, str(path))
    for item in sets or []:
        if "=" not in item:
            raise UnitrackError(f"--set {item!r}: expected section.key=value (e.g. vos.topk=20)")
        key, value = item.split("=", 1)
        if "." in key:
            section, k = key.split(".", 1)
        else:
            section, k = task, key
        if section not in ("common", task):
            raise UnitrackError(f"--set {item!r}: section must be 'common' or {task!r}{_suggest(section, ['common', task])}")
        try:
            parsed = yaml.safe_load(value) if value.strip() else value
        except yaml.YAMLError:
            parsed = value
        _apply(cfg.common if section == "common" else cfg.section, {k: parsed}, section, "--set")
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        section, k = key.split(".", 1)
        _apply(cfg.common if section == "common" else cfg.section, {k: value}, section, "option")
    return cfg


def config_to_json(cfg: Config) -> str:
    return json.dumps(cfg.to_dict(), indent=2)
