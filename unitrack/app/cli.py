"""The ``unitrack`` command line: a thin layer over :mod:`unitrack.api`."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import sys
import traceback
from pathlib import Path

from unitrack import __version__
from unitrack.tasks import task_names
from unitrack.utils import UnitrackError, setup_logging

log = logging.getLogger("unitrack")

EPILOG = """examples:
  unitrack eval --task vos --backbone random_r18 --data demo      # fully offline, generated demo data
  unitrack eval --task sot --head dcf --backbone imagenet_r18 --data /data/OTB2015
  unitrack eval --task mots --backbone vfs --weights ckpt/vfs_r50.pth --data /data/MOTS
  unitrack score --task mot --gt /data/MOT17/train --pred results/mot/.../pred
  unitrack backbones
  unitrack datasets demo --out demo_data
"""


def _add_common(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("-v", "--verbose", action="count", default=0, help="debug logging (-vv: also from the libraries)")
    g.add_argument("-q", "--quiet", action="store_true", help="warnings and results only")


def _add_config(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="YAML", help="YAML file with a 'common' section and one section per task")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override one config value, e.g. --set vos.topk=20 (repeatable)")


def _count(minimum: int):
    """argparse type: an integer ≥ ``minimum`` (a clear usage error otherwise)."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if v < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer ≥ {minimum}, got {v}")
        return v

    return parse


