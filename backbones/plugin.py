"""User networks as backbones: ``pkg.module:build_fn`` or the ``unitrack.backbones`` entry-point group.

``build_fn(layer=..., weights=..., **opts)`` returns an ``nn.Module`` mapping a normalised
``N×3×H×W`` batch to ``N×C×h×w``. Optional attributes on the returned module: ``mean``/``std``
(input statistics, default ImageNet), ``layer`` (int), ``weights_id`` (str), ``arch`` (str).
Channels and native stride are found by dummy forwards on 64×64 and 60×76 inputs; a stride-8 net that
floors odd sizes gets its input zero-padded to a multiple of 8, any other stride is bilinearly resized
to the ``ceil(H/8)×ceil(W/8)`` grid (both recorded in the fingerprint).
"""

from __future__ import annotations

import importlib
import inspect
import logging
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from unitrack.utils import UnitrackError

from .base import Backbone

log = logging.getLogger("unitrack.backbones")

PROBE = 64


def import_target(target: str) -> Any:
    """Resolve ``pkg.module:attr`` (attr may be dotted)."""
    mod_name, _, attr = target.partition(":")
    if not mod_name or not attr:
        raise UnitrackError(f"plug-in backbone {target!r}: expected 'package.module:function'")
    try:
        obj: Any = importlib.import_module(mod_name)
    except ImportError as e:
        raise UnitrackError(f"plug-in backbone {target!r}: cannot import module {mod_name!r} ({e})") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise UnitrackError(f"plug-in backbone {target!r}: module {mod_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise UnitrackError(f"plug-in backbone {target!r} is not callable")
    return obj


STANDARD_ARGS = ("spec", "layer", "weights", "seed")


def call_builder(fn: Any, **kwargs: Any) -> Any:
    """Call a builder with the keyword arguments it declares (all of them if it takes ``**kwargs``).

    The standard arguments (spec, layer, weights, seed) are passed only when declared, but a weights
    file given to a builder that cannot take one is an error, and so is any other unknown option.
    """
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return fn(**kwargs)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return fn(**kwargs)
    unknown = [k for k in kwargs if k not in params and k not in STANDARD_ARGS]
    if kwargs.get("weights") is not None and "weights" not in params:
        unknown.append("weights")
    if unknown:
        raise UnitrackError(f"backbone builder {getattr(fn, '__qualname__', fn)} does not accept {unknown}")
    return fn(**{k: v for k, v in kwargs.items() if k in params})


class PluginBackbone(Backbone):
    """Wraps a user module; resizes its output to the stride-8 grid when its own stride differs."""

    family = "plugin"

    def __init__(self, spec: Any, layer: int, net: nn.Module, target: str) -> None:
        super().__init__(spec, layer)
        if not isinstance(net, nn.Module):
            raise UnitrackError(f"plug-in backbone {target!r} returned {type(net).__name__}, not a torch.nn.Module")
        self.net = net
        self.target = target
        net.eval()
        try:
            dev = next(net.parameters()).device
        except StopIteration:
            dev = torch.device("cpu")
        with torch.inference_mode():
            y = net(torch.zeros(1, 3, PROBE, PROBE, device=dev))
            if not isinstance(y, torch.Tensor) or y.dim() != 4:
                raise UnitrackError(f"plug-in backbone {target!r} must return an N×C×h×w tensor, got "
                                    f"{type(y).__name__}{tuple(y.shape) if isinstance(y, torch.Tensor) else ''}")
            odd = tuple(net(torch.zeros(1, 3, PROBE - 4, PROBE + 12, device=dev)).shape[-2:])
        self.out_channels = int(y.shape[1])
        self.native_stride = PROBE / float(y.shape[-1])
        stride8 = tuple(y.shape[-2:]) == self.output_size(PROBE, PROBE)
        # a stride-8 net that floors odd sizes gets its input zero-padded to a multiple of 8 (exact ceil grid)
        self.pad_to_8 = stride8 and odd != self.output_size(PROBE - 4, PROBE + 12)
        self.resample = not stride8
        if self.resample:
            log.warning("plug-in backbone %s has stride %.3g, not 8: its features are resized bilinearly to the "
                        "stride-8 grid", target, self.native_stride)
        spec.channels = {self.layer: self.out_channels}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        H, W = x.shape[-2:]
        target = self.output_size(H, W)
        if self.pad_to_8 and (H % 8 or W % 8):
            x = F.pad(x, (0, (-W) % 8, 0, (-H) % 8))
        y = self.net(x)
        if tuple(y.shape[-2:]) != target:
            y = F.interpolate(y, size=target, mode="bilinear", align_corners=False)
        return y

    def extra_fingerprint(self) -> dict[str, Any]:
        return {
            "plugin": self.target,
            "native_stride": self.native_stride,
            "feature_interpolation": "bilinear to stride 8" if self.resample else "none",
            "input_padding": "zero-pad to a multiple of 8" if self.pad_to_8 else "none",
        }


def build_plugin(spec: Any, fn: Any, target: str, layer: int | None, weights: str | Path | None, seed: int,
                 **opts: Any) -> PluginBackbone:
    """Build a user network with a seeded RNG and wrap it."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        net = call_builder(fn, layer=layer, weights=None if weights is None else str(weights), seed=seed, **opts)
    if isinstance(net, Backbone):
        return net  # type: ignore[return-value]
    for attr in ("mean", "std"):
        v = getattr(net, attr, None)
        if v is not None:
            setattr(spec, attr, tuple(float(t) for t in v))
    if getattr(net, "arch", None):
        spec.arch = str(net.arch)
    lay = layer if layer is not None else int(getattr(net, "layer", spec.default_layer) or 0)
    spec.default_layer = lay
    spec.layers = (lay,)
    return PluginBackbone(spec, lay, net, target)
