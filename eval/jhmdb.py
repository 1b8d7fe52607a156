"""JHMDB pose propagation: split-file reader, Gaussian belief maps, keypoint read-out and PCK (docs/protocol.md §2.8).

Split file: one video per line, ``<joint_positions.mat> <frame folder>``; relative paths are resolved
against the split file's folder. ``pos_img`` in the MAT file is 2×15×T, 1-based pixel coordinates.
Predictions are written as the reference does: per video (split order) a ``<index>.dat`` holding a
2×15×T float array of feature-grid coordinates (−1 where the propagated map is empty); we store it
in NumPy ``.npy`` format, which the reference's ``np.load(..., allow_pickle=True)`` also reads.

PCK follows the reference ``eval_pck.py``: grid → image coordinates; joints whose prediction failed
(x < 0) are excluded (not counted as errors); frame 0 skipped; per frame the normaliser is
0.6 × the diagonal of the box of the visible ground-truth joints; distances pooled per joint over all
frames and videos; PCK@α = per-joint percentage with d/norm ≤ α, averaged over joints.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from unitrack.eval.base import Sequence
from unitrack.eval.formats import frame_number, list_frames
from unitrack.utils import UnitrackError

log = logging.getLogger("unitrack")

NUM_JOINTS = 15
JOINT_NAMES = ("neck", "belly", "head", "right_shoulder", "left_shoulder", "right_hip", "left_hip",
               "right_elbow", "left_elbow", "right_knee", "left_knee", "right_wrist", "left_wrist",
               "right_ankle", "left_ankle")
# skeleton of the 15 joints above (0-based joint pairs), for drawing
LIMBS = ((0, 1), (0, 2), (0, 3), (0, 4), (1, 5), (1, 6), (3, 7), (4, 8), (5, 9), (6, 10), (7, 11), (8, 12), (9, 13),
         (10, 14))
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(init=False)
class JhmdbVideo(Sequence):
    """One JHMDB clip: frames, ground-truth joints (2×J×T, 0-based image coordinates) and size (H, W).

    The constructor keeps its order ``(name, index, mat, frames, joints, size)`` (explicit: a generated
    dataclass ``__init__`` would put the base's ``frames`` and ``size`` first).
    """

    name: str
    frames: list[Path]
    size: tuple[int, int]
    index: int  # position in the split file (names the reference's <index>.dat)
    mat: Path
    joints: np.ndarray

    def __init__(self, name: str, index: int, mat: Path, frames: list[Path], joints: np.ndarray,
                 size: tuple[int, int]) -> None:
        super().__init__(name=name, frames=frames, size=size)
        self.index, self.mat, self.joints = index, mat, joints


def read_joint_positions(mat: str | Path) -> np.ndarray:
    """``pos_img`` (2×J×T, 1-based pixel coordinates, as stored) of a JHMDB joint_positions.mat."""
    import scipy.io

    mat = Path(mat)
    if not mat.is_file():
        raise UnitrackError(f"{mat}: joint_positions file does not exist")
    try:
        d = scipy.io.loadmat(str(mat))
    except Exception as e:  # scipy raises several types for corrupt files
        raise UnitrackError(f"{mat}: cannot read MAT file ({e})") from None
    if "pos_img" not in d:
        raise UnitrackError(f"{mat}: no 'pos_img' variable (found {sorted(k for k in d if not k.startswith('__'))})")
    p = np.asarray(d["pos_img"], dtype=np.float64)
    if p.ndim == 2:  # a single frame saved without the trailing axis
        p = p[:, :, None]
    if p.ndim != 3 or p.shape[0] != 2:
        raise UnitrackError(f"{mat}: pos_img has shape {p.shape}, expected 2×J×T")
    if p.shape[1] != NUM_JOINTS:
        raise UnitrackError(f"{mat}: pos_img has {p.shape[1]} joints (shape {p.shape}), expected the {NUM_JOINTS} "
                            f"JHMDB joints (2×{NUM_JOINTS}×T)")
    if not np.all(np.isfinite(p)):
        raise UnitrackError(f"{mat}: pos_img contains NaN/inf")
    return p


def read_split(split_file: str | Path) -> list[tuple[Path, Path]]:
    """(mat path, frame folder) per line; relative paths are taken relative to the split file's folder."""
    split_file = Path(split_file)
    if not split_file.is_file():
        raise UnitrackError(f"JHMDB split file {split_file} does not exist (set poseprop.split_file)")
    base = split_file.parent
    out = []
    for ln, line in enumerate(split_file.read_text().splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        tok = s.split()
        if len(tok) != 2:
            raise UnitrackError(f"{split_file}:{ln}: expected '<joint_positions.mat> <frame folder>', got {s!r}")
        mat, folder = (Path(t).expanduser() for t in tok)
        mat = mat if mat.is_absolute() else base / mat
        folder = folder if folder.is_absolute() else base / folder
        out.append((mat, folder))
    if not out:
        raise UnitrackError(f"{split_file}: no videos listed")
    return out


def list_video_frames(folder: Path) -> list[Path]:
    """The ``.png`` frames of a JHMDB video folder: numbered (``00001.png`` …) without gaps, since the
    joints of ``pos_img`` are paired with the frames by position."""
    frames = list_frames(folder, (".png",))
    first = frame_number(frames[0])
    if frame_number(frames[-1]) - first + 1 != len(frames):
        list_frames(folder, (".png",), first=first)  # raises, naming the gap or the duplicate
    return frames


def read_jhmdb(root: str | Path, split_file: str | Path = "split.txt") -> list[JhmdbVideo]:
    """Read the videos of a JHMDB split file (``split_file`` relative to ``root`` unless absolute).

    ``pos_img`` must not annotate more frames than the folder holds (an error: a frame is missing);
    frames after the last annotated one are left out and noted (:meth:`JhmdbVideo.skip`)."""
    import cv2

    root = Path(root)
    sf = Path(split_file)
    sf = sf if sf.is_absolute() else root / sf
    videos = []
    for idx, (mat, folder) in enumerate(read_split(sf)):
        if not folder.is_dir():
            raise UnitrackError(f"{sf}: line {idx + 1}: frame folder {folder} does not exist")
        frames = list_video_frames(folder)
        pos = read_joint_positions(mat)
        T = pos.shape[2]
        if T > len(frames):
            raise UnitrackError(f"{mat}: pos_img annotates {T} frames but {folder} holds {len(frames)} "
                                f"({frames[0].name}…{frames[-1].name}); expected one frame per annotated pose")
        note = None
        if T < len(frames):
            note = (f"{mat}: {T} annotated frames but {len(frames)} frames in {folder}; frames "
                    f"{frames[T].name}…{frames[-1].name} have no pose and are left out")
            frames = frames[:T]
        img = cv2.imread(str(frames[0]), cv2.IMREAD_COLOR)
        if img is None:
            raise UnitrackError(f"{frames[0]}: cannot read image")
        video = JhmdbVideo(name=folder.name, index=idx, mat=mat, frames=frames, joints=pos - 1.0, size=img.shape[:2])
        if note:
            video.skip(f"video {folder.name}", note)
        videos.append(video)
    return videos


# ----------------------------------------------------------------------------------------------
# belief maps and read-out
# ----------------------------------------------------------------------------------------------
def joints_to_grid(joints: np.ndarray, size_hw: tuple[int, int], crop_size: int, stride: int = 8) -> np.ndarray:
    """0-based image coordinates (2×J[×T]) → feature-grid coordinates after a crop×crop resize."""
    H, W = size_hw
    g = np.array(joints, dtype=np.float64, copy=True)
    g[0] = g[0] * float(crop_size) / float(W) / stride
    g[1] = g[1] * float(crop_size) / float(H) / stride
    return g


def belief_maps(coords: np.ndarray, grid_hw: tuple[int, int]) -> np.ndarray:
    """(J+1)×h×w maps of one frame: background first, then an un-normalised Gaussian per joint.

    σ = max(0.5, 0.015·max(x-range, y-range)) in grid cells; each joint's patch (peak 1, size
    ceil(6σ+1)) is pasted into rows/cols [int(c−3σ), int(c+3σ+1)) clipped to the map (``int``
    truncates toward zero, as the reference); background = 1 where every joint map is exactly 0.
    """
    h, w = grid_hw
    c = np.asarray(coords, dtype=np.float64)
    J = c.shape[1]
    ext = float((c.max(axis=1) - c.min(axis=1)).max())
    sigma = max(0.5, ext * 0.015)
    size = 6 * sigma + 1
    n = math.ceil(size)  # kernel indices 0..n-1, as np.arange(0, size)
    k0 = size // 2
    trunc = np.trunc
    ul = trunc(c - 3 * sigma).astype(np.int64)  # (2, J) : x, y
    br = trunc(c + 3 * sigma + 1).astype(np.int64)
    inside = ~((ul[0] >= w) | (ul[1] >= h) | (br[0] < 0) | (br[1] < 0))
    rows = np.arange(h)[None, :]  # 1×h
    cols = np.arange(w)[None, :]
    vy = rows - ul[1][:, None]  # J×h kernel row index of every map row
    vx = cols - ul[0][:, None]
    ok_y = (rows >= ul[1][:, None]) & (rows < br[1][:, None]) & (vy >= 0) & (vy < n)
    ok_x = (cols >= ul[0][:, None]) & (cols < br[0][:, None]) & (vx >= 0) & (vx < n)
    d2 = (vx[:, None, :] - k0) ** 2 + (vy[:, :, None] - k0) ** 2  # J×h×w
    g = np.exp(-d2 / (2 * sigma**2))
    m = ok_y[:, :, None] & ok_x[:, None, :] & inside[:, None, None]
    maps = np.where(m, g, 0.0)
    bg = (maps.sum(0) == 0).astype(np.float64)[None]
    assert maps.shape[0] == J
    return np.concatenate([bg, maps], 0).astype(np.float32)


def readout_keypoints(pred: torch.Tensor, topk: int = 3) -> torch.Tensor:
    """2×J grid coordinates (x=column, y=row) from (J+1)×h×w propagated maps (background first).

    Per joint: the top-k cells weighted by value / sum of the k values; −1 where a map sums to 0.
    """
    maps = pred[1:].flatten(1)  # J × hw
    w = pred.shape[-1]
    k = min(topk, maps.shape[1])
    vals, ids = maps.topk(k, dim=1)
    vals = vals / vals.sum(1, keepdim=True)
    xx = (ids % w).to(vals.dtype)
    yy = torch.div(ids, w, rounding_mode="floor").to(vals.dtype)
    coord = torch.stack([(xx * vals).sum(1), (yy * vals).sum(1)], 0)
    coord[:, maps.sum(1) == 0] = -1
    return coord


# ----------------------------------------------------------------------------------------------
# prediction files, PCK
# ----------------------------------------------------------------------------------------------
def write_prediction(path: str | Path, coords: np.ndarray) -> None:
    """Write a 2×J×T coordinate array (NumPy format; readable by the reference's np.load)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        np.save(f, np.asarray(coords, dtype=np.float64))


def read_prediction(path: str | Path) -> np.ndarray:
    """Read a ``<index>.dat`` prediction: NumPy format, or the reference's pickled ndarray (logged)."""
    path = Path(path)
    if not path.is_file():
        raise UnitrackError(f"missing prediction {path}")
    try:
        arr = np.load(path, allow_pickle=False)
    except ValueError:
        log.info("%s: pickled array (reference format); loading with pickle", path)
        arr = np.load(path, allow_pickle=True)
    except OSError as e:
        raise UnitrackError(f"{path}: cannot read prediction ({e})") from None
    try:
        arr = np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError):
        raise UnitrackError(f"{path}: prediction is not a numeric array") from None
    if arr.ndim != 3 or arr.shape[0] != 2:
        raise UnitrackError(f"{path}: prediction has shape {arr.shape}, expected 2×J×T")
    if not np.isfinite(arr).all():
        raise UnitrackError(f"{path}: prediction contains NaN/inf (a failed joint is -1)")
    return arr


def grid_to_image(coords: np.ndarray, size_hw: tuple[int, int], crop_size: int, stride: int = 8) -> np.ndarray:
    """Feature-grid → image coordinates (x·stride·W/crop; = x·W/40 for crop 320); −1 stays a failure."""
    H, W = size_hw
    out = np.array(coords, dtype=np.float64, copy=True)
    fail = out[0] < 0
    out[0] = out[0] * stride * W / float(crop_size)
    out[1] = out[1] * stride * H / float(crop_size)
    out[0][fail] = -1.0  # keep the failure flag
    return out


def pck_distances(pred_img: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normalised distances (J×T) and their validity (visible joints, frames ≥ 1) of one video."""
    J, T = gt.shape[1], gt.shape[2]
    if pred_img.shape[1:] != (J, T):
        raise UnitrackError(f"prediction covers {pred_img.shape[1:]} (joints, frames), ground truth {(J, T)}")
    vis = pred_img[0] >= 0  # J×T, prediction-based visibility (reference)
    big = np.where(vis[None], gt, np.nan)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mn = np.nanmin(big, axis=1)  # 2×T
        mx = np.nanmax(big, axis=1)
    mn = np.where(np.isnan(mn), 1e6, mn)  # no visible joint: the reference's initial values
    mx = np.where(np.isnan(mx), -1.0, mx)
    norm = 0.6 * np.linalg.norm(mx - mn, axis=0)  # T
    d = np.linalg.norm(pred_img - gt, axis=0)  # J×T
    with np.errstate(divide="ignore", invalid="ignore"):
        dn = d / norm[None]
    valid = vis.copy()
    valid[:, 0] = False  # frame 0 is the given annotation
    return dn, valid


def pck(distances: list[np.ndarray], valid: list[np.ndarray], thresholds=(0.1, 0.2, 0.3, 0.4, 0.5)) -> dict[str, float]:
    """PCK@α in %: per joint over the pooled valid distances, then the mean over joints.

    A joint with no valid distance is left out of the mean (the reference divides by zero there).
    """
    D = np.concatenate([d for d in distances], axis=1) if distances else np.zeros((NUM_JOINTS, 0))
    V = np.concatenate([v for v in valid], axis=1) if valid else np.zeros((NUM_JOINTS, 0), bool)
    n = V.sum(1)  # per joint
    out = {}
    for a in thresholds:
        hit = (np.nan_to_num(D, nan=np.inf) <= a) & V
        with np.errstate(divide="ignore", invalid="ignore"):
            per_joint = 100.0 * hit.sum(1) / n
        out[f"PCK@{a:g}"] = float(np.nanmean(per_joint)) if np.any(n > 0) else float("nan")
    return out
