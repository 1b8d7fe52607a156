"""FeatureExtractor: protocol preprocessing, batching, devices, mixed precision, on-disk cache."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from unitrack.backbones import build_backbone
from unitrack.features import FeatureExtractor, read_rgb
from unitrack.utils import UnitrackError


@pytest.fixture(scope="module")
def r18():
    return build_backbone("random_r18", layer=3, seed=0)


@pytest.fixture(scope="module")
def crw_like():
    return build_backbone("crw", weights="random")  # CRW statistics, random weights


def frames(n=3, h=40, w=56, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8) for _ in range(n)]


def write_frames(folder: Path, imgs) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, rgb in enumerate(imgs):
        p = folder / f"{i:05d}.png"
        cv2.imwrite(str(p), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        paths.append(p)
    return paths


def test_normalize_uses_the_backbone_statistics(r18, crw_like):
    imgs = frames(2)
    for bb in (r18, crw_like):
        fe = FeatureExtractor(bb, device="cpu")
        x = fe.normalize(imgs)
        mean = np.array(bb.spec.mean, dtype=np.float32)
        std = np.array(bb.spec.std, dtype=np.float32)
        ref = (np.stack(imgs).astype(np.float32) / 255.0 - mean) / std
        assert x.shape == (2, 3, 40, 56) and x.dtype == torch.float32
        np.testing.assert_allclose(x.permute(0, 2, 3, 1).numpy(), ref, rtol=1e-5, atol=1e-5)
    assert FeatureExtractor(r18, device="cpu").normalize(imgs[0]).shape == (1, 3, 40, 56)
    with pytest.raises(UnitrackError, match="different sizes"):
        FeatureExtractor(r18, device="cpu").normalize([imgs[0], imgs[0][:20]])


def close(a: torch.Tensor, b: torch.Tensor, rel: float = 1e-5) -> None:
    """Equal within ``rel`` of the larger magnitude present (platform-independent float32 tolerance)."""
    scale = float(max(a.abs().max(), b.abs().max(), 1e-12))
    torch.testing.assert_close(a, b, rtol=rel, atol=rel * scale)


def test_batched_extraction_is_exact_and_float32(r18):
    x = FeatureExtractor(r18, device="cpu").normalize(frames(5))
    a = FeatureExtractor(r18, device="cpu", batch_size=2)(x)
    b = FeatureExtractor(r18, device="cpu", batch_size=8)(x)
    assert a.shape == (5, 256, 5, 7) and a.dtype == torch.float32 and not a.requires_grad
    # batch size changes the BLAS kernels' summation order: equal up to float32 rounding relative to the
    # features' scale (a mix-up of frames would differ by O(scale))
    close(a, b)
    with torch.inference_mode():
        single = r18(x[3:4])
    close(a[3:4], single)


def test_time_dimension_is_folded_into_the_batch(r18):
    fe = FeatureExtractor(r18, device="cpu")
    x = fe.normalize(frames(4)).view(2, 2, 3, 40, 56).permute(0, 2, 1, 3, 4)  # N×3×T×H×W
    y = fe(x)
    assert y.shape == (2, 256, 2, 5, 7)
    close(y[1, :, 0], fe(x[1:2, :, 0])[0])


def test_amp_is_ignored_on_cpu_and_recorded(r18):
    fe = FeatureExtractor(r18, device="cpu", amp=True)
    assert fe.amp_dtype is None and fe.fingerprint()["precision"] == "fp32"


def test_resnets_run_channels_last_by_default_with_the_same_features(r18):
    x = FeatureExtractor(r18, device="cpu").normalize(frames(2, 64, 96))
    nhwc = FeatureExtractor(r18, device="cpu")
    nchw = FeatureExtractor(r18, device="cpu", channels_last=False)
    assert nhwc.channels_last and not nchw.channels_last
    assert nhwc.fingerprint()["channels_last"] and not nchw.fingerprint()["channels_last"]
    a, b = nhwc(x), nchw(x)
    assert a.is_contiguous() and b.is_contiguous()
    assert (a - b).abs().max() <= 1e-5 * b.abs().max()
    assert nhwc._backbone_key() != nchw._backbone_key()  # cached features are not shared across layouts


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_mixed_precision_close_to_fp32(r18):
    x = FeatureExtractor(r18, device="cpu").normalize(frames(4, 64, 96))
    ref = FeatureExtractor(r18, device="cuda")(x)
    half = FeatureExtractor(r18, device="cuda", amp=True)
    assert half.channels_last and half.fingerprint()["precision"] == "float16"
    y = half(x)
    assert y.dtype == torch.float32 and y.device.type == "cuda"
    assert (y - ref).abs().max() <= 0.05 * ref.abs().max()
    r18.to("cpu")


def test_from_files_reads_bgr_as_rgb_and_resizes(r18, tmp_path):
    imgs = frames(3)
    paths = write_frames(tmp_path / "seq", imgs)
    assert np.array_equal(read_rgb(paths[0]), imgs[0])
    fe = FeatureExtractor(r18, device="cpu")
    y = fe.from_files(paths)
    assert torch.allclose(y, fe.extract(imgs), atol=1e-5)
    z = fe.from_files(paths, size=(80, 48))  # (W, H)
    assert z.shape == (3, 256, 6, 10)
    with pytest.raises(UnitrackError, match="not found"):
        fe.from_files([tmp_path / "missing.png"])
    bad = tmp_path / "bad.png"
    bad.write_text("no image")
    with pytest.raises(UnitrackError, match="cannot read image"):
        fe.from_files([bad])


def test_feature_cache_hit_and_miss(r18, tmp_path):
    paths = write_frames(tmp_path / "seq", frames(4))
    cache = tmp_path / "cache"
    fe = FeatureExtractor(r18, device="cpu", batch_size=3, cache_dir=cache)
    first = fe.from_files(paths)
    assert (fe.cache_hits, fe.cache_misses) == (0, 4)
    assert len(list(cache.rglob("*.pt"))) == 4

    fe2 = FeatureExtractor(r18, device="cpu", cache_dir=cache)  # e.g. a re-run with other head parameters
    second = fe2.from_files(paths)
    assert (fe2.cache_hits, fe2.cache_misses) == (4, 0) and torch.equal(first, second)

    st = paths[1].stat()  # the frame changed on disk → recomputed
    cv2.imwrite(str(paths[1]), np.zeros((40, 56, 3), np.uint8))
    os.utime(paths[1], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    third = fe2.from_files(paths)
    assert (fe2.cache_hits, fe2.cache_misses) == (7, 1)
    assert torch.equal(third[0], first[0]) and not torch.equal(third[1], first[1])

    fe2.from_files(paths, size=(64, 32))  # another input size → other keys
    assert fe2.cache_misses == 5
    other_layer = FeatureExtractor(build_backbone("random_r18", layer=4), device="cpu", cache_dir=cache)
    assert other_layer.from_files(paths[:1]).shape == (1, 512, 5, 7) and other_layer.cache_misses == 1
    other_seed = FeatureExtractor(build_backbone("random_r18", seed=1), device="cpu", cache_dir=cache)
    assert other_seed.cache_path(paths[0]) != fe2.cache_path(paths[0])  # weights id is part of the key


def test_corrupt_cache_entry_is_recomputed(r18, tmp_path):
    paths = write_frames(tmp_path / "seq", frames(1))
    fe = FeatureExtractor(r18, device="cpu", cache_dir=tmp_path / "cache")
    ref = fe.from_files(paths)
    fe.cache_path(paths[0]).write_bytes(b"garbage")
    again = fe.from_files(paths)
    assert torch.equal(ref, again) and fe.cache_misses == 2


def test_vit_through_the_extractor(tmp_path):
    bb = build_backbone("dino_vits8", weights="random", layer=2)
    fe = FeatureExtractor(bb, device="cpu", batch_size=2)
    y = fe.extract(frames(3, 44, 60))
    assert y.shape == (3, 384, 6, 8)


def test_cpu_forwards_are_capped_by_pixels(r18):
    x = FeatureExtractor(r18, device="cpu").normalize(frames(5, 64, 96))
    whole = FeatureExtractor(r18, device="cpu", batch_size=8)
    whole.cpu_pixels_per_forward = 10**9
    capped = FeatureExtractor(r18, device="cpu", batch_size=8)
    capped.cpu_pixels_per_forward = 2 * 64 * 96 + 1  # two frames per forward
    sizes = []
    hook = r18.register_forward_pre_hook(lambda m, inp: sizes.append(inp[0].shape[0]))
    try:
        a = whole(x)
        n_whole = list(sizes)
        sizes.clear()
        b = capped(x)
    finally:
        hook.remove()
    assert n_whole == [5] and sizes == [2, 2, 1]
    assert (a - b).abs().max() <= 1e-5 * a.abs().max()
