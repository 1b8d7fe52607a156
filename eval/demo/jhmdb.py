"""Demo data in the JHMDB layout (task ``poseprop``): one human puppet per video, 15 joints in a MAT file."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from unitrack.eval.demo.core import _J, _PNG, _figure_scene, _Frame, _imwrite, _render_checked

JHMDB_JOINTS = (
    "neck", "belly", "face", "right_shoulder", "left_shoulder", "right_hip", "left_hip", "right_elbow",
    "left_elbow", "right_knee", "left_knee", "right_wrist", "left_wrist", "right_ankle", "left_ankle",
)  # fmt: skip
_JHMDB_FROM_INTERNAL = [_J[n] for n in ("neck", "belly", "head", "r_sho", "l_sho", "r_hip", "l_hip", "r_elb",
                                         "l_elb", "r_knee", "l_knee", "r_wri", "l_wri", "r_ank", "l_ank")]  # fmt: skip
_ACTIONS = ("walk", "wave", "jump")


def render_sequence(rng: np.random.Generator, W: int, H: int, T: int, i: int) -> tuple[list[_Frame], dict]:
    """Sequence `i` from `rng` (the writer's only source of scenes; tests re-render with it)."""
    act = _ACTIONS[i % len(_ACTIONS)]

    def ok(fr):  # all joints inside the frame in every frame
        J = np.stack([f.joints[0] for f in fr])
        return bool((J >= 0).all() and (J[..., 0] <= W - 1).all() and (J[..., 1] <= H - 1).all())

    return _render_checked(lambda r: _figure_scene(r, W, H, T, 1, (act,), single=True), rng, ok)


def _savemat_bytes(d: dict) -> bytes:
    """scipy.io.savemat with a fixed header text (the stock header holds the creation time)."""
    from scipy.io import savemat

    buf = io.BytesIO()
    savemat(buf, d, format="5", do_compression=False, oned_as="row")
    b = bytearray(buf.getvalue())
    b[:116] = b"MATLAB 5.0 MAT-file, Platform: unitrack demo generator".ljust(116, b" ")
    return bytes(b)


def write_jhmdb(root: Path, rngs, n, T, W, H) -> dict:
    names, details, split = [], {}, []
    for i in range(n):
        act = _ACTIONS[i % len(_ACTIONS)]
        frames, _ = render_sequence(rngs(i), W, H, T, i)
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
