"""Generated demo benchmark: short seeded synthetic videos written in every benchmark's NATIVE format.

It is the toolkit's embedded default dataset (``--data demo`` evaluates on it fully offline) and the
fixture data of the unit tests. One small scene simulator renders textured objects (blobs,
pedestrian silhouettes, articulated human puppets) on a textured, static or slowly panning
background, with smooth random trajectories, scale changes, depth-ordered occlusion and, in every
sequence, PAIRS OF SIMILAR-LOOKING objects (same texture pattern, slightly different tint) whose
paths cross: motion-only / IoU-only association makes identity switches there, appearance helps.
Per-format writers then emit OTB, DAVIS-2017, JHMDB, MOTChallenge (MOT17 style), MOTS20 and
PoseTrack-2018 layouts (see :data:`TASK_SUBDIRS` and the ``README.txt`` written beside the data).

Conventions a reader must know (also written into ``README.txt``):

* Continuous image coordinates put the centre of pixel (row i, column j) at (x=j, y=i).
* OTB ``groundtruth_rect.txt`` and MOT ``gt.txt``/``det.txt`` boxes are 1-based like the originals:
  a box whose top-left pixel is column x0, row y0 is written ``x0+1, y0+1``; w/h count pixels.
  GT boxes are the bounding boxes of the objects' full (amodal, unoccluded) masks; MOT boxes may
  extend outside the frame (objects enter and leave), the OTB target always stays inside.
* JHMDB ``pos_img`` is 1-based (joint (x, y) is stored as (x+1, y+1)), PoseTrack keypoints 0-based.
* ``jhmdb/split.txt`` holds paths RELATIVE to the folder of the split file itself
  (``joint_positions/<video>/joint_positions.mat Frames/<video>``); resolve them against it.
* MOT ``visibility`` = visible pixels inside the frame / pixels of the full (unclipped) mask.
* MOTS ``det/det.txt`` uses the MOTS txt format; its obj_id is a running detection index (1, 2, …,
  in file order, rows shuffled within a frame), NOT an identity. Detection masks are disjoint.
* PoseTrack detections (``posetrack/detections/val/<seq>.json``) carry [x, y, score] triples in
  ``keypoints``, the 17 scores in ``scores``, a person ``score``, and no ``track_id``.

Output is byte-identical for the same arguments on the same platform (JPEG quality 95 through cv2,
lossless PNG, fixed MAT-file header, sorted JSON construction).
"""

from __future__ import annotations

import colorsys
import contextlib
import io
import json
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from unitrack.utils import atomic_dir, log, unitrack_home

DEMO_VERSION = "1"
TASK_SUBDIRS = {
    "sot": "otb",
    "vos": "davis",
    "poseprop": "jhmdb",
    "mot": "mot",
    "mots": "mots",
    "posetrack": "posetrack",
}
TASKS = tuple(TASK_SUBDIRS)
DEFAULT_NUM_SEQUENCES = 3
DEFAULT_NUM_FRAMES = 20
DEFAULT_SIZE = (160, 120)
SIZE_RANGE = (64, 256)
FRAMES_RANGE = (10, 30)
MAX_SEQUENCES = 20

# independent random stream per task: generating a subset of tasks gives the same data for them
_TASK_STREAM = {"sot": 101, "vos": 102, "poseprop": 103, "mot": 104, "mots": 105, "posetrack": 106}

JHMDB_JOINTS = (
    "neck", "belly", "face", "right_shoulder", "left_shoulder", "right_hip", "left_hip", "right_elbow",
    "left_elbow", "right_knee", "left_knee", "right_wrist", "left_wrist", "right_ankle", "left_ankle",
)  # fmt: skip
POSETRACK_KEYPOINTS = (
    "nose", "head_bottom", "head_top", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
    "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
POSETRACK_SKELETON = [
    [16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8], [7, 9],
    [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 7],
]  # fmt: skip

# internal joints of the human puppet (image coordinates, pixel centres at integers)
_J = {
    n: i
    for i, n in enumerate(
        ["pelvis", "belly", "neck", "head", "head_top", "chin", "nose", "r_sho", "l_sho", "r_elb", "l_elb",
         "r_wri", "l_wri", "r_hip", "l_hip", "r_knee", "l_knee", "r_ank", "l_ank", "r_ear", "l_ear"]
    )
}  # fmt: skip
_JHMDB_FROM_INTERNAL = [_J[n] for n in ("neck", "belly", "head", "r_sho", "l_sho", "r_hip", "l_hip", "r_elb",
                                         "l_elb", "r_knee", "l_knee", "r_wri", "l_wri", "r_ank", "l_ank")]  # fmt: skip
_POSETRACK_FROM_INTERNAL = [_J[n] for n in ("nose", "chin", "head_top", "l_ear", "r_ear", "l_sho", "r_sho", "l_elb",
                                             "r_elb", "l_wri", "r_wri", "l_hip", "r_hip", "l_knee", "r_knee",
                                             "l_ank", "r_ank")]  # fmt: skip
_POSETRACK_EARS = (3, 4)  # never labelled in the ground truth (as in PoseTrack-18)

_JPEG = [cv2.IMWRITE_JPEG_QUALITY, 95]
_PNG = [cv2.IMWRITE_PNG_COMPRESSION, 3]


def davis_palette() -> np.ndarray:
    """The standard 256-entry VOC/DAVIS bit-interleaved palette, (256, 3) uint8; 1 → (128, 0, 0)."""
    pal = np.zeros((256, 3), np.uint8)
    for i in range(256):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        pal[i] = (r, g, b)
    return pal


# --------------------------------------------------------------------------------------------- textures


def _smooth(rng: np.random.Generator, h: int, w: int, cells: float) -> np.ndarray:
    """Smooth random field in [0, 1]: a coarse uniform grid (about `cells` cells across) upsampled bicubically."""
    gh = max(2, int(round(cells * h / max(h, w))) + 1)
    gw = max(2, int(round(cells * w / max(h, w))) + 1)
    g = rng.random((gh, gw)).astype(np.float32)
    f = cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC)
    lo, hi = float(f.min()), float(f.max())
    return (f - lo) / max(hi - lo, 1e-6)


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    return (
        np.array(colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0)), np.float32) * 255
    )


@dataclass
class _Family:
    """A texture family: one pattern field shared by its members; each member has its own colours."""

    field: np.ndarray  # (S, S) float32 in [0, 1]
    hue: float
    sat: float
    val: float
    spread: float  # hue spread between the three colours of a member

    def colours(self, tint: float = 0.0, dval: float = 0.0) -> np.ndarray:
        h = self.hue + tint
        return np.stack(
            [
                _hsv(h, self.sat, self.val * 0.45 + dval),
                _hsv(h + self.spread, self.sat * 0.9, self.val * 0.8 + dval),
                _hsv(h - self.spread * 0.5, self.sat * 0.6, min(self.val * 1.1, 1.0) + dval),
            ]
        )

    def texture(self, tint: float = 0.0, dval: float = 0.0) -> np.ndarray:
        return _colourise(self.field, self.colours(tint, dval))


def _colourise(f: np.ndarray, cols: np.ndarray) -> np.ndarray:
    a = np.clip(2 * f, 0, 1)[..., None]
    b = np.clip(2 * f - 1, 0, 1)[..., None]
    return (cols[0] + a * (cols[1] - cols[0]) + b * (cols[2] - cols[1])).astype(np.float32)


def _new_family(rng: np.random.Generator, size: int = 96, sat=(0.5, 0.95), val=(0.6, 1.0)) -> _Family:
    f = 0.55 * _smooth(rng, size, size, rng.uniform(2, 4)) + 0.45 * _smooth(
        rng, size, size, rng.uniform(6, 11)
    )
    kind = rng.integers(3)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    if kind == 0:  # stripes
        th = rng.uniform(0, np.pi)
        s = 0.5 + 0.5 * np.sin(
            2 * np.pi * rng.uniform(2, 5) * (xx * np.cos(th) + yy * np.sin(th)) + rng.uniform(0, 6.3)
        )
        f = 0.55 * f + 0.45 * s
    elif kind == 1:  # checks
        k = rng.uniform(2, 4.5)
        s = 0.5 + 0.5 * np.sign(np.sin(2 * np.pi * k * xx + rng.uniform(0, 6.3)) * np.sin(2 * np.pi * k * yy))
        s = cv2.GaussianBlur(s.astype(np.float32), (0, 0), size / 60)
        f = 0.6 * f + 0.4 * s
    # kind 2: plain blotches
    f = (f - f.min()) / max(float(f.max() - f.min()), 1e-6)
    return _Family(
        f.astype(np.float32), rng.uniform(0, 1), rng.uniform(*sat), rng.uniform(*val), rng.uniform(0.05, 0.18)
    )


