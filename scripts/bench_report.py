#!/usr/bin/env python3
"""Turn a ``sputnik-edge bench --out DIR`` result into docs/BENCHMARKS.md and PNG plots.

    python scripts/bench_report.py [docs/bench/bench.json] [--md docs/BENCHMARKS.md] [--plots docs/bench]

The report lives in ``sputnik_edge.tools.bench.report`` (needs the tools extra for the plots).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without install

from sputnik_edge.tools.bench.report import main

if __name__ == "__main__":
    sys.exit(main())
