"""Demo data in the PoseTrack-2018 layout (task ``posetrack``): 2–4 human puppets, keypoint detections."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from unitrack.eval.demo.core import _J, _figure_scene, _Frame, _imwrite, _overlap, _render_checked

POSETRACK_KEYPOINTS = (
    "nose", "head_bottom", "head_top", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
    "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
POSETRACK_SKELETON = [
    [16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8], [7, 9],
    [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 7],
]  # fmt: skip

_POSETRACK_FROM_INTERNAL = [_J[n] for n in ("nose", "chin", "head_top", "l_ear", "r_ear", "l_sho", "r_sho", "l_elb",
                                             "r_elb", "l_wri", "r_wri", "l_hip", "r_hip", "l_knee", "r_knee",
                                             "l_ank", "r_ank")]  # fmt: skip
_POSETRACK_EARS = (3, 4)  # never labelled in the ground truth (as in PoseTrack-18)


def render_sequence(rng: np.random.Generator, W: int, H: int, T: int, i: int) -> tuple[list[_Frame], dict]:
    """Sequence `i` from `rng` (the writer's only source of scenes; tests re-render with it)."""
    n_fig = int(rng.integers(2, 5))

    def ok(fr):  # everybody clearly visible in ≥ 3 frames, the pair's boxes overlap at some frame
        return all(sum(f.visible[k].sum() > 30 for f in fr) >= 3 for k in range(n_fig)) and any(
            _overlap(f.box[0], f.box[1]) for f in fr
        )

    return _render_checked(lambda r: _figure_scene(r, W, H, T, n_fig), rng, ok)


def _posetrack_categories() -> list[dict]:
    return [{"supercategory": "person", "id": 1, "name": "person", "keypoints": list(POSETRACK_KEYPOINTS),
             "skeleton": [list(e) for e in POSETRACK_SKELETON]}]  # fmt: skip


def _r(v: float) -> float:
    return round(float(v), 2)


def write_posetrack(root: Path, rngs, n, T, W, H) -> dict:
    names, details = [], {}
    for i in range(n):
        vid = f"{i + 1:06d}"
        name = f"{vid}_demo"
        rng = rngs(i)
        frames, info = render_sequence(rng, W, H, T, i)
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
