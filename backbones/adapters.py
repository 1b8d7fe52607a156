"""Checkpoint adapters: one published checkpoint layout → the torchvision (or timm) key layout.

Every adapter is a function ``adapt(ckpt, model=None) -> dict[str, Tensor]`` registered under a short
name that registry entries refer to (``BackboneSpec.adapter``). They only rename/select/reshape keys;
checking that the result fits the model (missing keys, shapes) is :func:`unitrack.backbones.base.load_checked`.

Each ResNet adapter accepts both the method's own release layout and an already-converted
torchvision-layout file (what UniTrack's model zoo and ssl-transfer distribute), so either works.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

import torch

from unitrack.utils import UnitrackError

Adapter = Callable[..., dict[str, Any]]
ADAPTERS: dict[str, Adapter] = {}
ADAPTER_DOCS: dict[str, str] = {}

# Wrapper keys under which training scripts store the weights (checked in this order).
WRAPPERS = ("state_dict", "model", "model_state", "network", "resnet", "teacher", "net", "module")
# Keys of projection / prediction / classification heads: never part of the backbone.
HEAD_PATTERNS = ("fc.", "projection_head.", "prototypes.", "head.", "head_jig.", "jigsaw.", "predictor.",
                 "projector.", "classifier.", "selfsim_fc.", "avgpool.")
ANCHOR = "layer1.0.conv1.weight"  # present in every torchvision ResNet


def register_adapter(name: str, doc: str) -> Callable[[Adapter], Adapter]:
    def deco(fn: Adapter) -> Adapter:
        ADAPTERS[name] = fn
        ADAPTER_DOCS[name] = doc
        return fn

    return deco


def get_adapter(name: str) -> Adapter:
    try:
        return ADAPTERS[name]
    except KeyError:
        raise UnitrackError(f"unknown checkpoint adapter {name!r}; known: {', '.join(sorted(ADAPTERS))}") from None


def _is_tensor_dict(d: Any) -> bool:
    return isinstance(d, dict) and len(d) > 0 and any(isinstance(v, torch.Tensor) for v in d.values())


def unwrap(ckpt: Any, wrappers: Iterable[str] = WRAPPERS) -> dict[str, Any]:
    """Descend through ``{'state_dict': …}`` / ``{'model': …}`` style containers to the tensor dict."""
    d = ckpt
    for _ in range(3):
        if _is_tensor_dict(d) and not any(w in d and isinstance(d[w], dict) for w in wrappers):
            break
        if not isinstance(d, dict):
            break
        for w in wrappers:
            if w in d and isinstance(d[w], dict):
                d = d[w]
                break
        else:
            break
    if not _is_tensor_dict(d):
        keys = list(d)[:8] if isinstance(d, dict) else type(d).__name__
        raise UnitrackError(f"checkpoint holds no tensor dictionary (top-level entries: {keys})")
    return dict(d)


def select_prefix(sd: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Keep only keys starting with ``prefix`` and strip it."""
    return {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}


def drop_heads(sd: dict[str, Any], patterns: Iterable[str] = HEAD_PATTERNS) -> dict[str, Any]:
    pats = tuple(patterns)
    return {k: v for k, v in sd.items() if not k.startswith(pats)}


def auto_prefix(sd: dict[str, Any], prefer: Iterable[str] = ()) -> dict[str, Any]:
    """Find the ResNet inside a checkpoint by the prefix of ``layer1.0.conv1.weight`` and strip it."""
    if ANCHOR in sd:
        return sd
    cands = sorted({k[: -len(ANCHOR)] for k in sd if k.endswith(ANCHOR)})
    if not cands:
        return sd  # not a ResNet: the loader reports the missing keys
    for p in prefer:
        if p in cands:
            return select_prefix(sd, p)
    if len(cands) == 1:
        return select_prefix(sd, cands[0])
    raise UnitrackError(f"checkpoint holds several ResNets (key prefixes {cands}); cannot tell which is the encoder")


def _prefix_adapter(name: str, prefixes: tuple[str, ...], doc: str, post: Callable | None = None) -> None:
    def adapt(ckpt: Any, model: Any = None) -> dict[str, Any]:
        sd = unwrap(ckpt)
        for p in prefixes:
            if any(k.startswith(p) for k in sd):
                sd = select_prefix(sd, p)
                break
        else:
            sd = auto_prefix(sd, prefer=prefixes)
        if post is not None:
            sd = post(sd)
        return drop_heads(sd)

    adapt.__name__ = f"adapt_{name}"
    adapt.__doc__ = doc
    register_adapter(name, doc)(adapt)


