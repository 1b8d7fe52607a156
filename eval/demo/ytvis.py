"""Demo data in the YouTube-VIS 2021 layout (task ``vis``): textured shapes of 2–3 categories that cross
and occlude, and per-frame instance predictions without identities.

Layout: ``ytvis/train/JPEGImages/<video>/00000.jpg``, ``ytvis/train/instances.json`` (videos,
categories, annotations with one compressed RLE of the VISIBLE mask or null per frame, ``areas``,
``bboxes``) and ``ytvis/observations/train.json`` (the per-frame instance format of
:mod:`unitrack.eval.ytvis`). Categories are shapes: 1 diamond, 2 ellipse, 3 box (super-ellipse
exponents about 1.3, 2, 4.5), every object with its own texture.

The scenes are made for association, as YouTube-VIS's 6 fps frames are: objects move fast (up to
about half their size per frame) on curved paths that a constant-velocity model does not predict,
two objects of the same category cross (one occluding the other), and the predictions miss
objects (more often when mostly hidden), so a track has to be re-found after a gap somewhere else:
IoU alone fragments and swaps identities there, appearance much less (every object has its own
texture). The simulated instance segmenter jitters most masks (erosion / dilation / a one-pixel
shift), gives the wrong category now and then, and adds false positives, most of them scoring
below the head's default ``score_thres``.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from unitrack.eval.demo.core import (
    _Blob,
    _fit,
    _Frame,
    _imwrite,
    _new_family,
    _overlap,
    _render_checked,
    _scale_curve,
    _Scene,
)

CATEGORIES = ((1, "diamond", (1.2, 1.45)), (2, "ellipse", (1.9, 2.2)), (3, "box", (4.0, 5.0)))
SPLIT = "train"


def _textures(rng, n: int) -> list[np.ndarray]:
    """One texture per object, each its own pattern family, hues spread around the colour circle."""
    hue0 = rng.uniform(0, 1)
    out = []
    for k in range(n):
        fam = _new_family(rng, sat=(0.7, 0.95))
        fam.hue = (hue0 + k / n + rng.uniform(-0.05, 0.05)) % 1.0
        out.append(fam.texture())
    return out


def _shape(rng, tex, cat: int, w0: float, h0: float, pos, scale, depth) -> _Blob:
    lo, hi = CATEGORIES[cat - 1][2]
    nw = int(rng.integers(1, 3))
    wob = np.stack([rng.integers(2, 5, nw).astype(float), rng.uniform(0.02, 0.05, nw), rng.uniform(0, 6.3, nw),
                    rng.uniform(-0.2, 0.2, nw)], 1)  # fmt: skip
    return _Blob(tex, w0, h0, pos, scale, depth, p=float(rng.uniform(lo, hi)), wob=wob)


# motion and size of the objects (fractions of the frame; angular speed in radians per frame)
_AMP = ((0.14, 0.24), (0.12, 0.22))
_OMEGA = (0.2, 0.32)
_SIZE = ((0.2, 0.28), (0.26, 0.36))


def _orbit(rng, T: int, W: int, H: int) -> np.ndarray:
    """(T, 2) centres on a Lissajous-like curve: fast, always turning (a constant-velocity motion model
    does not predict it); the curves of different objects cross."""
    t = np.arange(T, dtype=np.float64)
    c = np.array([rng.uniform(0.3, 0.7) * W, rng.uniform(0.3, 0.7) * H])
    amp = np.array([rng.uniform(*_AMP[0]) * W, rng.uniform(*_AMP[1]) * H])
    om = rng.uniform(*_OMEGA, 2) * rng.choice([-1, 1], 2)
    ph = rng.uniform(0, 2 * np.pi, 2)
    return c[None] + amp[None] * np.sin(om[None] * t[:, None] + ph[None])


def _vis_scene(rng, W, H, T) -> tuple[_Scene, dict]:
    sc = _Scene(rng, W, H, T)
    n_obj = int(rng.integers(2, 5))
    cats = [int(c) for c in rng.permutation([1, 2, 3])[: int(rng.integers(2, 4))]]
    obj_cats = ([cats[0], cats[0], cats[1]] + [int(rng.choice(cats)) for _ in range(n_obj - 3)])[:n_obj]
    size = [(rng.uniform(*_SIZE[0]) * W, rng.uniform(*_SIZE[1]) * H) for _ in range(n_obj)]
    tr = [_orbit(rng, T, W, H) for _ in range(n_obj)]
    scales = [_scale_curve(rng, T) for _ in tr]
    _fit(tr, [(s[0] * k.max() / 2, s[1] * k.max() / 2) for s, k in zip(size, scales)], W, H)
    dep = rng.permutation(n_obj).astype(float)
    texs = _textures(rng, n_obj)
    sc.entities = [_shape(rng, tex, cat, *s, p, k, d)
                   for tex, cat, s, p, k, d in zip(texs, obj_cats, size, tr, scales, dep)]  # fmt: skip
    return sc, {"categories": obj_cats, "crossing_pair": [0, 1]}


def render_sequence(rng: np.random.Generator, W: int, H: int, T: int, i: int) -> tuple[list[_Frame], dict]:
    """Video `i` from `rng` (the writer's only source of scenes; tests re-render with it)."""

    def ok(fr):  # everybody visible in ≥ 3 frames, the crossing pair overlaps somewhere
        n = len(fr[0].box)
        return (min(sum(f.visible[k].sum() >= 20 for f in fr) for k in range(n)) >= 3
                and any(_overlap(f.box[0], f.box[1]) for f in fr))

    return _render_checked(lambda r: _vis_scene(r, W, H, T), rng, ok)


def _rle(mask: np.ndarray) -> dict:
    from pycocotools import mask as mask_utils

    r = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": r["counts"].decode("ascii")}


def _bbox(m: np.ndarray) -> list[int]:
    rows, cols = np.flatnonzero(m.any(1)), np.flatnonzero(m.any(0))
    return [int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)]


