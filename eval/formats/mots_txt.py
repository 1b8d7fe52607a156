"""MOTS Challenge txt files (ground truth, mask observations, results) with COCO RLE masks.

One row per object and frame: ``frame id class_id img_height img_width rle`` (space separated, frame
1-based, ``rle`` = COCO compressed RLE string, column-major as in pycocotools). Class 2 is pedestrian,
class 1 car (KITTI MOTS), class 10 marks ignore regions in the ground truth; no other class id exists.

Every RLE string is validated *before* pycocotools touches it: pycocotools decodes a string whose run
lengths do not add up to ``h·w`` by writing past its buffer, so a malformed file must never reach it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unitrack.utils import UnitrackError

MOTS_CLASSES = (1, 2, 10)  # car, pedestrian, ignore region


def rle_counts_error(counts: bytes | str, h: int, w: int) -> str | None:
    """Why ``counts`` is not a valid COCO compressed RLE of an ``h×w`` mask (None when it is valid).

    Mirrors pycocotools' ``rleFrString`` (6-bit groups, continuation bit 0x20, sign bit 0x10, runs
    from the fourth on stored as differences to the run two before) with numpy, then checks that every
    run is non-negative and that the runs add up to ``h·w``.
    """
    if isinstance(counts, str):
        try:
            counts = counts.encode("ascii")
        except UnicodeEncodeError:
            return "RLE string contains non-ASCII characters"
    if h < 0 or w < 0:
        return f"negative mask size {h}x{w}"
    if not counts:
        return None if h * w == 0 else "empty RLE string for a non-empty mask"
    c = np.frombuffer(counts, dtype=np.uint8).astype(np.int64) - 48
    if c.min() < 0 or c.max() > 63:
        return "RLE string has characters outside '0'..'o'"
    more = (c & 0x20) != 0
    if more[-1]:
        return "RLE string ends inside a run (truncated)"
    ends = np.flatnonzero(~more)  # last character of every run
    starts = np.concatenate([[0], ends[:-1] + 1])
    lengths = ends - starts + 1
    if lengths.max() > 7:
        return "RLE run longer than 7 characters (value overflow)"
    pos = np.arange(len(c)) - np.repeat(starts, lengths)
    vals = np.add.reduceat((c & 0x1F) << (5 * pos), starts)
    neg = (c[ends] & 0x10) != 0
    vals = vals - np.where(neg, np.left_shift(1, 5 * lengths), 0)
    # runs from index 3 on are deltas to the run two before: cumulative sums over each parity
    runs = vals.copy()
    if len(runs) > 3:
        runs[1::2] = np.cumsum(vals[1::2])
        runs[2::2] = np.cumsum(vals[2::2])
    if (runs < 0).any():
        return "RLE string decodes to a negative run length"
    if (runs >= 2**32).any():
        return "RLE run length overflows"
    total = int(runs.sum())
    if total != h * w:
        return f"RLE runs add up to {total} pixels, expected {h}x{w}={h * w}"
    return None


@dataclass
class MOTSRow:
    """One object of one frame in a MOTS txt file (``line`` is 1-based, for error messages)."""

    frame: int
    obj_id: int
    cls: int
    h: int
    w: int
    counts: bytes
    line: int = 0

    @property
    def rle(self) -> dict:
        return {"size": [self.h, self.w], "counts": self.counts}


def read_mots_txt(
    path: str | Path,
    n_frames: int | None = None,
    size: tuple[int, int] | None = None,
    classes: Iterable[int] | None = None,
    unique_ids: bool = True,
    valid_classes: Iterable[int] = MOTS_CLASSES,
) -> dict[int, list[MOTSRow]]:
    """Parse and validate a MOTS txt file → {frame: rows}; frames without rows are absent.

    ``n_frames`` bounds the frame numbers (1..n_frames), ``size`` = (H, W) the mask sizes,
    ``classes`` keeps only those class ids (after validation of every row), ``unique_ids`` rejects a
    repeated (frame, id) pair (ground truth and results; detections may repeat ids), ``valid_classes``
    are the class ids a row may have (:data:`MOTS_CLASSES`). Errors name the file and line.
    """
    path = Path(path)
    if not path.is_file():
        raise UnitrackError(f"{path}: MOTS txt file does not exist")
    keep = None if classes is None else {int(c) for c in classes}
    valid = {int(c) for c in valid_classes}
    out: dict[int, list[MOTSRow]] = {}
    seen: dict[tuple[int, int], int] = {}
    first_size: tuple[int, int] | None = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for ln, raw in enumerate(f, 1):
            s = raw.strip()
            if not s:
                continue
            parts = s.split()
            where = f"{path}:{ln}"
            if len(parts) != 6:
                raise UnitrackError(
                    f"{where}: expected 6 space-separated fields 'frame id class height width rle', got {len(parts)}"
                )
            try:
                frame, oid, cls, h, w = (int(p) for p in parts[:5])
            except ValueError:
                raise UnitrackError(f"{where}: frame, id, class, height and width must be integers: {s[:80]!r}") from None
            if cls not in valid:
                raise UnitrackError(f"{where}: class id {cls} is not a MOTS class (expected one of "
                                    f"{', '.join(map(str, sorted(valid)))}: 1 car, 2 pedestrian, 10 ignore region)")
            if frame < 1 or (n_frames is not None and frame > n_frames):
                rng = f"1..{n_frames}" if n_frames is not None else ">= 1"
                raise UnitrackError(f"{where}: frame {frame} is outside the sequence (expected {rng})")
            if h <= 0 or w <= 0:
                raise UnitrackError(f"{where}: mask size {h}x{w} must be positive")
            if size is not None and (h, w) != tuple(size):
                raise UnitrackError(f"{where}: mask size {h}x{w} differs from the image size {size[0]}x{size[1]}")
            if first_size is None:
                first_size = (h, w)
            elif (h, w) != first_size:
                raise UnitrackError(f"{where}: mask size {h}x{w} differs from earlier rows ({first_size[0]}x{first_size[1]})")
            counts = parts[5].encode("ascii", errors="replace")
            err = rle_counts_error(counts, h, w)
            if err:
                raise UnitrackError(f"{where}: RLE does not decode: {err}")
            if unique_ids:
                key = (frame, oid)
                if key in seen:
                    raise UnitrackError(f"{where}: duplicate id {oid} in frame {frame} (first on line {seen[key]})")
                seen[key] = ln
            if keep is not None and cls not in keep:
                continue
            out.setdefault(frame, []).append(MOTSRow(frame, oid, cls, h, w, counts, ln))
    return out
