"""Backbones: stride-8 ResNets, ViTs, registry, checkpoint adapters, weights resolution, plug-ins.

Nothing is downloaded: checkpoints are fabricated in each model's own key layout under tmp_path.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import math
import sys
import textwrap
import urllib.error
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn

import unitrack.backbones.registry as registry
from unitrack.backbones import (
    ADAPTERS,
    Backbone,
    backbone_table,
    build_backbone,
    get_spec,
    list_backbones,
    register_backbone,
    spec_for_paper_row,
)
from unitrack.utils import UnitrackError
from unitrack.weights import resolve_weights, weights_available, weights_dir

REPO = Path(__file__).resolve().parents[1]

# ------------------------------------------------------------------------------------ helpers
_BUILT: dict[tuple[str, int], Backbone] = {}


def built(name: str, layer: int) -> Backbone:
    """Random-init backbones are slow to construct (R101, ResNeXt-101): build each once per session."""
    if (name, layer) not in _BUILT:
        _BUILT[(name, layer)] = build_backbone(name, layer=layer, weights="random")
    return _BUILT[(name, layer)]


def run(bb: nn.Module, h: int, w: int, n: int = 1, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    with torch.inference_mode():
        return bb(torch.randn(n, 3, h, w, generator=g))


_REF: dict[str, dict[str, torch.Tensor]] = {}


def reference_state(tv_arch: str, with_layer4: bool = False) -> dict[str, torch.Tensor]:
    """A torchvision-layout state dict with distinctive random values (BN stats included)."""
    if tv_arch not in _REF:
        with torch.device("meta"):
            net = getattr(torchvision.models, tv_arch)(weights=None)
        g = torch.Generator().manual_seed(123)
        sd = {}
        for k, v in net.state_dict().items():
            if k.endswith("num_batches_tracked"):
                sd[k] = torch.tensor(7)
            elif k.endswith("running_var"):
                sd[k] = torch.rand(v.shape, generator=g) + 0.5
            else:
                sd[k] = torch.randn(v.shape, generator=g) * 0.05
        _REF[tv_arch] = sd
    sd = _REF[tv_arch]
    return {k: v for k, v in sd.items() if with_layer4 or not k.startswith("layer4.")}


def to_mmaction(k: str) -> str:
    """torchvision key → VFS/mmaction ConvModule key (inverse of the vfs adapter)."""
    parts = k.split(".")
    if parts[0] == "conv1":
        return "backbone.conv1.conv." + parts[-1]
    if parts[0] == "bn1":
        return "backbone.conv1.bn." + parts[-1]
    if parts[0].startswith("layer"):
        head = ".".join(parts[:2])
        if parts[2] == "downsample":
            return f"backbone.{head}.downsample.{'conv' if parts[3] == '0' else 'bn'}.{parts[-1]}"
        if parts[2].startswith("conv"):
            return f"backbone.{head}.{parts[2]}.conv.{parts[-1]}"
        if parts[2].startswith("bn"):
            return f"backbone.{head}.conv{parts[2][2:]}.bn.{parts[-1]}"
    return "backbone." + k


def fabricate(adapter: str, ref: dict[str, torch.Tensor]) -> dict:
    """A checkpoint in the published layout that ``adapter`` converts (decoys carry other values)."""
    decoy = {k: v + 1.0 if v.is_floating_point() else v for k, v in ref.items()}
    ns = argparse.Namespace(lr=0.1, arch="resnet")
    if adapter == "torchvision":
        return {**ref, "fc.weight": torch.zeros(1000, 8), "fc.bias": torch.zeros(1000)}
    if adapter == "moco":
        sd = {f"module.encoder_q.{k}": v for k, v in ref.items()}
        sd.update({f"module.encoder_k.{k}": v for k, v in decoy.items()})
        sd.update({"module.encoder_q.fc.0.weight": torch.zeros(4, 4), "module.queue": torch.zeros(4, 8)})
        return {"epoch": 200, "arch": "resnet50", "state_dict": sd, "optimizer": {"state": {}, "param_groups": []}}
    if adapter == "swav":
        sd = {f"module.{k}": v for k, v in ref.items()}
        sd.update({"module.projection_head.0.weight": torch.zeros(4, 4), "module.prototypes.weight": torch.zeros(3, 4)})
        return sd
    if adapter == "pycontrast":
        sd = {f"module.encoder.{k}": v for k, v in ref.items()}
        sd.update({"module.head.fc.weight": torch.zeros(2, 2), "module.head_jig.fc.weight": torch.zeros(2, 2)})
        return {"model": sd, "opt": ns, "epoch": 800}
    if adapter == "pixpro":
        sd = {f"module.encoder.{k}": v for k, v in ref.items()}
        sd.update({f"module.encoder_k.{k}": v for k, v in decoy.items()})
        sd.update({"module.projector.linear1.weight": torch.zeros(4, 4), "module.predictor.linear1.weight": torch.zeros(2)})
        return {"model": sd, "epoch": 400}
    if adapter == "colorization":
        return {"state_dict": {f"module.feature_extraction.{k}": v for k, v in ref.items()}}
    if adapter == "uvc":
        sd = {f"module.gray_encoder.{k}": v for k, v in ref.items()}
        sd.update({f"module.rgb_encoder.{k}": v for k, v in decoy.items()})
        sd["module.decoder.conv.weight"] = torch.zeros(3, 3)
        return {"state_dict": sd, "epoch": 1}
    if adapter == "timecycle":
        sd = {f"module.encoderVideo.{k}": (v.unsqueeze(2) if v.dim() == 4 else v) for k, v in ref.items()}
        sd["module.afterconv1.weight"] = torch.zeros(2, 2, 1, 1, 1)
        return {"state_dict": sd}
    if adapter == "crw":
        sd = {}
        for k, v in ref.items():
            kk = k.replace("layer1.0.conv1.weight", "layer1.0.conv1.1.weight") if k == "layer1.0.conv1.weight" else k
            sd[kk if kk != k else f"encoder.model.{k}"] = v
        sd["selfsim_fc.0.weight"] = torch.zeros(128, 256)
        return {"model": sd, "args": ns, "epoch": 10}
    if adapter == "vfs":
        sd = {to_mmaction(k): v for k, v in ref.items()}
        sd["cls_head.fc.weight"] = torch.zeros(2, 2)
        return {"state_dict": sd, "meta": {"epoch": 100}}
    raise AssertionError(f"no fabricator for adapter {adapter}")


def _adapter_cases() -> list[str]:
    """One registered entry per (adapter, architecture) pair: every adapter on every arch it serves."""
    seen: dict[tuple[str, str], str] = {}
    for s in list_backbones():
        if s.family == "resnet" and s.weights_source != "random" and s.options["tv_arch"] in ("resnet18", "resnet50"):
            seen.setdefault((s.adapter, s.options["tv_arch"]), s.name)
    return sorted(seen.values())


ADAPTER_CASES = _adapter_cases()


# ------------------------------------------------------------------------------ architectures
ARCH_CASES = [
    ("random_r18", 3, 256), ("random_r18", 4, 512), ("random_r50", 3, 1024), ("random_r50", 4, 2048),
    ("imagenet_r101", 4, 2048), ("imagenet_resnext50", 4, 2048), ("imagenet_resnext101", 4, 2048),
]
LAYER3_CHANNELS = {"resnet18": 256, "resnet50": 1024, "resnet101": 1024, "resnext50_32x4d": 1024,
                   "resnext101_32x8d": 1024}


@pytest.mark.parametrize("name,layer,channels", ARCH_CASES)
def test_resnet_shapes_and_stride8(name, layer, channels):
    bb = built(name, layer)
    assert (bb.layer, bb.out_channels, bb.stride) == (layer, channels, 8)
    seen = []
    hook = bb.layer3.register_forward_hook(lambda m, i, o: seen.append(tuple(o.shape)))
    try:
        big = bb.spec.options["tv_arch"] != "resnet18"  # keep the deeper nets cheap: one small odd input
        for h, w in [(33, 47)] if big else [(64, 64), (57, 83)]:
            n = 1 if big else 2
            y = run(bb, h, w, n=n)
            assert y.shape == (n, channels, math.ceil(h / 8), math.ceil(w / 8))
            assert torch.isfinite(y).all()
            c3 = LAYER3_CHANNELS[bb.spec.options["tv_arch"]]
            assert seen[-1] == (n, c3, math.ceil(h / 8), math.ceil(w / 8))  # layer3 output is stride 8 too
    finally:
        hook.remove()
    for lname in ("layer3", "layer4"):
        mod = getattr(bb, lname)
        if mod is None:
            assert layer == 3 and lname == "layer4"
            continue
        for m in mod.modules():
            if isinstance(m, nn.Conv2d):
                assert m.stride == (1, 1) and m.dilation == (1, 1)
                assert m.padding == ((m.kernel_size[0] // 2),) * 2  # unchanged zero padding
    assert bb.layer2[0].downsample[0].stride == (2, 2)  # layer2 keeps its stride 2


def test_resnet18_480x854_layer3_gives_256x60x107():
    y = run(built("random_r18", 3), 480, 854)
    assert y.shape == (1, 256, 60, 107)


def test_resnet_matches_torchvision_with_stride_one_in_layer3():
    """Same seed → same weights as torchvision; the forward equals torchvision's layers with stride 1."""
    bb = build_backbone("random_r18", layer=3, seed=5)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        tv = torchvision.models.resnet18(weights=None).eval()
    for m in tv.layer3.modules():
        if isinstance(m, nn.Conv2d):
            m.stride = (1, 1)
    x = torch.randn(1, 3, 40, 56)
    with torch.inference_mode():
        ref = tv.layer3(tv.layer2(tv.layer1(tv.maxpool(tv.relu(tv.bn1(tv.conv1(x)))))))
        assert torch.equal(bb(x), ref)


