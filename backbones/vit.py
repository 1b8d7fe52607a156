"""timm backbones: DINO / DINOv2 ViTs (registered) and any timm model with dense features (``timm:<name>``).

ViTs return the patch tokens of one block (``layer`` = block number, 1-based; default the last) as a
``D×h×w`` map, CLS/register tokens dropped, after the final LayerNorm by default (``norm=True``, as
DINO's own ``get_intermediate_layers`` used for its video-propagation evaluation).

Grid. Heads assume stride 8: an ``H×W`` input must give ``ceil(H/8)×ceil(W/8)`` cells. For patch size
``p`` the default ``grid_mode="upscale_input"`` resizes the input (bilinear) to
``(ceil(H/8)·p) × (ceil(W/8)·p)`` so that every token covers one 8×8 cell of the original frame —
native for p = 8 (at most a 7-pixel stretch), a ×1.75 / ×2 upscale for p = 14 / 16 (more tokens, more
compute). ``grid_mode="interpolate_features"`` instead runs at ``(ceil(H/p)·p) × (ceil(W/p)·p)`` and
resizes the ``ceil(H/p)×ceil(W/p)`` token map bilinearly to the stride-8 grid (cheaper, blurrier).
The choice, the scale factor and ``norm`` are recorded in :meth:`TimmBackbone.fingerprint`.

Non-ViT timm models use ``forward_intermediates``; ``layer`` is the 1-based index into the model's
``feature_info`` (default: the level with reduction 8); other reductions are resized to the stride-8 grid.
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from unitrack.utils import UnitrackError

from .adapters import load_weights
from .base import Backbone

GRID_MODES = ("upscale_input", "interpolate_features")


def create_timm(model_name: str, pretrained: bool = False, meta: bool = False) -> torch.nn.Module:
    """``timm.create_model`` without a classifier and with dynamic input size where supported."""
    import timm

    if not timm.is_model(model_name.split(".")[0]) and not timm.is_model(model_name):
        close = timm.list_models(f"*{model_name.split('.')[0][:12]}*")[:8]
        raise UnitrackError(f"timm has no model {model_name!r}" + (f"; similar: {', '.join(close)}" if close else ""))
    kw: dict[str, Any] = {"pretrained": pretrained, "num_classes": 0}
    # (a torch.device context manager slows every op down: only use it for the allocation-free meta build)
    ctx = torch.device("meta") if meta else contextlib.nullcontext()
    try:
        with ctx:
            return timm.create_model(model_name, dynamic_img_size=True, **kw)
    except TypeError:
        with ctx:
            return timm.create_model(model_name, **kw)
    except RuntimeError as e:
        if "download" in str(e).lower() or "hub" in str(e).lower():
            raise UnitrackError(f"timm could not fetch pretrained weights for {model_name} ({e}); pass --weights") from None
        raise


def is_vit(model: torch.nn.Module) -> bool:
    return hasattr(model, "patch_embed") and hasattr(model, "blocks")


def timm_layers(model: torch.nn.Module) -> tuple[tuple[int, ...], int, dict[int, int], dict[int, int]]:
    """(allowed layers, default layer, channels per layer, reduction per layer) of a timm model."""
    if is_vit(model):
        depth = len(model.blocks)
        dim = int(model.embed_dim)
        p = int(model.patch_embed.patch_size[0])
        layers = tuple(range(1, depth + 1))
        return layers, depth, dict.fromkeys(layers, dim), dict.fromkeys(layers, p)
    info = getattr(model, "feature_info", None)
    if info is None or not hasattr(model, "forward_intermediates"):
        raise UnitrackError(f"timm model {type(model).__name__} does not expose dense features (forward_intermediates)")
    chans = [int(i["num_chs"]) for i in info] if isinstance(info, list) else list(info.channels())
    reds = [int(i["reduction"]) for i in info] if isinstance(info, list) else list(info.reduction())
    layers = tuple(range(1, len(chans) + 1))
    default = next((i + 1 for i, r in enumerate(reds) if r == 8), min(layers, key=lambda i: abs(reds[i - 1] - 8)))
    return layers, default, dict(zip(layers, chans)), dict(zip(layers, reds))


class TimmBackbone(Backbone):
    """A timm model returning the stride-8-equivalent dense map of one block / feature level."""

    family = "timm"

    def __init__(self, spec: Any, layer: int, model: torch.nn.Module, grid_mode: str = "upscale_input",
                 norm: bool = True) -> None:
        super().__init__(spec, layer)
        if grid_mode not in GRID_MODES:
            raise UnitrackError(f"grid_mode must be one of {GRID_MODES}, got {grid_mode!r}")
        self.vit = is_vit(model)
        layers, _, chans, reds = timm_layers(model)
        if layer not in layers:
            raise UnitrackError(f"{spec.name}: layer/block {layer} not available; choose 1..{len(layers)}")
        self.index = layer - 1
        self.out_channels = chans[layer]
        self.reduction = reds[layer]
        self.grid_mode = grid_mode
        self.norm = bool(norm) and self.vit
        self.patch = self.reduction if self.vit else None
        if hasattr(model, "prune_intermediate_layers"):
            model.prune_intermediate_layers([self.index], prune_norm=not self.norm, prune_head=True)
        self.model = model
        self._kept_blocks = len(model.blocks) if self.vit else None

    # -- geometry ----------------------------------------------------------------------------------
    def input_size(self, height: int, width: int) -> tuple[int, int]:
        """Size the input is resized to before the ViT (see module docstring)."""
        if not self.vit:
            return height, width
        p = self.patch
        if self.grid_mode == "upscale_input":
            return math.ceil(height / 8) * p, math.ceil(width / 8) * p
        return math.ceil(height / p) * p, math.ceil(width / p) * p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        H, W = x.shape[-2:]
        h8, w8 = self.output_size(H, W)
        size = self.input_size(H, W)
        if tuple(size) != (H, W):
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        if self.vit:
            feats = self.model.forward_intermediates(x, indices=[self.index], norm=self.norm, output_fmt="NCHW",
                                                     intermediates_only=True, stop_early=True)[0]
        else:
            feats = self.model.forward_intermediates(x, indices=[self.index], intermediates_only=True)[0]
        if feats.shape[-2:] != (h8, w8):
            feats = F.interpolate(feats, size=(h8, w8), mode="bilinear", align_corners=False)
        return feats

    def discardable(self, key: str) -> bool:
        if key.startswith(("head.", "fc_norm.", "head_drop.", "fc.", "classifier.", "global_pool.")):
            return True
        if self.vit:
            if key.startswith("norm.") and not self.norm:
                return True
            if key.startswith("blocks."):
                return int(key.split(".")[1]) >= self._kept_blocks
            return False
        return True  # pruned CNN stages / heads are not in the model any more

    def extra_fingerprint(self) -> dict[str, Any]:
        fp: dict[str, Any] = {"timm_model": self.spec.options.get("timm_name")}
        if self.vit:
            p = self.patch
            fp.update({
                "block": self.layer,
                "patch_size": p,
                "grid_mode": self.grid_mode,
                "input_scale": (p / 8) if self.grid_mode == "upscale_input" else 1.0,
                "feature_interpolation": "none" if (self.grid_mode == "upscale_input") else f"bilinear stride {p}->8",
                "final_norm": self.norm,
                "tokens": "patch tokens only (cls/register tokens dropped)",
            })
        else:
            fp.update({"feature_level": self.layer, "reduction": self.reduction,
                       "feature_interpolation": "none" if self.reduction == 8 else f"bilinear stride {self.reduction}->8"})
        return fp


def build_timm(spec: Any, layer: int, weights: Path | None, seed: int = 0, grid_mode: str = "upscale_input",
               norm: bool = True, timm_pretrained: bool = False, **opts: Any) -> TimmBackbone:
    """Registry builder for timm entries (DINO/DINOv2 and ``timm:<name>``)."""
    if opts:
        raise TypeError(f"unknown options for timm backbone {spec.name}: {sorted(opts)} "
                        "(known: grid_mode, norm)")
    name = spec.options["timm_name"]
    if timm_pretrained:
        model = create_timm(name, pretrained=True)
    elif weights is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            model = create_timm(name)
    else:
        model = create_timm(name, meta=True)
        persistent = set(model.state_dict())
        if any(n not in persistent for n, _ in model.named_buffers()):
            model = create_timm(name)  # non-persistent buffers are not in checkpoints: real init needed
        else:
            model = model.to_empty(device="cpu")
    bb = TimmBackbone(spec, layer, model, grid_mode=grid_mode, norm=norm)
    if weights is not None:
        load_weights(bb, model, weights)
    return bb
