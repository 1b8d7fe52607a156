"""The built-in model zoo: every model of the paper's Tables 1–2, plus DINO / DINOv2 and extra ResNets.

Naming: short, lower-case, stable. Table 1 methods are ResNet-50 and take the bare method name
(``mocov2``, ``vfs``); Table 2 methods are ResNet-18 (``crw``, ``uvc``, ``colorization``); other
architectures of the same method get a suffix (``vfs_r18``). ``paper_row`` is the
``representation,arch`` pair of ``paper_tables_1_2.csv``; linear-probe figures come from
``unitrack/data/linear_probe_top1.csv`` (joined on representation + arch) or, for the extra
torchvision classifiers, from torchvision's weight metadata (supervised top-1, labelled as such).

Weight sources: ``torchvision:`` for ImageNet models (the IMAGENET1K_V1 weights the paper used);
``url:`` where the authors publish a direct download; ``supply --weights`` where the published file is
behind Google Drive / needs a conversion (the note says where to get it). No sha256 is invented: a
download is verified by the full digest when known, else by the hash prefix in its file name.
"""

from __future__ import annotations

import csv
import logging
from functools import lru_cache
from pathlib import Path

from .base import CRW_MEAN, CRW_STD, IMAGENET_MEAN, IMAGENET_STD
from .registry import register_backbone
from .resnet import RESNET_ARCHS, build_resnet
from .vit import build_timm

log = logging.getLogger("unitrack.backbones")


@lru_cache(maxsize=1)
def linear_probe_table() -> dict[tuple[str, str], tuple[float, str]]:
    """(representation, arch) → (ImageNet linear-probe top-1, source) from the packaged CSV."""
    text = None
    try:
        from importlib.resources import files

        text = files("unitrack").joinpath("data/linear_probe_top1.csv").read_text()
    except Exception:  # noqa: BLE001 - fall back to the source tree layout
        p = Path(__file__).resolve().parents[1] / "unitrack" / "data" / "linear_probe_top1.csv"
        if p.is_file():
            text = p.read_text()
    if text is None:
        log.warning("unitrack/data/linear_probe_top1.csv not found: linear-probe accuracies unavailable")
        return {}
    rows = csv.DictReader(text.splitlines())
    return {(r["representation"], r["arch"]): (float(r["imagenet_linear_top1"]), r["source"]) for r in rows}


def _probe(rep: str | None, arch: str | None) -> tuple[float | None, str | None]:
    if rep is None:
        return None, None
    return linear_probe_table().get((rep, arch or ""), (None, None))


_SHORT = {"resnet18": "R18", "resnet50": "R50", "resnet101": "R101"}


def resnet_entry(name: str, tv_arch: str, source: str, adapter: str = "torchvision", *,
                 paper: str | None = None, probe: tuple[str, str] | None = None,
                 probe_value: tuple[float, str] | None = None, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                 sha256: str | None = None, notes: str = "") -> None:
    """Register a stride-8 ResNet entry (``paper``: representation of paper_tables_1_2.csv)."""
    label, chans = RESNET_ARCHS[tv_arch]
    paper_row = f"{paper},{_SHORT[tv_arch]}" if paper else None
    top1, src = probe_value if probe_value else _probe(*(probe or (None, None)))
    url = None
    if source.startswith("url:"):
        url = source[4:]
    elif source.startswith("torchvision:"):
        url = f"https://download.pytorch.org/models/{source.split(':', 1)[1]}"
    register_backbone(
        name, arch=label, default_layer=3, layers=(3, 4), stride=8, channels=dict(chans), mean=tuple(mean),
        std=tuple(std), weights_source=source, weights_url=url, weights_sha256=sha256, adapter=adapter,
        linear_probe_top1=top1, linear_probe_source=src, paper_row=paper_row, family="resnet", notes=notes,
        options={"tv_arch": tv_arch},
    )(build_resnet)