def _similar_tint(rng: np.random.Generator) -> tuple[float, float]:
    """(hue shift, value shift) that makes a look-alike: same pattern, visibly but slightly different tint."""
    return float(rng.choice([-1, 1]) * rng.uniform(0.05, 0.08)), float(rng.uniform(-0.08, 0.08))


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Muted, multi-scale textured background with a few flat-ish rectangles (static clutter)."""
    f = (0.5 * _smooth(rng, h, w, rng.uniform(3, 5)) + 0.3 * _smooth(rng, h, w, rng.uniform(10, 16))
         + 0.2 * _smooth(rng, h, w, rng.uniform(25, 40)))  # fmt: skip
    f = (f - f.min()) / max(float(f.max() - f.min()), 1e-6)
    hue = rng.uniform(0, 1)
    cols = np.stack([_hsv(hue, rng.uniform(0.1, 0.3), 0.25), _hsv(hue + 0.1, rng.uniform(0.1, 0.35), 0.5),
                     _hsv(hue - 0.05, rng.uniform(0.05, 0.25), 0.72)])  # fmt: skip
    img = _colourise(f, cols)
    for _ in range(int(rng.integers(3, 7))):
        rw, rh = int(rng.uniform(0.08, 0.3) * w), int(rng.uniform(0.08, 0.4) * h)
        x0, y0 = int(rng.integers(0, max(1, w - rw))), int(rng.integers(0, max(1, h - rh)))
        g = _smooth(rng, rh, rw, rng.uniform(2, 6))
        c = np.stack([_hsv(rng.uniform(0, 1), rng.uniform(0.05, 0.3), rng.uniform(0.2, 0.5)),
                      _hsv(rng.uniform(0, 1), rng.uniform(0.05, 0.3), rng.uniform(0.5, 0.8))])  # fmt: skip
        img[y0 : y0 + rh, x0 : x0 + rw] = c[0] + g[..., None] * (c[1] - c[0])
    return img


# ------------------------------------------------------------------------------------------ trajectories


def _track(rng: np.random.Generator, T: int, c: tuple[float, float], tc: float, angle: float, speed: float,
           wiggle: float) -> np.ndarray:  # fmt: skip
    """(T, 2) centres on a smoothly wiggling line that passes through `c` exactly at time `tc`."""
    t = np.arange(T, dtype=np.float64) - tc
    d = np.array([np.cos(angle), np.sin(angle)])
    n = np.array([-d[1], d[0]])
    amp, om = wiggle * rng.uniform(-1, 1), rng.uniform(0.15, 0.4)
    return np.asarray(c)[None] + d[None] * speed * t[:, None] + n[None] * amp * np.sin(om * t)[:, None]


def _scale_curve(rng: np.random.Generator, T: int, lo: float = 0.85, hi: float = 1.2) -> np.ndarray:
    t = np.arange(T) / max(T - 1, 1)
    s = (1 + rng.uniform(-0.3, 0.3) * (t - 0.5)) * (
        1 + 0.04 * np.sin(rng.uniform(0.2, 0.5) * np.arange(T) + rng.uniform(0, 6.3))
    )
    return np.clip(s, lo, hi)


def _fit(tracks: list[np.ndarray], half: list[tuple[float, float]], W: int, H: int, axes: str = "xy") -> None:
    """In place: one affine map per axis, shared by all tracks (so crossings survive), keeps every centre
    at least its half-extent (+1 px) inside the frame."""
    for ax, size in ((0, W), (1, H)):
        if "xy"[ax] not in axes:
            continue
        m = max(h[ax] for h in half) + 1.0
        lo, hi = m, size - 1 - m
        if hi <= lo:
            lo = hi = (size - 1) / 2
        pmin = min(float(tr[:, ax].min()) for tr in tracks)
        pmax = max(float(tr[:, ax].max()) for tr in tracks)
        if pmax - pmin > hi - lo:
            k = (hi - lo) / max(pmax - pmin, 1e-9)
            for tr in tracks:
                tr[:, ax] = lo + (tr[:, ax] - pmin) * k
        else:
            shift = max(lo - pmin, 0.0) + min(hi - pmax, 0.0)
            for tr in tracks:
                tr[:, ax] += shift


# -------------------------------------------------------------------------------------------- entities


@dataclass
class _Blob:
    """A textured, slowly deforming super-ellipse ("object"), or a pedestrian silhouette when `ped`."""

    tex: np.ndarray
    w0: float
    h0: float
    pos: np.ndarray  # (T, 2) centres
    scale: np.ndarray  # (T,)
    depth: float
    p: float = 2.5
    wob: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))  # rows: k, amplitude, phase, speed
    ped: bool = False
    lower: np.ndarray | None = None  # pedestrian trousers texture
    skin: np.ndarray | None = None
    hair: np.ndarray | None = None
    step: tuple[float, float] = (0.0, 0.0)  # pedestrian leg-swing phase, angular speed
    figure: bool = False

    def render(self, t: int) -> tuple[int, int, np.ndarray, np.ndarray]:
        w = max(4, int(round(self.w0 * self.scale[t])))
        h = max(4, int(round(self.h0 * self.scale[t])))
        x0 = int(round(self.pos[t, 0] - w / 2))
        y0 = int(round(self.pos[t, 1] - h / 2))
        u = ((np.arange(w, dtype=np.float32) + 0.5) / w * 2 - 1)[None, :]
        v = ((np.arange(h, dtype=np.float32) + 0.5) / h * 2 - 1)[:, None]
        if self.ped:
            return x0, y0, *self._ped(t, u, (v + 1) / 2, w, h)
        r = (np.abs(u) ** self.p + np.abs(v) ** self.p) ** (1 / self.p)
        th = np.arctan2(v, u)
        R = np.ones_like(r)
        for k, a, ph, sp in self.wob:
            R -= a * (0.5 + 0.5 * np.cos(k * th + ph + sp * t))
        mask = r <= R
        rgb = (
            cv2.resize(self.tex, (w, h), interpolation=cv2.INTER_AREA)
            * (1.08 - 0.2 * np.minimum(r, 1) ** 2)[..., None]
        )
        return x0, y0, mask, rgb

    def _ped(self, t: int, u: np.ndarray, v: np.ndarray, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
        head = (u / 0.34) ** 2 + ((v - 0.1) / 0.1) ** 2 <= 1
        torso = (np.abs(u) / 0.98) ** 4 + (np.abs(v - 0.41) / 0.24) ** 4 <= 1
        sw = 0.22 * np.sin(self.step[0] + self.step[1] * t)
        lv = np.clip((v - 0.6) / 0.4, 0, 1)
        legs = (v >= 0.58) & ((np.abs(u + 0.42 - sw * lv) <= 0.3) | (np.abs(u - 0.42 + sw * lv) <= 0.3))
        mask = head | torso | legs
        up = cv2.resize(self.tex, (w, h), interpolation=cv2.INTER_AREA)
        lo = cv2.resize(self.lower, (w, h), interpolation=cv2.INTER_AREA)
        rgb = np.where((v < 0.6)[..., None], up, lo)
        rgb = np.where(head[..., None], self.skin, rgb)
        rgb = np.where((head & (v < 0.07))[..., None], self.hair, rgb)
        return mask, rgb.astype(np.float32)


_SHIRT, _PANTS, _SKIN, _HAIR, _SHOE = 1, 2, 3, 4, 5


@dataclass
class _Figure:
    """An articulated human puppet facing the camera (its right side is on the image left)."""

    shirt: np.ndarray
    pants: np.ndarray
    skin: np.ndarray
    hair: np.ndarray
    shoe: np.ndarray
    pos: np.ndarray  # (T, 2) pelvis
    height: np.ndarray  # (T,) figure height in px
    depth: float
    action: str = "walk"  # walk | wave | jump
    phase: float = 0.0
    omega: float = 0.4
    amp_leg: float = 0.35
    amp_arm: float = 0.4
    figure: bool = True

    def joints(self, t: int) -> np.ndarray:
        Hf = float(self.height[t])
        px, py = self.pos[t]
        ph = self.phase + self.omega * t
        s = np.sin(ph)
        lean = 0.0
        if self.action == "walk":
            a_rh, a_lh = -0.06 + self.amp_leg * s, 0.06 - self.amp_leg * s
            a_rk, a_lk = a_rh - 0.3 * max(0.0, s), a_lh - 0.3 * max(0.0, -s)
            a_rs, a_ls = -0.2 - self.amp_arm * s, 0.2 + self.amp_arm * s
            a_re, a_le = a_rs + 0.35, a_ls + 0.35
        elif self.action == "wave":
            a_rh, a_lh = -0.1 + 0.03 * s, 0.1 - 0.03 * s
            a_rk, a_lk = a_rh, a_lh
            a_rs = -(2.3 + 0.35 * s)
            a_re = a_rs - 0.4 - 0.7 * np.sin(2 * ph)
            a_ls, a_le = 0.22 + 0.06 * s, 0.3 + 0.1 * s
            lean = 0.04 * s
        else:  # jump: hop with bent knees and arms swinging up
            up = max(0.0, s)
            py = py - 0.18 * Hf * up
            bend = 0.45 * (1 - up)
            a_rh, a_lh = -0.1 - bend, 0.1 + bend
            a_rk, a_lk = a_rh + 2 * bend, a_lh - 2 * bend
            a_rs, a_ls = -(0.3 + 2.2 * up), 0.3 + 2.2 * up
            a_re, a_le = a_rs - 0.2, a_ls + 0.2

        def limb(p, a, L):
            return p + L * Hf * np.array([np.sin(a), np.cos(a)])

        J = np.zeros((len(_J), 2))
        pel = np.array([px, py])
        neck = pel + Hf * np.array([lean, -0.30])
        head = neck + Hf * np.array([lean * 0.5, -0.105])
        J[_J["pelvis"]] = pel
        J[_J["belly"]] = pel + 0.35 * (neck - pel)
        J[_J["neck"]] = neck
        J[_J["head"]] = head
        J[_J["head_top"]] = head + Hf * np.array([0, -0.075])
        J[_J["chin"]] = head + Hf * np.array([0, 0.07])
        J[_J["nose"]] = head + Hf * np.array([0, 0.015])
        J[_J["r_ear"]] = head + Hf * np.array([-0.065, 0.0])
        J[_J["l_ear"]] = head + Hf * np.array([0.065, 0.0])
        rs, ls = neck + Hf * np.array([-0.11, 0.025]), neck + Hf * np.array([0.11, 0.025])
        rh, lh = pel + Hf * np.array([-0.065, 0.0]), pel + Hf * np.array([0.065, 0.0])
        J[_J["r_sho"]], J[_J["l_sho"]], J[_J["r_hip"]], J[_J["l_hip"]] = rs, ls, rh, lh
        J[_J["r_elb"]] = limb(rs, a_rs, 0.15)
        J[_J["l_elb"]] = limb(ls, a_ls, 0.15)
        J[_J["r_wri"]] = limb(J[_J["r_elb"]], a_re, 0.14)
        J[_J["l_wri"]] = limb(J[_J["l_elb"]], a_le, 0.14)
        J[_J["r_knee"]] = limb(rh, a_rh, 0.22)
        J[_J["l_knee"]] = limb(lh, a_lh, 0.22)
        J[_J["r_ank"]] = limb(J[_J["r_knee"]], a_rk, 0.21)
        J[_J["l_ank"]] = limb(J[_J["l_knee"]], a_lk, 0.21)
        return J

    def render(self, t: int) -> tuple[int, int, np.ndarray, np.ndarray]:
        J = self.joints(t)
        Hf = float(self.height[t])
        pad = 0.09 * Hf + 2
        X0, Y0 = int(np.floor(J[:, 0].min() - pad)), int(np.floor(J[:, 1].min() - pad))
        X1, Y1 = int(np.ceil(J[:, 0].max() + pad)) + 1, int(np.ceil(J[:, 1].max() + pad)) + 1
        w, h = X1 - X0, Y1 - Y0
        xs = np.arange(X0, X1, dtype=np.float32)[None, :]
        ys = np.arange(Y0, Y1, dtype=np.float32)[:, None]
        lab = np.zeros((h, w), np.uint8)

        def r(frac: float) -> float:
            return max(1.0, frac * Hf)

        def seg(a, b, rad, val):  # thick segment a-b, evaluated on its own window of the canvas
            c0 = max(int(np.floor(min(a[0], b[0]) - rad)) - X0, 0)
            c1 = min(int(np.ceil(max(a[0], b[0]) + rad)) + 1 - X0, w)
            r0 = max(int(np.floor(min(a[1], b[1]) - rad)) - Y0, 0)
            r1 = min(int(np.ceil(max(a[1], b[1]) + rad)) + 1 - Y0, h)
            if c0 >= c1 or r0 >= r1:
                return
            x, y = xs[:, c0:c1] - a[0], ys[r0:r1] - a[1]
            d0, d1 = b[0] - a[0], b[1] - a[1]
            tt = np.clip((x * d0 + y * d1) / max(d0 * d0 + d1 * d1, 1e-6), 0, 1)
            win = lab[r0:r1, c0:c1]
            win[(x - tt * d0) ** 2 + (y - tt * d1) ** 2 <= rad * rad] = val

        def g(n):
            return J[_J[n]]

        for side in ("r", "l"):
            seg(g(f"{side}_hip"), g(f"{side}_knee"), r(0.048), _PANTS)
            seg(g(f"{side}_knee"), g(f"{side}_ank"), r(0.04), _PANTS)
            seg(g(f"{side}_ank"), g(f"{side}_ank") + Hf * np.array([0.0, 0.03]), r(0.035), _SHOE)
        # torso: convex quad shoulders/hips, rounded by a thick neck-pelvis segment
        quad = np.stack([g("r_sho"), g("l_sho"), g("l_hip") + [0.015 * Hf, 0], g("r_hip") - [0.015 * Hf, 0]])
        cross = []
        for i in range(4):
            a, b = quad[i], quad[(i + 1) % 4]
            cross.append((b[0] - a[0]) * (ys - a[1]) - (b[1] - a[1]) * (xs - a[0]))
        cr = np.stack(np.broadcast_arrays(*cross))
        lab[(cr >= 0).all(0) | (cr <= 0).all(0)] = _SHIRT
        seg(g("neck") + [0, 0.04 * Hf], g("pelvis"), r(0.09), _SHIRT)
        seg(g("neck"), g("chin"), r(0.03), _SKIN)
        hd = g("head")
        rh = r(0.075)
        inhead = (xs - hd[0]) ** 2 + ((ys - hd[1]) / 1.1) ** 2 <= rh * rh
        lab[inhead] = _SKIN
        lab[inhead & (ys < hd[1] - 0.3 * rh)] = _HAIR
        for side in ("r", "l"):
            seg(g(f"{side}_sho"), g(f"{side}_elb"), r(0.036), _SHIRT)
            seg(g(f"{side}_elb"), g(f"{side}_wri"), r(0.03), _SKIN)
            seg(g(f"{side}_wri"), g(f"{side}_wri"), r(0.038), _SKIN)
        mask = lab > 0
        # clothes textures are attached to the body: a square of side 1.5·height centred above the pelvis
        S = self.shirt.shape[0]
        k = 1.5 * Hf / S
        cx, cy = self.pos[t, 0] - X0, self.pos[t, 1] - 0.1 * Hf - Y0
        M = np.float32([[k, 0, cx - k * S / 2], [0, k, cy - k * S / 2]])
        rgb = np.zeros((h, w, 3), np.float32)
        for val, src in ((_SHIRT, self.shirt), (_PANTS, self.pants)):
            warped = cv2.warpAffine(src, M, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            sel = lab == val
            rgb[sel] = warped[sel]
        rgb[lab == _SKIN] = self.skin
        rgb[lab == _HAIR] = self.hair
        rgb[lab == _SHOE] = self.shoe
        return X0, Y0, mask, rgb


# ---------------------------------------------------------------------------------------------- scenes


@dataclass
class _Frame:
    image: np.ndarray  # (H, W, 3) uint8 RGB
    amodal: list[np.ndarray]  # full-frame bool masks (clipped to the frame) of every entity
    visible: list[np.ndarray]  # the same minus nearer entities (disjoint)
    box: list[tuple[int, int, int, int]]  # unclipped amodal bounding box (x0, y0, w, h), 0-based
    area: list[int]  # unclipped amodal mask area
    joints: list[np.ndarray | None]  # internal joints of figures
    depth: list[float]  # larger = nearer the camera


class _Scene:
    def __init__(self, rng: np.random.Generator, W: int, H: int, T: int, pan: bool | None = None):
        self.W, self.H, self.T = W, H, T
        if pan is None:
            pan = bool(rng.random() < 0.7)
        v = rng.uniform(-0.8, 0.8, size=2) if pan else np.zeros(2)
        off = np.round(np.arange(T)[:, None] * v[None]).astype(int)
        off -= off.min(0)
        self.off = off
        self.bg = _background(rng, H + int(off[:, 1].max()) + 1, W + int(off[:, 0].max()) + 1)
        self.noise_seed = int(rng.integers(2**31))
        self.entities: list[Any] = []

    def render(self) -> Iterator[_Frame]:
        W, H = self.W, self.H
        nrng = np.random.default_rng(self.noise_seed)
        order = sorted(range(len(self.entities)), key=lambda i: self.entities[i].depth)  # far → near
        for t in range(self.T):
            ox, oy = self.off[t]
            img = self.bg[oy : oy + H, ox : ox + W].copy()
            amodal, boxes, areas, joints = [], [], [], []
            parts = []
            for e in self.entities:
                x0, y0, m, rgb = e.render(t)
                rows, cols = np.flatnonzero(m.any(1)), np.flatnonzero(m.any(0))
                boxes.append(
                    (
                        x0 + int(cols[0]),
                        y0 + int(rows[0]),
                        int(cols[-1] - cols[0] + 1),
                        int(rows[-1] - rows[0] + 1),
                    )
                )
                areas.append(int(m.sum()))
                full = np.zeros((H, W), bool)
                fx0, fy0, fx1, fy1 = max(x0, 0), max(y0, 0), min(x0 + m.shape[1], W), min(y0 + m.shape[0], H)
                sl = None
                if fx0 < fx1 and fy0 < fy1:
                    sl = (
                        slice(fy0, fy1),
                        slice(fx0, fx1),
                        slice(fy0 - y0, fy1 - y0),
                        slice(fx0 - x0, fx1 - x0),
                    )
                    full[sl[0], sl[1]] = m[sl[2], sl[3]]
                amodal.append(full)
                parts.append((sl, m, rgb))
                joints.append(e.joints(t) if e.figure else None)
            for i in order:
                sl, m, rgb = parts[i]
                if sl is None:
                    continue
                loc = m[sl[2], sl[3]]
                dst = img[sl[0], sl[1]]
                dst[loc] = rgb[sl[2], sl[3]][loc]
            visible = [None] * len(self.entities)
            covered = np.zeros((H, W), bool)
            for i in reversed(order):
                visible[i] = amodal[i] & ~covered
                covered |= amodal[i]
            img += nrng.standard_normal(img.shape, dtype=np.float32) * 2.0
            img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
            yield _Frame(img, amodal, visible, boxes, areas, joints, [e.depth for e in self.entities])


def _blob(rng, fam: _Family, tint=(0.0, 0.0), w0=30.0, h0=30.0, pos=None, scale=None, depth=0.0) -> _Blob:
    nw = int(rng.integers(1, 4))
    wob = np.stack([rng.integers(2, 6, nw).astype(float), rng.uniform(0.03, 0.1, nw), rng.uniform(0, 6.3, nw),
                    rng.uniform(-0.15, 0.15, nw)], 1)  # fmt: skip
    return _Blob(fam.texture(*tint), w0, h0, pos, scale, depth, p=float(rng.uniform(1.8, 3.5)), wob=wob)


def _skin(rng) -> np.ndarray:
    return _hsv(rng.uniform(0.02, 0.09), rng.uniform(0.3, 0.6), rng.uniform(0.45, 0.95))


def _hair(rng) -> np.ndarray:
    return _hsv(rng.uniform(0.0, 0.12), rng.uniform(0.2, 0.7), rng.uniform(0.08, 0.35))


def _pedestrian(rng, upper: _Family, lower: _Family, tint, w0, h0, pos, scale, depth, skin, hair) -> _Blob:
    return _Blob(upper.texture(*tint), w0, h0, pos, scale, depth, ped=True, lower=lower.texture(tint[0] * 0.5, tint[1]),
                 skin=skin, hair=hair, step=(float(rng.uniform(0, 6.3)), float(rng.uniform(0.5, 0.9))))  # fmt: skip


def _figure(
    rng, shirt: _Family, pants: _Family, tint, pos, height, depth, action, skin=None, hair=None
) -> _Figure:
    return _Figure(
        shirt.texture(*tint), pants.texture(tint[0] * 0.5, tint[1]), _skin(rng) if skin is None else skin,
        _hair(rng) if hair is None else hair, _hsv(rng.uniform(0, 1), 0.3, rng.uniform(0.1, 0.3)), pos, height, depth,
        action=action, phase=float(rng.uniform(0, 6.3)), omega=float(rng.uniform(0.3, 0.55)),
        amp_leg=float(rng.uniform(0.25, 0.45)), amp_arm=float(rng.uniform(0.25, 0.5)),
    )  # fmt: skip


def _crossing(rng, T, c, tc, angle, speed, wiggle, offset) -> tuple[np.ndarray, np.ndarray]:
    """Two tracks through `c` (the second through c + offset) at time tc, moving in roughly opposite directions."""
    a2 = angle + np.pi + rng.uniform(-0.6, 0.6)
    s2 = speed * rng.uniform(0.7, 1.3)
    return (_track(rng, T, c, tc, angle, speed, wiggle),
            _track(rng, T, (c[0] + offset[0], c[1] + offset[1]), tc, a2, s2, wiggle))  # fmt: skip


def _sot_scene(rng, W, H, T) -> tuple[_Scene, dict]:
    sc = _Scene(rng, W, H, T)
    fam = _new_family(rng)
    w0 = rng.uniform(0.14, 0.22) * W
    h0 = min(w0 * rng.uniform(0.8, 1.6), 0.4 * H)
    c = (rng.uniform(0.35, 0.65) * W, rng.uniform(0.35, 0.65) * H)
    tc = rng.uniform(0.35, 0.65) * (T - 1)
    speed = rng.uniform(0.012, 0.025) * W
    off = (0.0, rng.choice([-1, 1]) * rng.uniform(0.1, 0.35) * h0)
    tr = list(_crossing(rng, T, c, tc, rng.uniform(-np.pi, np.pi), speed, 0.04 * W, off))
    sizes = [(w0, h0), (w0 * rng.uniform(0.9, 1.1), h0 * rng.uniform(0.9, 1.1))]
    if rng.random() < 0.6:  # an unrelated object
        other = _new_family(rng)
        tr.append(_track(rng, T, (rng.uniform(0.2, 0.8) * W, rng.uniform(0.2, 0.8) * H), rng.uniform(0, T - 1),
                         rng.uniform(-np.pi, np.pi), speed * rng.uniform(0.5, 1), 0.05 * W))  # fmt: skip
        sizes.append((rng.uniform(0.12, 0.2) * W, rng.uniform(0.15, 0.3) * H))
    scales = [_scale_curve(rng, T) for _ in tr]
    _fit(tr, [(s[0] * sc_.max() / 2, s[1] * sc_.max() / 2) for s, sc_ in zip(sizes, scales)], W, H)
    dep = rng.permutation(len(tr)).astype(float)
    tint = _similar_tint(rng)
    sc.entities = [_blob(rng, fam, (0.0, 0.0), *sizes[0], tr[0], scales[0], dep[0]),
                   _blob(rng, fam, tint, *sizes[1], tr[1], scales[1], dep[1])]  # fmt: skip
    if len(tr) > 2:
        sc.entities.append(_blob(rng, other, (0.0, 0.0), *sizes[2], tr[2], scales[2], dep[2]))
    return sc, {"target": 0, "similar_pairs": [[0, 1]]}


def _vos_scene(rng, W, H, T, n_obj) -> tuple[_Scene, dict]:
    sc = _Scene(rng, W, H, T)
    fam = _new_family(rng)
    c = (rng.uniform(0.4, 0.6) * W, rng.uniform(0.4, 0.6) * H)
    tc = rng.uniform(0.4, 0.7) * (T - 1)
    speed = rng.uniform(0.015, 0.03) * W
    sizes = [(rng.uniform(0.18, 0.3) * W, rng.uniform(0.25, 0.4) * H) for _ in range(n_obj)]
    sizes[1] = (sizes[0][0] * rng.uniform(0.85, 1.15), sizes[0][1] * rng.uniform(0.85, 1.15))
    off = (0.0, rng.choice([-1, 1]) * rng.uniform(0.1, 0.3) * sizes[0][1])
    tr = list(_crossing(rng, T, c, tc, rng.uniform(-np.pi, np.pi), speed, 0.04 * W, off))
    fams = [fam, fam]
    for _ in range(n_obj - 2):
        fams.append(_new_family(rng))
        tr.append(_track(rng, T, (rng.uniform(0.2, 0.8) * W, rng.uniform(0.2, 0.8) * H), rng.uniform(0, T - 1),
                         rng.uniform(-np.pi, np.pi), speed * rng.uniform(0.3, 0.8), 0.04 * W))  # fmt: skip
    scales = [_scale_curve(rng, T) for _ in tr]
    _fit(tr, [(s[0] * sc_.max() / 2, s[1] * sc_.max() / 2) for s, sc_ in zip(sizes, scales)], W, H)
    dep = rng.permutation(n_obj).astype(float)
    tints = [(0.0, 0.0), _similar_tint(rng)] + [(0.0, 0.0)] * (n_obj - 2)
    sc.entities = [
        _blob(rng, f, ti, *s, p, scl, d) for f, ti, s, p, scl, d in zip(fams, tints, sizes, tr, scales, dep)
    ]
    return sc, {"similar_pairs": [[0, 1]]}


def _pedestrian_scene(rng, W, H, T) -> tuple[_Scene, dict]:
    """MOT/MOTS: 4–6 pedestrians, ≥ 2 crossing look-alike pairs, at least one entering or leaving the frame."""
    sc = _Scene(rng, W, H, T)
    n = int(rng.integers(4, 7))
    n_pairs = 3 if (n == 6 and rng.random() < 0.5) else 2
    skins = [_skin(rng) for _ in range(n)]
    hairs = [_hair(rng) for _ in range(n)]
    specs, tracks, pairs = [], [], []

    def size():
        h0 = max(26.0, rng.uniform(0.3, 0.42) * H)
        return max(12.0, h0 * rng.uniform(0.38, 0.5)), h0

    for k in range(n_pairs):
        up, lo = _new_family(rng), _new_family(rng, val=(0.4, 0.8))
        w0, h0 = size()
        fast = k == n_pairs - 1 and n == 2 * n_pairs  # no single walker: this pair crosses the frame edges
        if k == 0:
            cx, speed = rng.uniform(0.35, 0.65), rng.uniform(0.02, 0.035)
        elif fast:
            cx, speed = rng.uniform(0.25, 0.4) + rng.choice([0.0, 0.35]), rng.uniform(0.045, 0.06)
        else:
            cx, speed = rng.uniform(0.25, 0.75), rng.uniform(0.03, 0.05)
        c = (cx * W, rng.uniform(0.35, 0.65) * H)
        tc = rng.uniform(0.3, 0.7) * (T - 1)
        ang = rng.uniform(-0.25, 0.25) + (np.pi if rng.random() < 0.5 else 0.0)
        off = (0.0, rng.choice([-1, 1]) * rng.uniform(0.08, 0.3) * h0)
        tracks += list(_crossing(rng, T, c, tc, ang, speed * W, 0.02 * H, off))
        tint = _similar_tint(rng)
        specs += [(up, lo, (0.0, 0.0), w0, h0, skins[2 * k], hairs[2 * k]),
                  (up, lo, tint, w0 * rng.uniform(0.9, 1.1), h0 * rng.uniform(0.92, 1.08), skins[2 * k], hairs[2 * k])]  # fmt: skip
        pairs.append([2 * k, 2 * k + 1])
    for k in range(2 * n_pairs, n):
        up, lo = _new_family(rng), _new_family(rng, val=(0.4, 0.8))
        w0, h0 = size()
        right = bool(rng.random() < 0.5)
        ang = rng.uniform(-0.3, 0.3) + (np.pi if right else 0.0)  # walking towards the right (ang≈0) or left
        if k == 2 * n_pairs:  # at an image side at time tc: entering or leaving there
            side_right = bool(rng.random() < 0.5)
            c = ((W - 1 + 0.3 * w0) if side_right else -0.3 * w0, rng.uniform(0.3, 0.7) * H)
            tc, speed = rng.uniform(0.25, 0.75) * (T - 1), rng.uniform(0.03, 0.05) * W
        else:
            c = (rng.uniform(0.1, 0.9) * W, rng.uniform(0.3, 0.7) * H)
            tc, speed = rng.uniform(0, T - 1), rng.uniform(0.0, 0.035) * W
        tracks.append(_track(rng, T, c, tc, ang, speed, 0.02 * H))
        specs.append((up, lo, (0.0, 0.0), w0, h0, skins[k], hairs[k]))
    scales = [_scale_curve(rng, T) for _ in tracks]
    _fit(
        tracks,
        [(s[3] * scl.max() / 2, s[4] * scl.max() / 2) for s, scl in zip(specs, scales)],
        W,
        H,
        axes="y",
    )
    dep = rng.permutation(n).astype(float)
    sc.entities = [_pedestrian(rng, up, lo, ti, w0, h0, p, scl, d, sk, ha)
                   for (up, lo, ti, w0, h0, sk, ha), p, scl, d in zip(specs, tracks, scales, dep)]  # fmt: skip
    return sc, {"similar_pairs": pairs}


def _figure_scene(rng, W, H, T, n_fig, action_cycle=("walk",), single=False) -> tuple[_Scene, dict]:
    """Human puppets. `single` (JHMDB): one figure, kept fully in the frame, maybe a background blob."""
    sc = _Scene(rng, W, H, T)
    ents: list[Any] = []
    if single:
        hgt = rng.uniform(0.6, 0.8) * min(H, 1.1 * W) * _scale_curve(rng, T, 0.9, 1.1)
        action = action_cycle[int(rng.integers(len(action_cycle)))]
        speed = rng.uniform(0.008, 0.02) * W if action == "walk" else rng.uniform(0.0, 0.006) * W
        tr = [_track(rng, T, (W / 2, H * 0.55), (T - 1) / 2, rng.choice([0.0, np.pi]) + rng.uniform(-0.1, 0.1), speed,
                     0.01 * H)]  # fmt: skip
        half = [(0.42 * hgt.max(), 0.75 * hgt.max())]
        blob = rng.random() < 0.5
        if blob:
            bs = (rng.uniform(0.15, 0.25) * W, rng.uniform(0.15, 0.3) * H)
            tr.append(_track(rng, T, (rng.uniform(0.2, 0.8) * W, rng.uniform(0.2, 0.8) * H), rng.uniform(0, T - 1),
                             rng.uniform(-np.pi, np.pi), rng.uniform(0.01, 0.02) * W, 0.03 * W))  # fmt: skip
        _fit(tr[:1], half, W, H)
        # the pelvis sits 0.3·h below the figure's centre: shift so head and feet both stay inside
        tr[0][:, 1] = np.clip(tr[0][:, 1], 0.68 * hgt + 2, H - 1 - 0.52 * hgt - 2)
        tr[0][:, 0] = np.clip(tr[0][:, 0], 0.45 * hgt + 2, W - 1 - 0.45 * hgt - 2)
        ents.append(
            _figure(
                rng, _new_family(rng), _new_family(rng, val=(0.35, 0.8)), (0.0, 0.0), tr[0], hgt, 1.0, action
            )
        )
        if blob:
            _fit(tr[1:], [(bs[0] / 2, bs[1] / 2)], W, H)
            ents.append(_blob(rng, _new_family(rng), (0.0, 0.0), *bs, tr[1], _scale_curve(rng, T), 0.0))
        sc.entities = ents
        return sc, {"similar_pairs": []}
    shirt, pants = _new_family(rng), _new_family(rng, val=(0.35, 0.8))
    skin, hair = _skin(rng), _hair(rng)
    hgt = [rng.uniform(0.5, 0.72) * min(H, 1.2 * W) for _ in range(n_fig)]
    hgt[1] = hgt[0] * rng.uniform(0.92, 1.08)
    c = (rng.uniform(0.35, 0.65) * W, 0.0)
    tc = rng.uniform(0.3, 0.7) * (T - 1)
    ang = rng.uniform(-0.15, 0.15) + (np.pi if rng.random() < 0.5 else 0.0)
    tr = list(
        _crossing(
            rng, T, c, tc, ang, rng.uniform(0.015, 0.03) * W, 0.01 * H, (0.0, rng.uniform(-0.06, 0.06) * H)
        )
    )
    for _ in range(n_fig - 2):
        a = rng.uniform(-0.2, 0.2) + (np.pi if rng.random() < 0.5 else 0.0)
        tr.append(_track(rng, T, (rng.uniform(0.15, 0.85) * W, rng.uniform(-0.1, 0.1) * H), rng.uniform(0, T - 1), a,
                         rng.uniform(0.0, 0.025) * W, 0.01 * H))  # fmt: skip
    scales = [_scale_curve(rng, T, 0.9, 1.12) for _ in tr]
    for i in range(n_fig):  # pelvis height: head and feet inside the frame (per figure), shared crossing kept
        hmax = hgt[i] * scales[i].max()
        lo, hi = 0.68 * hmax + 2, H - 1 - 0.52 * hmax - 2
        base = lo + (hi - lo) * (0.5 if i < 2 else rng.uniform(0.2, 0.8))
        tr[i][:, 1] = np.clip(tr[i][:, 1] + base, lo, hi)
    tint = _similar_tint(rng)
    dep = rng.permutation(n_fig).astype(float)
    for i in range(n_fig):
        if i < 2:
            ents.append(_figure(rng, shirt, pants, (0.0, 0.0) if i == 0 else tint, tr[i], hgt[i] * scales[i], dep[i],
                                "walk", skin, hair))  # fmt: skip
        else:
            ents.append(_figure(rng, _new_family(rng), _new_family(rng, val=(0.35, 0.8)), (0.0, 0.0), tr[i],
                                hgt[i] * scales[i], dep[i], "walk"))  # fmt: skip
    sc.entities = ents
    return sc, {"similar_pairs": [[0, 1]]}


def _render_checked(make, rng, check, attempts: int = 30) -> tuple[list[_Frame], dict]:
    """Draw scenes from `rng` until `check(frames)` holds (deterministic: the same rng is consumed)."""
    frames, info = [], {}
    for _ in range(attempts):
        sc, info = make(rng)
        frames = list(sc.render())
        if check(frames):
            return frames, info
    log.debug("demo: constraint not met after %d attempts; keeping the last draw", attempts)
    return frames, info


_ACTIONS = ("walk", "wave", "jump")


def _inside(b, W: int, H: int) -> bool:
    return 0 <= b[0] and 0 <= b[1] and b[0] + b[2] <= W and b[1] + b[3] <= H


def _task_frames(
    task: str, rng: np.random.Generator, W: int, H: int, T: int, i: int
) -> tuple[list[_Frame], dict]:
    """Render sequence `i` of `task` from `rng` (the writers' only source of scenes; tests re-render with it)."""
    if task == "sot":

        def ok(fr):  # target well visible in frame 1, the look-alike pair's boxes overlap at some frame
            return fr[0].visible[0].sum() > 0.6 * fr[0].area[0] and any(
                _overlap(f.box[0], f.box[1]) for f in fr
            )

        return _render_checked(lambda r: _sot_scene(r, W, H, T), rng, ok)
    if task == "vos":
        n_obj = int(rng.integers(2, 4))

        def ok(fr):  # every object well visible in frame 0, the pair's boxes overlap at some frame
            f0 = fr[0]
            return all(f0.visible[k].sum() >= max(20, 0.4 * f0.area[k]) for k in range(n_obj)) and any(
                _overlap(f.box[0], f.box[1]) for f in fr
            )

        return _render_checked(lambda r: _vos_scene(r, W, H, T, n_obj), rng, ok)
    if task == "poseprop":
        act = _ACTIONS[i % len(_ACTIONS)]

        def ok(fr):  # all joints inside the frame in every frame
            J = np.stack([f.joints[0] for f in fr])
            return bool((J >= 0).all() and (J[..., 0] <= W - 1).all() and (J[..., 1] <= H - 1).all())

        return _render_checked(lambda r: _figure_scene(r, W, H, T, 1, (act,), single=True), rng, ok)
    if task in ("mot", "mots"):

        def ok(fr):  # everybody visible in ≥ 3 frames, somebody enters or leaves
            n_obj = len(fr[0].box)
            partial = any(not _inside(b, W, H) for f in fr for b in f.box)
            return min(sum(f.visible[k].any() for f in fr) for k in range(n_obj)) >= 3 and partial

        return _render_checked(lambda r: _pedestrian_scene(r, W, H, T), rng, ok)
    if task == "posetrack":
        n_fig = int(rng.integers(2, 5))

        def ok(fr):  # everybody clearly visible in ≥ 3 frames, the pair's boxes overlap at some frame
            return all(sum(f.visible[k].sum() > 30 for f in fr) >= 3 for k in range(n_fig)) and any(
                _overlap(f.box[0], f.box[1]) for f in fr
            )

        return _render_checked(lambda r: _figure_scene(r, W, H, T, n_fig), rng, ok)
    raise ValueError(f"unknown demo task {task!r}")


# --------------------------------------------------------------------------------------------- writers


def _imwrite(path: Path, rgb: np.ndarray, params=_JPEG) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1]), params):
        raise OSError(f"could not write {path}")


