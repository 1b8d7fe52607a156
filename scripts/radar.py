#!/usr/bin/env python
"""Radar plot of ranks per task (the paper's Figure 1) from a results folder or the published tables.

    python scripts/radar.py results --out radar                  # radar.png + radar.svg
    python scripts/radar.py --paper --arch R50 --out radar_paper  # the published Table 1
"""

from __future__ import annotations

import argparse
import sys

from unitrack.app.report import (
    load_paper_table,
    load_results,
    paper_columns,
    radar_columns,
    radar_plot,
    results_table,
)
from unitrack.utils import UnitrackError


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results_dir", nargs="?", help="results folder (omit with --paper)")
    ap.add_argument("--paper", action="store_true", help="rank the published Tables 1–2 rows instead")
    ap.add_argument("--arch", default="R50", help="with --paper: R50 (Table 1) or R18 (Table 2)")
    ap.add_argument("--layer", default="best", choices=("3", "4", "best"))
    ap.add_argument("--out", default="radar", help="output path without extension (PNG and SVG are written)")
    ap.add_argument("--title")
    a = ap.parse_args(argv)
    try:
        if a.paper:
            rows = [r for r in load_paper_table() if r.arch == a.arch]
            columns = paper_columns()
            title = a.title or f"Published Tables 1–2 ({a.arch})"
        elif a.results_dir:
            columns, rows = results_table(load_results(a.results_dir))
            columns = radar_columns(columns)
            title = a.title or str(a.results_dir)
        else:
            raise UnitrackError("give RESULTS_DIR or --paper")
        if len(rows) < 2 or len(columns) < 3:
            raise UnitrackError(f"a radar plot needs ≥ 2 backbones and ≥ 3 tasks (got {len(rows)} and {len(columns)})")
        layer = a.layer if a.layer == "best" else int(a.layer)
        png, svg = radar_plot(rows, columns, a.out, title, layer=layer)
    except UnitrackError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"{png}\n{svg}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
