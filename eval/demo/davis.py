"""Demo data in the DAVIS-2017 layout (task ``vos``): palette PNG annotations of 2–3 objects, a look-alike pair."""

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
from unitrack.eval.formats import PALETTE, davis_palette  # noqa: F401  (re-exported by unitrack.eval.demo)


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


def render_sequence(rng: np.random.Generator, W: int, H: int, T: int, i: int) -> tuple[list[_Frame], dict]:
    """Sequence `i` from `rng` (the writer's only source of scenes; tests re-render with it)."""
    n_obj = int(rng.integers(2, 4))

    def ok(fr):  # every object well visible in frame 0, the pair's boxes overlap at some frame
        f0 = fr[0]
        return all(f0.visible[k].sum() >= max(20, 0.4 * f0.area[k]) for k in range(n_obj)) and any(
            _overlap(f.box[0], f.box[1]) for f in fr
        )

    return _render_checked(lambda r: _vos_scene(r, W, H, T, n_obj), rng, ok)


def write_davis(root: Path, rngs, n, T, W, H) -> dict:
    from PIL import Image

    pal = PALETTE.reshape(-1).tolist()
    names, details = [], {}
    for i in range(n):
        name = f"demo-{i + 1:02d}"
        frames, info = render_sequence(rngs(i), W, H, T, i)
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
