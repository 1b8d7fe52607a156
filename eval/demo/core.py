"""Shared machinery of the demo generator: the scene simulator and the file helpers every writer uses.

Textures (families of look-alike patterns), smooth trajectories, entities (textured blobs, pedestrian
silhouettes, articulated human puppets), scenes with depth-ordered occlusion and the scenes shared by
several formats (pedestrians: MOT and MOTS; human puppets: JHMDB and PoseTrack). A task module of this
package draws its own scene from these parts and writes its benchmark's native layout.
"""

from __future__ import annotations

import colorsys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from unitrack.utils import log

# internal joints of the human puppet (image coordinates, pixel centres at integers)
_J = {
    n: i
    for i, n in enumerate(
        ["pelvis", "belly", "neck", "head", "head_top", "chin", "nose", "r_sho", "l_sho", "r_elb", "l_elb",
         "r_wri", "l_wri", "r_hip", "l_hip", "r_knee", "l_knee", "r_ank", "l_ank", "r_ear", "l_ear"]
    )
}  # fmt: skip

_JPEG = [cv2.IMWRITE_JPEG_QUALITY, 95]
_PNG = [cv2.IMWRITE_PNG_COMPRESSION, 3]


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


def _inside(b, W: int, H: int) -> bool:
    return 0 <= b[0] and 0 <= b[1] and b[0] + b[2] <= W and b[1] + b[3] <= H


def pedestrian_frames(rng: np.random.Generator, W: int, H: int, T: int, i: int = 0) -> tuple[list[_Frame], dict]:
    """MOT/MOTS sequence `i` from `rng` (both formats render the same pedestrian scenes)."""

    def ok(fr):  # everybody visible in ≥ 3 frames, somebody enters or leaves
        n_obj = len(fr[0].box)
        partial = any(not _inside(b, W, H) for f in fr for b in f.box)
        return min(sum(f.visible[k].any() for f in fr) for k in range(n_obj)) >= 3 and partial

    return _render_checked(lambda r: _pedestrian_scene(r, W, H, T), rng, ok)


def _overlap(a, b) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


# --------------------------------------------------------------------------------------------- writers


def _imwrite(path: Path, rgb: np.ndarray, params=_JPEG) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1]), params):
        raise OSError(f"could not write {path}")


def _seqinfo(name: str, T: int, W: int, H: int) -> str:
    return f"[Sequence]\nname={name}\nimDir=img1\nframeRate=30\nseqLength={T}\nimWidth={W}\nimHeight={H}\nimExt=.jpg\n"
