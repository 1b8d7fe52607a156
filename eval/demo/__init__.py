"""Generated demo benchmark: short seeded synthetic videos written in every benchmark's NATIVE format.

It is the toolkit's embedded default dataset (``--data demo`` evaluates on it fully offline) and the
fixture data of the unit tests. One small scene simulator renders textured objects (blobs,
pedestrian silhouettes, articulated human puppets) on a textured, static or slowly panning
background, with smooth random trajectories, scale changes, depth-ordered occlusion and, in every
sequence, PAIRS OF SIMILAR-LOOKING objects (same texture pattern, slightly different tint) whose
paths cross: motion-only / IoU-only association makes identity switches there, appearance helps.
Per-format writers then emit OTB, DAVIS-2017, JHMDB, MOTChallenge (MOT17 style), MOTS20 and
PoseTrack-2018 layouts (see the ``README.txt`` written beside the data).

Which tasks have demo data comes from the task specs (:mod:`unitrack.tasks`): a spec with a
``demo_writer`` gets the sub-folder ``demo_subdir``, written by ``demo_writer(out_dir, rngs, n, T, W, H)``
(``rngs(i)`` = the generator of sequence ``i`` from the spec's own ``demo_stream``, so a task's data
never depends on which other tasks are generated) and returning its manifest entry (at least
``{"sequences": [...]}``). The package holds the shared machinery (:mod:`.core`: scene synthesis and
rendering; here: argument checks, the cache, README and manifest) and one module per format with its
writer (:mod:`.otb`, :mod:`.davis`, :mod:`.jhmdb`, :mod:`.mot`, :mod:`.mots`, :mod:`.posetrack`).
Plug-in tasks with a ``demo_writer`` are served too: their sub-folder is added to the cached demo on
first use (:func:`demo_task_root`).

Conventions a reader must know (also written into ``README.txt``):

* Continuous image coordinates put the centre of pixel (row i, column j) at (x=j, y=i).
* OTB ``groundtruth_rect.txt`` and MOT ``gt.txt``/``det.txt`` boxes are 1-based like the originals:
  a box whose top-left pixel is column x0, row y0 is written ``x0+1, y0+1``; w/h count pixels.
  GT boxes are the bounding boxes of the objects' full (amodal, unoccluded) masks; MOT boxes may
  extend outside the frame (objects enter and leave), the OTB target always stays inside.
* JHMDB ``pos_img`` is 1-based (joint (x, y) is stored as (x+1, y+1)), PoseTrack keypoints 0-based.
* ``jhmdb/split.txt`` holds paths RELATIVE to the folder of the split file itself
  (``joint_positions/<video>/joint_positions.mat Frames/<video>``); resolve them against it.
* MOT ``visibility`` = visible pixels inside the frame / pixels of the full (unclipped) mask.
* MOTS ``det/det.txt`` uses the MOTS txt format; its obj_id is a running detection index (1, 2, …,
  in file order, rows shuffled within a frame), NOT an identity. Detection masks are disjoint.
* PoseTrack detections (``posetrack/detections/val/<seq>.json``) carry [x, y, score] triples in
  ``keypoints``, the 17 scores in ``scores``, a person ``score``, and no ``track_id``.

Output is byte-identical for the same arguments on the same platform (JPEG quality 95 through cv2,
lossless PNG, fixed MAT-file header, sorted JSON construction).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from unitrack.eval.demo.davis import davis_palette
from unitrack.eval.demo.jhmdb import JHMDB_JOINTS
from unitrack.eval.demo.posetrack import POSETRACK_KEYPOINTS, POSETRACK_SKELETON
from unitrack.utils import UnitrackError, atomic_dir, atomic_write_text, file_lock, log, unitrack_home

if TYPE_CHECKING:  # pragma: no cover
    from unitrack.tasks import TaskSpec

__all__ = [
    "DEFAULT_NUM_FRAMES", "DEFAULT_NUM_SEQUENCES", "DEFAULT_SIZE", "DEMO_VERSION", "FRAMES_RANGE", "JHMDB_JOINTS",
    "MAX_SEQUENCES", "POSETRACK_KEYPOINTS", "POSETRACK_SKELETON", "SIZE_RANGE", "TASKS", "TASK_SUBDIRS",
    "davis_palette", "demo_specs", "demo_subdirs", "demo_task_root", "ensure_demo", "generate_demo",
]  # fmt: skip

DEMO_VERSION = "2"
DEFAULT_NUM_SEQUENCES = 3
DEFAULT_NUM_FRAMES = 20
DEFAULT_SIZE = (160, 120)
SIZE_RANGE = (64, 256)
FRAMES_RANGE = (10, 30)
MAX_SEQUENCES = 20


def demo_specs(tasks: Iterable[str] | str | None = None) -> list[TaskSpec]:
    """Specs of the tasks with demo data (a ``demo_writer``), in table order; `tasks` picks some of them.

    A requested task without demo data is an error; when nothing is requested, a plug-in whose demo
    fields are unusable (no or a clashing ``demo_subdir``) is logged and left out.
    """
    from unitrack.tasks import all_specs

    avail, used = [], {}
    for s in all_specs():
        if s.demo_writer is None:
            continue
        problem = _subdir_problem(s.demo_subdir, used)
        if problem:
            if tasks is None:
                log.warning("task %s: %s; it gets no demo data", s.name, problem)
                continue
            raise UnitrackError(f"task {s.name}: {problem}")
        used[s.demo_subdir] = s.name
        avail.append(s)
    if tasks is None:
        wanted = avail
    else:
        req = [tasks] if isinstance(tasks, str) else list(tasks)
        bad = [t for t in req if t not in {s.name for s in avail}]
        if bad:
            raise UnitrackError(f"unknown demo task(s) {bad}; expected some of {[s.name for s in avail]}")
        wanted = [s for s in avail if s.name in req]
    streams: dict[int, str] = {}
    for s in wanted:
        if s.demo_stream in streams:
            log.warning("tasks %s and %s share demo_stream %d: their demo scenes are drawn alike",
                        streams[s.demo_stream], s.name, s.demo_stream)  # fmt: skip
        streams.setdefault(s.demo_stream, s.name)
    return wanted


def _subdir_problem(sub: str, used: dict[str, str]) -> str | None:
    if not sub or sub != Path(sub).name or sub.startswith(".") or sub in ("README.txt", "manifest.json"):
        return f"demo_subdir {sub!r} must be one plain folder name"
    if sub in used:
        return f"demo_subdir {sub!r} is already used by task {used[sub]}"
    return None


def demo_subdirs() -> dict[str, str]:
    """``{task: demo sub-folder}`` of every task with demo data, in table order."""
    return {s.name: s.demo_subdir for s in demo_specs()}


def __getattr__(name: str) -> Any:
    # read from the task specs on access (kept for callers of the former tables)
    if name == "TASK_SUBDIRS":
        return demo_subdirs()
    if name == "TASKS":
        return tuple(demo_subdirs())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_README = """unitrack generated demo benchmark (version {version}, seed {seed})