_prefix_adapter(
    "torchvision", ("module.",),
    "torchvision ResNet layout, optionally wrapped in state_dict/model and/or prefixed 'module.' "
    "(ImageNet, BarlowTwins, DINO-R50, converted SimCLR/BYOL/ssl-transfer files).",
)
_prefix_adapter(
    "moco", ("module.encoder_q.", "encoder_q."),
    "MoCo-v1/v2, PCL-v1/v2, DetCo: ckpt['state_dict'] with the query encoder under 'module.encoder_q.' "
    "(the key encoder 'encoder_k' and the MLP head 'fc.*' are dropped).",
)
_prefix_adapter(
    "swav", ("module.",),
    "SwAV, DeepCluster-v2, SeLa-v2 (facebookresearch/swav releases): flat or state_dict with 'module.' prefix; "
    "'projection_head.*' and 'prototypes.*' are dropped.",
)
_prefix_adapter(
    "pycontrast", ("module.encoder.", "encoder.module.", "encoder."),
    "InsDis, PIRL, InfoMin (PyContrast releases) and the reference's 'ssib' type: ckpt['model'] or a flat "
    "dict with the encoder under 'module.encoder.'; jigsaw / projection heads dropped.",
)
_prefix_adapter(
    "pixpro", ("module.encoder.", "encoder."),
    "PixPro release: ckpt['model'] with the online encoder under 'module.encoder.' ('encoder_k', "
    "projector and predictor dropped).",
)
_prefix_adapter(
    "colorization", ("module.feature_extraction.", "feature_extraction.", "module.encoder.", "encoder.", "module."),
    "Colorization + memory (UniTrack model zoo file): a torchvision ResNet-18 state dict, possibly under "
    "'feature_extraction.' / 'module.' prefixes.",
)


_prefix_adapter(
    "uvc", ("module.gray_encoder.", "gray_encoder."),
    "UVC: ckpt['state_dict']; keep keys of 'module.gray_encoder.' and strip that prefix (reference load_uvc_model).",
)


def _squeeze_time(sd: dict[str, Any]) -> dict[str, Any]:
    """3-D convolutions with temporal extent 1 → 2-D (reference load_tc_model)."""
    out = {}
    for k, v in sd.items():
        if isinstance(v, torch.Tensor) and v.dim() == 5 and v.shape[2] == 1:
            v = v.squeeze(2)
        out[k] = v
    return out


_prefix_adapter(
    "timecycle", ("module.encoderVideo.", "encoderVideo."),
    "TimeCycle: ckpt['state_dict']; keep 'module.encoderVideo.*', strip the prefix and squeeze 5-D conv "
    "kernels with temporal extent 1 to 2-D.",
    _squeeze_time,
)


@register_adapter(
    "crw",
    "CRW (videowalk): ckpt['model']; 'encoder.model.' prefix stripped, 'conv1.1.weight'/'conv2.1.weight' "
    "renamed to '.weight' (reference make_encoder), 'head'/'selfsim_fc' keys skipped.",
)
def adapt_crw(ckpt: Any, model: Any = None) -> dict[str, Any]:
    sd = unwrap(ckpt)
    out: dict[str, Any] = {}
    for k, v in sd.items():
        if "head" in k:
            continue
        kk = k.split("encoder.model.", 1)[1] if "encoder.model." in k else k
        if kk.startswith("module."):
            kk = kk[len("module."):]
        if kk.endswith(("conv1.1.weight", "conv2.1.weight")):
            kk = kk[: -len(".1.weight")] + ".weight"
        out[kk] = v
    return drop_heads(auto_prefix(out))


_VFS_CONV = re.compile(r"^(layer\d+\.\d+)\.(conv\d)\.(conv|bn|gn)\.(.+)$")
_VFS_DOWN = re.compile(r"^(layer\d+\.\d+)\.downsample\.(conv|bn|gn)\.(.+)$")