def _seqinfo(name: str, T: int, W: int, H: int) -> str:
    return f"[Sequence]\nname={name}\nimDir=img1\nframeRate=30\nseqLength={T}\nimWidth={W}\nimHeight={H}\nimExt=.jpg\n"


def _num(v: float, nd: int = 2) -> str:
    s = f"{v:.{nd}f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def _write_sot(root: Path, rngs, n, T, W, H) -> dict:
    names, details = [], {}
    for i in range(n):
        name = f"Demo{i + 1:02d}"
        rng = rngs(i)
        frames, info = _task_frames("sot", rng, W, H, T, i)
        seq = root / name
        sep = "\t" if i == min(1, n - 1) else ","
        lines = []
        for t, f in enumerate(frames):
            _imwrite(seq / "img" / f"{t + 1:04d}.jpg", f.image)
            x, y, w, h = f.box[0]
            lines.append(sep.join(str(v) for v in (x + 1, y + 1, w, h)))
        (seq / "groundtruth_rect.txt").write_text("\n".join(lines) + "\n")
        names.append(name)
        details[name] = {"separator": "tab" if sep == "\t" else "comma", "num_objects": len(frames[0].box),
                         "look_alike_distractors": 1}  # fmt: skip
    return {"sequences": names, "details": details}


def _overlap(a, b) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _write_vos(root: Path, rngs, n, T, W, H) -> dict:
    from PIL import Image

    pal = davis_palette().reshape(-1).tolist()
    names, details = [], {}
    for i in range(n):
        name = f"demo-{i + 1:02d}"
        frames, info = _task_frames("vos", rngs(i), W, H, T, i)
        n_obj = len(frames[0].box)
        ids = [1, 3, 4][:n_obj] if i == min(1, n - 1) and n > 1 else list(range(1, n_obj + 1))
        for t, f in enumerate(frames):
            _imwrite(root / "JPEGImages" / "480p" / name / f"{t:05d}.jpg", f.image)
            lab = np.zeros((H, W), np.uint8)
            for k, oid in enumerate(ids):
                lab[f.visible[k]] = oid
            p = root / "Annotations" / "480p" / name / f"{t:05d}.png"
            p.parent.mkdir(parents=True, exist_ok=True)
            im = Image.fromarray(lab)
            im.putpalette(pal)
            im.save(p, format="PNG")
        names.append(name)
        details[name] = {
            "object_ids": ids,
            "similar_pairs": [[ids[a], ids[b]] for a, b in info["similar_pairs"]],
        }
    (root / "ImageSets" / "2017").mkdir(parents=True, exist_ok=True)
    (root / "ImageSets" / "2017" / "val.txt").write_text("".join(f"{s}\n" for s in names))
    return {"sequences": names, "details": details}