frames: {T} per sequence, size {W}x{H} (WxH), {n} sequence(s) per task; tasks: {tasks}

Synthetic, seeded videos: textured objects / pedestrians / human puppets on a textured, static or
slowly panning background; smooth trajectories, scale changes, depth-ordered occlusion, and pairs
of look-alike objects (same pattern, slightly different tint) whose paths cross. Regenerate with
unitrack.eval.demo.generate_demo(out, seed={seed}, num_sequences={n}, num_frames={T_arg}, size=({W}, {H})).

otb/<Seq>/img/0001.jpg...            OTB-2015; groundtruth_rect.txt = x,y,w,h per frame (1-based x,y;
                                     comma-separated, one sequence TAB-separated as in OTB)
davis/JPEGImages/480p/<seq>/00000.jpg, davis/Annotations/480p/<seq>/00000.png (palette PNG, every frame;
                                     one sequence uses object ids 1,3[,4]), davis/ImageSets/2017/val.txt
jhmdb/Frames/<video>/00001.png...    jhmdb/joint_positions/<video>/joint_positions.mat (pos_img 2x15xT,
                                     1-based; pos_world; scale; viewpoint), jhmdb/split.txt: one line
                                     "<mat> <frame folder>" per video, paths RELATIVE to jhmdb/ (the split
                                     file's folder). Joints: {joints}
mot/train/<DEMO-NN>/img1/000001.jpg  gt/gt.txt (frame,id,x,y,w,h,1,1,visibility; 1-based; amodal boxes,
                                     may leave the frame), det/det.txt (frame,-1,x,y,w,h,score,-1,-1,-1),
                                     seqinfo.ini; mot/seqmaps/DEMO-train.txt
mots/train/<DEMO-NN>/img1/...        gt/gt.txt ("frame 2000+k 2 H W rle", disjoint visible masks),
                                     det/det.txt (same format, id = running detection index, not an
                                     identity), seqinfo.ini; mots/seqmaps/DEMO-MOTS-train.txt
posetrack/images/val/<seq>/000000.jpg, posetrack/annotations/val/<seq>.json (PoseTrack-2018 ground
                                     truth, every frame labelled, ears v=0), posetrack/detections/val/<seq>.json
                                     (same structure, [x,y,score] keypoints, "scores", no track_id)

Coordinates: pixel (row i, col j) has its centre at (x=j, y=i); PoseTrack keypoints are 0-based.
manifest.json lists the sequences of each task and, per sequence, its object ids and look-alike pairs.
"""



def _readme(seed: int, n: int, T: int, W: int, H: int, tasks: Iterable[str], frames: dict | None = None) -> str:
    other = {t: f for t, f in (frames or {}).items() if f != T}
    T_text = f"{T}" + (" (" + ", ".join(f"{t}: {f}" for t, f in sorted(other.items())) + ")" if other else "")
    return _README.format(version=DEMO_VERSION, seed=seed, T=T_text, T_arg="None" if other else T, W=W, H=H, n=n,
                          tasks=", ".join(tasks),
                          joints=", ".join(JHMDB_JOINTS))  # fmt: skip


def _check_args(num_sequences: int, num_frames: int, size) -> tuple[int, int]:
    W, H = (int(v) for v in size)
    lo, hi = SIZE_RANGE
    if not (lo <= W <= hi and lo <= H <= hi):
        raise UnitrackError(f"demo size {W}x{H}: width and height must lie in [{lo}, {hi}]")
    if not FRAMES_RANGE[0] <= int(num_frames) <= FRAMES_RANGE[1]:
        raise UnitrackError(f"demo num_frames={num_frames}: must lie in [{FRAMES_RANGE[0]}, {FRAMES_RANGE[1]}]")
    if not 1 <= int(num_sequences) <= MAX_SEQUENCES:
        raise UnitrackError(f"demo num_sequences={num_sequences}: must lie in [1, {MAX_SEQUENCES}]")
    return W, H


def _write_task(spec: TaskSpec, folder: Path, seed: int, n: int, T: int, W: int, H: int) -> dict:
    """Run the spec's demo writer into `folder` (its sub-folder) on the spec's own random stream."""
    stream = spec.demo_stream
    writer: Callable[..., dict] = spec.demo_writer  # type: ignore[assignment]

    def rngs(i: int) -> np.random.Generator:
        return np.random.default_rng([int(seed), stream, i])

    res = writer(folder, rngs, n, T, W, H)
    if not isinstance(res, dict) or not isinstance(res.get("sequences"), list):
        raise UnitrackError(f"task {spec.name}: its demo_writer must return a dict with a 'sequences' list")
    return res


def _task_frames(spec: TaskSpec, T: int, per_task: bool) -> int:
    """Frames per sequence of `spec`'s demo data: its own ``demo_frames`` in the default demo, else T."""
    return int(spec.demo_frames) if per_task and spec.demo_frames else T


def generate_demo(out: str | Path, seed: int = 0, tasks: Iterable[str] | None = None,
                  num_sequences: int = DEFAULT_NUM_SEQUENCES, num_frames: int | None = None,
                  size: tuple[int, int] = DEFAULT_SIZE) -> Path:  # fmt: skip
    """Write the demo benchmark under `out` (one subfolder per task with a ``demo_writer``, its spec's
    ``demo_subdir``; `tasks` picks some of them); returns out.

    ``num_frames``: frames per sequence for every task; None (the default demo) gives each task its
    spec's ``demo_frames`` where it sets one (SOT: 12) and DEFAULT_NUM_FRAMES otherwise."""
    per_task = num_frames is None
    T = DEFAULT_NUM_FRAMES if per_task else int(num_frames)
    W, H = _check_args(num_sequences, T, size)
    specs = demo_specs(tasks)
    wanted = [s.name for s in specs]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    n = int(num_sequences)
    frames = {s.name: _task_frames(s, T, per_task) for s in specs}
    for s in specs:
        _check_args(n, frames[s.name], size)
    t0 = time.perf_counter()
    manifest: dict[str, Any] = {
        "version": DEMO_VERSION, "seed": int(seed),
        "args": {"tasks": wanted, "num_sequences": n, "num_frames": T, "per_task_frames": per_task,
                 "frames": frames, "size": [W, H]},
        "layout": {s.name: s.demo_subdir for s in specs}, "sequences": {}, "tasks": {},
    }  # fmt: skip
    for spec in specs:
        res = _write_task(spec, out / spec.demo_subdir, seed, n, frames[spec.name], W, H)
        manifest["sequences"][spec.name] = res["sequences"]
        manifest["tasks"][spec.name] = {"subdir": spec.demo_subdir, **res}
    (out / "README.txt").write_text(_readme(seed, n, T, W, H, wanted, frames))
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    log.info("demo benchmark (%s) written to %s in %.1f s", ", ".join(wanted), out, time.perf_counter() - t0)
    return out


def _demo_dir(root: str | Path | None, seed: int) -> Path:
    base = Path(root).expanduser() if root is not None else unitrack_home() / "demo"
    return base / f"{DEMO_VERSION}-seed{int(seed)}"


def _complete(path: Path) -> bool:
    try:
        return json.loads((path / "manifest.json").read_text()).get("version") == DEMO_VERSION
    except (OSError, ValueError):
        return False


def ensure_demo(root: str | Path | None = None, seed: int = 0) -> Path:
    """Return the path of the default demo (generated on first use into `unitrack_home()/demo/<DEMO_VERSION>-seed<seed>`,
    written into a temp dir then renamed atomically so concurrent/killed runs never see a half-written demo).

    `root` replaces ``unitrack_home()/demo``: the demo then lives in ``root/<DEMO_VERSION>-seed<seed>``.
    """
    final = _demo_dir(root, seed)
    if _complete(final):
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(final.parent / f".{final.name}.lock"):
        if _complete(final):  # another process finished it while we waited
            return final
        log.info("generating the demo benchmark into %s (first use)", final)
        with atomic_dir(final) as tmp:
            generate_demo(tmp, seed=seed)
            os.chmod(tmp, 0o755)  # mkdtemp made it private; the cache is as readable as its parent
    return final



def _lock_path(demo: Path) -> Path:
    return demo.parent / f".{demo.name}.lock"


def _has_task(demo: Path, task: str, sub: str) -> bool:
    try:
        m = json.loads((demo / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    return m.get("layout", {}).get(task) == sub and (demo / sub).is_dir()


def _add_task(demo: Path, spec: TaskSpec) -> None:
    """Write `spec`'s sub-folder into the cached demo `demo` and record it in the manifest (under the
    cache lock; the folder appears in one rename; the other tasks' data is not touched)."""
    with file_lock(_lock_path(demo)):
        if _has_task(demo, spec.name, spec.demo_subdir):  # another process added it while we waited
            return
        m = json.loads((demo / "manifest.json").read_text())
        layout = m.setdefault("layout", {})
        used = {sub: t for t, sub in layout.items() if t != spec.name}
        problem = _subdir_problem(spec.demo_subdir, used)
        if problem:
            raise UnitrackError(f"task {spec.name}: {problem}")
        try:
            args = m["args"]
            seed, n, T = int(m["seed"]), int(args["num_sequences"]), int(args["num_frames"])
            W, H = (int(v) for v in args["size"])
            T = _task_frames(spec, T, bool(args.get("per_task_frames")))
        except (KeyError, TypeError, ValueError):
            raise UnitrackError(f"the cached demo {demo} has an incomplete manifest.json; delete the folder "
                                "to regenerate it") from None
        t0 = time.perf_counter()
        log.info("adding demo data of task %s to %s (first use)", spec.name, demo)
        with atomic_dir(demo / spec.demo_subdir, lock=False) as tmp:  # the cache lock is held
            res = _write_task(spec, tmp, seed, n, T, W, H)
        if spec.name not in args["tasks"]:
            args["tasks"].append(spec.name)
        args.setdefault("frames", {})[spec.name] = T
        layout[spec.name] = spec.demo_subdir
        m.setdefault("sequences", {})[spec.name] = res["sequences"]
        m.setdefault("tasks", {})[spec.name] = {"subdir": spec.demo_subdir, **res}
        atomic_write_text(demo / "README.txt", _readme(seed, n, int(args["num_frames"]), W, H, args["tasks"],
                                                       args["frames"]))
        atomic_write_text(demo / "manifest.json", json.dumps(m, indent=2) + "\n")
        log.info("demo data of task %s written in %.1f s", spec.name, time.perf_counter() - t0)


def demo_task_root(task: str, root: str | Path | None = None) -> Path:
    """The folder of `task` in the cached demo: ensure_demo(root) / the spec's demo_subdir.

    A task missing from the cached demo (a plug-in installed after it was generated) gets its
    sub-folder added on first use; the other tasks' data stays as it is.
    """
    from unitrack.tasks import get_spec

    spec = get_spec(task)
    if spec.demo_writer is None or not spec.demo_subdir:
        raise UnitrackError(f"task {task} has no demo data; pass --data")
    demo = ensure_demo(root)
    if not _has_task(demo, task, spec.demo_subdir):
        _add_task(demo, spec)
    return demo / spec.demo_subdir
