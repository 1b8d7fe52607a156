"""Per-task loaders: predictions and ground truth in the benchmarks' native formats → :class:`SequenceView`."""

from __future__ import annotations

import configparser
import contextlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from unitrack.eval.formats import PALETTE
from unitrack.eval.view import Objects, SequenceView
from unitrack.utils import UnitrackError

log = logging.getLogger("unitrack")


def _read_table(path: Path, min_cols: int, what: str) -> np.ndarray:
    """Numeric CSV / whitespace table → float array (rows × cols); errors name the file and line."""
    try:
        text = path.read_text()
    except OSError as e:
        raise UnitrackError(f"cannot read {path}: {e}") from None
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return np.zeros((0, min_cols))
    rows = [re.split(r"[,\s]+", ln.strip()) for ln in lines]
    n = min(len(r) for r in rows)
    if n < min_cols:
        bad = next(i for i, r in enumerate(rows) if len(r) < min_cols)
        raise UnitrackError(f"{path}:{bad + 1}: expected {what} ({min_cols}+ numbers), got {lines[bad]!r}")
    try:
        return np.asarray([r[:n] for r in rows], np.float64)
    except ValueError:
        for i, r in enumerate(rows):
            try:
                [float(v) for v in r[:n]]
            except ValueError:
                raise UnitrackError(f"{path}:{i + 1}: expected {what}, got {lines[i]!r}") from None
        raise


def _sorted_images(folder: Path) -> list[Path]:
    exts = {".jpg", ".jpeg", ".png", ".bmp"}
    files = [p for p in folder.iterdir() if p.suffix.lower() in exts and not p.name.startswith(".")]

    def key(p: Path):
        m = re.search(r"\d+", p.stem)
        return (int(m.group()) if m else -1, p.name)

    return sorted(files, key=key)


def _frame_number(p: Path) -> int:
    m = re.search(r"\d+", p.stem)
    return int(m.group()) if m else -1


def _find_pred(pred_dir: Path, name: str, ext: str) -> Path | None:
    p = pred_dir / f"{name}{ext}"
    if p.exists():
        return p
    hits = sorted(pred_dir.rglob(f"{name}{ext}"))
    return hits[0] if hits else None


def _pred_names(pred_dir: Path, ext: str) -> list[str]:
    return sorted({p.stem for p in pred_dir.rglob(f"*{ext}") if not p.name.startswith(".")})


def _seqinfo_fps(seq_dir: Path, default: float) -> float:
    ini = seq_dir / "seqinfo.ini"
    if ini.is_file():
        cp = configparser.ConfigParser()
        with contextlib.suppress(configparser.Error, ValueError):
            cp.read(ini)
            return float(cp.get("Sequence", "frameRate", fallback=str(default)))
    return default


# ---------------------------------------------------------------------- SOT (OTB-style folders)


def _load_sot(root: Path, pred_dir: Path, cfg: dict, seqs: list[str] | None) -> list[SequenceView]:
    """OTB / LaSOT / GOT-10k layouts through :mod:`unitrack.eval.otb` (frame ranges, pysot JSON);
    predictions ``pred/<seq>.txt``. Boxes are 1-based like OTB's, shifted to 0-based pixels here."""
    from unitrack.eval.otb import read_boxes, read_sot_dataset

    names = seqs or _pred_names(pred_dir, ".txt")
    data = {q.name: q for q in read_sot_dataset(root)}
    out = []
    for name in names:
        if name not in data:
            raise UnitrackError(f"SOT sequence {name} not found under {root}")
        q = data[name]
        pf = _find_pred(pred_dir, name, ".txt")
        if pf is None:
            raise UnitrackError(f"no prediction file {name}.txt under {pred_dir}")
        pred = _one_based(read_boxes(pf)[:, :4])
        gt = _one_based(np.asarray(q.gt, np.float64)[:, :4])
        T = min(len(q.frames), len(pred))
        if len(pred) != len(q.frames):
            log.warning("%s: %d predicted boxes for %d frames; drawing the first %d", name, len(pred), len(q.frames), T)
        preds = [Objects(ids=np.array([1]), boxes=pred[t:t + 1]) for t in range(T)]
        gts: list[Objects | None] = [
            Objects(ids=np.array([1]), boxes=gt[t:t + 1]) if t < len(gt) and np.isfinite(gt[t]).all() else None
            for t in range(T)
        ]
        out.append(SequenceView(name=name, frames=list(q.frames[:T]), pred=preds, gt=gts, fps=30.0))
    return out