def _amount(positive: bool = False):
    """argparse type: a finite number ≥ 0 (> 0 with ``positive``)."""

    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(v) or v < 0 or (positive and v == 0):
            raise argparse.ArgumentTypeError(f"expected a finite number {'>' if positive else '≥'} 0, got {text}")
        return v

    return parse


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="unitrack",
        description="Evaluate frozen appearance models on SOT, VOS, pose propagation, MOT, MOTS and "
        "PoseTrack with one framework and no training.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--version", action="version", version=f"unitrack {__version__}")
    g = ap.add_mutually_exclusive_group()  # also accepted before the subcommand: `unitrack -q eval ...`
    g.add_argument("-v", "--verbose", dest="top_verbose", action="count", default=0, help="debug logging (-vv: also libraries)")
    g.add_argument("-q", "--quiet", dest="top_quiet", action="store_true", help="warnings and results only")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("eval", help="evaluate a backbone on a task; stores a result", epilog=EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", required=True, choices=task_names())
    p.add_argument("--backbone", help="registered name (see `unitrack backbones`), a timm name, or pkg.mod:fn")
    p.add_argument("--layer", type=int, help="ResNet layer whose output is the feature map (3 or 4)")
    p.add_argument("--weights", metavar="PATH", help="checkpoint file (always works offline)")
    p.add_argument("--data", default="demo", help="dataset root, or 'demo' for the generated benchmark (default)")
    p.add_argument("--out", default="results", help="results folder (default ./results)")
    p.add_argument("--device", help="auto (default), cpu, cuda or cuda:<i>")
    p.add_argument("--amp", action="store_true", help="mixed precision for the backbone on GPU")
    p.add_argument("--head", help="the head of a task that has several (SOT: xcorr, the default, or dcf)")
    p.add_argument("--protocol", help="propagation tasks: named preset of the propagation hyper-parameters "
                   "(unitrack, the default, crw or dino; see docs/protocol.md)")
    p.add_argument("--max-sequences", type=_count(1), help="only the first N sequences (quick look)")
    p.add_argument("--feature-cache", metavar="DIR", help="cache backbone features on disk in DIR")
    p.add_argument("--force", action="store_true", help="recompute even if a result with this fingerprint exists")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--viz", nargs="?", const="mp4", choices=("mp4", "gif", "png"), metavar="FORMAT",
                   help="also draw the predictions into <result>/viz (mp4 by default, or gif / png)")
    _add_config(p)
    _add_common(p)

    p = sub.add_parser("score", help="score existing result files against ground truth")
    p.add_argument("--task", required=True, choices=task_names())
    p.add_argument("--gt", required=True, help="ground-truth root in the benchmark's native layout")
    p.add_argument("--pred", required=True, help="folder of prediction files in the benchmark's format")
    p.add_argument("--out", help="also write the scores to this JSON file")
    _add_config(p)
    _add_common(p)

    p = sub.add_parser("sweep", help="evaluate many backbones × tasks × layers, resumable")
    p.add_argument("--backbones", required=True, help="comma-separated names (NAME@WEIGHTS for a checkpoint or @random), or 'all'")
    p.add_argument("--tasks", required=True, help="comma-separated tasks ('sot' = both heads, 'sot:dcf' one), or 'all'")
    p.add_argument("--layers", default="3", help="comma-separated layers, e.g. 3,4 (default 3)")
    p.add_argument("--data", default="demo",
                   help="'demo', one folder with a sub-folder per task, or 'sot=PATH,vos=PATH,...'")
    p.add_argument("--out", default="results")
    p.add_argument("--executor", default="local", choices=("local", "ray"))
    p.add_argument("--workers", type=_count(1), default=1, help="local executor: parallel processes (default 1)")
    p.add_argument("--address", help="ray executor: cluster address ('auto', 'ray://host:10001'); default: local")
    p.add_argument("--cpus-per-cell", type=_amount(positive=True), default=1, help="ray executor: CPUs reserved per cell")
    p.add_argument("--gpus-per-cell", type=_amount(), default=0,
                   help="ray executor: GPUs reserved per cell (fractions share a GPU, e.g. 0.25)")
    p.add_argument("--retries", type=_count(0), default=2,
                   help="ray executor: resubmissions of a cell whose worker or node died (default 2)")
    p.add_argument("--max-sequences", type=_count(1), help="only the first N sequences of every task (quick look)")
    p.add_argument("--force", action="store_true")
    p.add_argument("--device")
    _add_config(p)
    _add_common(p)

    p = sub.add_parser("report", help="Markdown + HTML report with tables and radar plots")
    p.add_argument("results_dir")
    p.add_argument("--out", required=True)
    p.add_argument("--with-paper", action="store_true", help="add the published Tables 1–2 as reference rows")
    p.add_argument("--radar-layer", default="best", choices=("3", "4", "best"),
                   help="layer ranked in the radar plot (default: the better of layer3/layer4)")
    p.add_argument("--no-previews", action="store_true", help="no animated preview per result (faster)")
    _add_common(p)

    p = sub.add_parser("correlate", help="correlate task metrics with ImageNet linear-probe accuracy")
    p.add_argument("results_dir", nargs="?")
    p.add_argument("--paper", action="store_true", help="use the published Tables 1–2 instead of RESULTS_DIR")
    p.add_argument("--probe", metavar="CSV", help="linear-probe top-1 figures (default: shipped table / registry)")
    p.add_argument("--bootstrap", type=_count(0), default=2000, help="bootstrap resamples for the 95%% CIs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="write correlation.md/.json/.csv and scatter plots to this folder")
    _add_common(p)

    p = sub.add_parser("viz", help="draw predictions over the frames (video / GIF / PNG)")
    p.add_argument("result_dir")
    p.add_argument("--out", required=True)
    p.add_argument("--seq", action="append", default=[], metavar="NAME", help="only this sequence (repeatable)")
    p.add_argument("--format", default="mp4", choices=("mp4", "gif", "png"), help="mp4 (default), gif, or png frames")
    p.add_argument("--gt", choices=("none", "overlay", "side"),
                   help="ground truth: none, overlay or side (default: overlay for SOT, else none)")
    p.add_argument("--max-frames", type=_count(1), help="draw at most N frames")
    p.add_argument("--stride", type=_count(1), default=1, help="draw every N-th frame")
    p.add_argument("--width", type=_count(16), help="output width in pixels (default: native)")
    p.add_argument("--fps", type=_amount(positive=True), help="frame rate of the video (default: the dataset's)")
    p.add_argument("--trail", type=_count(0), default=10, help="frames of trail behind each track (0 = off)")
    p.add_argument("--no-errors", action="store_true", help="no error strip / error markers (association tasks)")
    p.add_argument("--task", help="task of a bare prediction folder (one without result.json)")
    p.add_argument("--data", help="dataset root, if it moved since the evaluation (or for a bare prediction folder)")
    _add_common(p)

    p = sub.add_parser("config", help="show a resolved config; write or check docs/config.md")
    csub = p.add_subparsers(dest="action", metavar="ACTION")
    c = csub.add_parser("show", help="print the resolved configuration of a task as YAML")
    c.add_argument("--task", required=True, choices=task_names())
    _add_config(c)
    _add_common(c)
    c = csub.add_parser("docs", help="write docs/config.md from the config classes (--check: exit 1 if stale)")
    c.add_argument("--out", default="docs/config.md", help="output file (default docs/config.md)")
    c.add_argument("--check", action="store_true", help="do not write; exit 1 when the file is out of date")
    _add_common(c)

    p = sub.add_parser("backbones", help="list registered backbones")
    p.add_argument("--json", action="store_true")
    _add_common(p)

    p = sub.add_parser("datasets", help="list supported datasets, check a folder, generate the demo benchmark")
    dsub = p.add_subparsers(dest="action", metavar="ACTION")
    d = dsub.add_parser("list", help="supported benchmarks and their expected layouts")
    _add_common(d)
    d = dsub.add_parser("check", help="read a dataset folder and report what a task would evaluate")
    d.add_argument("--task", required=True, choices=task_names())
    d.add_argument("dir", nargs="?", metavar="DIR", help="dataset root (or use --data)")
    d.add_argument("--data", help="dataset root, or 'demo'")
    _add_config(d)
    _add_common(d)
    d = dsub.add_parser("demo", help="write the generated demo benchmark (all native formats)")
    d.add_argument("--out", required=True)
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--sequences", type=int, default=3)
    d.add_argument("--frames", type=int, default=None,
                   help="frames per sequence for every task (default: 20, SOT 12)")
    d.add_argument("--size", default="160x120", help="WxH (64–256 px)")
    _add_common(d)
    return ap


def _print_metrics(metrics: dict, per_sequence: dict | None = None) -> None:
    if per_sequence:
        keys = list(next(iter(per_sequence.values())).keys())[:8]
        width = max(len(s) for s in per_sequence) + 2
        print("sequence".ljust(width) + "".join(k[:12].rjust(13) for k in keys))
        for s, m in per_sequence.items():
            print(s.ljust(width) + "".join(_cell(m.get(k)).rjust(13) for k in keys))
        print()
    for k, v in metrics.items():
        print(f"{k:>24}: {_cell(v)}")


def _cell(v) -> str:
    if isinstance(v, float):
        return f"{v:.4f}"
    return "-" if v is None else str(v)


def cmd_eval(a: argparse.Namespace) -> int:
    from unitrack.api import evaluate

    kw = {}
    if a.head:
        from unitrack.tasks import get_spec

        spec = get_spec(a.task)
        if not spec.variants:
            with_variants = [s.name for s in _specs() if s.variants]
            raise UnitrackError(f"--head applies to --task {' / '.join(with_variants)} only; task {a.task!r} has a "
                               "single head")
        if a.head not in spec.variants:
            raise UnitrackError(f"--head {a.head!r}: task {a.task!r} has heads {', '.join(spec.variants)}")
        kw[spec.variant_key] = a.head
    sets = list(a.sets)
    if a.protocol:
        from unitrack.config import section_class
        from unitrack.tasks import get_spec

        fields = {f.name for f in dataclasses.fields(section_class(a.task))}
        if get_spec(a.task).family != "propagation" or "protocol" not in fields:
            raise UnitrackError(f"--protocol applies to the propagation tasks; task {a.task!r} has no protocol presets")
        sets.append(f"{a.task}.protocol={a.protocol}")
    if a.amp:
        sets.append("common.amp=true")
    if a.max_sequences is not None:
        sets.append(f"common.max_sequences={a.max_sequences}")
    if a.feature_cache:
        sets.append(f"common.feature_cache={a.feature_cache}")
    r = evaluate(a.task, a.backbone, a.data, layer=a.layer, weights=a.weights, out=a.out, config=a.config,
                 sets=sets, device=a.device, force=a.force, **kw)
    if a.viz:
        from unitrack.app.viz import visualise

        for p in visualise(r.path, Path(r.path) / "viz", fmt=a.viz):
            print(f"viz: {p}", file=sys.stderr)
    if a.json:
        print(json.dumps(r.to_json(), indent=2))
        return 0
    print(f"{r.task} on {r.dataset}: {r.backbone} layer{r.layer}" + ("  (reused stored result)" if r.reused else ""))
    _print_metrics(r.metrics, r.per_sequence)
    print(f"\nresult: {Path(r.path) / 'result.json'}")
    return 0


def _specs():
    from unitrack.tasks import all_specs

    return all_specs()


def cmd_score(a: argparse.Namespace) -> int:
    from unitrack.api import score
    from unitrack.utils import atomic_write_json

    out = score(a.task, a.gt, a.pred, config=a.config, sets=a.sets)
    _print_metrics(out.metrics, out.per_sequence)
    if a.out:
        atomic_write_json(a.out, {"task": a.task, "gt": a.gt, "pred": a.pred, "metrics": out.metrics,
                                  "per_sequence": out.per_sequence, "skipped": out.skipped})
    return 0


def cmd_backbones(a: argparse.Namespace) -> int:
    from unitrack.backbones import backbone_table

    rows = backbone_table()
    if a.json:
        print(json.dumps(rows, indent=2))
        return 0
    cols = ["name", "arch", "layer", "channels", "weights_local", "linear_probe_top1"]
    heads = ["name", "architecture", "layer", "channels", "weights", "IN top-1"]
    cells = [[_bb_cell(c, r.get(c)) for c in cols] for r in rows]
    widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(heads)]
    print("  ".join(h.ljust(w) for h, w in zip(heads, widths)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(x.ljust(w) for x, w in zip(row, widths)))
    return 0


def _bb_cell(col: str, v) -> str:
    if col == "weights_local":
        return {True: "local", False: "missing"}.get(v, str(v))
    if v is None:
        return "-"
    return f"{v:.1f}" if isinstance(v, float) else str(v)


def cmd_datasets(a: argparse.Namespace) -> int:
    if a.action == "demo":
        from unitrack.eval.demo import generate_demo

        try:
            w, h = (int(x) for x in a.size.lower().split("x"))
        except ValueError:
            raise UnitrackError(f"--size {a.size!r}: expected WxH, e.g. 160x120") from None
        out = generate_demo(a.out, seed=a.seed, num_sequences=a.sequences, num_frames=a.frames, size=(w, h))
        print(f"demo benchmark written to {out}")
        for sub in sorted(p.name for p in Path(out).iterdir() if p.is_dir()):
            print(f"  {sub}/")
        return 0
    if a.action == "list":
        from unitrack.tasks import all_specs

        specs = all_specs()
        print("supported benchmarks (native layouts; --data points at the root):")
        for s in specs:
            print(f"  {s.name:<10} {s.benchmark:<13} {s.data_help}")
        print(f"  {'demo':<10} {'generated':<13} `unitrack datasets demo --out DIR` writes every task's data; "
              "--data demo uses a cache")
        print("tasks available in this installation:", ", ".join(s.name for s in specs) or "none")
        return 0
    if a.action == "check":
        from unitrack.config import load_config
        from unitrack.tasks import get_task

        cfg = load_config(a.task, a.config, a.sets)
        t = get_task(a.task)
        data = a.data or a.dir
        if not data:
            raise UnitrackError("datasets check needs a dataset folder: DIR or --data DIR")
        name, root = t.resolve_data(data, cfg)
        info = t.check(root, cfg)
        if info is None:
            raise UnitrackError(f"task {a.task!r} has no dataset check yet")
        print(f"{a.task}: dataset {name!r} at {root}")
        for k, v in info.items():
            print(f"  {k}: {v}")
        return 0
    raise UnitrackError("datasets needs an action: list, check or demo")




# exit codes (documented in the README)
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130

APP_COMMANDS = ("sweep", "report", "correlate", "viz", "config")  # subcommands whose module in unitrack.app has `cli(args)`
APP_MODULES = {"config": "configdoc"}  # command → module name where they differ


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    a = ap.parse_args(argv)
    if not a.command:
        ap.print_help()
        return 2
    quiet = getattr(a, "quiet", False) or a.top_quiet
    setup_logging(-1 if quiet else getattr(a, "verbose", 0) + a.top_verbose)
    handlers = {"eval": cmd_eval, "score": cmd_score, "backbones": cmd_backbones, "datasets": cmd_datasets}
    verbose = getattr(a, "verbose", 0) + a.top_verbose > 0
    # the one error boundary: expected failures are one line naming the file and what was expected
    try:
        if a.command in handlers:
            return handlers[a.command](a)
        return _app_handler(a.command)(a)
    except UnitrackError as e:
        if verbose:
            traceback.print_exc()
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `unitrack backbones | head`
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OSError as e:  # the file system refused (permissions, full disk, a file where a folder should be)
        if verbose:
            traceback.print_exc()
        where = f"{e.filename}: " if getattr(e, "filename", None) else ""
        print(f"error: {where}{e.strerror or e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception:  # a bug in unitrack: show everything
        traceback.print_exc()
        print("internal error: this is a bug in unitrack; please report it with the traceback above",
              file=sys.stderr)
        return EXIT_FAILED


def _app_handler(command: str):
    """The ``cli(args)`` function of ``unitrack.app.<command>`` (imported only when that command runs)."""
    import importlib

    if command not in APP_COMMANDS:
        raise UnitrackError(f"unknown command {command!r}")
    return importlib.import_module(f"unitrack.app.{APP_MODULES.get(command, command)}").cli
