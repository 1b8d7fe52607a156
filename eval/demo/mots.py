"""Demo data in the MOTS20 layout (task ``mots``): disjoint visible masks as RLE, mask detections."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from unitrack.eval.demo.core import _imwrite, _seqinfo, pedestrian_frames

render_sequence = pedestrian_frames  # the same pedestrian scenes as MOT


def _rle(mask: np.ndarray) -> str:
    from pycocotools import mask as mask_utils

    return mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))["counts"].decode("ascii")


def write_mots(root: Path, rngs, n, T, W, H) -> dict:
    names, details = [], {}
    k3 = np.ones((3, 3), np.uint8)
    for i in range(n):
        name = f"DEMO-{i + 1:02d}"
        rng = rngs(i)
        frames, info = render_sequence(rng, W, H, T, i)
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