def _one_based(boxes: np.ndarray) -> np.ndarray:
    """1-based x,y (OTB, MOTChallenge: the top-left pixel is (1, 1)) → 0-based pixel coordinates."""
    b = np.array(boxes, np.float64, copy=True).reshape(-1, boxes.shape[-1] if boxes.ndim > 1 else 4)
    b[:, :2] -= 1.0
    return b


# ---------------------------------------------------------------------- VOS (DAVIS)


def read_index_png(path: Path) -> np.ndarray:
    """Indexed (palette) PNG → label map (uint8). Non-indexed RGB PNGs are mapped through the DAVIS palette."""
    from PIL import Image

    try:
        im = Image.open(path)
        im.load()
    except OSError as e:
        raise UnitrackError(f"cannot read mask {path}: {e}") from None
    if im.mode in ("P", "L", "I", "I;16"):
        return np.asarray(im).astype(np.uint8 if im.mode in ("P", "L") else np.uint16)
    if im.mode in ("RGB", "RGBA"):
        rgb = np.asarray(im.convert("RGB")).astype(np.int64)
        code = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
        pal = PALETTE.astype(np.int64)
        pcode = (pal[:, 0] << 16) | (pal[:, 1] << 8) | pal[:, 2]
        order = np.argsort(pcode, kind="stable")
        pos = np.searchsorted(pcode[order], code)
        pos = np.clip(pos, 0, len(order) - 1)
        hit = pcode[order][pos] == code
        if not hit.all():
            raise UnitrackError(f"{path}: RGB mask with colours outside the DAVIS palette; expected an indexed PNG")
        return order[pos].astype(np.uint8)
    raise UnitrackError(f"{path}: unsupported PNG mode {im.mode}; expected an indexed (palette) PNG")


def _davis_dirs(root: Path, cfg: dict) -> tuple[Path, Path]:
    res = (cfg.get("vos") or {}).get("resolution", "480p")
    img_root = root / "JPEGImages" / res
    ann_root = root / "Annotations" / res
    if not img_root.is_dir():
        cands = sorted(p for p in (root / "JPEGImages").glob("*") if p.is_dir()) if (root / "JPEGImages").is_dir() else []
        if not cands:
            raise UnitrackError(f"{root}: not a DAVIS folder (expected JPEGImages/{res}/<sequence>/)")
        img_root, ann_root = cands[0], root / "Annotations" / cands[0].name
    return img_root, ann_root


