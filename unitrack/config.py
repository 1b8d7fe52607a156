"""Typed configuration: the common section here, one dataclass per task in the task's spec.

A full run config is ``Config(task, common, <task section>)``. Each task's section class is declared
by its :class:`~unitrack.tasks.TaskSpec` (next to its head) and its defaults reproduce the published
protocol (``docs/protocol.md``); a YAML file (``common:`` plus one section named after the task) and
``--set section.key=value`` override them. Unknown keys are errors that suggest the closest valid key.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import typing
from dataclasses import dataclass
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
    feature_cache: str | None = None  # on-disk feature cache directory (None = off); every task but SOT
    max_sequences: int | None = None  # evaluate only the first N sequences (quick looks)


@dataclass
class Config:
    task: str
    common: CommonConfig
    section: Any  # the task's dataclass

    def to_dict(self) -> dict:
        return {"task": self.task, "common": dataclasses.asdict(self.common), self.task: dataclasses.asdict(self.section)}

    def protocol(self) -> dict:
        """The parameters that change results (goes into the fingerprint). The checkpoint is identified by
        its sha256 elsewhere in the fingerprint, not by its path, so a moved checkpoint keeps its results."""
        c = dataclasses.asdict(self.common)
        for k in ("device", "batch_size", "feature_cache", "amp", "weights"):
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
            if isinstance(value, bool):
                raise ValueError
            v = float(value)
            if not math.isfinite(v):
                raise UnitrackError(f"{where}: expected a finite number, got {value!r}")
            return v
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


def section_class(task: str) -> type:
    """The config-section dataclass of ``task`` (from its spec; UnitrackError for an unknown task)."""
    from unitrack.tasks import get_spec

    return get_spec(task).config


def default_config(task: str) -> Config:
    return Config(task=task, common=CommonConfig(), section=section_class(task)())


def load_config(
    task: str,
    yaml_file: str | Path | None = None,
    sets: list[str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> Config:
    """Defaults ← YAML file ← ``--set section.key=value`` ← explicit overrides (e.g. CLI flags)."""
    from unitrack.tasks import task_names

    cfg = default_config(task)
    data: dict = {}
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
            if section not in ("common", *task_names()):
                raise UnitrackError(f"{path}: unknown section {section!r}{_suggest(section, ['common', *task_names()])}")
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
    _apply_protocol(cfg, _explicit_keys(task, data, sets, overrides))
    validate_config(cfg)
    return cfg


def _explicit_keys(task: str, yaml_data: dict, sets: list[str] | None, overrides: dict[str, Any] | None) -> set[str]:
    """The task-section keys the user set (YAML, ``--set``, options): they win over a protocol preset."""
    keys = set(yaml_data.get(task) or ())
    for item in sets or []:
        key = item.split("=", 1)[0]
        section, k = key.split(".", 1) if "." in key else (task, key)
        if section == task:
            keys.add(k)
    for key, value in (overrides or {}).items():
        section, k = key.split(".", 1)
        if section == task and value is not None:
            keys.add(k)
    return keys


def _apply_protocol(cfg: Config, explicit: set[str]) -> None:
    """A named propagation protocol (``<task>.protocol``) sets its preset values, except where the user set a
    key explicitly (YAML, ``--set``, flags), which wins over the preset."""
    from unitrack.tasks import get_spec

    name = getattr(cfg.section, "protocol", None)
    if name is None or get_spec(cfg.task).family != "propagation":  # (SOT's `protocol` is faithful | fixed)
        return
    from unitrack.propagation import protocol_values

    values = protocol_values(name, cfg.task)
    types = _field_types(type(cfg.section))
    for k, v in values.items():
        if k in types and k not in explicit:
            setattr(cfg.section, k, _coerce(v, types[k], f"protocol {name}: {cfg.task}.{k}"))


# common fields that count things: (minimum, None allowed)
_COMMON_MINIMA = {"batch_size": (1, False), "max_sequences": (1, True), "layer": (1, True), "seed": (0, False)}


def validate_config(cfg: Config) -> None:
    """Values in range: every number finite, counts positive, and the section's own ``validate()`` if it has one.

    Raises UnitrackError naming the key and what was expected (e.g. ``common.max_sequences=-1``).
    """
    for k, (lo, none_ok) in _COMMON_MINIMA.items():
        v = getattr(cfg.common, k)
        if v is None and none_ok:
            continue
        if not isinstance(v, int) or isinstance(v, bool) or v < lo:
            raise UnitrackError(f"common.{k}={v!r}: expected an integer ≥ {lo}" + (" or none" if none_ok else ""))
    for sec_name, sec in (("common", cfg.common), (cfg.task, cfg.section)):
        for f in dataclasses.fields(sec):
            v = getattr(sec, f.name)
            vals = v if isinstance(v, list) else [v]
            for x in vals:
                if isinstance(x, float) and not math.isfinite(x):
                    raise UnitrackError(f"{sec_name}.{f.name}={v!r}: expected finite numbers")
    check = getattr(cfg.section, "validate", None)
    if callable(check):
        check()


def config_to_json(cfg: Config) -> str:
    return json.dumps(cfg.to_dict(), indent=2)
