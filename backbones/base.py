"""The :class:`Backbone` base module and the checked state-dict loader shared by every family."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from unitrack.utils import UnitrackError

log = logging.getLogger("unitrack.backbones")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# CRW (and the reference's VFS configs) were trained / evaluated with these CIFAR-style statistics (docs/protocol.md §1.6).
CRW_MEAN = (0.4914, 0.4822, 0.4465)
CRW_STD = (0.2023, 0.1994, 0.2010)


class Backbone(nn.Module):
    """A frozen appearance model: normalised ``N×3×H×W`` → stride-8 ``N×C×h×w`` features.

    Always in eval mode (``train()`` is a no-op, so BatchNorm uses running statistics) with
    ``requires_grad=False`` everywhere. ``weights_id`` identifies the loaded weights in fingerprints.
    """

    family = "base"

    def __init__(self, spec: Any, layer: int) -> None:
        super().__init__()
        self.spec = spec
        self.layer = int(layer)
        self.stride = 8
        self.out_channels = int(spec.channels.get(self.layer, 0)) if spec.channels else 0
        self.weights_id = "unset"
        self.load_report: dict[str, Any] | None = None

    # -- frozen, eval-only ---------------------------------------------------------------------
    def train(self, mode: bool = True) -> Backbone:  # noqa: D401 - torch signature
        """Ignore ``mode``: a frozen backbone always runs BatchNorm / dropout in eval mode."""
        return super().train(False)

    def freeze(self) -> Backbone:
        for p in self.parameters():
            p.requires_grad_(False)
        return self.eval()

    # -- identity ---------------------------------------------------------------------------------
    def extra_fingerprint(self) -> dict[str, Any]:
        return {}

    def fingerprint(self) -> dict[str, Any]:
        """Everything that determines the features: goes into result fingerprints."""
        s = self.spec
        fp = {
            "name": s.name,
            "arch": s.arch,
            "family": s.family,
            "layer": self.layer,
            "stride": self.stride,
            "out_channels": self.out_channels,
            "weights_id": self.weights_id,
            "weights_source": s.weights_source,
            "adapter": s.adapter,
            "mean": list(s.mean),
            "std": list(s.std),
        }
        fp.update(self.extra_fingerprint())
        return fp

    def discardable(self, key: str) -> bool:
        """Checkpoint keys that may be present but are not used (classifier heads, removed layers)."""
        return False

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """Feature-grid size for an ``height×width`` input: ``ceil(H/8) × ceil(W/8)``."""
        return -(-height // 8), -(-width // 8)


def _fmt_keys(keys: Iterable[str], limit: int = 12) -> str:
    keys = list(keys)
    shown = ", ".join(keys[:limit])
    return shown + (f", … (+{len(keys) - limit} more)" if len(keys) > limit else "")


def load_checked(
    model: nn.Module,
    state: dict[str, Any],
    *,
    file: str,
    adapter: str,
    name: str,
    discardable: Callable[[str], bool] = lambda k: False,
    optional: Callable[[str], bool] = lambda k: k.endswith("num_batches_tracked"),
) -> dict[str, Any]:
    """Load an adapted state dict; fail loudly on missing essential weights or shape mismatches.

    Returns a report (loaded / missing-optional / discarded / unexpected keys). Optional keys that the
    checkpoint lacks (``num_batches_tracked``) are zero-filled, so a meta-initialised model is never
    left with uninitialised memory.
    """
    target = model.state_dict()
    tensors = {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}
    missing = [k for k in target if k not in tensors and not optional(k)]
    missing_optional = [k for k in target if k not in tensors and optional(k)]
    extra = [k for k in state if k not in target]
    discarded = [k for k in extra if discardable(k)]
    unexpected = [k for k in extra if not discardable(k)]
    shapes = [
        f"{k}: checkpoint {tuple(tensors[k].shape)} vs model {tuple(target[k].shape)}"
        for k in target
        if k in tensors and tuple(tensors[k].shape) != tuple(target[k].shape)
    ]
    if missing or shapes:
        parts = [f"cannot load {file} into backbone {name!r} (checkpoint adapter {adapter!r}):"]
        if missing:
            parts.append(f"{len(missing)} of {len(target)} essential weights are missing: {_fmt_keys(missing)}")
        if shapes:
            parts.append(f"{len(shapes)} shape mismatches: {_fmt_keys(shapes, 6)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys after adaptation: {_fmt_keys(unexpected)}")
        if missing and len(missing) == len([k for k in target if not optional(k)]):
            raw = list(state)[:6]
            parts.append(f"no key matched — is this a checkpoint of this model? (its keys look like: {_fmt_keys(raw, 6)})")
        raise UnitrackError("\n  ".join(parts))
    sd = {k: tensors[k] for k in target if k in tensors}
    bad = [k for k, v in sd.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise UnitrackError(f"cannot load {file} into backbone {name!r}: {len(bad)} tensor(s) hold NaN or infinite "
                            f"values: {_fmt_keys(bad)} (a corrupt or diverged checkpoint)")
    result = model.load_state_dict(sd, strict=False)
    assert not result.unexpected_keys, result.unexpected_keys
    with torch.no_grad():
        for k in missing_optional:
            target[k].zero_()
    if unexpected:
        log.warning("%s: %d checkpoint keys are not used by %s (adapter %s): %s", file, len(unexpected), name,
                    adapter, _fmt_keys(unexpected))
    log.info("loaded %d tensors from %s into %s (%d discarded head/unused-layer keys)", len(sd), file, name,
             len(discarded))
    return {
        "file": file,
        "adapter": adapter,
        "loaded": len(sd),
        "missing": missing_optional,
        "discarded": discarded,
        "unexpected": unexpected,
    }
