"""Demo data in the OTB-2015 layout (task ``sot``): one target and a crossing look-alike per sequence."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from unitrack.eval.demo.core import (
    _blob,
    _crossing,
    _fit,
    _Frame,
    _imwrite,
    _new_family,
    _overlap,
    _render_checked,
    _scale_curve,
    _Scene,
    _similar_tint,
    _track,
)


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


def render_sequence(rng: np.random.Generator, W: int, H: int, T: int, i: int) -> tuple[list[_Frame], dict]:
    """Sequence `i` from `rng` (the writer's only source of scenes; tests re-render with it)."""

    def ok(fr):  # target well visible in frame 1, the look-alike pair's boxes overlap at some frame
        return fr[0].visible[0].sum() > 0.6 * fr[0].area[0] and any(
            _overlap(f.box[0], f.box[1]) for f in fr
        )

    return _render_checked(lambda r: _sot_scene(r, W, H, T), rng, ok)


def write_otb(root: Path, rngs, n, T, W, H) -> dict:
    names, details = [], {}
    for i in range(n):
        name = f"Demo{i + 1:02d}"
        rng = rngs(i)
        frames, info = render_sequence(rng, W, H, T, i)
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
