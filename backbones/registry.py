"""Registry of named backbones, plus resolution of ``timm:<name>``, ``pkg.mod:fn`` and entry points.

``@register_backbone(name, **spec_fields)`` decorates a builder
``fn(spec=, layer=, weights=, seed=, **opts) -> nn.Module`` (it receives only the arguments it
declares; ``weights`` is a local ``Path`` or None for random init). A builder may return a
:class:`Backbone` or any module producing ``N×C×h×w`` (it is then wrapped like a plug-in).
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from unitrack.utils import UnitrackError

from .base import IMAGENET_MEAN, IMAGENET_STD, Backbone

log = logging.getLogger("unitrack.backbones")

ENTRY_POINT_GROUP = "unitrack.backbones"
FAMILIES = ("resnet", "vit", "timm", "plugin")


@dataclass
class BackboneSpec:
    """Static description of a backbone: architecture, layers, input statistics, weights and provenance."""

    name: str
    arch: str = "unknown"
    default_layer: int = 3
    layers: tuple[int, ...] = (3, 4)
    stride: int = 8
    channels: dict[int, int] = field(default_factory=dict)
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    weights_source: str = "supply --weights"  # "torchvision:<file>" | "url:<url>" | "supply --weights" | "random"
    weights_url: str | None = None
    weights_sha256: str | None = None
    adapter: str = "torchvision"
    linear_probe_top1: float | None = None
    linear_probe_source: str | None = None
    paper_row: str | None = None  # "<representation>,<arch>" of paper_tables_1_2.csv
    family: str = "plugin"
    notes: str = ""
    options: dict[str, Any] = field(default_factory=dict)  # family-specific (tv_arch, timm_name, …)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["layers"] = list(self.layers)
        d["mean"], d["std"] = list(self.mean), list(self.std)
        return d


_REGISTRY: dict[str, tuple[BackboneSpec, Callable[..., Any]]] = {}
_ENTRY_POINTS_LOADED = False


def register_backbone(name: str, **spec_fields: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: register ``fn`` as the builder of backbone ``name`` described by ``spec_fields``."""
    if not name or name != name.strip():
        raise ValueError(f"invalid backbone name {name!r}")
    spec = BackboneSpec(name=name, **spec_fields)
    if spec.family not in FAMILIES:
        raise ValueError(f"{name}: family must be one of {FAMILIES}")
    if spec.layers and spec.default_layer not in spec.layers:
        raise ValueError(f"{name}: default_layer {spec.default_layer} not in layers {spec.layers}")

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        if name in _REGISTRY and _REGISTRY[name][1] is not fn:
            raise ValueError(f"backbone {name!r} is already registered")
        _REGISTRY[name] = (spec, fn)
        return fn

    return deco


def _load_entry_points(only: str | None = None) -> None:
    """Import plug-ins of the ``unitrack.backbones`` entry-point group (registration on import, or builders)."""
    global _ENTRY_POINTS_LOADED
    if only is None and _ENTRY_POINTS_LOADED:
        return
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if (only is not None and ep.name != only) or ep.name in _REGISTRY:
            continue
        try:
            obj = ep.load()
        except Exception as e:  # noqa: BLE001 - a broken plug-in must not break the others
            log.warning("backbone plug-in %s (%s) failed to load: %s", ep.name, ep.value, e)
            continue
        if ep.name in _REGISTRY:
            continue  # the module registered itself
        if callable(obj):
            register_backbone(ep.name, arch=f"plugin {ep.value}", family="plugin", layers=(),
                              adapter="none", notes=f"entry point {ep.value}")(obj)
    if only is None:
        _ENTRY_POINTS_LOADED = True


def list_backbones() -> list[BackboneSpec]:
    """All registered backbones (built-ins and installed plug-ins), in registration order."""
    _load_entry_points()
    return [spec for spec, _ in _REGISTRY.values()]


def _timm_spec(name: str) -> BackboneSpec:
    from .vit import create_timm, is_vit, timm_layers

    model = create_timm(name, meta=True)
    layers, default, chans, _ = timm_layers(model)
    cfg = getattr(model, "pretrained_cfg", {}) or {}
    mean = tuple(cfg.get("mean", IMAGENET_MEAN))
    std = tuple(cfg.get("std", IMAGENET_STD))
    return BackboneSpec(
        name=f"timm:{name}", arch=name, default_layer=default, layers=layers, channels=chans, mean=mean, std=std,
        weights_source="supply --weights", adapter="timm_vit" if is_vit(model) else "timm", family="timm",
        notes="any timm model: pass --weights PATH, or weights='timm' to let timm download its pretrained "
              "weights, or weights='random'",
        options={"timm_name": name},
    )


def _suggest(name: str) -> str:
    names = list(_REGISTRY)
    close = difflib.get_close_matches(name, names, n=4, cutoff=0.5)
    return (f"; did you mean {', '.join(close)}?" if close else "") + (
        " (`unitrack backbones` lists them; also accepted: timm:<model>, package.module:function)")


def get_spec(name: str) -> BackboneSpec:
    """The spec of a registered name or a ``timm:<model>`` name; unknown names raise with suggestions."""
    if name in _REGISTRY:
        return _REGISTRY[name][0]
    if name.startswith("timm:"):
        return _timm_spec(name[5:])
    _load_entry_points(only=name)
    if name in _REGISTRY:
        return _REGISTRY[name][0]
    if ":" not in name:
        import timm

        if timm.is_model(name):
            return _timm_spec(name)
    raise UnitrackError(f"unknown backbone {name!r}{_suggest(name)}")