def test_frozen_eval_mode_and_seeded_random():
    bb = built("random_r18", 3)
    bb.train()
    assert not bb.training and not any(m.training for m in bb.modules())
    assert not any(p.requires_grad for p in bb.parameters())
    a = build_backbone("random_r18", seed=3)
    b = build_backbone("random_r18", seed=3)
    c = build_backbone("random_r18", seed=4)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert not torch.equal(a.conv1.weight, c.conv1.weight)
    assert a.weights_id == "random:seed3" and c.weights_id == "random:seed4"
    fp = a.fingerprint()
    assert fp["name"] == "random_r18" and fp["layer"] == 3 and fp["weights_id"] == "random:seed3"


def test_unknown_layer_is_an_error():
    with pytest.raises(UnitrackError, match="layer 5"):
        build_backbone("random_r18", layer=5)


# ------------------------------------------------------------------------------------- ViTs / timm
def test_dino_vit_patch8_native_grid():
    bb = build_backbone("dino_vits8", weights="random")
    assert (bb.layer, bb.out_channels) == (12, 384)
    assert run(bb, 64, 64).shape == (1, 384, 8, 8)
    assert run(bb, 60, 90).shape == (1, 384, 8, 12)
    fp = bb.fingerprint()
    assert fp["patch_size"] == 8 and fp["input_scale"] == 1.0 and fp["grid_mode"] == "upscale_input"


