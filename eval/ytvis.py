"""YouTube-VIS 2019 / 2021 and OVIS: dataset JSON, per-frame instance predictions, results JSON, video AP.

**Dataset JSON** (one file per split, the official format; OVIS uses the same):

* ``videos``: ``[{"id": int, "file_names": ["<video>/00000.jpg", ...], "width": int, "height": int,
  "length": int}]`` — ``file_names`` are relative to the image folder (see *Layouts*), one per
  annotated frame, in temporal order; ``length`` (optional) must equal ``len(file_names)``;
* ``categories``: ``[{"id": int, "name": str}]``;
* ``annotations`` (absent or null in splits without public ground truth: results are then written and
  nothing is scored): ``[{"id": int, "video_id": int, "category_id": int, "iscrowd": 0 | 1,
  "segmentations": [mask | null, ...], "areas": [number | null, ...], "bboxes": [...]}]`` — one
  entry per frame of the video (null = the object is not in that frame). A mask is a COCO RLE
  (``{"size": [h, w], "counts": str}`` compressed, or ``counts`` a list of run lengths) or a list of
  polygons (``[[x0, y0, x1, y1, ...], ...]``); its size must be the video's ``[height, width]``.

Every value is validated before pycocotools sees it (a compressed RLE whose runs do not add up to
``h·w`` makes pycocotools write past its buffer): errors are :class:`~unitrack.utils.UnitrackError`
naming the file and the video / annotation id.

**Layouts** (``root`` = ``--data``; ``split`` = ``vis.split``). Annotation file, first that exists:
``<root>/<split>/instances.json`` (YouTube-VIS 2021), ``<root>/<split>.json`` (YouTube-VIS 2019),
``<root>/annotations/instances_<split>.json``, ``<root>/annotations/<split>.json``,
``<root>/annotations_<split>.json`` (OVIS), or ``vis.annotations``. Image folder, the first under which
the first video's first frame exists: ``<root>/<split>/JPEGImages`` (YouTube-VIS), ``<root>/JPEGImages``,
``<root>/<split>`` (OVIS: ``<root>/train/<video>/...``), the annotation file's folder (or its
``JPEGImages``), ``<root>``.

**Per-frame instance predictions** (the input of the ``vis`` head, ``vis.observations``; without it
``<root>/observations/<split>.json``): a JSON list of instances without identities, e.g. the output of
an image instance segmenter run on every frame::

    [{"video_id": int, "frame_index": int, "segmentation": {"size": [h, w], "counts": str},
      "score": float, "category_id": int}, ...]

``frame_index`` is 0-based into the video's ``file_names``; ``segmentation`` is a COCO RLE (compressed
string, or a list of run lengths) of the frame's size; ``score`` is finite and ≥ 0. Instances of a
video that is not in the dataset JSON are an error; instances of videos left out by
``common.max_sequences`` are skipped.

**Results JSON** (the official submission format, what the head writes): one entry per track,
``[{"video_id": int, "category_id": int, "score": float, "segmentations": [RLE | null, ...]}]`` with
one compressed RLE (or null) per frame of the video.

**Metric** (:class:`VideoCOCOeval`, :func:`evaluate_vis`): COCO-style average precision over tracks
instead of image instances. The IoU of a predicted track ``d`` and a ground-truth track ``g`` is the
*video* mask IoU ``Σ_t |d_t ∩ g_t| / Σ_t |d_t ∪ g_t|`` over the frames of the video (a null mask is
empty); for a crowd ``g`` it is ``Σ_t |d_t ∩ g_t| / Σ_t |d_t|``. A track's area is its mean mask area
over the frames where it is present. Per video and category the tracks are matched greedily in
descending score at IoU thresholds 0.50:0.05:0.95 with at most 1 / 10 / 100 tracks per video, then
precision is interpolated at 101 recall points (COCO's protocol). ``AP`` = mean over thresholds and
the categories that have ground truth (100 tracks), ``AP50`` / ``AP75`` at one threshold, ``AR1`` /
``AR10`` = recall with 1 / 10 tracks per video, mean over thresholds and categories. Only the "all"
area range is evaluated.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import warnings
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.cocoeval import COCOeval

from unitrack.eval.base import Sequence as _Sequence
from unitrack.eval.formats import rle_counts_error
from unitrack.utils import UnitrackError, atomic_write_json

log = logging.getLogger("unitrack")

MAX_DETS = (1, 10, 100)
METRIC_KEYS = ("AP", "AP50", "AP75", "AR1", "AR10")
RESULTS_FILE = "results.json"


# ---------------------------------------------------------------------------------------------------
# masks
# ---------------------------------------------------------------------------------------------------


def _number(v: Any, where: str, what: str, *, minimum: float | None = 0.0) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise UnitrackError(f"{where}: {what} must be a number, got {v!r}")
    x = float(v)
    if not math.isfinite(x):
        raise UnitrackError(f"{where}: {what} is not finite ({v!r})")
    if minimum is not None and x < minimum:
        raise UnitrackError(f"{where}: {what} is negative ({v!r})")
    return x


def _int(v: Any, where: str, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        if isinstance(v, float) and v.is_integer():
            return int(v)
        raise UnitrackError(f"{where}: {what} must be an integer, got {v!r}")
    return int(v)


def parse_mask(obj: Any, h: int, w: int, where: str, *, polygons: bool = True) -> dict:
    """One mask of the JSON formats (compressed / uncompressed RLE, or polygons) → a validated
    compressed RLE ``{"size": [h, w], "counts": bytes}`` of an ``h×w`` frame."""
    mu = mask_utils
    if isinstance(obj, dict):
        if "counts" not in obj or "size" not in obj:
            raise UnitrackError(f"{where}: RLE mask needs 'size' and 'counts', got keys {sorted(obj)}")
        size = obj["size"]
        if (not isinstance(size, (list, tuple)) or len(size) != 2
                or not all(isinstance(s, int) and not isinstance(s, bool) for s in size)):
            raise UnitrackError(f"{where}: RLE 'size' must be [height, width], got {size!r}")
        if list(size) != [h, w]:
            raise UnitrackError(f"{where}: mask is {size[1]}x{size[0]} (RLE size [h, w] = {list(size)}), "
                                f"the frame is {w}x{h}")
        counts = obj["counts"]
        if isinstance(counts, (str, bytes)):
            err = rle_counts_error(counts, h, w)
            if err:
                raise UnitrackError(f"{where}: {err}")
            return {"size": [h, w], "counts": counts.encode("ascii") if isinstance(counts, str) else bytes(counts)}
        if isinstance(counts, list):
            if not all(isinstance(c, int) and not isinstance(c, bool) for c in counts):
                raise UnitrackError(f"{where}: uncompressed RLE counts must be integers")
            if any(c < 0 for c in counts):
                raise UnitrackError(f"{where}: uncompressed RLE has a negative run length")
            if sum(counts) != h * w:
                raise UnitrackError(f"{where}: RLE runs add up to {sum(counts)} pixels, expected {h}x{w}={h * w}")
            return _normal(mu.frPyObjects({"size": [h, w], "counts": counts}, h, w))
        raise UnitrackError(f"{where}: RLE 'counts' must be a string or a list of run lengths")
    if polygons and isinstance(obj, list):
        polys = []
        for k, p in enumerate(obj):
            if not isinstance(p, list) or len(p) < 6 or len(p) % 2:
                raise UnitrackError(f"{where}: polygon {k} must be a flat list [x0, y0, x1, y1, ...] of at least "
                                    "3 points")
            polys.append([_number(v, where, f"polygon {k} coordinate", minimum=None) for v in p])
        if not polys:
            return empty_rle(h, w)
        return _normal(mu.merge(mu.frPyObjects(polys, h, w)))
    kinds = "an RLE dict or a list of polygons" if polygons else "an RLE dict"
    raise UnitrackError(f"{where}: mask must be {kinds}, got {type(obj).__name__}")


def _normal(rle: dict) -> dict:
    h, w = (int(v) for v in rle["size"])
    c = rle["counts"]
    return {"size": [h, w], "counts": c if isinstance(c, bytes) else str(c).encode("ascii")}


def empty_rle(h: int, w: int) -> dict:
    return encode_mask(np.zeros((h, w), np.uint8))


def encode_mask(mask: np.ndarray) -> dict:
    """Compressed RLE ``{"size": [h, w], "counts": bytes}`` of one H×W binary mask."""
    return _normal(mask_utils.encode(np.asfortranarray(np.asarray(mask, dtype=np.uint8))))


def decode_masks(rles: Sequence[dict], h: int, w: int) -> np.ndarray:
    """N×H×W uint8 masks of validated RLEs (N may be 0)."""
    if not rles:
        return np.zeros((0, h, w), np.uint8)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"__array__ implementation doesn't accept a copy keyword",
                                category=DeprecationWarning)
        m = mask_utils.decode(list(rles))
    return np.ascontiguousarray(m.transpose(2, 0, 1))


def rle_areas(rles: Sequence[dict]) -> np.ndarray:
    if not rles:
        return np.zeros(0)
    return np.asarray(mask_utils.area(list(rles)), dtype=np.float64).reshape(-1)


def rle_to_json(rle: dict | None) -> dict | None:
    if rle is None:
        return None
    c = rle["counts"]
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": c.decode("ascii") if isinstance(c, bytes) else c}


# ---------------------------------------------------------------------------------------------------
# data model
# ---------------------------------------------------------------------------------------------------


@dataclass
class VISTrack:
    """One object over a video: a ground-truth annotation or a predicted track.

    ``segmentations`` holds one validated compressed RLE (or None) per frame of the video.
    """

    id: int
    video_id: int
    category_id: int
    segmentations: list[dict | None]
    score: float = 1.0
    iscrowd: int = 0

    def frame_areas(self) -> np.ndarray:
        """Mask area per frame (0 where the mask is null)."""
        present = [k for k, s in enumerate(self.segmentations) if s is not None]
        out = np.zeros(len(self.segmentations))
        if present:
            out[present] = rle_areas([self.segmentations[k] for k in present])
        return out

    @property
    def area(self) -> float:
        """Mean mask area over the frames where the object is present (0 for an empty track)."""
        a = self.frame_areas()
        a = a[a > 0]
        return float(a.mean()) if len(a) else 0.0


@dataclass(init=False)
class VISVideo(_Sequence):
    """One video of a VIS dataset: its id, frames (image paths in order), size and file names."""

    name: str
    frames: list[Path]
    size: tuple[int, int] | None
    id: int
    file_names: list[str]

    def __init__(self, name: str, id: int, frames: list[Path], height: int, width: int,
                 file_names: list[str]) -> None:
        super().__init__(name=name, frames=frames, size=(height, width))
        self.id, self.file_names = id, file_names

    @property
    def height(self) -> int:
        return self.size[0]

    @property
    def width(self) -> int:
        return self.size[1]

    @property
    def length(self) -> int:
        return len(self.file_names)


@dataclass
class VISDataset:
    """A parsed dataset JSON: videos (in file order), categories and the ground-truth tracks (None when
    the file has no annotations)."""

    path: Path
    image_root: Path | None
    videos: list[VISVideo]
    categories: dict[int, str]
    annotations: list[VISTrack] | None
    all_video_ids: set[int] = field(default_factory=set)

    def video(self, video_id: int) -> VISVideo:
        return self._by_id[video_id]

    @property
    def _by_id(self) -> dict[int, VISVideo]:
        return {v.id: v for v in self.videos}

    @property
    def has_gt(self) -> bool:
        return self.annotations is not None

    def tracks_of(self, video_id: int) -> list[VISTrack]:
        return [a for a in (self.annotations or []) if a.video_id == video_id]

    def subset(self, n: int | None) -> VISDataset:
        """The first ``n`` videos (and their annotations); all when ``n`` is None / 0."""
        if not n or n >= len(self.videos):
            return self
        vids = self.videos[:n]
        keep = {v.id for v in vids}
        ann = None if self.annotations is None else [a for a in self.annotations if a.video_id in keep]
        return VISDataset(self.path, self.image_root, vids, self.categories, ann, self.all_video_ids)


# ---------------------------------------------------------------------------------------------------
# reader
# ---------------------------------------------------------------------------------------------------


def _load_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise UnitrackError(f"{path}: file does not exist") from None
    except (OSError, UnicodeDecodeError) as e:
        raise UnitrackError(f"{path}: cannot read: {e}") from None
    except json.JSONDecodeError as e:
        raise UnitrackError(f"{path}: not valid JSON: {e}") from None


def _video_name(file_names: list[str], vid: int) -> str:
    parents = {Path(f).parent.as_posix() for f in file_names}
    if len(parents) == 1:
        p = next(iter(parents))
        if p not in ("", "."):
            return Path(p).name
    return f"video{vid}"


def read_ytvis_json(path: str | Path, image_root: str | Path | None = None) -> VISDataset:
    """Parse and validate a YouTube-VIS / OVIS dataset JSON (see the module doc). ``image_root`` is only
    recorded (frame paths = ``image_root / file_name``); use :func:`check_frames` to require images."""
    path = Path(path)
    data = _load_json(path)
    if not isinstance(data, dict):
        raise UnitrackError(f"{path}: expected a JSON object with 'videos', 'categories' and 'annotations'")
    for key in ("videos", "categories"):
        if not isinstance(data.get(key), list):
            raise UnitrackError(f"{path}: '{key}' must be a list")
    cats: dict[int, str] = {}
    for k, c in enumerate(data["categories"]):
        if not isinstance(c, dict) or "id" not in c:
            raise UnitrackError(f"{path}: category {k} must be an object with an 'id'")
        cid = _int(c["id"], f"{path}: category {k}", "id")
        if cid in cats:
            raise UnitrackError(f"{path}: category id {cid} appears twice")
        cats[cid] = str(c.get("name", cid))
    root = Path(image_root) if image_root is not None else None
    videos: list[VISVideo] = []
    seen: set[int] = set()
    for k, v in enumerate(data["videos"]):
        if not isinstance(v, dict) or "id" not in v:
            raise UnitrackError(f"{path}: video {k} must be an object with an 'id'")
        vid = _int(v["id"], f"{path}: video {k}", "id")
        where = f"{path}: video {vid}"
        if vid in seen:
            raise UnitrackError(f"{path}: video id {vid} appears twice")
        seen.add(vid)
        fns = v.get("file_names")
        if not isinstance(fns, list) or not fns or not all(isinstance(f, str) and f for f in fns):
            raise UnitrackError(f"{where}: 'file_names' must be a non-empty list of image paths")
        h = _int(v.get("height"), where, "height")
        w = _int(v.get("width"), where, "width")
        if h <= 0 or w <= 0:
            raise UnitrackError(f"{where}: frame size {w}x{h} must be positive")
        if "length" in v and v["length"] is not None and _int(v["length"], where, "length") != len(fns):
            raise UnitrackError(f"{where}: 'length' is {v['length']} but it lists {len(fns)} file_names")
        frames = [(root / f) if root is not None else Path(f) for f in fns]
        videos.append(VISVideo(_video_name(fns, vid), vid, frames, h, w, list(fns)))
    by_id = {v.id: v for v in videos}
    anns_raw = data.get("annotations")
    annotations: list[VISTrack] | None = None
    if anns_raw is not None:
        if not isinstance(anns_raw, list):
            raise UnitrackError(f"{path}: 'annotations' must be a list (or null for a split without ground truth)")
        annotations = []
        ids: set[int] = set()
        for k, a in enumerate(anns_raw):
            if not isinstance(a, dict) or "id" not in a:
                raise UnitrackError(f"{path}: annotation {k} must be an object with an 'id'")
            aid = _int(a["id"], f"{path}: annotation {k}", "id")
            where = f"{path}: annotation {aid}"
            if aid in ids:
                raise UnitrackError(f"{path}: annotation id {aid} appears twice")
            ids.add(aid)
            vid = _int(a.get("video_id"), where, "video_id")
            if vid not in by_id:
                raise UnitrackError(f"{where}: unknown video_id {vid}")
            video = by_id[vid]
            where = f"{path}: annotation {aid} (video {vid})"
            cid = _int(a.get("category_id"), where, "category_id")
            if cid not in cats:
                raise UnitrackError(f"{where}: unknown category_id {cid} (categories: {sorted(cats)})")
            crowd = a.get("iscrowd", 0)
            if crowd not in (0, 1, False, True):
                raise UnitrackError(f"{where}: iscrowd must be 0 or 1, got {crowd!r}")
            segs = a.get("segmentations")
            if not isinstance(segs, list):
                raise UnitrackError(f"{where}: 'segmentations' must be a list (one mask or null per frame)")
            if len(segs) != video.length:
                raise UnitrackError(f"{where}: {len(segs)} segmentations, the video has {video.length} frames")
            masks = [None if s is None else parse_mask(s, video.height, video.width, f"{where}, frame {t}")
                     for t, s in enumerate(segs)]
            for key in ("areas", "bboxes"):
                vals = a.get(key)
                if vals is None:
                    continue
                if not isinstance(vals, list) or len(vals) != video.length:
                    n = len(vals) if isinstance(vals, list) else type(vals).__name__
                    raise UnitrackError(f"{where}: '{key}' must list one value per frame ({video.length}), got {n}")
                for t, x in enumerate(vals):
                    if x is None:
                        continue
                    if key == "areas":
                        _number(x, f"{where}, frame {t}", "area")
                    else:
                        if not isinstance(x, list) or len(x) != 4:
                            raise UnitrackError(f"{where}, frame {t}: bbox must be [x, y, w, h]")
                        for j, c in enumerate(x):
                            _number(c, f"{where}, frame {t}", "bbox " + "xywh"[j], minimum=None if j < 2 else 0.0)
            annotations.append(VISTrack(aid, vid, cid, masks, 1.0, int(bool(crowd))))
    return VISDataset(path, root, videos, cats, annotations, set(by_id))


def annotation_file(root: str | Path, split: str, annotations: str | Path | None = None) -> Path:
    """The dataset JSON of ``split`` under ``root`` (see the module doc), or ``annotations`` itself."""
    if annotations is not None:
        p = Path(annotations).expanduser()
        if not p.is_file():
            raise UnitrackError(f"vis.annotations {p}: file does not exist")
        return p
    root = Path(root)
    if root.is_file():
        return root
    cands = [root / split / "instances.json", root / f"{split}.json", root / "annotations" / f"instances_{split}.json",
             root / "annotations" / f"{split}.json", root / f"annotations_{split}.json"]
    for c in cands:
        if c.is_file():
            return c
    raise UnitrackError(f"{root}: no YouTube-VIS annotation file for split {split!r} (looked for "
                        f"{', '.join(str(c.relative_to(root)) for c in cands)}; or set vis.annotations)")


def image_folder(root: str | Path, split: str, ann: Path, first: str | None) -> Path | None:
    """The folder the ``file_names`` are relative to: the first candidate holding ``first``; None if none."""
    root = Path(root) if Path(root).is_dir() else Path(root).parent
    cands = [root / split / "JPEGImages", root / "JPEGImages", root / split, ann.parent / "JPEGImages", ann.parent,
             root]
    for c in cands:
        if first is None or (c / first).is_file():
            return c
    return None


def find_dataset(root: str | Path, split: str = "train", annotations: str | Path | None = None,
                 need_images: bool = False, max_sequences: int | None = None) -> VISDataset:
    """Read the dataset of ``split`` under ``root``; with ``need_images`` every frame must exist."""
    root = Path(root)
    if not root.exists():
        raise UnitrackError(f"{root}: YouTube-VIS root does not exist")
    ann = annotation_file(root, split, annotations)
    ds = read_ytvis_json(ann)
    first = ds.videos[0].file_names[0] if ds.videos else None
    img = image_folder(root, split, ann, first)
    if img is None:
        if need_images:
            raise UnitrackError(f"{ann}: frame {first} (video {ds.videos[0].id}) not found under {root}/{split}/"
                                f"JPEGImages, {root}/JPEGImages, {root}/{split} or {ann.parent}")
        img = root / split / "JPEGImages"
    ds.image_root = img
    for v in ds.videos:
        v.frames = [img / f for f in v.file_names]
    ds = ds.subset(max_sequences)
    if need_images:
        check_frames(ds)
    return ds


def check_frames(ds: VISDataset) -> None:
    """Every frame of every video exists (else an error naming the file, the video and the JSON)."""
    for v in ds.videos:
        for t, p in enumerate(v.frames):
            if not p.is_file():
                raise UnitrackError(f"{p}: frame {t} of video {v.id} ({v.name}) listed in {ds.path} does not exist")


def read_sequences(root: Path, cfg: Any) -> list[VISVideo]:
    """The TaskSpec reader: the validated videos of ``vis.split`` (frames must exist)."""
    sc = cfg.section
    return find_dataset(root, sc.split, sc.annotations, need_images=True,
                        max_sequences=cfg.common.max_sequences).videos


# ---------------------------------------------------------------------------------------------------
# per-frame instance predictions (the head's input)
# ---------------------------------------------------------------------------------------------------


@dataclass
class Instance:
    """One predicted instance of one frame (no identity)."""

    rle: dict
    score: float
    category_id: int


def observations_file(root: str | Path, split: str, observations: str | Path | None) -> Path:
    if observations is not None:
        p = Path(observations).expanduser()
        if not p.is_file():
            raise UnitrackError(f"vis.observations {p}: file does not exist (a per-frame instance JSON)")
        return p
    p = Path(root) / "observations" / f"{split}.json"
    if not p.is_file():
        raise UnitrackError(f"{Path(root)}: no per-frame instance predictions (expected observations/{split}.json); "
                            "set vis.observations=<file> or vis.oracle=true (ground-truth masks without ids)")
    return p


def _entry(r: Any, ds: VISDataset, where: str, keys: tuple[str, ...]) -> tuple[Any, str, int] | None:
    """Checks shared by the prediction and results JSONs: an object with ``keys``, a known video and category.

    Returns (video, where-with-video, category id), or None for a video of the dataset that is not evaluated.
    """
    if not isinstance(r, dict):
        raise UnitrackError(f"{where}: must be an object")
    for key in keys:
        if key not in r:
            raise UnitrackError(f"{where}: missing '{key}'")
    vid = _int(r["video_id"], where, "video_id")
    if vid not in ds.all_video_ids:
        raise UnitrackError(f"{where}: unknown video_id {vid}")
    if vid not in ds._by_id:
        return None
    where = f"{where} (video {vid})"
    cid = _int(r["category_id"], where, "category_id")
    if cid not in ds.categories:
        raise UnitrackError(f"{where}: unknown category_id {cid} (categories: {sorted(ds.categories)})")
    return ds._by_id[vid], where, cid


def read_instances(path: str | Path, ds: VISDataset) -> dict[int, list[list[Instance]]]:
    """Per-frame instance predictions (module doc) → ``{video_id: [[Instance, ...] per frame]}`` for the
    videos of ``ds`` (instances of videos in the JSON but not selected are skipped)."""
    path = Path(path)
    data = _load_json(path)
    if not isinstance(data, list):
        raise UnitrackError(f"{path}: expected a JSON list of per-frame instances")
    out = {v.id: [[] for _ in range(v.length)] for v in ds.videos}
    for k, r in enumerate(data):
        entry = _entry(r, ds, f"{path}: instance {k}", ("video_id", "frame_index", "segmentation", "score",
                                                         "category_id"))
        if entry is None:
            continue
        v, where, cid = entry
        vid = v.id
        t = _int(r["frame_index"], where, "frame_index")
        if not 0 <= t < v.length:
            raise UnitrackError(f"{where}: frame_index {t} outside 0..{v.length - 1}")
        score = _number(r["score"], where, "score")
        rle = parse_mask(r["segmentation"], v.height, v.width, where, polygons=False)
        out[vid][t].append(Instance(rle, score, cid))
    return out


def gt_instances(ds: VISDataset) -> dict[int, list[list[Instance]]]:
    """The ground-truth masks as per-frame instances without ids (score 1, the GT category; crowd
    regions left out): the association oracle."""
    out = {v.id: [[] for _ in range(v.length)] for v in ds.videos}
    for a in ds.annotations or []:
        if a.iscrowd or a.video_id not in out:
            continue
        for t, s in enumerate(a.segmentations):
            if s is not None:
                out[a.video_id][t].append(Instance(s, 1.0, a.category_id))
    return out


def write_instances(path: str | Path, instances: Mapping[int, Sequence[Sequence[Instance]]]) -> None:
    """Write ``{video_id: per-frame instances}`` in the per-frame prediction format."""
    rows = [{"video_id": int(vid), "frame_index": t, "segmentation": rle_to_json(i.rle), "score": float(i.score),
             "category_id": int(i.category_id)}
            for vid in sorted(instances) for t, frame in enumerate(instances[vid]) for i in frame]
    atomic_write_json(path, rows)


# ---------------------------------------------------------------------------------------------------
# results JSON
# ---------------------------------------------------------------------------------------------------


def write_results(path: str | Path, tracks: Iterable[VISTrack]) -> None:
    """Write tracks in the YouTube-VIS results format (one entry per track, one RLE or null per frame)."""
    rows = [{"video_id": int(t.video_id), "category_id": int(t.category_id), "score": float(t.score),
             "segmentations": [rle_to_json(s) for s in t.segmentations]} for t in tracks]
    atomic_write_json(path, rows)


def results_path(pred: str | Path) -> Path:
    p = Path(pred)
    if p.is_dir():
        hits = [p / RESULTS_FILE] if (p / RESULTS_FILE).is_file() else sorted(p.rglob(RESULTS_FILE))
        if not hits:
            raise UnitrackError(f"{p}: no {RESULTS_FILE} (YouTube-VIS results JSON) in it")
        return hits[0]
    return p


def read_results(path: str | Path, ds: VISDataset) -> list[VISTrack]:
    """A YouTube-VIS results JSON, validated against ``ds`` (tracks of videos not in ``ds`` are skipped)."""
    path = Path(path)
    data = _load_json(path)
    if not isinstance(data, list):
        raise UnitrackError(f"{path}: expected a JSON list of tracks (YouTube-VIS results format)")
    out = []
    for k, r in enumerate(data):
        entry = _entry(r, ds, f"{path}: track {k}", ("video_id", "category_id", "score", "segmentations"))
        if entry is None:
            continue
        v, where, cid = entry
        vid = v.id
        score = _number(r["score"], where, "score")
        segs = r["segmentations"]
        if not isinstance(segs, list) or len(segs) != v.length:
            n = len(segs) if isinstance(segs, list) else type(segs).__name__
            raise UnitrackError(f"{where}: {n} segmentations, the video has {v.length} frames")
        masks = [None if s is None else parse_mask(s, v.height, v.width, f"{where}, frame {t}", polygons=False)
                 for t, s in enumerate(segs)]
        out.append(VISTrack(k + 1, vid, cid, masks, score))
    return out


# ---------------------------------------------------------------------------------------------------
# video AP
# ---------------------------------------------------------------------------------------------------


def video_iou(dts: Sequence[VISTrack], gts: Sequence[VISTrack], iscrowd: Sequence[int] | None = None) -> np.ndarray:
    """D×G video mask IoU (module doc); crowd ground truth: intersection / the prediction's area."""
    D, G = len(dts), len(gts)
    if D == 0 or G == 0:
        return np.zeros((D, G))
    T = len(gts[0].segmentations)
    if any(len(t.segmentations) != T for t in (*dts, *gts)):
        raise ValueError("video_iou: tracks of one video must have the same number of frames")
    mu = mask_utils
    ad = np.stack([d.frame_areas() for d in dts])  # D×T
    ag = np.stack([g.frame_areas() for g in gts])  # G×T
    inter = np.zeros((D, G))
    for t in range(T):
        di = [i for i in range(D) if ad[i, t] > 0]
        gi = [j for j in range(G) if ag[j, t] > 0]
        if not di or not gi:
            continue
        # with every ground truth marked crowd, pycocotools returns |d ∩ g| / |d|: × |d| = the intersection
        r = np.asarray(mu.iou([dts[i].segmentations[t] for i in di], [gts[j].segmentations[t] for j in gi],
                              [1] * len(gi)), dtype=np.float64).reshape(len(di), len(gi))
        inter[np.ix_(di, gi)] += np.rint(r * ad[di, t][:, None])
    sd, sg = ad.sum(1)[:, None], ag.sum(1)[None, :]
    union = sd + sg - inter
    crowd = np.zeros(G, bool) if iscrowd is None else np.asarray(iscrowd, bool)
    denom = np.where(crowd[None, :], np.broadcast_to(sd, (D, G)), union)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denom > 0, inter / np.where(denom > 0, denom, 1), 0.0)


