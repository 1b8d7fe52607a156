"""MOTChallenge txt files (ground truth, detections, tracking results): one reader for all three.

Comma-separated, one row per box and frame, frames 1-based, boxes ``x, y, w, h`` in pixels with the
MOTChallenge 1-based top-left:

* ``gt/gt.txt``   ``frame,id,x,y,w,h,conf,class,visibility`` (MOT16/17/20) or the MOT15 form
  ``frame,id,x,y,w,h,conf,-1,-1,-1``;
* ``det/det.txt`` ``frame,-1,x,y,w,h,score`` with 7 or 10 columns;
* results        ``frame,id,x,y,w,h,conf,-1,-1,-1`` (6–10 columns are read).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from unitrack.utils import UnitrackError

DET_COLUMNS = (7, 10)


def read_mot_txt(path: str | Path, kind: str, columns: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Parse a MOTChallenge txt → ``(rows (R, K) float64, 1-based line number of each row)``.

    ``kind`` ∈ gt | det | pred sets the accepted column counts (gt/pred 6–10, det 7 or 10) unless
    ``columns`` is given. Every row must have the same count; frames must be integers ≥ 1. Empty
    lines are skipped. Errors name the file and line.
    """
    path = Path(path)
    allowed = tuple(columns) if columns else (DET_COLUMNS if kind == "det" else tuple(range(6, 11)))
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise UnitrackError(f"{path}: not a text file") from None
    except OSError as e:
        raise UnitrackError(f"{path}: cannot read ({e.strerror})") from None
    lines = text.splitlines()
    idx = [i for i, ln in enumerate(lines) if ln.strip()]
    if not idx:
        return np.zeros((0, allowed[-1])), np.zeros(0, dtype=np.int64)
    rows = [lines[i].replace(" ", "").rstrip(",").split(",") for i in idx]
    counts = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
    first = counts[0]
    bad = np.flatnonzero((counts != first) | ~np.isin(counts, allowed))
    if len(bad):
        k = int(bad[0])
        exp = " or ".join(map(str, allowed)) if len(allowed) <= 2 else f"{allowed[0]}–{allowed[-1]}"
        extra = "" if counts[k] in allowed else f"; expected {exp} columns for a {kind} file"
        raise UnitrackError(f"{path}:{idx[k] + 1}: {counts[k]} comma-separated columns (line 1 of the data has "
                            f"{first}){extra}: {lines[idx[k]].strip()[:80]!r}")
    try:
        arr = np.array(rows, dtype=np.float64)
    except ValueError:
        for k, r in enumerate(rows):
            try:
                [float(x) for x in r]
            except ValueError:
                raise UnitrackError(f"{path}:{idx[k] + 1}: not a number in {lines[idx[k]].strip()[:80]!r}") from None
        raise
    if not np.isfinite(arr).all():
        k = int(np.flatnonzero(~np.isfinite(arr).all(1))[0])
        raise UnitrackError(f"{path}:{idx[k] + 1}: NaN or infinite value in {lines[idx[k]].strip()[:80]!r}")
    fr = arr[:, 0]
    badf = np.flatnonzero((fr < 1) | (fr != np.round(fr)))
    if len(badf):
        k = int(badf[0])
        raise UnitrackError(f"{path}:{idx[k] + 1}: frame {lines[idx[k]].split(',')[0]!r} — frames are integers ≥ 1")
    return arr, np.asarray(idx, dtype=np.int64) + 1