@pytest.mark.parametrize("mode", ["upscale_input", "interpolate_features"])
def test_dinov2_patch14_grid_is_stride8_equivalent(mode):
    bb = build_backbone("dinov2_vits14_reg", weights="random", grid_mode=mode, layer=4)
    assert run(bb, 60, 90).shape == (1, 384, 8, 12)
    fp = bb.fingerprint()
    assert fp["grid_mode"] == mode and fp["block"] == 4 and fp["patch_size"] == 14
    if mode == "upscale_input":
        assert bb.input_size(60, 90) == (8 * 14, 12 * 14) and fp["input_scale"] == 14 / 8
    else:
        assert bb.input_size(60, 90) == (5 * 14, 7 * 14) and "bilinear" in fp["feature_interpolation"]
    assert len(bb.model.blocks) == 4  # later blocks pruned


def test_vit_block_choice_and_norm_flag():
    a = build_backbone("dino_vits16", weights="random", layer=3)
    b = build_backbone("dino_vits16", weights="random", layer=3, norm=False)
    assert a.fingerprint()["final_norm"] and not b.fingerprint()["final_norm"]
    assert run(a, 32, 48).shape == run(b, 32, 48).shape == (1, 384, 4, 6)
    assert not torch.allclose(run(a, 32, 48), run(b, 32, 48))
    with pytest.raises(UnitrackError, match="layer 13"):
        build_backbone("dino_vits16", weights="random", layer=13)


