"""DAVIS masks: the DAVIS / PASCAL-VOC palette and indexed (palette) PNG reading and writing.

Object ids are the palette indices of an annotation PNG (mode ``P``) or the values of an 8-bit grey
PNG, never colours: RGB masks are rejected with a message saying how to fix them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from unitrack.utils import UnitrackError


def davis_palette(n: int = 256) -> np.ndarray:
    """The DAVIS / PASCAL-VOC palette (``n``×3 RGB uint8): index 1 = (128,0,0), 2 = (0,128,0), …"""
    i = np.arange(n, dtype=np.int64)
    pal = np.zeros((n, 3), np.int64)
    for j in range(8):  # 8 bit planes, each gives one bit of r, g and b
        c = i >> (3 * j)
        for ch in range(3):
            pal[:, ch] |= ((c >> ch) & 1) << (7 - j)
    return pal.astype(np.uint8)


PALETTE = davis_palette()
PALETTE_FLAT: list[int] = PALETTE.reshape(-1).tolist()  # the form PIL's putpalette takes


def read_mask(path: str | Path, binarize: bool = False) -> np.ndarray:
    """Read an indexed (palette or 8-bit grey) PNG as an H×W uint8 array of object ids.

    RGB/RGBA masks are rejected (ids must come from palette indices, not colours). With
    ``binarize`` every non-zero value becomes object 1 (DAVIS-2016 0/255 masks).
    """
    path = Path(path)
    try:
        with Image.open(path) as im:
            mode = im.mode
            if mode in ("RGB", "RGBA", "LA", "CMYK", "YCbCr", "HSV"):
                raise UnitrackError(
                    f"{path}: {mode} image, expected an indexed (palette, mode P) or 8-bit grey PNG whose "
                    "pixel values are object ids; convert colour masks to palette indices first"
                )
            arr = np.array(im)
    except UnitrackError:
        raise
    except OSError as e:
        raise UnitrackError(f"{path}: cannot read mask ({e})") from None
    if arr.ndim != 2:
        raise UnitrackError(f"{path}: expected a single-channel mask, got shape {arr.shape}")
    if arr.dtype == bool:
        arr = arr.astype(np.uint8)
    elif arr.dtype != np.uint8:
        if arr.min() < 0 or arr.max() > 255:
            raise UnitrackError(f"{path}: mask values outside 0..255 (mode {mode})")
        arr = arr.astype(np.uint8)
    if binarize:
        arr = (arr > 0).astype(np.uint8)
    return arr


def mask_palette(path: str | Path) -> list[int] | None:
    """The palette of an indexed PNG (flat RGB list, 768 entries), or None."""
    with Image.open(path) as im:
        if im.mode != "P":
            return None
        pal = im.getpalette() or []
    return (pal + [0] * 768)[:768]


def write_mask(path: str | Path, ids: np.ndarray, palette: list[int] | None = None) -> None:
    """Write H×W object ids as an indexed PNG with the DAVIS palette (what the official evaluation reads)."""
    ids = np.asarray(ids)
    if ids.ndim != 2:
        raise ValueError(f"write_mask: expected H×W ids, got {ids.shape}")
    if ids.size and (ids.min() < 0 or ids.max() > 255):
        raise ValueError("write_mask: ids must be in 0..255")
    im = Image.fromarray(ids.astype(np.uint8), mode="P")
    im.putpalette(palette or PALETTE_FLAT)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path)