def _savemat_bytes(d: dict) -> bytes:
    """scipy.io.savemat with a fixed header text (the stock header holds the creation time)."""
    from scipy.io import savemat

    buf = io.BytesIO()
    savemat(buf, d, format="5", do_compression=False, oned_as="row")
    b = bytearray(buf.getvalue())
    b[:116] = b"MATLAB 5.0 MAT-file, Platform: unitrack demo generator".ljust(116, b" ")
    return bytes(b)


def _write_poseprop(root: Path, rngs, n, T, W, H) -> dict:
    names, details, split = [], {}, []
    for i in range(n):
        act = _ACTIONS[i % len(_ACTIONS)]
        frames, _ = _task_frames("poseprop", rngs(i), W, H, T, i)
        name = f"demo_{act}_f_cm_np1_fr_med_{i}"
        for t, f in enumerate(frames):
            _imwrite(root / "Frames" / name / f"{t + 1:05d}.png", f.image, _PNG)
        J = np.stack([f.joints[0][_JHMDB_FROM_INTERNAL] for f in frames], -1)  # (15, 2, T)
        pos_img = np.ascontiguousarray(J.transpose(1, 0, 2)) + 1.0  # 2 × 15 × T, 1-based
        hgt = np.array([np.ptp(f.joints[0][:, 1]) for f in frames])
        scale = (hgt / 100.0)[None, :]
        centre = np.array([W / 2, H / 2])[:, None, None]
        pos_world = (pos_img - 1 - centre) / scale[None]
        mat = {"pos_img": pos_img, "pos_world": pos_world, "scale": scale, "viewpoint": np.array(["E"] * T)}
        mp = root / "joint_positions" / name / "joint_positions.mat"
        mp.parent.mkdir(parents=True, exist_ok=True)
        mp.write_bytes(_savemat_bytes(mat))
        split.append(f"joint_positions/{name}/joint_positions.mat Frames/{name}")
        names.append(name)
        details[name] = {"action": act, "num_frames": T}
    (root / "split.txt").write_text("".join(s + "\n" for s in split))
    return {"sequences": names, "details": details, "split_file": "split.txt"}