def _jitter(rng, m: np.ndarray) -> np.ndarray:
    k3 = np.ones((3, 3), np.uint8)
    op = int(rng.choice(4, p=[0.4, 0.2, 0.2, 0.2]))
    mu = m.astype(np.uint8)
    if op == 1:
        mu = cv2.erode(mu, k3)
    elif op == 2:
        mu = cv2.dilate(mu, k3)
    elif op == 3:
        dx, dy = (int(v) for v in rng.integers(-1, 2, 2))
        mu = cv2.warpAffine(mu, np.float32([[1, 0, dx], [0, 1, dy]]), (m.shape[1], m.shape[0]),
                            flags=cv2.INTER_NEAREST, borderValue=0)
    return mu.astype(bool)


def _predictions(rng, f: _Frame, cats: list[int], W: int, H: int) -> list[tuple[np.ndarray, float, int]]:
    out = []
    for k, m in enumerate(f.visible):
        a = int(m.sum())
        if a < 15:
            continue
        frac = a / max(int(f.amodal[k].sum()), 1)
        if rng.random() < (0.4 if frac < 0.5 else 0.08):  # missed, more often when mostly hidden
            continue
        mm = _jitter(rng, m)
        if mm.sum() < 10:
            continue
        cat = cats[k]
        if rng.random() < 0.1:  # the wrong category
            cat = int(rng.choice([c for c, _, _ in CATEGORIES if c != cat]))
        out.append((mm, float(rng.uniform(0.5, 0.95)), cat))
    for _ in range(int(rng.random() < 0.3)):  # a low-scoring false positive
        yy, xx = np.mgrid[0:H, 0:W]
        cx, cy = rng.uniform(0, W), rng.uniform(0, H)
        ax, ay = rng.uniform(4, 0.1 * W + 4), rng.uniform(4, 0.12 * H + 4)
        mm = ((xx - cx) / ax) ** 2 + ((yy - cy) / ay) ** 2 <= 1
        if mm.sum() >= 20:
            out.append((mm, float(rng.uniform(0.05, 0.45)), int(rng.integers(1, 4))))
    return [out[j] for j in rng.permutation(len(out))]


def write_ytvis(root: Path, rngs, n, T, W, H) -> dict:
    root = Path(root)
    videos, anns, preds, names, details = [], [], [], [], {}
    for i in range(n):
        vid, name = i + 1, f"vis{i + 1:02d}"
        rng = rngs(i)
        frames, info = render_sequence(rng, W, H, T, i)
        prng = np.random.default_rng(rng.integers(2**63))
        fns = [f"{name}/{t:05d}.jpg" for t in range(T)]
        for t, f in enumerate(frames):
            _imwrite(root / SPLIT / "JPEGImages" / fns[t], f.image)
        videos.append({"id": vid, "file_names": fns, "width": W, "height": H, "length": T})
        ids = []
        for k, cat in enumerate(info["categories"]):
            vis = [f.visible[k] if f.visible[k].any() else None for f in frames]
            aid = 100 * vid + k + 1
            ids.append(aid)
            anns.append({"id": aid, "video_id": vid, "category_id": cat, "iscrowd": 0,
                         "segmentations": [None if m is None else _rle(m) for m in vis],
                         "areas": [None if m is None else int(m.sum()) for m in vis],
                         "bboxes": [None if m is None else _bbox(m) for m in vis]})
        for t, f in enumerate(frames):
            for m, score, cat in _predictions(prng, f, info["categories"], W, H):
                preds.append({"video_id": vid, "frame_index": t, "segmentation": _rle(m), "score": round(score, 4),
                              "category_id": cat})
        names.append(name)
        details[name] = {"video_id": vid, "annotation_ids": ids, "categories": info["categories"],
                         "crossing_pair": [ids[a] for a in info["crossing_pair"]]}
    data = {"info": {"description": "unitrack demo (YouTube-VIS 2021 layout)"}, "licenses": [], "videos": videos,
            "categories": [{"id": c, "name": nm, "supercategory": "shape"} for c, nm, _ in CATEGORIES],
            "annotations": anns}
    (root / SPLIT).mkdir(parents=True, exist_ok=True)
    (root / SPLIT / "instances.json").write_text(json.dumps(data) + "\n")
    (root / "observations").mkdir(parents=True, exist_ok=True)
    (root / "observations" / f"{SPLIT}.json").write_text(json.dumps(preds) + "\n")
    return {"sequences": names, "details": details, "annotations": f"{SPLIT}/instances.json",
            "observations": f"observations/{SPLIT}.json"}
