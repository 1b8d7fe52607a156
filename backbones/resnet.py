"""Stride-8 ResNets exactly as the published protocol (docs/protocol.md §1.1).

torchvision ResNet-18/50/101 and ResNeXt-50/101; weights are loaded in torchvision layout first, then
every ``Conv2d`` of layer3/layer4 gets stride 1 — no dilation, padding unchanged — so the total stride
is conv1 (2) × maxpool (2) × layer2 (2) = 8 and an ``H×W`` input gives ``ceil(H/8)×ceil(W/8)``.
The output is layer3 (default) or layer4; avgpool/fc (and layer4 for ``layer=3``) are removed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import nn

from .adapters import load_weights
from .base import Backbone

# torchvision constructor name → (display name, channels per layer)
RESNET_ARCHS: dict[str, tuple[str, dict[int, int]]] = {
    "resnet18": ("ResNet-18", {3: 256, 4: 512}),
    "resnet34": ("ResNet-34", {3: 256, 4: 512}),
    "resnet50": ("ResNet-50", {3: 1024, 4: 2048}),
    "resnet101": ("ResNet-101", {3: 1024, 4: 2048}),
    "resnext50_32x4d": ("ResNeXt-50 32x4d", {3: 1024, 4: 2048}),
    "resnext101_32x8d": ("ResNeXt-101 32x8d", {3: 1024, 4: 2048}),
}


def make_stride8(net: nn.Module) -> None:
    """docs/protocol.md §1.1 step 1: stride 1 in every Conv2d of layer3/layer4 (incl. downsample), no dilation change."""
    for name in ("layer3", "layer4"):
        layer = getattr(net, name, None)
        if layer is None:
            continue
        for m in layer.modules():
            if isinstance(m, nn.Conv2d):
                m.stride = (1, 1)


def torchvision_resnet(arch: str, seed: int | None) -> nn.Module:
    """A torchvision ResNet: seeded default init when ``seed`` is given, else uninitialised (meta → CPU)."""
    if arch not in RESNET_ARCHS:
        raise ValueError(f"unknown ResNet architecture {arch!r}; known: {', '.join(RESNET_ARCHS)}")
    ctor = getattr(torchvision.models, arch)
    if seed is None:
        with torch.device("meta"):
            net = ctor(weights=None)
        return net.to_empty(device="cpu")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return ctor(weights=None)


class ResNetBackbone(Backbone):
    """Stride-8 torchvision ResNet truncated after ``layer``; parameter names are torchvision's."""

    family = "resnet"

    def __init__(self, spec: Any, layer: int, net: nn.Module) -> None:
        super().__init__(spec, layer)
        if layer not in (3, 4):
            raise ValueError("ResNet backbones output layer 3 or 4")
        self.arch_id = spec.options.get("tv_arch", "")
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3 = net.layer1, net.layer2, net.layer3
        self.layer4 = net.layer4 if layer == 4 else None
        make_stride8(self)
        self.out_channels = RESNET_ARCHS[self.arch_id][1][layer] if self.arch_id in RESNET_ARCHS else self.out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer3(self.layer2(self.layer1(x)))
        if self.layer4 is not None:
            x = self.layer4(x)
        return x

    def discardable(self, key: str) -> bool:
        return key.startswith(("fc.", "avgpool.")) or (self.layer4 is None and key.startswith("layer4."))

    def extra_fingerprint(self) -> dict[str, Any]:
        return {"torchvision_arch": self.arch_id, "stride8": "layer3/layer4 conv stride 1, no dilation"}


def build_resnet(spec: Any, layer: int, weights: Path | None, seed: int = 0, **opts: Any) -> ResNetBackbone:
    """Registry builder for ResNet entries: seeded random init, or weights through the entry's adapter."""
    if opts:
        raise TypeError(f"unknown options for ResNet backbone {spec.name}: {sorted(opts)}")
    arch = spec.options["tv_arch"]
    net = torchvision_resnet(arch, seed if weights is None else None)
    bb = ResNetBackbone(spec, layer, net)
    if weights is not None:
        load_weights(bb, bb, weights)
    return bb
