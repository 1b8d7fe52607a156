"""Frame folders and ``seqinfo.ini``: the one way every reader lists a sequence's images.

Frame numbers are the file stems written in ASCII digits (``000001.jpg`` → 1, ``00000.png`` → 0).
:func:`list_frames` sorts image files by that number; readers choose whether other names are an
error (MOTChallenge, MOTS) or come after the numbered ones (DAVIS, JHMDB, OTB), and whether the
numbers must run from a first frame without gaps (MOTChallenge and MOTS: ``1…n``). Hidden files
(``.`` prefix, e.g. macOS ``._0001.jpg``) are never frames.
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Iterable
from pathlib import Path

from unitrack.utils import UnitrackError

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp")


def frame_number(path: str | Path) -> int | None:
    """The frame number of an image file (its stem in ASCII digits), None for any other name."""
    stem = Path(path).stem
    return int(stem) if stem.isascii() and stem.isdigit() else None


def _image_files(folder: Path, exts: Iterable[str]) -> list[Path]:
    exts = {e.lower() for e in exts}
    with os.scandir(folder) as it:  # one directory read; is_file() uses the entry type, no stat per file
        return [Path(e.path) for e in it
                if not e.name.startswith(".") and os.path.splitext(e.name)[1].lower() in exts and e.is_file()]


def list_frames(folder: str | Path, exts: Iterable[str] = IMAGE_EXTS, *, numbered: bool = True,
                first: int | None = None, required: bool = True) -> list[Path]:
    """Image files of ``folder`` (extensions ``exts``, case-insensitive) sorted by frame number.

    * ``numbered``: every image name must be a frame number (else an error naming the file); with
      ``numbered=False`` other names follow the numbered frames, sorted by name.
    * ``first``: the numbers must be ``first, first+1, …`` without gaps or duplicates.
    * ``required``: a missing folder or one without images is an error; otherwise ``[]``.

    Errors are :class:`~unitrack.utils.UnitrackError` naming the folder (and the file).
    """
    folder = Path(folder)
    exts = tuple(exts)
    files = _image_files(folder, exts) if folder.is_dir() else []
    if not files:
        if required:
            what = "folder does not exist" if not folder.is_dir() else f"no frames (no {'/'.join(exts)} images)"
            raise UnitrackError(f"{folder}: {what}")
        return []
    keyed = []
    for p in files:
        n = frame_number(p)
        if n is None and numbered:
            raise UnitrackError(f"{p}: image names in {folder} must be frame numbers (000001{p.suffix} …)")
        keyed.append(((0, n, p.name) if n is not None else (1, 0, p.name), p))
    keyed.sort(key=lambda kp: kp[0])
    frames = [p for _, p in keyed]
    if first is not None:
        nums = [k[1] for k, _ in keyed]
        expected = list(range(first, first + len(nums)))
        if nums != expected:
            if len(set(nums)) != len(nums):
                what = "duplicate frame numbers"
            elif nums[0] != first:
                what = f"frames {nums[0]}…{nums[-1]} (the first frame must be {first})"
            else:
                missing = sorted(set(range(first, nums[-1] + 1)) - set(nums))[:5]
                what = f"frames {nums[0]}…{nums[-1]} with gaps (missing {missing})"
            raise UnitrackError(f"{folder}: expected images numbered {first}…{expected[-1]} without gaps, "
                                f"found {what}")
    return frames


def read_seqinfo(path: str | Path) -> dict[str, str]:
    """The ``[Sequence]`` section of a MOTChallenge / MOTS ``seqinfo.ini``, keys lower-case
    (``seqlength``, ``framerate``, ``imwidth`` …); an empty dict when the file is absent."""
    path = Path(path)
    if not path.is_file():
        return {}
    cp = configparser.ConfigParser()
    try:
        cp.read_string(path.read_text())
        if "Sequence" not in cp:
            raise UnitrackError(f"{path}: no [Sequence] section")
        return {k.lower(): v for k, v in cp["Sequence"].items()}
    except (configparser.Error, UnicodeDecodeError) as e:
        raise UnitrackError(f"{path}: not a valid seqinfo.ini ({e})") from None


def require_prediction_folders(pred_dir: str | Path, names: Iterable[str], unit: str, layout: str) -> None:
    """Every sequence needs its ``<pred>/<name>/`` folder: UnitrackError listing the first missing ones."""
    missing = [n for n in names if not (Path(pred_dir) / n).is_dir()]
    if missing:
        raise UnitrackError(f"--pred {pred_dir}: no folder for {unit}(s) {', '.join(missing[:5])}"
                            f"{' …' if len(missing) > 5 else ''} (expected {layout})")
