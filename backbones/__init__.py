"""Level 1 — frozen appearance models that map a normalised frame to a stride-8 feature map.

Public API::

    build_backbone(name, layer=None, weights=None, seed=0, **opts) -> Backbone
    get_spec(name) -> BackboneSpec;  list_backbones();  backbone_table();  register_backbone(name, **fields)

``name`` is a registered name (``unitrack backbones``), ``timm:<model>``, ``package.module:function``
or an entry point of the ``unitrack.backbones`` group.
"""

from __future__ import annotations

from . import zoo as _zoo  # noqa: F401  (registers the built-in models)
from .adapters import ADAPTER_DOCS, ADAPTERS, get_adapter, register_adapter
from .base import CRW_MEAN, CRW_STD, IMAGENET_MEAN, IMAGENET_STD, Backbone, load_checked
from .plugin import PluginBackbone
from .registry import (
    ENTRY_POINT_GROUP,
    BackboneSpec,
    backbone_table,
    build_backbone,
    get_spec,
    list_backbones,
    register_backbone,
    spec_for_paper_row,
)
from .resnet import RESNET_ARCHS, ResNetBackbone, make_stride8
from .vit import GRID_MODES, TimmBackbone

__all__ = [
    "ADAPTERS",
    "ADAPTER_DOCS",
    "CRW_MEAN",
    "CRW_STD",
    "ENTRY_POINT_GROUP",
    "GRID_MODES",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "RESNET_ARCHS",
    "Backbone",
    "BackboneSpec",
    "PluginBackbone",
    "ResNetBackbone",
    "TimmBackbone",
    "backbone_table",
    "build_backbone",
    "get_adapter",
    "get_spec",
    "list_backbones",
    "load_checked",
    "make_stride8",
    "register_adapter",
    "register_backbone",
    "spec_for_paper_row",
]
