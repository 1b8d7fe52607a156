"""Demo data in the VIP layout (task ``vip``): human puppets with VIP part labels, sparse annotation.

Each video shows 2 (the third video: 3) walking puppets (two of them a look-alike pair whose paths
cross, from the shared figure scene of :mod:`.core`), drawn here with VIP part classes: hair (or a
hat), face, upper-clothes (torso and sleeves), pants (thighs), left/right arm (forearms and hands),
left/right leg (shins), left/right shoe. Left/right are the person's own sides (the puppets face the
camera, so the person's left is on the image right). Every ``EVERY``-th frame (and the first) is
labelled::

    vip/Images/<video>/<frame>.jpg                    frames, 12-digit frame numbers from 000000000001
    vip/Category_ids/<video>/<frame>.png              part labels 0..19 (8-bit grey), labelled frames only
    vip/Human_ids/<video>/<frame>.png                 person ids 1..N, consistent over the video
    vip/Instance_ids/<video>/<frame>.png, .txt        part-instance ids 20·(person − 1) + class, and
                                                      "<id> <class> <person>" per instance
    vip/lists/val_videos.txt                          the video names
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

import cv2
import numpy as np

from unitrack.eval.demo.core import _J, _PNG, _Figure, _figure_scene, _hsv, _imwrite, _render_checked

EVERY = 3  # label every 3rd frame (VIP labels one frame in 25)
HAT, HAIR, UPPER, PANTS, FACE = 1, 2, 5, 9, 13
L_ARM, R_ARM, L_LEG, R_LEG, L_SHOE, R_SHOE = 14, 15, 16, 17, 18, 19


@dataclass
class _PartFigure(_Figure):
    """The puppet of :class:`.core._Figure` (same joints and motion) drawn with VIP part labels; the
    label window of every rendered frame is kept in ``parts[t] = (x0, y0, labels)``."""

    hat: np.ndarray | None = None  # hat colour (None: bare head, hair)
    leg_skin: np.ndarray | None = None
    parts: dict = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, fig: _Figure, hat: np.ndarray | None) -> _PartFigure:
        return cls(**{f.name: getattr(fig, f.name) for f in fields(_Figure)}, hat=hat)

    def render(self, t: int) -> tuple[int, int, np.ndarray, np.ndarray]:
        J = self.joints(t)
        g = {n: J[i] for n, i in _J.items()}
        Hf = float(self.height[t])
        pad = 0.1 * Hf + 2
        X0, Y0 = int(np.floor(J[:, 0].min() - pad)), int(np.floor(J[:, 1].min() - pad))
        X1, Y1 = int(np.ceil(J[:, 0].max() + pad)) + 1, int(np.ceil(J[:, 1].max() + pad)) + 1
        xs = np.arange(X0, X1, dtype=np.float32)[None, :]
        ys = np.arange(Y0, Y1, dtype=np.float32)[:, None]
        lab = np.zeros((Y1 - Y0, X1 - X0), np.uint8)

        def r(frac: float) -> float:
            return max(1.0, frac * Hf)

        def capsule(a, b, rad, val):
            d = b - a
            tt = np.clip(((xs - a[0]) * d[0] + (ys - a[1]) * d[1]) / max(float(d @ d), 1e-6), 0, 1)
            lab[(xs - a[0] - tt * d[0]) ** 2 + (ys - a[1] - tt * d[1]) ** 2 <= rad * rad] = val

        for side, leg, shoe in (("r", R_LEG, R_SHOE), ("l", L_LEG, L_SHOE)):
            knee, ank = g[f"{side}_knee"], g[f"{side}_ank"]
            capsule(knee, ank, r(0.036), leg)
            capsule(ank, ank + Hf * np.array([0.0, 0.03]), r(0.04), shoe)
            capsule(g[f"{side}_hip"], knee + 0.15 * (ank - knee), r(0.05), PANTS)
        quad = np.stack([g["r_sho"], g["l_sho"], g["l_hip"] + [0.02 * Hf, 0], g["r_hip"] - [0.02 * Hf, 0]])
        cross = [(quad[(k + 1) % 4][0] - quad[k][0]) * (ys - quad[k][1]) - (quad[(k + 1) % 4][1] - quad[k][1])
                 * (xs - quad[k][0]) for k in range(4)]  # fmt: skip
        cr = np.stack(np.broadcast_arrays(*cross))
        lab[(cr >= 0).all(0) | (cr <= 0).all(0)] = UPPER
        capsule(g["neck"] + [0, 0.04 * Hf], g["pelvis"], r(0.09), UPPER)
        capsule(g["neck"], g["chin"], r(0.035), FACE)
        hd, rh = g["head"], r(0.08)
        inhead = (xs - hd[0]) ** 2 + ((ys - hd[1]) / 1.1) ** 2 <= rh * rh
        lab[inhead] = FACE
        lab[inhead & (ys < hd[1] - 0.25 * rh)] = HAT if self.hat is not None else HAIR
        for side, arm in (("r", R_ARM), ("l", L_ARM)):
            capsule(g[f"{side}_sho"], g[f"{side}_elb"], r(0.04), UPPER)
            capsule(g[f"{side}_elb"], g[f"{side}_wri"], r(0.032), arm)
            capsule(g[f"{side}_wri"], g[f"{side}_wri"], r(0.04), arm)
        self.parts[t] = (X0, Y0, lab)
        # clothes textures move with the body (a square of side 1.5·height above the pelvis)
        S = self.shirt.shape[0]
        k = 1.5 * Hf / S
        cx, cy = self.pos[t, 0] - X0, self.pos[t, 1] - 0.1 * Hf - Y0
        M = np.float32([[k, 0, cx - k * S / 2], [0, k, cy - k * S / 2]])
        rgb = np.zeros(lab.shape + (3,), np.float32)
        for vals, src in (((UPPER,), self.shirt), ((PANTS,), self.pants)):
            warped = cv2.warpAffine(src, M, lab.shape[::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            sel = np.isin(lab, vals)
            rgb[sel] = warped[sel]
        shade = 0.9 + 0.2 * np.clip((ys - Y0) / max(1.0, lab.shape[0]), 0, 1)  # skin: a soft vertical gradient
        for vals, col in (((FACE, L_ARM, R_ARM), self.skin), ((L_LEG, R_LEG), self.leg_skin if self.leg_skin
                          is not None else self.skin), ((HAIR,), self.hair), ((HAT,), self.hat),
                          ((L_SHOE, R_SHOE), self.shoe)):  # fmt: skip
            if col is None:
                continue
            sel = np.isin(lab, vals)
            rgb[sel] = (np.broadcast_to(shade, lab.shape)[..., None] * np.asarray(col, np.float32))[sel]
        return X0, Y0, lab > 0, rgb


def render_sequence(rng: np.random.Generator, W: int, H: int, T: int, i: int):
    """Video ``i`` from ``rng``: (frames, info, figures); ``figures[k].parts[t]`` is the label window of
    person k+1 in frame t (the writer's only source of scenes; tests re-render with it)."""
    n_fig = 3 if i == 2 else 2
    made: list = []

    def make(r):
        sc, info = _figure_scene(r, W, H, T, n_fig)
        hats = [None] * n_fig
        hats[n_fig - 1] = _hsv(r.uniform(0, 1), r.uniform(0.5, 0.9), r.uniform(0.5, 0.9))
        sc.entities = [_PartFigure.of(e, h) for e, h in zip(sc.entities, hats)]
        for e in sc.entities:
            e.leg_skin = e.skin * np.float32(r.uniform(0.8, 0.95))
        made.append(sc)
        return sc, info

    def ok(fr):  # every person well visible in the first frame
        return all(v.sum() >= max(30, 0.5 * a) for v, a in zip(fr[0].visible, fr[0].area))

    frames, info = _render_checked(make, rng, ok)
    return frames, info, made[-1].entities


def frame_labels(frame, figures, t: int, W: int, H: int) -> tuple[np.ndarray, np.ndarray]:
    """(part labels, person ids) of frame ``t``: each person's visible pixels carry its part labels."""
    cat = np.zeros((H, W), np.uint8)
    hum = np.zeros((H, W), np.uint8)
    for k, fig in enumerate(figures):
        x0, y0, lab = fig.parts[t]
        full = np.zeros((H, W), np.uint8)
        fx0, fy0, fx1, fy1 = max(x0, 0), max(y0, 0), min(x0 + lab.shape[1], W), min(y0 + lab.shape[0], H)
        if fx0 < fx1 and fy0 < fy1:
            full[fy0:fy1, fx0:fx1] = lab[fy0 - y0:fy1 - y0, fx0 - x0:fx1 - x0]
        vis = frame.visible[k] & (full > 0)
        cat[vis] = full[vis]
        hum[vis] = k + 1
    return cat, hum


def _png(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), arr, _PNG):
        raise OSError(f"could not write {path}")