class VideoCOCOeval(COCOeval):
    """COCO AP over tracks: videos play the role of images, the IoU is :func:`video_iou`, a track's area
    its mean area over its present frames, at most 1 / 10 / 100 tracks per video, area range 'all'."""

    def __init__(self, gts: Sequence[VISTrack], dts: Sequence[VISTrack], video_ids: Iterable[int],
                 cat_ids: Iterable[int]):
        super().__init__(None, None, "segm")
        p = self.params
        p.imgIds = sorted({int(v) for v in video_ids})
        p.catIds = sorted({int(c) for c in cat_ids})
        p.maxDets = list(MAX_DETS)
        p.areaRng = [[0.0, 1e12]]
        p.areaRngLbl = ["all"]
        self.gt_tracks = list(gts)
        self.dt_tracks = list(dts)
        self._iou_cache: dict[tuple[int, int], np.ndarray] = {}

    def _prepare(self):
        """Group the tracks by (video, category) as COCOeval's ``_gts`` / ``_dts`` records."""
        p = self.params
        vids, cats = set(p.imgIds), set(p.catIds)
        self._gts, self._dts = defaultdict(list), defaultdict(list)
        for k, g in enumerate(self.gt_tracks):
            if g.video_id in vids and g.category_id in cats:
                self._gts[g.video_id, g.category_id].append(
                    {"id": k + 1, "image_id": g.video_id, "category_id": g.category_id, "iscrowd": g.iscrowd,
                     "ignore": g.iscrowd, "area": g.area, "track": g})
        for k, d in enumerate(self.dt_tracks):
            if d.video_id in vids and d.category_id in cats:
                self._dts[d.video_id, d.category_id].append(
                    {"id": k + 1, "image_id": d.video_id, "category_id": d.category_id, "iscrowd": 0,
                     "score": d.score, "area": d.area, "track": d})
        self.evalImgs = defaultdict(list)
        self.eval = {}

    def computeIoU(self, imgId, catId):  # noqa: N802,N803  (COCOeval's names)
        """D×G video IoU, predictions in descending score (stable) and cut to the largest maxDets, as
        ``evaluateImg`` expects; cached, so evaluating a subset of the videos again reuses it."""
        gt, dt = self._gts[imgId, catId], self._dts[imgId, catId]
        if not gt and not dt:
            return []
        key = (imgId, catId)
        if key not in self._iou_cache:
            order = np.argsort([-d["score"] for d in dt], kind="mergesort")[: self.params.maxDets[-1]]
            self._iou_cache[key] = video_iou([dt[i]["track"] for i in order], [g["track"] for g in gt],
                                             [g["iscrowd"] for g in gt])
        return self._iou_cache[key]

    def run(self, video_ids: Iterable[int] | None = None) -> dict[str, Any]:
        """Evaluate (all videos, or only ``video_ids``) and summarise; pycocotools' prints swallowed."""
        if video_ids is not None:
            self.params.imgIds = sorted({int(v) for v in video_ids})
        with contextlib.redirect_stdout(io.StringIO()):
            self.evaluate()
            self.accumulate()
        return summarise(self)