def _tv(enum_name: str) -> tuple[str, tuple[float, str]]:
    """torchvision IMAGENET1K_V1 file name and its supervised top-1 from the weight enum's metadata."""
    import torchvision.models as tvm

    w = getattr(tvm, enum_name).IMAGENET1K_V1
    acc = float(w.meta["_metrics"]["ImageNet-1K"]["acc@1"])
    return f"torchvision:{w.url.rsplit('/', 1)[1]}", (round(acc, 1), f"torchvision {enum_name}.IMAGENET1K_V1 "
                                                                       "metadata (supervised top-1, not a linear probe)")


# ------------------------------------------------------------------------------------------- random
resnet_entry("random_r18", "resnet18", "random", paper="Random Init.",
             notes="torchvision default init (Kaiming-normal fan_out convs, BN 1/0), seeded by --seed")
resnet_entry("random_r50", "resnet50", "random", paper="Random Init.",
             notes="torchvision default init (Kaiming-normal fan_out convs, BN 1/0), seeded by --seed")

# -------------------------------------------------------------------------------- ImageNet supervised
_src, _acc = _tv("ResNet18_Weights")
resnet_entry("imagenet_r18", "resnet18", _src, paper="ImageNet-sup.", probe_value=_acc,
             notes="same tensors as the paper's resnet18-5c106cde.pth (torchvision re-serialisation)")
_src, _ = _tv("ResNet50_Weights")
resnet_entry("imagenet_r50", "resnet50", _src, paper="ImageNet-sup.", probe=("ImageNet-sup.", "R50"),
             notes="same tensors as the paper's resnet50-19c8e357.pth (torchvision re-serialisation)")
_src, _acc = _tv("ResNet101_Weights")
resnet_entry("imagenet_r101", "resnet101", _src, probe_value=_acc)
_src, _acc = _tv("ResNeXt50_32X4D_Weights")
resnet_entry("imagenet_resnext50", "resnext50_32x4d", _src, probe_value=_acc)
_src, _acc = _tv("ResNeXt101_32X8D_Weights")
resnet_entry("imagenet_resnext101", "resnext101_32x8d", _src, probe_value=_acc)

# ------------------------------------------------------------------- Table 1: self-supervised ResNet-50
_FB = "https://dl.fbaipublicfiles.com"
_DBX = "https://www.dropbox.com/sh/87d24jqsl6ra7t2"  # PyContrast releases, as linked by ssl-transfer / UniTrack
_CONVERTED = ("UniTrack's model zoo (docs/MODELZOO.md) and linusericsson/ssl-transfer distribute a "
              "torchvision-layout conversion; both layouts load.")
resnet_entry("insdis", "resnet50", f"url:{_DBX}/AACcsSIt1_Njv7GsmsuzZ6Sta/InsDis.pth?dl=1", "pycontrast",
             paper="InsDis", probe=("InsDis", "R50"), notes=_CONVERTED)
resnet_entry("mocov1", "resnet50", f"url:{_FB}/moco/moco_checkpoints/moco_v1_200ep/moco_v1_200ep_pretrain.pth.tar",
             "moco", paper="MoCoV1", probe=("MoCoV1", "R50"))
resnet_entry("pclv1", "resnet50",
             "url:https://storage.googleapis.com/sfr-pcl-data-research/PCL_checkpoint/PCL_v1_epoch200.pth.tar",
             "moco", paper="PCLV1", probe=("PCLV1", "R50"))
resnet_entry("pirl", "resnet50", f"url:{_DBX}/AADN4jKnvTI0U5oT6hTmQZz8a/PIRL.pth?dl=1", "pycontrast",
             paper="PIRL", probe=("PIRL", "R50"), notes=_CONVERTED)
resnet_entry("pclv2", "resnet50",
             "url:https://storage.googleapis.com/sfr-pcl-data-research/PCL_checkpoint/PCL_v2_epoch200.pth.tar",
             "moco", paper="PCLV2", probe=("PCLV2", "R50"))
resnet_entry("simclrv1", "resnet50", "supply --weights", "torchvision", paper="SimCLRv1", probe=("SimCLRv1", "R50"),
             notes="Published as a TensorFlow checkpoint (google-research/simclr, ResNet-50 1x): convert it with "
                   "tonylins/simclr-converter or use the torchvision-layout file of UniTrack's model zoo / ssl-transfer.")
