#!/usr/bin/env python
"""Thin wrapper: ``python scripts/sweep.py ARGS`` = ``unitrack sweep ARGS``.

Example (every registered backbone that has weights, all installed tasks, both layers, on a Ray cluster):
    python scripts/sweep.py --backbones all --tasks all --layers 3,4 --data /data/unitrack \\
        --executor ray --address auto --gpus-per-cell 1 --out results
Rerun the same command after an interruption: stored cells are reused, only missing ones run.
"""

import sys

from unitrack.app.cli import main

if __name__ == "__main__":
    sys.exit(main(["sweep", *sys.argv[1:]]))