def _write_mot(root: Path, rngs, n, T, W, H) -> dict:
    names, details = [], {}
    for i in range(n):
        name = f"DEMO-{i + 1:02d}"
        rng = rngs(i)
        frames, info = _task_frames("mot", rng, W, H, T, i)
        orng = np.random.default_rng(rng.integers(2**63))
        seq = root / "train" / name
        gt, det = [], []
        for t, f in enumerate(frames):
            _imwrite(seq / "img1" / f"{t + 1:06d}.jpg", f.image)
            rows = []
            for k in range(len(f.box)):
                if not f.amodal[k].any():
                    continue
                x, y, w, h = f.box[k]
                vis = float(f.visible[k].sum()) / f.area[k]
                gt.append((k + 1, t + 1, f"{t + 1},{k + 1},{x + 1},{y + 1},{w},{h},1,1,{_num(vis, 5)}"))
                if vis < 0.2 or orng.random() < 0.07 + 0.3 * max(0.0, 0.6 - vis):
                    continue
                x1, y1 = max(x, 0), max(y, 0)
                x2, y2 = min(x + w, W), min(y + h, H)
                bw, bh = x2 - x1, y2 - y1
                jx, jy, jw, jh = orng.normal(0, 1, 4) * (0.04 * bw, 0.03 * bh, 0.05 * bw, 0.04 * bh)
                score = float(np.clip(0.5 + 0.42 * vis + orng.normal(0, 0.07), 0.05, 1.0))
                rows.append((x1 + jx + 1, y1 + jy + 1, bw + jw, bh + jh, score))
            for _ in range(orng.poisson(0.05 * len(f.box))):  # false positives
                bh = orng.uniform(0.25, 0.45) * H
                bw = min(bh * orng.uniform(0.35, 0.6), 0.5 * W)
                rows.append(
                    (
                        orng.uniform(0, W - bw) + 1,
                        orng.uniform(0, H - bh) + 1,
                        bw,
                        bh,
                        float(orng.uniform(0.2, 0.65)),
                    )
                )
            for j in orng.permutation(len(rows)):
                bx, by, bw, bh, s = rows[j]
                det.append(f"{t + 1},-1,{bx:.2f},{by:.2f},{bw:.2f},{bh:.2f},{s:.4f},-1,-1,-1")
        gt.sort(key=lambda r: (r[0], r[1]))
        (seq / "gt").mkdir(parents=True, exist_ok=True)
        (seq / "det").mkdir(parents=True, exist_ok=True)
        (seq / "gt" / "gt.txt").write_text("".join(r[2] + "\n" for r in gt))
        (seq / "det" / "det.txt").write_text("".join(r + "\n" for r in det))
        (seq / "seqinfo.ini").write_text(_seqinfo(name, T, W, H))
        names.append(name)
        details[name] = {"track_ids": list(range(1, len(frames[0].box) + 1)),
                         "similar_pairs": [[a + 1, b + 1] for a, b in info["similar_pairs"]]}  # fmt: skip
    (root / "seqmaps").mkdir(parents=True, exist_ok=True)
    (root / "seqmaps" / "DEMO-train.txt").write_text("name\n" + "".join(s + "\n" for s in names))
    return {"sequences": names, "details": details, "seqmap": "seqmaps/DEMO-train.txt"}