def test_any_timm_model_plugs_in():
    vit = build_backbone("timm:vit_tiny_patch16_224", weights="random")
    assert run(vit, 48, 40).shape == (1, 192, 6, 5)
    cnn = build_backbone("timm:resnet18", weights="random")
    assert cnn.fingerprint()["reduction"] == 8 and run(cnn, 48, 40).shape == (1, 128, 6, 5)
    deep = build_backbone("timm:resnet18", weights="random", layer=5)  # stride 32 → resized to stride 8
    assert run(deep, 48, 40).shape == (1, 512, 6, 5) and "bilinear" in deep.fingerprint()["feature_interpolation"]
    with pytest.raises(UnitrackError, match="--weights"):
        build_backbone("timm:vit_tiny_patch16_224")  # never a silent random init
    with pytest.raises(UnitrackError, match="timm has no model"):
        build_backbone("timm:no_such_net_xyz")


# ----------------------------------------------------------------------------------------- registry
PAPER_ROWS = {
    ("Random Init.", "R50"): "random_r50", ("ImageNet-sup.", "R50"): "imagenet_r50", ("InsDis", "R50"): "insdis",
    ("MoCoV1", "R50"): "mocov1", ("PCLV1", "R50"): "pclv1", ("PIRL", "R50"): "pirl", ("PCLV2", "R50"): "pclv2",
    ("SimCLRv1", "R50"): "simclrv1", ("MoCoV2", "R50"): "mocov2", ("SimCLRv2", "R50"): "simclrv2",
    ("SeLaV2", "R50"): "selav2", ("Infomin", "R50"): "infomin", ("BarLow", "R50"): "barlowtwins",
    ("BYOL", "R50"): "byol", ("DeepCluster", "R50"): "deepclusterv2", ("SwAV", "R50"): "swav",
    ("VFS", "R50"): "vfs", ("PixPro", "R50"): "pixpro", ("DetCo", "R50"): "detco", ("TimeCycle", "R50"): "timecycle",
    ("Random Init.", "R18"): "random_r18", ("ImageNet-sup.", "R18"): "imagenet_r18", ("Color.+mem.", "R18"): "colorization",
    ("UVC", "R18"): "uvc", ("CRW", "R18"): "crw",
}


def test_every_paper_row_has_one_backbone_of_the_right_arch():
    for (rep, arch), name in PAPER_ROWS.items():
        spec = spec_for_paper_row(rep, arch)
        assert spec is not None and spec.name == name, (rep, arch)
        assert spec.arch == {"R50": "ResNet-50", "R18": "ResNet-18"}[arch]
    rows = [s.paper_row for s in list_backbones() if s.paper_row]
    assert len(rows) == len(set(rows)) == len(PAPER_ROWS)
    csv_path = REPO / "unitrack" / "data" / "paper_tables_1_2.csv"
    if csv_path.is_file():
        with open(csv_path) as f:
            keys = {(r["representation"], r["arch"]) for r in csv.DictReader(f)}
        assert keys == set(PAPER_ROWS)


def test_spec_contents():
    for s in list_backbones():
        assert s.name == s.name.lower() and " " not in s.name
        assert s.stride == 8 and s.default_layer in s.layers and s.default_layer in s.channels
        assert s.weights_source.split(":")[0] in ("torchvision", "url", "supply --weights", "random")
        assert s.adapter in ADAPTERS
        assert (s.linear_probe_top1 is None) == (s.linear_probe_source is None)
    assert get_spec("crw").mean == (0.4914, 0.4822, 0.4465) and get_spec("crw").std == (0.2023, 0.1994, 0.2010)
    assert get_spec("imagenet_r18").mean == (0.485, 0.456, 0.406)
    assert get_spec("mocov2").linear_probe_top1 == 71.1 and "ssl-transfer" in get_spec("mocov2").linear_probe_source
    assert get_spec("dinov2_vitb14").linear_probe_top1 == 84.5
    assert get_spec("imagenet_r18").weights_source == "torchvision:resnet18-f37072fd.pth"
    assert get_spec("vfs_r18").arch == "ResNet-18" and get_spec("vfs").arch == "ResNet-50"
    assert get_spec("imagenet_r50").channels == {3: 1024, 4: 2048}


def test_unknown_name_suggests_close_names():
    with pytest.raises(UnitrackError, match="mocov2"):
        get_spec("mocov3")
    with pytest.raises(UnitrackError, match="did you mean"):
        build_backbone("imagenet_r19")