def _weights_id(spec: BackboneSpec, ref: Any, seed: int) -> str:
    if ref is None:
        return f"random:seed{seed}"
    if ref.source.startswith("torchvision:"):
        return f"torchvision:{ref.path.name}:{ref.sha256}"
    return ref.sha256


def build_backbone(name: str, layer: int | None = None, weights: str | Path | None = None, seed: int = 0,
                   **opts: Any) -> Backbone:
    """Build a frozen, eval-mode backbone.

    ``name``: a registered name, ``timm:<model>`` (or a bare timm model name), ``package.module:function``,
    or an entry point of the ``unitrack.backbones`` group. ``layer``: output layer (None → the entry's
    default; for ViTs the layer is the block number, 1-based). ``weights``: a checkpoint path (always
    offline), ``"random"`` (seeded random init), ``"timm"`` (timm's own pretrained download, timm
    models only), or None (the registry source: cache, else download). ``opts`` go to the family
    builder (ViTs: ``grid_mode="upscale_input"|"interpolate_features"``, ``norm=True``).
    """
    from unitrack.weights import resolve_weights

    from .plugin import build_plugin, import_target

    if not isinstance(name, str) or not name.strip():
        raise UnitrackError("no backbone name given")
    name = name.strip()
    if isinstance(weights, str) and weights.strip().lower() in ("", "none", "null"):
        weights = None
    if weights is not None and str(weights).strip().lower() not in ("random", "timm") and not Path(weights).is_file():
        raise UnitrackError(f"--weights {weights}: file not found" + (" (it is a directory)" if Path(weights).is_dir()
                                                                       else ""))
    if name not in _REGISTRY and not name.startswith("timm:") and ":" in name:
        return _finish(build_plugin(
            BackboneSpec(name=name, arch=f"plugin {name}", family="plugin", layers=(), adapter="none",
                         weights_source="supply --weights"),
            import_target(name), name, layer, weights, seed, **opts), weights, seed)
    if name not in _REGISTRY and not name.startswith("timm:"):
        _load_entry_points(only=name)
        if name not in _REGISTRY:
            import timm

            if timm.is_model(name):
                log.info("%r is not a registered backbone; using the timm model of that name", name)
                name = f"timm:{name}"
    if name in _REGISTRY:
        spec, fn = _REGISTRY[name]
    elif name.startswith("timm:"):
        from .vit import build_timm

        spec, fn = _timm_spec(name[5:]), build_timm
    else:
        raise UnitrackError(f"unknown backbone {name!r}{_suggest(name)}")

    if spec.family == "plugin":
        spec = dataclasses.replace(spec)
        return _finish(build_plugin(spec, fn, name, layer, weights, seed, **opts), weights, seed)

    if layer is None:
        layer = spec.default_layer
    if spec.layers and layer not in spec.layers:
        shown = spec.layers if len(spec.layers) <= 6 else f"{spec.layers[0]}..{spec.layers[-1]}"
        raise UnitrackError(f"backbone {spec.name}: layer {layer} is not available (choose {shown})")
    timm_pretrained = isinstance(weights, str) and weights.strip().lower() == "timm"
    if timm_pretrained:
        if spec.family not in ("vit", "timm"):
            raise UnitrackError("weights='timm' is only meaningful for timm backbones")
        ref = None
        opts["timm_pretrained"] = True
    else:
        ref = resolve_weights(spec, weights)
    from .plugin import call_builder

    try:
        net = call_builder(fn, spec=spec, layer=layer, weights=None if ref is None else ref.path, seed=seed, **opts)
    except TypeError as e:
        if "unknown options" in str(e):  # raised by our family builders for unsupported **opts
            raise UnitrackError(str(e)) from None
        raise
    if not isinstance(net, Backbone):
        from .plugin import PluginBackbone

        net = PluginBackbone(dataclasses.replace(spec), layer, net, name)
    if timm_pretrained:
        net.weights_id = f"timm:{spec.options.get('timm_name')}"
    else:
        net.weights_id = _weights_id(spec, ref, seed)
    return net.freeze()


def _finish(bb: Backbone, weights: str | Path | None, seed: int) -> Backbone:
    """weights_id of a plug-in: the builder's own, else the sha256 of the file it was given."""
    from unitrack.weights import file_sha256

    wid = getattr(getattr(bb, "net", None), "weights_id", None)
    if wid:
        bb.weights_id = str(wid)
    elif weights is not None and str(weights) != "random":
        bb.weights_id = file_sha256(weights)
    else:
        bb.weights_id = f"plugin-init:seed{seed}"
    return bb.freeze()


def backbone_table() -> list[dict[str, Any]]:
    """Rows for ``unitrack backbones``: name, arch, layer, channels, weights_local, linear_probe_top1."""
    from unitrack.weights import weights_available

    rows = []
    for s in list_backbones():
        rows.append({
            "name": s.name,
            "arch": s.arch,
            "layer": s.default_layer,
            "channels": s.channels.get(s.default_layer) if s.channels else None,
            "weights_local": weights_available(s),
            "linear_probe_top1": s.linear_probe_top1,
        })
    return rows


def spec_for_paper_row(representation: str, arch: str) -> BackboneSpec | None:
    """The registered backbone of a row of paper_tables_1_2.csv (join on ``representation`` + ``arch``)."""
    key = f"{representation},{arch}"
    for s in list_backbones():
        if s.paper_row == key:
            return s
    return None