def _rle(mask: np.ndarray) -> str:
    from pycocotools import mask as mask_utils

    return mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))["counts"].decode("ascii")


def _write_mots(root: Path, rngs, n, T, W, H) -> dict:
    names, details = [], {}
    k3 = np.ones((3, 3), np.uint8)
    for i in range(n):
        name = f"DEMO-{i + 1:02d}"
        rng = rngs(i)
        frames, info = _task_frames("mots", rng, W, H, T, i)
        near_first = sorted(range(len(frames[0].depth)), key=lambda k: -frames[0].depth[k])
        orng = np.random.default_rng(rng.integers(2**63))
        seq = root / "train" / name
        gt, det = [], []
        det_id = 0
        for t, f in enumerate(frames):
            _imwrite(seq / "img1" / f"{t + 1:06d}.jpg", f.image)
            for k in range(len(f.box)):
                if f.visible[k].any():
                    gt.append(f"{t + 1} {2000 + k + 1} 2 {H} {W} {_rle(f.visible[k])}")
            covered = np.zeros((H, W), bool)
            obs = []
            for k in near_first:
                m = f.visible[k]
                if m.sum() < 15 or orng.random() < 0.08:
                    continue
                op = int(orng.integers(5))
                mu = m.astype(np.uint8)
                if op in (1, 2):
                    mu = cv2.erode(mu, k3, iterations=op)
                elif op in (3, 4):
                    mu = cv2.dilate(mu, k3, iterations=op - 2)
                mm = mu.astype(bool) & ~covered
                if mm.sum() < 10:
                    continue
                covered |= mm
                obs.append(mm)
            if orng.random() < 0.1:  # an occasional false-positive blob
                yy, xx = np.mgrid[0:H, 0:W]
                cx, cy = orng.uniform(0, W), orng.uniform(0, H)
                ax, ay = orng.uniform(4, 0.08 * W + 4), orng.uniform(6, 0.15 * H + 6)
                mm = (((xx - cx) / ax) ** 2 + ((yy - cy) / ay) ** 2 <= 1) & ~covered
                if mm.sum() >= 20:
                    obs.append(mm)
            for j in orng.permutation(len(obs)):
                det_id += 1
                det.append(f"{t + 1} {det_id} 2 {H} {W} {_rle(obs[j])}")
        (seq / "gt").mkdir(parents=True, exist_ok=True)
        (seq / "det").mkdir(parents=True, exist_ok=True)
        (seq / "gt" / "gt.txt").write_text("".join(r + "\n" for r in gt))
        (seq / "det" / "det.txt").write_text("".join(r + "\n" for r in det))
        (seq / "seqinfo.ini").write_text(_seqinfo(name, T, W, H))
        names.append(name)
        details[name] = {"object_ids": [2000 + k + 1 for k in range(len(frames[0].box))],
                         "similar_pairs": [[2001 + a, 2001 + b] for a, b in info["similar_pairs"]]}  # fmt: skip
    (root / "seqmaps").mkdir(parents=True, exist_ok=True)
    (root / "seqmaps" / "DEMO-MOTS-train.txt").write_text("name\n" + "".join(s + "\n" for s in names))
    return {"sequences": names, "details": details, "seqmap": "seqmaps/DEMO-MOTS-train.txt"}