@register_adapter(
    "vfs",
    "VFS (mmaction2 release): ckpt['state_dict'] with 'backbone.' prefix and ConvModule names "
    "(conv1.conv/conv1.bn, layerX.Y.convZ.conv/.bn, downsample.conv/.bn) → torchvision "
    "(as VFS's tools/convert_weights/convert_to_pretrained.py); torchvision-layout files pass through.",
)
def adapt_vfs(ckpt: Any, model: Any = None) -> dict[str, Any]:
    sd = unwrap(ckpt)
    if not any(k.startswith("backbone.") for k in sd):
        return drop_heads(auto_prefix(sd, prefer=("module.",)))
    out: dict[str, Any] = {}
    for k, v in sd.items():
        if not k.startswith("backbone."):
            continue
        b = k[len("backbone."):]
        if b.startswith("conv1."):
            kind, tail = b.split(".")[1], b.split(".", 2)[2]
            name = {"conv": "conv1", "bn": "bn1", "gn": "gn1"}.get(kind)
            if name is None:
                out[b] = v
                continue
            out[f"{name}.{tail}"] = v
        elif m := _VFS_DOWN.match(b):
            out[f"{m.group(1)}.downsample.{0 if m.group(2) == 'conv' else 1}.{m.group(3)}"] = v
        elif m := _VFS_CONV.match(b):
            idx = m.group(2)[-1]
            kind = "conv" if m.group(3) == "conv" else m.group(3)
            out[f"{m.group(1)}.{kind}{idx}.{m.group(4)}"] = v
        else:
            out[b] = v
    return drop_heads(out)


# --------------------------------------------------------------------------------- ViTs (timm)
@register_adapter(
    "timm_vit",
    "DINO / DINOv2 ViT releases (and timm files): the backbone dict, or a full DINO training checkpoint "
    "('teacher' with 'backbone.' prefix); DINOv2 names (mask_token, register_tokens, w12/w3) converted by "
    "timm's checkpoint_filter_fn for the model's class.",
)
def adapt_timm_vit(ckpt: Any, model: Any = None) -> dict[str, Any]:
    sd = unwrap(ckpt)
    for p in ("module.backbone.", "backbone.", "module."):
        if any(k.startswith(p) for k in sd) and not any(k.startswith(("blocks.", "patch_embed.")) for k in sd):
            sd = select_prefix(sd, p)
            break
    sd = {k: v for k, v in sd.items() if not k.startswith(("head.", "dino_head", "fc_norm."))}
    if model is not None:
        pe = sd.get("patch_embed.proj.weight")
        want = tuple(model.patch_embed.proj.weight.shape)
        if isinstance(pe, torch.Tensor) and pe.dim() == 4 and tuple(pe.shape) != want:
            raise UnitrackError(
                f"patch embedding shape {tuple(pe.shape)} in the checkpoint does not match the model's {want} "
                "(a checkpoint of another ViT size / patch size?)"
            )
        import importlib

        mod = importlib.import_module(type(model).__module__)
        filt = getattr(mod, "checkpoint_filter_fn", None)
        if filt is not None:
            sd = filt(dict(sd), model)
    return sd


@register_adapter("timm", "timm model checkpoint (state_dict as saved by timm; filtered by the model's own "
                          "checkpoint_filter_fn when it has one).")
def adapt_timm(ckpt: Any, model: Any = None) -> dict[str, Any]:
    sd = unwrap(ckpt)
    if model is not None:
        import importlib

        mod = importlib.import_module(type(model).__module__)
        filt = getattr(mod, "checkpoint_filter_fn", None)
        if filt is not None:
            try:
                sd = filt(dict(sd), model)
            except Exception:  # noqa: BLE001 - fall back to the raw dict; the loader reports problems
                pass
    return sd


@register_adapter("none", "no conversion (plugins load their own weights)")
def adapt_none(ckpt: Any, model: Any = None) -> dict[str, Any]:
    return unwrap(ckpt)


def load_weights(bb: Any, target: Any, weights: Any) -> None:
    """Read ``weights``, convert it with ``bb.spec``'s adapter and load it strictly into ``target``
    (the backbone itself, or the wrapped network); the missing/unexpected-key report goes to ``bb.load_report``."""
    from unitrack.weights import load_checkpoint

    from .base import load_checked

    spec = bb.spec
    sd = get_adapter(spec.adapter)(load_checkpoint(weights), target)
    bb.load_report = load_checked(target, sd, file=str(weights), adapter=spec.adapter, name=spec.name,
                                  discardable=bb.discardable)