def _load_vos(root: Path, pred_dir: Path, cfg: dict, seqs: list[str] | None) -> list[SequenceView]:
    img_root, ann_root = _davis_dirs(root, cfg)
    names = seqs or sorted(p.name for p in pred_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    out = []
    for name in names:
        if not (img_root / name).is_dir():
            raise UnitrackError(f"VOS sequence {name}: no frames folder {img_root / name}")
        frames = _sorted_images(img_root / name)
        pdir = pred_dir / name
        if not pdir.is_dir():
            raise UnitrackError(f"no predictions for sequence {name} (expected folder {pdir})")
        preds, gts = [], []
        for f in frames:
            pp = pdir / f"{f.stem}.png"
            gp = ann_root / name / f"{f.stem}.png"
            preds.append(Objects(labels=(lambda p=pp: read_index_png(p))) if pp.is_file() else Objects())
            gts.append(Objects(labels=(lambda p=gp: read_index_png(p))) if gp.is_file() else None)
        out.append(SequenceView(name=name, frames=frames, pred=preds, gt=gts, fps=24.0))
    return out


# ---------------------------------------------------------------------- MOT (MOTChallenge)


def _mot_seq_root(root: Path, cfg: dict, task: str) -> Path:
    split = (cfg.get(task) or {}).get("split", "train")
    for cand in (root / split, root / "images" / split, root):
        if cand.is_dir() and any((p / "img1").is_dir() for p in cand.iterdir() if p.is_dir()):
            return cand
    raise UnitrackError(f"{root}: no MOTChallenge sequences found (expected {root / split}/<seq>/img1/)")


def _mot_boxes(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ids, 0-based x,y,w,h) of MOTChallenge rows (whose boxes are 1-based)."""
    return rows[:, 1].astype(np.int64), _one_based(rows[:, 2:6])


def read_mot_gt(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """MOTChallenge gt.txt → (valid rows, distractor rows) following TrackEval's MOT17 preprocessing:
    valid = class 1 (pedestrian) with the consider flag set; distractors = classes 2, 7, 8, 12
    (person on vehicle, static person, distractor, reflection). Files without class columns (MOT15,
    or -1 there) keep every row."""
    rows = _read_table(path, 6, "frame,id,x,y,w,h[,flag,class,visibility]")
    if rows.shape[1] >= 8 and (rows[:, 7] > 0).any():
        cls = rows[:, 7].astype(np.int64)
        flag = rows[:, 6]
        valid = (cls == 1) & (flag != 0)
        distract = np.isin(cls, (2, 7, 8, 12))
        return rows[valid], rows[distract]
    if rows.shape[1] >= 7 and (rows[:, 6] == 0).any() and (rows[:, 6] >= 0).all():
        return rows[rows[:, 6] != 0], rows[:0]
    return rows, rows[:0]


def _group_by_frame(rows: np.ndarray) -> dict[int, np.ndarray]:
    """Rows of a frame-indexed table (first column = frame number) grouped by frame."""
    if not len(rows):
        return {}
    f = rows[:, 0].astype(np.int64)
    order = np.argsort(f, kind="stable")
    f, rows = f[order], rows[order]
    uniq, starts = np.unique(f, return_index=True)
    ends = np.append(starts[1:], len(f))
    return {int(u): rows[s:e] for u, s, e in zip(uniq, starts, ends)}


def _mot_style_sequences(root: Path, pred_dir: Path, cfg: dict, seqs: list[str] | None, task: str):
    """(name, sequence folder, prediction file, frame paths) of each MOT/MOTS sequence to draw."""
    seq_root = _mot_seq_root(root, cfg, task)
    names = seqs or [n for n in _pred_names(pred_dir, ".txt") if (seq_root / n).is_dir()]
    for name in names:
        sdir = seq_root / name
        if not sdir.is_dir():
            raise UnitrackError(f"{task.upper()} sequence {name}: folder {sdir} does not exist")
        pf = _find_pred(pred_dir, name, ".txt")
        if pf is None:
            raise UnitrackError(f"no prediction file {name}.txt under {pred_dir}")
        yield name, sdir, pf, _sorted_images(sdir / "img1")


def _load_mot(root: Path, pred_dir: Path, cfg: dict, seqs: list[str] | None) -> list[SequenceView]:
    out = []
    for name, sdir, pf, frames in _mot_style_sequences(root, pred_dir, cfg, seqs, "mot"):
        fnum = [_frame_number(p) for p in frames]
        pred = _group_by_frame(_read_table(pf, 6, "frame,id,x,y,w,h,conf,..."))
        gtf = sdir / "gt" / "gt.txt"
        gt_rows = dis_rows = None
        if gtf.is_file():
            g, d = read_mot_gt(gtf)
            gt_rows, dis_rows = _group_by_frame(g), _group_by_frame(d)
        preds, gts = [], []
        empty = np.zeros((0, 10))
        for n in fnum:
            ids, boxes = _mot_boxes(pred.get(n, empty))
            preds.append(Objects(ids=ids, boxes=boxes))
            if gt_rows is None:
                gts.append(None)
            else:
                gi, gb = _mot_boxes(gt_rows.get(n, empty))
                dis = _one_based(dis_rows.get(n, empty)[:, 2:6]) if dis_rows else np.zeros((0, 4))
                gts.append(Objects(ids=gi, boxes=gb, ignore_boxes=dis))
        out.append(SequenceView(name=name, frames=frames, pred=preds, gt=gts, fps=_seqinfo_fps(sdir, 15.0)))
    return out


# ---------------------------------------------------------------------- MOTS (MOTS txt with RLE)


def read_mots_txt(path: Path) -> dict[int, list[tuple[int, int, dict]]]:
    """MOTS txt (``frame id class h w rle`` per line) → {frame: [(id, class, coco_rle), …]}."""
    try:
        lines = path.read_text().splitlines()
    except OSError as e:
        raise UnitrackError(f"cannot read {path}: {e}") from None
    out: dict[int, list] = {}
    for i, ln in enumerate(lines):
        if not ln.strip():
            continue
        parts = ln.split(" ")
        if len(parts) < 6:
            raise UnitrackError(f"{path}:{i + 1}: expected 'frame id class height width rle', got {ln[:80]!r}")
        try:
            f, tid, cls, h, w = (int(float(v)) for v in parts[:5])
        except ValueError:
            raise UnitrackError(f"{path}:{i + 1}: expected integers frame id class height width, got {ln[:80]!r}") from None
        out.setdefault(f, []).append((tid, cls, {"size": [h, w], "counts": parts[5].strip().encode()}))
    return out


def _mots_objects(entries: list[tuple[int, int, dict]], keep_class: Callable[[int], bool],
                  ignore_class: int | None = None) -> Objects:
    from pycocotools import mask as mask_utils

    objs = [(tid, rle) for tid, cls, rle in entries if keep_class(cls)]
    ign = [rle for _, cls, rle in entries if ignore_class is not None and cls == ignore_class]
    ids = np.asarray([o[0] for o in objs], np.int64)
    rles = [o[1] for o in objs]
    boxes = np.asarray(mask_utils.toBbox(rles), np.float64).reshape(-1, 4) if rles else np.zeros((0, 4))

    def decode(rles=rles, ign=ign):
        ref = rles or ign
        if not ref:
            return None
        h, w = ref[0]["size"]
        lab = np.zeros((h, w), np.uint16)
        if rles:
            m = mask_utils.decode(rles)  # H×W×N
            for k in range(m.shape[2]):  # objects, not pixels
                lab[m[:, :, k] > 0] = k + 1
        return lab

    return Objects(ids=ids, boxes=boxes, labels=decode if rles else None, label_ids=ids, rles=rles,
                   ignore_rles=ign or None)


def _load_mots(root: Path, pred_dir: Path, cfg: dict, seqs: list[str] | None) -> list[SequenceView]:
    out = []
    for name, sdir, pf, frames in _mot_style_sequences(root, pred_dir, cfg, seqs, "mots"):
        pred = read_mots_txt(pf)
        gtf = sdir / "gt" / "gt.txt"
        gt = read_mots_txt(gtf) if gtf.is_file() else None
        preds, gts = [], []
        for p in frames:
            n = _frame_number(p)
            preds.append(_mots_objects(pred.get(n, []), lambda c: c != 10))
            gts.append(None if gt is None else _mots_objects(gt.get(n, []), lambda c: c == 2, ignore_class=10))
        out.append(SequenceView(name=name, frames=frames, pred=preds, gt=gts, fps=_seqinfo_fps(sdir, 15.0)))
    return out


# ---------------------------------------------------------------------- PoseTrack (18 and 17 JSON)


@dataclass
class PoseFile:
    """A PoseTrack JSON, reduced to what is drawn: image names in order, people per image (track id,
    K×3 keypoints), which images are labelled, and ignore-region polygons per image."""

    order: list[str]
    people: dict[str, list[tuple[int, np.ndarray]]]
    labeled: set[str]
    ignore: dict[str, list[np.ndarray]]


def read_posetrack_json(path: Path) -> PoseFile:
    """PoseTrack JSON (2018 COCO-style, or 2017 ``annolist``). Missing track ids are -1."""
    try:
        d = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise UnitrackError(f"cannot read PoseTrack JSON {path}: {e}") from None
    per: dict[str, list] = {}
    ignore: dict[str, list[np.ndarray]] = {}
    if isinstance(d, dict) and "images" in d:
        try:
            names = {im["id"]: im["file_name"] for im in d["images"]}
            order = [im["file_name"] for im in d["images"]]
            labeled = {im["file_name"] for im in d["images"] if im.get("is_labeled", True)}
            for im in d["images"]:
                xs, ys = im.get("ignore_regions_x") or [], im.get("ignore_regions_y") or []
                polys = [np.stack([np.asarray(x, float), np.asarray(y, float)], 1) for x, y in zip(xs, ys) if len(x) >= 3]
                if polys:
                    ignore[im["file_name"]] = polys
            for a in d.get("annotations", []):
                kp = np.asarray(a.get("keypoints") or [], np.float64).reshape(-1, 3)
                if not len(kp):
                    continue
                tid = a.get("track_id", -1)
                tid = -1 if tid is None else int(tid[0] if isinstance(tid, list) else tid)
                per.setdefault(names[a["image_id"]], []).append((tid, kp))
        except (KeyError, TypeError, ValueError) as e:
            raise UnitrackError(f"{path}: not a PoseTrack-18 file (images/annotations with keypoints): {e!r}") from None
        return PoseFile(order, per, labeled, ignore)
    annolist = d.get("annolist") if isinstance(d, dict) else d
    if not isinstance(annolist, list):
        raise UnitrackError(f"{path}: expected a PoseTrack-18 JSON ('images', 'annotations') or PoseTrack-17 'annolist'")
    order, labeled = [], set()
    try:
        for entry in annolist:
            img = entry["image"][0]["name"] if isinstance(entry["image"], list) else entry["image"]["name"]
            order.append(img)
            lab = entry.get("is_labeled")
            if (_first(lab) if lab is not None else entry.get("annorect") is not None):
                labeled.add(img)
            polys = []
            for reg in entry.get("ignore_regions") or []:
                pts = reg.get("point", [])
                if len(pts) >= 3:
                    polys.append(np.asarray([(float(_first(p["x"])), float(_first(p["y"]))) for p in pts]))
            if polys:
                ignore[img] = polys
            for r in entry.get("annorect", []) or []:
                pts = (r.get("annopoints") or [{}])[0].get("point", []) if r.get("annopoints") else []
                kp = np.zeros((15, 3))
                for p in pts:
                    k = int(_first(p["id"]))
                    if 0 <= k < 15:
                        kp[k] = (float(_first(p["x"])), float(_first(p["y"])), float(_first(p.get("score", [1.0]))) or 1e-3)
                tid = r.get("track_id", [-1])
                per.setdefault(img, []).append((int(_first(tid)), kp))
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise UnitrackError(f"{path}: malformed PoseTrack-17 annolist entry: {e!r}") from None
    return PoseFile(order, per, labeled, ignore)


def joints_outside(kpts: np.ndarray, polys: list[np.ndarray]) -> np.ndarray:
    """N×K×3 keypoints with the joints inside any ignore polygon made invisible (score 0)."""
    kp = np.array(kpts, np.float64, copy=True)
    if not polys or not kp.size:
        return kp
    from matplotlib.path import Path as MplPath

    xy = kp[..., :2].reshape(-1, 2)
    inside = np.zeros(len(xy), bool)
    for poly in polys:
        inside |= MplPath(poly).contains_points(xy)
    kp[..., 2][inside.reshape(kp.shape[:2])] = 0
    return kp


def _outside_ignore(items: list[tuple[int, np.ndarray]], polys: list[np.ndarray]) -> list[tuple[int, np.ndarray]]:
    """poseval's rule: joints inside ignore regions are removed, people left without joints dropped."""
    if not polys or not items:
        return items
    out = []
    for tid, kp in items:
        kp = joints_outside(kp[None], polys)[0]
        if (kp[:, 2] > 0).any():
            out.append((tid, kp))
    return out


def _first(v):
    return v[0] if isinstance(v, list) else v


def _pose_objects(items: list[tuple[int, np.ndarray]]) -> Objects:
    if not items:
        return Objects(kpts=np.zeros((0, 17, 3)))
    K = max(len(k) for _, k in items)
    kp = np.zeros((len(items), K, 3))
    for i, (_, k) in enumerate(items):
        kp[i, :len(k)] = k
    return Objects(ids=np.asarray([t for t, _ in items], np.int64), kpts=kp)


def _load_posetrack(root: Path, pred_dir: Path, cfg: dict, seqs: list[str] | None) -> list[SequenceView]:
    split = (cfg.get("posetrack") or {}).get("split", "val")
    ann_dir = root / "annotations" / split
    names = seqs or _pred_names(pred_dir, ".json")
    out = []
    for name in names:
        pf = _find_pred(pred_dir, name, ".json")
        if pf is None:
            raise UnitrackError(f"no prediction file {name}.json under {pred_dir}")
        gf = ann_dir / f"{name}.json"
        pfile = read_posetrack_json(pf)
        gfile = read_posetrack_json(gf) if gf.is_file() else None
        order = gfile.order if gfile is not None and gfile.order else pfile.order
        frames = []
        for fn in order:
            cand = root / fn
            if not cand.is_file():
                cand = root / "images" / split / name / Path(fn).name
            frames.append(cand)
        keep = [i for i, f in enumerate(frames) if f.is_file()]
        if not keep:
            raise UnitrackError(f"PoseTrack sequence {name}: none of its images exist under {root}")
        by_base = {Path(k).name: v for k, v in pfile.people.items()}
        preds, gts = [], []
        for i in keep:
            fn = order[i]
            polys = gfile.ignore.get(fn, []) if gfile is not None else []
            preds.append(_pose_objects(pfile.people.get(fn, by_base.get(Path(fn).name, []))))
            if gfile is not None and fn in gfile.labeled:
                g = _pose_objects(_outside_ignore(gfile.people.get(fn, []), polys))
                g.ignore_polys = polys
                gts.append(g)
            else:
                gts.append(None)
        out.append(SequenceView(name=name, frames=[frames[i] for i in keep], pred=preds, gt=gts, fps=10.0))
    return out


# ---------------------------------------------------------------------- JHMDB pose propagation


def _load_poseprop(root: Path, pred_dir: Path, cfg: dict, seqs: list[str] | None) -> list[SequenceView]:
    """JHMDB through :mod:`unitrack.eval.jhmdb`: predictions ``pred/<index>.dat`` (2×15×T feature-grid
    coordinates, −1 = failed joint) mapped to image pixels as the PCK evaluation does."""
    from unitrack.eval.jhmdb import grid_to_image, read_jhmdb, read_prediction

    sec = cfg.get("poseprop") or {}
    crop, stride = int(sec.get("crop_size", 320)), int(sec.get("down_factor", 8))
    videos = read_jhmdb(root, sec.get("split_file", "split.txt"))
    by_name = {v.name: v for v in videos}
    if seqs:
        bad = [n for n in seqs if n not in by_name]
        if bad:
            raise UnitrackError(f"JHMDB video(s) {bad} not in the split file under {root}")
        videos = [by_name[n] for n in seqs]
    else:
        videos = [v for v in videos if (pred_dir / f"{v.index}.dat").is_file()]
    out = []
    for v in videos:
        pf = pred_dir / f"{v.index}.dat"
        if not pf.is_file():
            raise UnitrackError(f"no pose prediction {pf} for video {v.name}")
        p = grid_to_image(read_prediction(pf), v.size, crop, stride)  # 2×J×T
        pred = np.concatenate([p.transpose(2, 1, 0), (p[0] >= 0).T[..., None].astype(np.float64)], 2)
        g = np.asarray(v.joints, np.float64)
        gt = np.concatenate([g.transpose(2, 1, 0), np.ones(g.shape[2:0:-1] + (1,))], 2)
        T = min(len(v.frames), len(pred))
        preds = [Objects(ids=np.array([1]), kpts=pred[t:t + 1]) for t in range(T)]
        gts: list[Objects | None] = [Objects(ids=np.array([1]), kpts=gt[t:t + 1]) if t < len(gt) else None for t in range(T)]
        out.append(SequenceView(name=v.name, frames=list(v.frames[:T]), pred=preds, gt=gts, fps=15.0))
    return out


LOADERS: dict[str, Callable[[Path, Path, dict, list[str] | None], list[SequenceView]]] = {
    "sot": _load_sot,
    "vos": _load_vos,
    "poseprop": _load_poseprop,
    "mot": _load_mot,
    "mots": _load_mots,
    "posetrack": _load_posetrack,
}