def _posetrack_categories() -> list[dict]:
    return [{"supercategory": "person", "id": 1, "name": "person", "keypoints": list(POSETRACK_KEYPOINTS),
             "skeleton": [list(e) for e in POSETRACK_SKELETON]}]  # fmt: skip


def _r(v: float) -> float:
    return round(float(v), 2)


def _write_posetrack(root: Path, rngs, n, T, W, H) -> dict:
    names, details = [], {}
    for i in range(n):
        vid = f"{i + 1:06d}"
        name = f"{vid}_demo"
        rng = rngs(i)
        frames, info = _task_frames("posetrack", rng, W, H, T, i)
        n_fig = len(frames[0].box)
        orng = np.random.default_rng(rng.integers(2**63))
        images, anns, dets = [], [], []
        for t, f in enumerate(frames):
            fn = f"images/val/{name}/{t:06d}.jpg"
            _imwrite(root / fn, f.image)
            image_id = int(f"1{vid}{t:04d}")
            images.append({"has_no_densepose": True, "is_labeled": True, "file_name": fn, "nframes": T,
                           "frame_id": image_id, "vid_id": vid, "ignore_regions_y": [], "ignore_regions_x": [],
                           "id": image_id, "width": W, "height": H})  # fmt: skip
            det_rows = []
            for k in range(n_fig):
                Jf = f.joints[k]
                kp = Jf[_POSETRACK_FROM_INTERNAL]
                xi = np.rint(kp[:, 0]).astype(int)
                yi = np.rint(kp[:, 1]).astype(int)
                inside = (kp[:, 0] >= 0) & (kp[:, 0] <= W - 1) & (kp[:, 1] >= 0) & (kp[:, 1] <= H - 1)
                # a joint is labelled iff inside the frame and not covered by a nearer entity (ears never)
                nearer = np.zeros((H, W), bool)
                for j in range(len(f.amodal)):
                    if f.depth[j] > f.depth[k]:
                        nearer |= f.amodal[j]
                vis = inside.copy()
                vis[inside] = ~nearer[yi[inside], xi[inside]]
                vis[list(_POSETRACK_EARS)] = False
                hd, Hf = Jf[_J["head"]], np.ptp(Jf[:, 1])
                if vis.sum() > 0:
                    kps = []
                    for (x, y), v in zip(kp, vis):
                        kps += [_r(x), _r(y), 1] if v else [0, 0, 0]
                    x0, y0, w, h = f.box[k]
                    hr = max(1.0, 0.075 * Hf)
                    anns.append({"bbox_head": [int(round(hd[0] - hr)), int(round(hd[1] - 1.1 * hr)), int(round(2 * hr)),
                                               int(round(2.2 * hr))],
                                 "keypoints": kps, "track_id": k, "image_id": image_id,
                                 "bbox": [float(x0), float(y0), float(w), float(h)], "scores": [], "category_id": 1,
                                 "id": image_id * 100 + k, "iscrowd": False, "num_keypoints": int(vis.sum())})  # fmt: skip
                # observation: jittered keypoints, lower scores / larger errors where occluded
                frac = f.visible[k].sum() / max(f.area[k], 1)
                if frac < 0.25 or orng.random() < 0.08:
                    continue
                sig = np.where(vis, 0.02, 0.06) * Hf
                jit = kp + orng.normal(0, 1, kp.shape) * sig[:, None]
                jit[:, 0] = np.clip(jit[:, 0], 0, W - 1)
                jit[:, 1] = np.clip(jit[:, 1], 0, H - 1)
                sc = np.where(vis, orng.uniform(0.6, 0.97, len(kp)), orng.uniform(0.05, 0.4, len(kp)))
                sc[list(_POSETRACK_EARS)] = orng.uniform(0.2, 0.5, 2)
                x0, y0 = jit.min(0)
                x1, y1 = jit.max(0)
                det_rows.append({"bbox": [_r(x0), _r(y0), _r(x1 - x0), _r(y1 - y0)], "category_id": 1,
                                 "image_id": image_id, "keypoints": [v for (x, y), s in zip(jit, sc) for v in (_r(x), _r(y), _r(s))],
                                 "scores": [_r(s) for s in sc], "score": _r(sc.mean())})  # fmt: skip
            for j, p in enumerate(orng.permutation(len(det_rows))):
                d = det_rows[p]
                d["id"] = image_id * 100 + j
                dets.append(d)
        cats = _posetrack_categories()
        for sub, a in (("annotations", anns), ("detections", dets)):
            p = root / sub / "val" / f"{name}.json"
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(json.dumps({"categories": cats, "images": images, "annotations": a}))
        names.append(name)
        details[name] = {"track_ids": list(range(n_fig)), "similar_pairs": info["similar_pairs"]}
    return {"sequences": names, "details": details}


