"""Writers: drawn RGB frames → MP4 (OpenCV, mp4v), animated GIF (Pillow) or a folder of PNGs.

Every output is written under a temporary name beside its target and renamed when complete (the
``unitrack.utils`` atomic writers), so an interrupted run never leaves a half-written video, and files
and folders get the usual umask permissions.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from unitrack.utils import UnitrackError, atomic_dir, atomic_file

FORMATS = ("mp4", "gif", "png")


def _even(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    if h % 2 or w % 2:
        img = np.pad(img, ((0, h % 2), (0, w % 2), (0, 0)))
    return img


def _fit(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Pad / crop to (h, w) so every frame of a video has the first frame's size."""
    h, w = size
    if img.shape[:2] == (h, w):
        return img
    out = np.zeros((h, w, 3), np.uint8)
    hh, ww = min(h, img.shape[0]), min(w, img.shape[1])
    out[:hh, :ww] = img[:hh, :ww]
    return out


def write_frames(frames: Iterable[np.ndarray], out: str | Path, fmt: str = "mp4", fps: float = 15.0) -> Path:
    """Write RGB frames as an MP4 (OpenCV, mp4v), an animated GIF (Pillow) or a folder of PNGs.

    ``out`` is the file (mp4/gif) or the folder (png). Written to a temporary sibling first and
    renamed, so an interrupted run never leaves a half-written video. Returns the path written.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt not in FORMATS:
        raise UnitrackError(f"--format {fmt!r}: expected one of {', '.join(FORMATS)}")
    fps = float(fps) if fps and fps > 0 else 15.0
    if fmt == "png":
        from concurrent.futures import ThreadPoolExecutor

        with atomic_dir(out, lock=False) as tmp:
            n = 0
            with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:  # PNG encoding releases the GIL
                pending: deque = deque()
                for i, f in enumerate(frames):
                    pending.append(pool.submit(cv2.imwrite, str(tmp / f"{i:05d}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR),
                                               [cv2.IMWRITE_PNG_COMPRESSION, 1]))
                    n += 1
                    while len(pending) > 8:
                        pending.popleft().result()
                for fut in pending:
                    fut.result()
            if n == 0:
                raise UnitrackError(f"no frames to write to {out}")
        return out
    with atomic_file(out) as tmp:
        if fmt == "mp4":
            _write_mp4(frames, tmp, fps)
        else:
            _write_gif(frames, tmp, fps)
    return out


def write_png(path: str | Path, img: np.ndarray) -> Path:
    """One RGB image as a PNG, written atomically (e.g. the error strip of a sequence)."""
    path = Path(path)
    with atomic_file(path) as tmp:
        if not cv2.imwrite(str(tmp), cv2.cvtColor(img, cv2.COLOR_RGB2BGR)):
            raise UnitrackError(f"cannot write {path}")
    return path


def _write_mp4(frames: Iterable[np.ndarray], path: Path, fps: float) -> None:
    writer = None
    size = None
    try:
        for f in frames:
            f = _even(f)
            if writer is None:
                size = f.shape[:2]
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (size[1], size[0]))
                if not writer.isOpened():
                    raise UnitrackError(f"OpenCV cannot open an MP4 writer for {path} (codec mp4v); try --format gif or png")
            writer.write(cv2.cvtColor(_fit(f, size), cv2.COLOR_RGB2BGR))
    finally:
        if writer is not None:
            writer.release()
    if writer is None:
        raise UnitrackError(f"no frames to write to {path}")


def _write_gif(frames: Iterable[np.ndarray], path: Path, fps: float) -> None:
    from PIL import Image

    ims = []
    size = None
    for f in frames:
        if size is None:
            size = f.shape[:2]
        ims.append(Image.fromarray(_fit(f, size)).quantize(colors=255, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE))
    if not ims:
        raise UnitrackError(f"no frames to write to {path}")
    ims[0].save(path, format="GIF", save_all=True, append_images=ims[1:], duration=max(20, int(round(1000 / fps))),
                loop=0, disposal=1, optimize=False)


