"""PoseTrack JSON files (PoseTrack-2018 ``images``/``annotations`` and the 2017 ``annolist`` style).

Joints. Everything is read into the 15 PoseTrack-17 / poseval joints (ids 0..14): 0 r-ankle,
1 r-knee, 2 r-hip, 3 l-hip, 4 l-knee, 5 l-ankle, 6 r-wrist, 7 r-elbow, 8 r-shoulder, 9 l-shoulder,
10 l-elbow, 11 l-wrist, 12 neck (= PoseTrack-18 ``head_bottom``), 13 nose, 14 head-top.
PoseTrack-18's 17 keypoints (COCO order: nose, head_bottom, head_top, left_ear, right_ear, l/r
shoulder, l/r elbow, l/r wrist, l/r hip, l/r knee, l/r ankle) map by NAME (as poseval's converter
does) with :data:`PT18_TO_PT17` = [13, 12, 14, -, -, 9, 8, 10, 7, 11, 6, 3, 2, 4, 1, 5, 0]; the ears
are dropped. A 2018 keypoint is unannotated iff x = y = visibility = 0 (poseval's rule). The parsed
JSON is kept (:attr:`PTVideo.raw`) for writing results in the same structure.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from unitrack.eval.base import Sequence
from unitrack.utils import UnitrackError

NUM_JOINTS = 15
JOINT_NAMES = (
    "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "right_wrist",
    "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist", "neck", "nose", "head_top",
)  # fmt: skip
# PoseTrack-18 keypoint names (COCO order) and their poseval id (-1 = dropped)
PT18_KEYPOINTS = (
    "nose", "head_bottom", "head_top", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
    "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
PT18_TO_PT17 = (13, 12, 14, -1, -1, 9, 8, 10, 7, 11, 6, 3, 2, 4, 1, 5, 0)
_NAME_TO_ID = {n: i for n, i in zip(PT18_KEYPOINTS, PT18_TO_PT17) if i >= 0}
_NAME_TO_ID.update({"neck": 12, **{n: i for i, n in enumerate(JOINT_NAMES) if n != "neck"}})
HEAD_TOP, NECK = 14, 12
# skeletons (0-based joint pairs): the 'skeleton' of the PoseTrack-18 category (17 COCO-order keypoints)
# and the PoseTrack-17 limbs of the 15 joints above
PT18_LIMBS = ((15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7), (6, 8), (7, 9),
              (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6))
PT17_LIMBS = ((9, 10), (10, 11), (8, 7), (7, 6), (9, 12), (8, 12), (12, 14), (12, 13), (9, 3), (3, 4), (4, 5), (8, 2),
              (2, 1), (1, 0), (2, 3))


@dataclass
class PTPerson:
    """One person (GT annotation or observation) with its 15 joints as (x, y, score); NaN x = absent."""

    joints: np.ndarray  # 15×3 float
    track_id: int | None = None
    head_box: tuple[float, float, float, float] | None = None  # x1, y1, x2, y2
    has_points: bool = True  # poseval's rectHasPoints (a 2017 rect without 'annopoints' is dropped)
    source_index: int = 0  # index in 'annotations' (2018) or in the frame's 'annorect' (2017)
    score: float | None = None

    @property
    def present(self) -> np.ndarray:
        return ~np.isnan(self.joints[:, 0])

    def head_size(self) -> float | None:
        """0.6 × head-box diagonal; without a head box from head_top/head_bottom (see module doc)."""
        if self.head_box is not None:
            x1, y1, x2, y2 = self.head_box
            return 0.6 * math.hypot(x2 - x1, y2 - y1)
        if self.present[HEAD_TOP] and self.present[NECK]:
            side = float(np.hypot(*(self.joints[HEAD_TOP, :2] - self.joints[NECK, :2])))
            return 0.6 * math.sqrt(2.0) * side
        return None


@dataclass
class PTFrame:
    name: str  # image path as written in the file (relative to the dataset root)
    people: list[PTPerson] = field(default_factory=list)
    ignore_regions: list[np.ndarray] = field(default_factory=list)  # polygons, K×2 (x, y)
    is_labeled: bool = True
    image_id: int | None = None


@dataclass(init=False)
class PTVideo(Sequence):
    """One PoseTrack video file as a :class:`~unitrack.eval.base.Sequence` named after the file.

    Its ``frames`` are the file's frames (:class:`PTFrame`, in order), not image paths: each names its
    image relative to the dataset root (:func:`unitrack.eval.posetrack.image_root` finds that root).
    The constructor keeps its order ``(path, fmt, frames, raw)``; ``name`` is the file stem.
    """

    path: Path
    fmt: str  # "2018" | "2017"
    frames: list[PTFrame]
    raw: dict  # the parsed JSON, kept for writing results in the same structure

    def __init__(self, path: Path, fmt: str, frames: list[PTFrame], raw: dict) -> None:
        super().__init__(name=path.stem, frames=frames)
        self.path, self.fmt, self.raw = path, fmt, raw


def _num(v: Any, where: str, what: str) -> float:
    if isinstance(v, list):
        if len(v) != 1:
            raise UnitrackError(f"{where}: {what} must hold one value, got {v!r}")
        v = v[0]
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise UnitrackError(f"{where}: {what} must be a number, got {v!r}")
    if not math.isfinite(v):
        raise UnitrackError(f"{where}: {what} must be finite, got {v!r}")
    return float(v)


def _track_id(v: Any, where: str) -> int | None:
    if v is None:
        return None
    x = _num(v, where, "track_id")
    if not x.is_integer():
        raise UnitrackError(f"{where}: track_id must be an integer, got {v!r}")
    return int(x)


def _parse_2018(data: dict, path: Path) -> PTVideo:
    cats = data.get("categories") or []
    names = list(cats[0].get("keypoints", PT18_KEYPOINTS)) if cats and isinstance(cats[0], dict) else list(PT18_KEYPOINTS)
    conv = np.array([_NAME_TO_ID.get(n, -1) for n in names])
    missing = sorted(set(range(NUM_JOINTS)) - set(conv.tolist()))
    if missing:
        raise UnitrackError(f"{path}: categories[0].keypoints lacks the joints {[JOINT_NAMES[i] for i in missing]}")
    images = data.get("images")
    anns = data.get("annotations", [])
    if not isinstance(images, list) or not isinstance(anns, list):
        raise UnitrackError(f"{path}: expected lists 'images' and 'annotations' (PoseTrack-18 format)")
    frames: list[PTFrame] = []
    id_to_frame: dict[Any, int] = {}
    for i, im in enumerate(images):
        if not isinstance(im, dict) or "file_name" not in im or "id" not in im:
            raise UnitrackError(f"{path}: images[{i}] needs 'id' and 'file_name'")
        regions = []
        for rx, ry in zip(im.get("ignore_regions_x") or [], im.get("ignore_regions_y") or []):
            if len(rx) != len(ry):
                raise UnitrackError(f"{path}: images[{i}] ignore region with {len(rx)} x and {len(ry)} y values")
            if len(rx) >= 3:
                regions.append(np.column_stack([rx, ry]).astype(float))
        if im["id"] in id_to_frame:
            raise UnitrackError(f"{path}: images[{i}]: duplicate image id {im['id']}")
        id_to_frame[im["id"]] = i
        frames.append(PTFrame(str(im["file_name"]), [], regions, bool(im.get("is_labeled", True)), im["id"]))
    k = len(names)
    for a, ann in enumerate(anns):
        where = f"{path}: annotations[{a}]"
        if not isinstance(ann, dict) or "image_id" not in ann:
            raise UnitrackError(f"{where}: needs 'image_id'")
        if ann["image_id"] not in id_to_frame:
            raise UnitrackError(f"{where}: image_id {ann['image_id']} is not in 'images'")
        kps = ann.get("keypoints") or []
        try:
            arr = np.asarray(kps, dtype=float)
        except (TypeError, ValueError):
            raise UnitrackError(f"{where}: keypoints must be numbers") from None
        joints = np.full((NUM_JOINTS, 3), np.nan)
        if arr.size:
            if arr.ndim != 1 or arr.size != 3 * k:
                raise UnitrackError(f"{where}: expected {3 * k} keypoint values (x, y, v for {k} keypoints), got {arr.size}")
            arr = arr.reshape(k, 3)
            scores = ann.get("scores") or None
            if scores is not None and not isinstance(scores, list):
                raise UnitrackError(f"{where}: 'scores' must be a list of {k} numbers")
            if scores is not None and len(scores) != k:
                raise UnitrackError(f"{where}: 'scores' has {len(scores)} values, expected {k}")
            try:
                sc = np.asarray(scores, float) if scores is not None else np.full(k, np.nan)
            except (TypeError, ValueError):
                raise UnitrackError(f"{where}: 'scores' must be numbers") from None
            if scores is not None and not np.isfinite(sc).all():
                raise UnitrackError(f"{where}: 'scores' must be finite")
            ok = (conv >= 0) & ~((arr[:, 0] == 0) & (arr[:, 1] == 0) & (arr[:, 2] == 0))
            if not np.isfinite(arr[ok, :2]).all():
                raise UnitrackError(f"{where}: keypoint coordinates must be finite")
            joints[conv[ok], 0] = arr[ok, 0]
            joints[conv[ok], 1] = arr[ok, 1]
            joints[conv[ok], 2] = sc[ok]
        head = None
        if ann.get("bbox_head") is not None:
            hb = ann["bbox_head"]
            if not isinstance(hb, list) or len(hb) != 4:
                raise UnitrackError(f"{where}: bbox_head must be [x, y, w, h]")
            x, y, w, h = (_num(v, where, "bbox_head") for v in hb)
            if w < 0 or h < 0:
                raise UnitrackError(f"{where}: bbox_head {hb} has a negative width or height (expected [x, y, w, h])")
            head = (x, y, x + w, y + h)
        score = ann.get("score")
        person = PTPerson(joints, _track_id(ann.get("track_id"), where), head, True, a,
                          None if score is None else _num(score, where, "score"))
        frames[id_to_frame[ann["image_id"]]].people.append(person)
    return PTVideo(path, "2018", frames, data)


def _parse_2017(data: dict, path: Path) -> PTVideo:
    annolist = data["annolist"]
    if not isinstance(annolist, list):
        raise UnitrackError(f"{path}: 'annolist' must be a list")
    frames = []
    for f, entry in enumerate(annolist):
        where = f"{path}: annolist[{f}]"
        if not isinstance(entry, dict):
            raise UnitrackError(f"{where}: expected an object")
        image = entry.get("image")
        if isinstance(image, list) and image and isinstance(image[0], dict) and "name" in image[0]:
            name = str(image[0]["name"])
        elif isinstance(image, dict) and "name" in image:
            name = str(image["name"])
        else:
            raise UnitrackError(f"{where}: needs image: [{{'name': ...}}]")
        people = []
        for r, rect in enumerate(entry.get("annorect") or []):
            rw = f"{where}.annorect[{r}]"
            if not isinstance(rect, dict):
                raise UnitrackError(f"{rw}: expected an object")
            ap = rect.get("annopoints")
            has_points = isinstance(ap, list) and len(ap) > 0 and isinstance(ap[0], dict) and "point" in ap[0]
            joints = np.full((NUM_JOINTS, 3), np.nan)
            for p, pt in enumerate(ap[0]["point"] if has_points else []):
                pw = f"{rw}.annopoints[0].point[{p}]"
                if not isinstance(pt, dict) or "id" not in pt or "x" not in pt or "y" not in pt:
                    raise UnitrackError(f"{pw}: needs 'id', 'x' and 'y'")
                jid = _num(pt["id"], pw, "id")
                if not jid.is_integer() or not 0 <= jid < NUM_JOINTS:
                    raise UnitrackError(f"{pw}: joint id {pt['id']!r} outside 0..14")
                j = int(jid)
                if not np.isnan(joints[j, 0]):
                    continue  # poseval uses the first point of an id
                joints[j] = (_num(pt["x"], pw, "x"), _num(pt["y"], pw, "y"),
                             _num(pt["score"], pw, "score") if "score" in pt else np.nan)
            head = None
            if all(k in rect for k in ("x1", "y1", "x2", "y2")):
                head = tuple(_num(rect[k], rw, k) for k in ("x1", "y1", "x2", "y2"))
            score = rect.get("score")
            people.append(PTPerson(joints, _track_id(rect.get("track_id"), rw), head, has_points, r,
                                   None if score is None else _num(score, rw, "score")))
        regions = []
        for reg in entry.get("ignore_regions") or []:
            pts = reg.get("point", []) if isinstance(reg, dict) else []
            poly = [(_num(p["x"], where, "ignore x"), _num(p["y"], where, "ignore y")) for p in pts]
            if len(poly) >= 3:
                regions.append(np.asarray(poly, float))
        lab = entry.get("is_labeled", [1])
        lab = lab[0] if isinstance(lab, list) and lab else lab
        frames.append(PTFrame(name, people, regions, bool(lab)))
    return PTVideo(path, "2017", frames, data)


def read_posetrack_json(path: str | Path) -> PTVideo:
    """Read one PoseTrack video file (2018 ``images/annotations`` or 2017 ``annolist``)."""
    path = Path(path)
    if not path.is_file():
        raise UnitrackError(f"{path}: PoseTrack JSON file does not exist")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise UnitrackError(f"{path}: not valid JSON: {e}") from None
    if isinstance(data, dict) and "annolist" in data:
        return _parse_2017(data, path)
    if isinstance(data, dict) and "images" in data:
        return _parse_2018(data, path)
    raise UnitrackError(f"{path}: expected a PoseTrack-18 object with 'images'/'annotations' or a "
                        f"PoseTrack-17 object with 'annolist'")