def test_backbone_table_and_local_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("UNITRACK_HOME", str(tmp_path))
    rows = {r["name"]: r for r in backbone_table()}
    assert set(next(iter(rows.values()))) == {"name", "arch", "layer", "channels", "weights_local", "linear_probe_top1"}
    assert rows["random_r18"]["weights_local"] and not rows["imagenet_r18"]["weights_local"]
    assert rows["imagenet_r18"]["channels"] == 256 and rows["dino_vitb8"]["channels"] == 768
    assert not rows["uvc"]["weights_local"] and not rows["mocov2"]["weights_local"]
    weights_dir().mkdir(parents=True)
    (weights_dir() / "resnet18-f37072fd.pth").write_bytes(b"x")
    (weights_dir() / "uvc.pth").write_bytes(b"x")
    (weights_dir() / "moco_v2_800ep_pretrain.pth.tar").write_bytes(b"x")
    rows = {r["name"]: r for r in backbone_table()}
    assert rows["imagenet_r18"]["weights_local"] and rows["uvc"]["weights_local"] and rows["mocov2"]["weights_local"]


# ------------------------------------------------------------------------------------------ adapters
@pytest.mark.parametrize("name", ADAPTER_CASES)
def test_adapter_maps_published_layout_to_torchvision(name, tmp_path):
    spec = get_spec(name)
    tv_arch = spec.options["tv_arch"]
    ref = reference_state(tv_arch)
    path = tmp_path / f"{name}.pth"
    torch.save(fabricate(spec.adapter, ref), path)
    bb = build_backbone(name, layer=3, weights=path)
    sd = bb.state_dict()
    for k, v in sd.items():
        assert torch.equal(v, ref[k]), f"{name}: {k} did not receive the checkpoint value"
    assert bb.load_report["adapter"] == spec.adapter and not bb.load_report["unexpected"]
    assert len(bb.weights_id) == 64 and bb.weights_id == bb.fingerprint()["weights_id"]
    assert torch.isfinite(run(bb, 32, 32)).all()


def test_layer4_weights_load_and_fc_is_discarded(tmp_path):
    ref = reference_state("resnet18", with_layer4=True)
    path = tmp_path / "r18.pth"
    torch.save({"state_dict": {f"module.{k}": v.half() for k, v in ref.items()}}, path)  # fp16 + DataParallel
    bb = build_backbone("imagenet_r18", layer=4, weights=path)
    assert torch.equal(bb.layer4[1].conv2.weight, ref["layer4.1.conv2.weight"].half().float())
    bb3 = build_backbone("imagenet_r18", layer=3, weights=path)
    assert any(k.startswith("layer4.") for k in bb3.load_report["discarded"]) and not bb3.load_report["unexpected"]