def summarise(E) -> dict[str, Any]:
    """AP / AP50 / AP75 / AR1 / AR10 (fractions, NaN without ground truth) and per-category AP of an
    accumulated evaluator."""
    p = E.params
    prec = E.eval["precision"][:, :, :, 0, :]  # T×R×K×M
    rec = E.eval["recall"][:, :, 0, :]  # T×K×M
    m100, m1, m10 = p.maxDets.index(100), p.maxDets.index(1), p.maxDets.index(10)

    def mean(x: np.ndarray) -> float:
        x = x[x > -1]
        return float(x.mean()) if x.size else float("nan")

    def thr(v: float) -> int:
        return int(np.flatnonzero(np.isclose(p.iouThrs, v))[0])

    out: dict[str, Any] = {
        "AP": mean(prec[..., m100]),
        "AP50": mean(prec[thr(0.5), :, :, m100]),
        "AP75": mean(prec[thr(0.75), :, :, m100]),
        "AR1": mean(rec[:, :, m1]),
        "AR10": mean(rec[:, :, m10]),
    }
    out["per_category"] = {int(c): mean(prec[:, :, k, m100]) for k, c in enumerate(p.catIds)}
    return out


def evaluate_vis(ds: VISDataset, results: Sequence[VISTrack], per_video: bool = True
                 ) -> tuple[dict[str, float], dict[str, dict[str, float]], dict[str, float]]:
    """Score tracks against the ground truth of ``ds`` → (metrics, per video AP/AP50, per category AP)."""
    if ds.annotations is None:
        raise UnitrackError(f"{ds.path}: no 'annotations' (a split without public ground truth): nothing to score")
    vids = [v.id for v in ds.videos]
    E = VideoCOCOeval(ds.annotations, results, vids, ds.categories)
    s = E.run()
    metrics = {k: s[k] for k in METRIC_KEYS}
    names = {c: n for c, n in ds.categories.items()}
    per_cat = {names[c]: v for c, v in s["per_category"].items() if math.isfinite(v)}
    per_vid: dict[str, dict[str, float]] = {}
    if per_video:
        for v in ds.videos:
            sv = E.run([v.id])
            per_vid[v.name] = {k: sv[k] for k in ("AP", "AP50")}
        E.params.imgIds = vids
    return metrics, per_vid, per_cat


def score_results(gt_root: str | Path, pred: str | Path, split: str = "train", annotations: str | Path | None = None,
                  max_sequences: int | None = None):
    """Score a results JSON (or a folder holding ``results.json``) against the dataset under ``gt_root``."""
    ds = find_dataset(gt_root, split, annotations, max_sequences=max_sequences)
    return evaluate_vis(ds, read_results(results_path(pred), ds))