resnet_entry("mocov2", "resnet50", f"url:{_FB}/moco/moco_checkpoints/moco_v2_800ep/moco_v2_800ep_pretrain.pth.tar",
             "moco", paper="MoCoV2", probe=("MoCoV2", "R50"))
resnet_entry("simclrv2", "resnet50", "supply --weights", "torchvision", paper="SimCLRv2", probe=("SimCLRv2", "R50"),
             notes="Published as a TensorFlow checkpoint (r50_1x_sk0): use the torchvision-layout conversion of "
                   "ssl-transfer (simclr_keys.pkl mapping) or UniTrack's model zoo.")
resnet_entry("selav2", "resnet50", f"url:{_FB}/deepcluster/selav2_400ep_pretrain.pth.tar", "swav",
             paper="SeLaV2", probe=("SeLaV2", "R50"))
resnet_entry("infomin", "resnet50", f"url:{_DBX}/AAAzMTynP3Qc8mIE4XWkgILUa/InfoMin_800.pth?dl=1", "pycontrast",
             paper="Infomin", probe=("Infomin", "R50"), notes=_CONVERTED)
resnet_entry("barlowtwins", "resnet50",
             f"url:{_FB}/barlowtwins/ep1000_bs2048_lrw0.2_lrb0.0048_lambd0.0051/resnet50.pth", "torchvision",
             paper="BarLow", probe=("BarLow", "R50"),
             notes="facebookresearch/barlowtwins torch.hub release (torchvision layout, no fc)")
resnet_entry("byol", "resnet50", "supply --weights", "torchvision", paper="BYOL", probe=("BYOL", "R50"),
             notes="Published as a JAX pickle (storage.googleapis.com/deepmind-byol/checkpoints/pretrain_res50x1.pkl): "
                   "convert it with ssl-transfer's download_and_prepare_models.py (convert_byol) or use UniTrack's "
                   "model-zoo file.")
resnet_entry("deepclusterv2", "resnet50", f"url:{_FB}/deepcluster/deepclusterv2_800ep_pretrain.pth.tar", "swav",
             paper="DeepCluster", probe=("DeepCluster", "R50"))
resnet_entry("swav", "resnet50", f"url:{_FB}/deepcluster/swav_800ep_pretrain.pth.tar", "swav",
             paper="SwAV", probe=("SwAV", "R50"))
_VFS = "https://github.com/xvjiarui/VFS/releases/download/v0.1-rc1"
resnet_entry("vfs", "resnet50", f"url:{_VFS}/r50_nc_sgd_cos_100e_r5_1xNx2_k400-d7ce3ad0.pth", "vfs",
             paper="VFS", mean=CRW_MEAN, std=CRW_STD,
             notes="input statistics as the reference's vfs_resnet50_* configs (CIFAR-style, like CRW)")
resnet_entry("vfs_r18", "resnet18", f"url:{_VFS}/r18_nc_sgd_cos_100e_r2_1xNx8_k400-db1a4c0d.pth", "vfs",
             mean=CRW_MEAN, std=CRW_STD, notes="ResNet-18 release of VFS (not in the paper's tables)")
resnet_entry("pixpro", "resnet50", "supply --weights", "pixpro", paper="PixPro",
             notes="PixPro (zdaxie/PixPro) ResNet-50 400-epoch release or UniTrack's model-zoo file "
                   "(Google Drive links in UniTrack docs/MODELZOO.md).")
resnet_entry("detco", "resnet50", "supply --weights", "moco", paper="DetCo",
             notes="DetCo (xieenze/DetCo) ResNet-50 release or UniTrack's model-zoo file (Google Drive).")
resnet_entry("timecycle", "resnet50", "supply --weights", "timecycle", paper="TimeCycle",
             notes="TimeCycle (xiaolonw/TimeCycle) checkpoint with 'module.encoderVideo.*' 3-D weights, "
                   "or UniTrack's model-zoo file (Google Drive).")
resnet_entry("ssib", "resnet50", "supply --weights", "pycontrast",
             notes="the reference's 'ssib' model type (flat dict, 'module.encoder.' prefix); not in the paper tables")