def test_checkpoint_without_bn_counters_is_fine(tmp_path):
    ref = {k: v for k, v in reference_state("resnet18").items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "old.pth"
    torch.save(ref, path)
    bb = build_backbone("imagenet_r18", weights=path)
    assert int(bb.bn1.num_batches_tracked) == 0 and torch.equal(bb.bn1.running_var, ref["bn1.running_var"])


def _vit_reference(timm_name: str) -> dict[str, torch.Tensor]:
    import timm

    g = torch.Generator().manual_seed(7)
    with torch.device("meta"):
        m = timm.create_model(timm_name, pretrained=False, num_classes=0)
    return {k: torch.randn(v.shape, generator=g) * 0.02 for k, v in m.state_dict().items()}


def test_dino_vit_adapter_plain_and_full_checkpoint(tmp_path):
    ref = _vit_reference("vit_small_patch8_224")
    (tmp_path / "plain.pth").parent.mkdir(exist_ok=True)
    torch.save(ref, tmp_path / "plain.pth")
    full = {"teacher": {f"backbone.{k}": v for k, v in ref.items()} | {"head.mlp.0.weight": torch.zeros(2, 2)},
            "student": {f"module.backbone.{k}": v + 1 for k, v in ref.items()}, "epoch": 100}
    torch.save(full, tmp_path / "full.pth")
    for f in ("plain.pth", "full.pth"):
        bb = build_backbone("dino_vits8", weights=tmp_path / f, layer=12)
        sd = bb.model.state_dict()
        for k in ("cls_token", "pos_embed", "patch_embed.proj.weight", "blocks.11.mlp.fc2.weight", "norm.weight"):
            assert torch.equal(sd[k], ref[k]), (f, k)


def test_dinov2_adapter_with_registers(tmp_path):
    import timm

    timm_ref = _vit_reference("vit_small_patch14_reg4_dinov2")
    g = torch.Generator().manual_seed(1)
    p0 = torch.randn(1, 1, 384, generator=g)
    native = {k: v for k, v in timm_ref.items() if k not in ("reg_token", "cls_token", "pos_embed")}
    native["register_tokens"] = timm_ref["reg_token"]
    native["pos_embed"] = torch.cat([p0, timm_ref["pos_embed"]], dim=1)  # DINOv2: class position included
    native["cls_token"] = timm_ref["cls_token"] - p0
    native["mask_token"] = torch.zeros(1, 384)
    assert any(".ls1.gamma" in k for k in native)
    torch.save(native, tmp_path / "dinov2_vits14_reg4_pretrain.pth")
    bb = build_backbone("dinov2_vits14_reg", weights=tmp_path / "dinov2_vits14_reg4_pretrain.pth")
    sd = bb.model.state_dict()
    assert torch.equal(sd["reg_token"], timm_ref["reg_token"]) and torch.equal(sd["pos_embed"], timm_ref["pos_embed"])
    assert torch.allclose(sd["cls_token"], timm_ref["cls_token"], atol=1e-6)
    assert torch.equal(sd["blocks.11.ls2.gamma"], timm_ref["blocks.11.ls2.gamma"])
    assert timm.__version__  # timm's own converter was used for the DINOv2 names


# --------------------------------------------------------------------------------------------- errors
def test_missing_weights_file(tmp_path):
    with pytest.raises(UnitrackError, match="not found"):
        build_backbone("crw", weights=tmp_path / "nope.pth")


def test_supply_weights_entry_without_weights_fails_clearly():
    with pytest.raises(UnitrackError, match="--weights"):
        build_backbone("uvc")


def test_foreign_checkpoint_names_file_adapter_and_keys(tmp_path):
    path = tmp_path / "vit.pth"
    torch.save(_vit_reference("vit_tiny_patch16_224"), path)
    with pytest.raises(UnitrackError) as e:
        build_backbone("crw", weights=path)
    msg = str(e.value)
    assert str(path) in msg and "'crw'" in msg and "missing" in msg and "conv1.weight" in msg
    assert "blocks.0" in msg  # the unexpected / foreign keys are listed


def test_wrong_shapes_are_an_error(tmp_path):
    path = tmp_path / "r50.pth"
    torch.save(reference_state("resnet50"), path)
    with pytest.raises(UnitrackError, match="shape mismatch") as e:
        build_backbone("imagenet_r18", weights=path)
    assert "layer1.0.conv1.weight" in str(e.value)
    vit16 = tmp_path / "vits16.pth"
    torch.save(_vit_reference("vit_small_patch16_224"), vit16)
    with pytest.raises(UnitrackError, match="patch embedding"):
        build_backbone("dino_vits8", weights=vit16)


def test_unreadable_checkpoint(tmp_path):
    path = tmp_path / "page.pth"
    path.write_text("<html>not a checkpoint</html>")
    with pytest.raises(UnitrackError, match="not a readable PyTorch checkpoint"):
        build_backbone("imagenet_r18", weights=path)


def test_offline_download_fails_with_instructions(monkeypatch, tmp_path):
    def no_network(*a, **k):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))  # ignore a developer's torch cache
    with pytest.raises(UnitrackError) as e:
        build_backbone("mocov2")
    msg = str(e.value)
    assert "moco_v2_800ep_pretrain.pth.tar" in msg and "--weights" in msg and str(weights_dir()) in msg
    with pytest.raises(UnitrackError, match="resnet18-f37072fd.pth"):
        build_backbone("imagenet_r18")


def test_download_into_cache_verifies_sha256(tmp_path):
    """A file:// URL exercises the real download path without a network."""
    import hashlib

    src = tmp_path / "published" / "ckpt-00.pth"
    src.parent.mkdir()
    torch.save(reference_state("resnet18"), src)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    spec = dataclasses.replace(get_spec("crw"), weights_source=f"url:{src.as_uri()}", weights_sha256=digest)
    ref = resolve_weights(spec, None)
    assert ref.origin == "download" and ref.path.parent == weights_dir() and ref.sha256 == digest
    assert weights_available(spec) and resolve_weights(spec, None).origin == "cache"
    ref.path.unlink()
    bad = dataclasses.replace(spec, weights_sha256="0" * 64)
    with pytest.raises(UnitrackError, match="checksum mismatch"):
        resolve_weights(bad, None)
    assert not (weights_dir() / src.name).exists()  # nothing half-verified is left in the cache


