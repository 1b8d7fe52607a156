#!/usr/bin/env python
"""Thin wrapper: ``python scripts/correlate.py ARGS`` = ``unitrack correlate ARGS``.

Examples:
    python scripts/correlate.py --paper --out corr_paper          # the published Tables 1–2 (Figure 6)
    python scripts/correlate.py results --probe my_top1.csv --out corr_mine
"""

import sys

from unitrack.app.cli import main

if __name__ == "__main__":
    sys.exit(main(["correlate", *sys.argv[1:]]))
