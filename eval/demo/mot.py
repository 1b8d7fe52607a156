"""Demo data in the MOTChallenge layout (task ``mot``, MOT17 style): pedestrians, amodal GT boxes, noisy detections."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from unitrack.eval.demo.core import _imwrite, _seqinfo, pedestrian_frames

render_sequence = pedestrian_frames  # the same pedestrian scenes as MOTS


def _num(v: float, nd: int = 2) -> str:
    s = f"{v:.{nd}f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def write_mot(root: Path, rngs, n, T, W, H) -> dict:
    names, details = [], {}
    for i in range(n):
        name = f"DEMO-{i + 1:02d}"
        rng = rngs(i)
        frames, info = render_sequence(rng, W, H, T, i)
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