def test_cached_torchvision_file_is_verified_by_its_hash_prefix(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    weights_dir().mkdir(parents=True, exist_ok=True)
    torch.save(reference_state("resnet18"), weights_dir() / "resnet18-f37072fd.pth")
    with pytest.raises(UnitrackError, match="checksum mismatch"):
        build_backbone("imagenet_r18")
    (weights_dir() / "resnet18-f37072fd.pth").unlink()


# ------------------------------------------------------------------------------------------ plug-ins
PLUGIN_SRC = textwrap.dedent(
    """
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self, stride, channels):
            super().__init__()
            self.conv = nn.Conv2d(3, channels, kernel_size=stride, stride=stride)
            self.mean, self.std = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)

        def forward(self, x):
            return self.conv(x)

    CALLS = []

    def build(layer=None, weights=None):
        CALLS.append((layer, weights))
        net = Net(8, 16)
        if weights is not None:
            net.load_state_dict(torch.load(weights, weights_only=True))
        return net

    def build16(layer=None, weights=None):
        return Net(16, 4)
    """
)


@pytest.fixture
def plugin_module(tmp_path, monkeypatch):
    name = "unitrack_test_plugin_mod"
    (tmp_path / f"{name}.py").write_text(PLUGIN_SRC)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def test_user_plugin_backbone(plugin_module, tmp_path):
    bb = build_backbone(f"{plugin_module}:build", layer=2)
    mod = sys.modules[plugin_module]
    assert mod.CALLS[-1] == (2, None)
    assert (bb.out_channels, bb.layer, bb.stride) == (16, 2, 8)
    assert run(bb, 57, 83).shape == (1, 16, 8, 11)
    assert bb.spec.mean == (0.5, 0.5, 0.5) and bb.fingerprint()["plugin"] == f"{plugin_module}:build"
    assert not any(p.requires_grad for p in bb.parameters())
    w = tmp_path / "plugin_weights.pth"
    torch.save(mod.Net(8, 16).state_dict(), w)
    bbw = build_backbone(f"{plugin_module}:build", weights=w)
    assert len(bbw.weights_id) == 64 and mod.CALLS[-1][1] == str(w)
    other = build_backbone(f"{plugin_module}:build16")
    assert other.fingerprint()["native_stride"] == 16 and run(other, 64, 48).shape == (1, 4, 8, 6)
    with pytest.raises(UnitrackError, match="no attribute"):
        build_backbone(f"{plugin_module}:missing_fn")
    with pytest.raises(UnitrackError, match="cannot import"):
        build_backbone("no_such_pkg_xyz.mod:fn")


def test_entry_point_plugin(plugin_module, tmp_path, monkeypatch):
    dist = tmp_path / "eps" / "unitrack_fake_plugin-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: unitrack-fake-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[unitrack.backbones]\nmy_ep_net = {plugin_module}:build\n")
    monkeypatch.syspath_prepend(str(tmp_path / "eps"))
    monkeypatch.setattr(registry, "_ENTRY_POINTS_LOADED", False)
    try:
        bb = build_backbone("my_ep_net")
        assert bb.out_channels == 16 and bb.spec.family == "plugin"
        assert "my_ep_net" in {s.name for s in list_backbones()}
    finally:
        registry._REGISTRY.pop("my_ep_net", None)


def test_register_backbone_decorator_for_users():
    @register_backbone("tmp_user_net", arch="tiny", layers=(1,), default_layer=1, channels={1: 5}, family="plugin",
                       weights_source="random", adapter="none")
    def build(layer, seed):
        return nn.Conv2d(3, 5, 8, stride=8)

    try:
        bb = build_backbone("tmp_user_net")
        assert bb.out_channels == 5 and run(bb, 16, 24).shape == (1, 5, 2, 3)
        with pytest.raises(ValueError, match="already registered"):
            register_backbone("tmp_user_net")(lambda: None)
    finally:
        registry._REGISTRY.pop("tmp_user_net", None)