def write_vip(root: Path, rngs, n, T, W, H) -> dict:
    names, details = [], {}
    for i in range(n):
        name = f"videos{i + 1}"
        frames, info, figures = render_sequence(rngs(i), W, H, T, i)
        labelled = [t for t in range(T) if t % EVERY == 0]
        classes: set[int] = set()
        for t, f in enumerate(frames):
            stem = f"{t + 1:012d}"
            _imwrite(root / "Images" / name / f"{stem}.jpg", f.image)
            if t not in labelled:
                continue
            cat, hum = frame_labels(f, figures, t, W, H)
            inst = np.where(cat > 0, 20 * (hum.astype(np.int64) - 1) + cat, 0).astype(np.uint8)
            _png(root / "Category_ids" / name / f"{stem}.png", cat)
            _png(root / "Human_ids" / name / f"{stem}.png", hum)
            _png(root / "Instance_ids" / name / f"{stem}.png", inst)
            lines = [f"{v} {v % 20} {v // 20 + 1}\n" for v in np.unique(inst) if v]
            (root / "Instance_ids" / name / f"{stem}.txt").write_text("".join(lines))
            classes |= {int(c) for c in np.unique(cat) if c}
        names.append(name)
        details[name] = {"persons": len(figures), "labelled_frames": [f"{t + 1:012d}" for t in labelled],
                         "part_classes": sorted(classes), "similar_pairs": [[a + 1, b + 1] for a, b in
                                                                           info["similar_pairs"]]}  # fmt: skip
    (root / "lists").mkdir(parents=True, exist_ok=True)
    (root / "lists" / "val_videos.txt").write_text("".join(f"{s}\n" for s in names))
    return {"sequences": names, "details": details, "split_file": "lists/val_videos.txt", "label_every": EVERY}