resnet_entry("dino_r50", "resnet50", f"url:{_FB}/dino/dino_resnet50_pretrain/dino_resnet50_pretrain.pth",
             "torchvision", probe=("dino_r50", "R50"), notes="DINO ResNet-50 backbone (torchvision layout)")

# ---------------------------------------------------------------- Table 2: video-trained ResNet-18
resnet_entry("crw", "resnet18", "url:https://github.com/ajabri/videowalk/raw/master/pretrained.pth", "crw",
             paper="CRW", mean=CRW_MEAN, std=CRW_STD,
             notes="videowalk pretrained.pth (ckpt['model'], 'encoder.model.' prefix); CIFAR-style input statistics")
resnet_entry("uvc", "resnet18", "supply --weights", "uvc", paper="UVC",
             notes="UVC (Liusifei/UVC) checkpoint with 'module.gray_encoder.*', or UniTrack's model-zoo file "
                   "(Google Drive).")
resnet_entry("colorization", "resnet18", "supply --weights", "colorization", paper="Color.+mem.",
             notes="Colorization + memory ResNet-18 of UniTrack's model zoo (Google Drive link in docs/MODELZOO.md).")


# --------------------------------------------------------------------------------- DINO / DINOv2 ViTs
_VIT_ARCH = {"vits": ("ViT-S", 384, 12), "vitb": ("ViT-B", 768, 12), "vitl": ("ViT-L", 1024, 24)}


def vit_entry(name: str, timm_name: str, url: str, probe_arch: str | None, notes: str = "") -> None:
    """Register a DINO/DINOv2 ViT: layers = block numbers 1..depth, default the last block."""
    kind = name.split("_")[1][:4]
    label, dim, depth = _VIT_ARCH[kind]
    patch = int("".join(c for c in name.split("_")[1][4:] if c.isdigit()))
    arch = f"{label}/{patch}" + ("+reg4" if name.endswith("_reg") else "")
    top1, src = _probe(name, probe_arch) if probe_arch else (None, None)
    layers = tuple(range(1, depth + 1))
    register_backbone(
        name, arch=arch, default_layer=depth, layers=layers, stride=8, channels=dict.fromkeys(layers, dim),
        mean=IMAGENET_MEAN, std=IMAGENET_STD, weights_source=f"url:{url}", weights_url=url, adapter="timm_vit",
        linear_probe_top1=top1, linear_probe_source=src, family="vit",
        notes=(notes + " " if notes else "") + f"patch {patch}: input upscaled ×{patch / 8:g} by default "
              "(grid_mode='upscale_input'), so the token grid is the stride-8 grid",
        options={"timm_name": timm_name, "patch_size": patch},
    )(build_timm)


_D1 = f"{_FB}/dino"
vit_entry("dino_vits8", "vit_small_patch8_224.dino", f"{_D1}/dino_deitsmall8_pretrain/dino_deitsmall8_pretrain.pth",
          "ViT-S/8")
vit_entry("dino_vits16", "vit_small_patch16_224.dino",
          f"{_D1}/dino_deitsmall16_pretrain/dino_deitsmall16_pretrain.pth", "ViT-S/16")
vit_entry("dino_vitb8", "vit_base_patch8_224.dino", f"{_D1}/dino_vitbase8_pretrain/dino_vitbase8_pretrain.pth",
          "ViT-B/8")
vit_entry("dino_vitb16", "vit_base_patch16_224.dino", f"{_D1}/dino_vitbase16_pretrain/dino_vitbase16_pretrain.pth",
          "ViT-B/16")
_D2 = f"{_FB}/dinov2"
_WORD = {"s": "small", "b": "base", "l": "large"}
for _size, _word in _WORD.items():
    vit_entry(f"dinov2_vit{_size}14", f"vit_{_word}_patch14_dinov2.lvd142m",
              f"{_D2}/dinov2_vit{_size}14/dinov2_vit{_size}14_pretrain.pth", f"ViT-{_size.upper()}/14")
    vit_entry(f"dinov2_vit{_size}14_reg", f"vit_{_word}_patch14_reg4_dinov2.lvd142m",
              f"{_D2}/dinov2_vit{_size}14/dinov2_vit{_size}14_reg4_pretrain.pth", None,
              notes="with 4 register tokens (dropped from the feature map)")