_WRITERS = {"sot": _write_sot, "vos": _write_vos, "poseprop": _write_poseprop, "mot": _write_mot,
            "mots": _write_mots, "posetrack": _write_posetrack}  # fmt: skip


_README = """unitrack generated demo benchmark (version {version}, seed {seed})
frames: {T} per sequence, size {W}x{H} (WxH), {n} sequence(s) per task; tasks: {tasks}

Synthetic, seeded videos: textured objects / pedestrians / human puppets on a textured, static or
slowly panning background; smooth trajectories, scale changes, depth-ordered occlusion, and pairs
of look-alike objects (same pattern, slightly different tint) whose paths cross. Regenerate with
unitrack.eval.demo.generate_demo(out, seed={seed}, num_sequences={n}, num_frames={T}, size=({W}, {H})).

otb/<Seq>/img/0001.jpg...            OTB-2015; groundtruth_rect.txt = x,y,w,h per frame (1-based x,y;
                                     comma-separated, one sequence TAB-separated as in OTB)
davis/JPEGImages/480p/<seq>/00000.jpg, davis/Annotations/480p/<seq>/00000.png (palette PNG, every frame;
                                     one sequence uses object ids 1,3[,4]), davis/ImageSets/2017/val.txt
jhmdb/Frames/<video>/00001.png...    jhmdb/joint_positions/<video>/joint_positions.mat (pos_img 2x15xT,
                                     1-based; pos_world; scale; viewpoint), jhmdb/split.txt: one line
                                     "<mat> <frame folder>" per video, paths RELATIVE to jhmdb/ (the split
                                     file's folder). Joints: {joints}
mot/train/<DEMO-NN>/img1/000001.jpg  gt/gt.txt (frame,id,x,y,w,h,1,1,visibility; 1-based; amodal boxes,
                                     may leave the frame), det/det.txt (frame,-1,x,y,w,h,score,-1,-1,-1),
                                     seqinfo.ini; mot/seqmaps/DEMO-train.txt
mots/train/<DEMO-NN>/img1/...        gt/gt.txt ("frame 2000+k 2 H W rle", disjoint visible masks),
                                     det/det.txt (same format, id = running detection index, not an
                                     identity), seqinfo.ini; mots/seqmaps/DEMO-MOTS-train.txt
posetrack/images/val/<seq>/000000.jpg, posetrack/annotations/val/<seq>.json (PoseTrack-2018 ground
                                     truth, every frame labelled, ears v=0), posetrack/detections/val/<seq>.json
                                     (same structure, [x,y,score] keypoints, "scores", no track_id)

Coordinates: pixel (row i, col j) has its centre at (x=j, y=i); PoseTrack keypoints are 0-based.
manifest.json lists the sequences of each task and, per sequence, its object ids and look-alike pairs.
"""


def _check_args(num_sequences: int, num_frames: int, size) -> tuple[int, int]:
    W, H = (int(v) for v in size)
    lo, hi = SIZE_RANGE
    if not (lo <= W <= hi and lo <= H <= hi):
        raise ValueError(f"demo size {W}x{H}: width and height must lie in [{lo}, {hi}]")
    if not FRAMES_RANGE[0] <= int(num_frames) <= FRAMES_RANGE[1]:
        raise ValueError(f"demo num_frames={num_frames}: must lie in [{FRAMES_RANGE[0]}, {FRAMES_RANGE[1]}]")
    if not 1 <= int(num_sequences) <= MAX_SEQUENCES:
        raise ValueError(f"demo num_sequences={num_sequences}: must lie in [1, {MAX_SEQUENCES}]")
    return W, H


def generate_demo(out: str | Path, seed: int = 0, tasks: Iterable[str] | None = None,
                  num_sequences: int = DEFAULT_NUM_SEQUENCES, num_frames: int = DEFAULT_NUM_FRAMES,
                  size: tuple[int, int] = DEFAULT_SIZE) -> Path:  # fmt: skip
    """Write the demo benchmark under `out` (one subfolder per task format, see TASK_SUBDIRS); returns out."""
    W, H = _check_args(num_sequences, num_frames, size)
    if tasks is None:
        wanted = list(TASKS)
    else:
        req = [tasks] if isinstance(tasks, str) else list(tasks)
        bad = [t for t in req if t not in TASK_SUBDIRS]
        if bad:
            raise ValueError(f"unknown demo task(s) {bad}; expected some of {list(TASKS)}")
        wanted = [t for t in TASKS if t in req]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    n, T = int(num_sequences), int(num_frames)
    t0 = time.perf_counter()
    manifest: dict[str, Any] = {
        "version": DEMO_VERSION, "seed": int(seed),
        "args": {"tasks": wanted, "num_sequences": n, "num_frames": T, "size": [W, H]},
        "layout": {t: TASK_SUBDIRS[t] for t in wanted}, "sequences": {}, "tasks": {},
    }  # fmt: skip
    for task in wanted:
        stream = _TASK_STREAM[task]

        def rngs(i: int, stream=stream) -> np.random.Generator:
            return np.random.default_rng([int(seed), stream, i])

        res = _WRITERS[task](out / TASK_SUBDIRS[task], rngs, n, T, W, H)
        manifest["sequences"][task] = res["sequences"]
        manifest["tasks"][task] = {"subdir": TASK_SUBDIRS[task], **res}
    (out / "README.txt").write_text(
        _README.format(
            version=DEMO_VERSION,
            seed=seed,
            T=T,
            W=W,
            H=H,
            n=n,
            tasks=", ".join(wanted),
            joints=", ".join(JHMDB_JOINTS),
        )  # fmt: skip
    )
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    log.info("demo benchmark (%s) written to %s in %.1f s", ", ".join(wanted), out, time.perf_counter() - t0)
    return out


def _demo_dir(root: str | Path | None, seed: int) -> Path:
    base = Path(root).expanduser() if root is not None else unitrack_home() / "demo"
    return base / f"{DEMO_VERSION}-seed{int(seed)}"


def _complete(path: Path) -> bool:
    try:
        return json.loads((path / "manifest.json").read_text()).get("version") == DEMO_VERSION
    except (OSError, ValueError):
        return False


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Exclusive advisory lock (POSIX); elsewhere nothing (the atomic rename still protects readers)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_demo(root: str | Path | None = None, seed: int = 0) -> Path:
    """Return the path of the default demo (generated on first use into `unitrack_home()/demo/<DEMO_VERSION>-seed<seed>`,
    written into a temp dir then renamed atomically so concurrent/killed runs never see a half-written demo).

    `root` replaces ``unitrack_home()/demo``: the demo then lives in ``root/<DEMO_VERSION>-seed<seed>``.
    """
    final = _demo_dir(root, seed)
    if _complete(final):
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(final.parent / f".{final.name}.lock"):
        if _complete(final):  # another process finished it while we waited
            return final
        log.info("generating the demo benchmark into %s (first use)", final)
        with atomic_dir(final) as tmp:
            generate_demo(tmp, seed=seed)
            os.chmod(tmp, 0o755)  # mkdtemp made it private; the cache is as readable as its parent
    return final


def demo_task_root(task: str, root: str | Path | None = None) -> Path:
    """ensure_demo(root) / TASK_SUBDIRS[task]."""
    if task not in TASK_SUBDIRS:
        raise ValueError(f"unknown task {task!r}; expected one of {list(TASKS)}")
    return ensure_demo(root) / TASK_SUBDIRS[task]
