"""Shared by the bench tests: a quick run of some sections, and checks of a timing distribution."""

from __future__ import annotations

import json
import math
from pathlib import Path

from sputnik_edge.config import Settings, StorageSection
from sputnik_edge.tools import bench
from sputnik_edge.tools.bench.stats import Stats


def bench_settings(tmp_path: Path) -> Settings:
    return Settings(storage=StorageSection(database=tmp_path / "edge.db", snapshots_dir=tmp_path / "snaps"))


def run_quick(
    settings: Settings, faces_dir: Path, sections: str, seconds: float | None = None
) -> bench.BenchResult:
    opts = bench.BenchOptions(
        sections=bench.parse_sections(sections),
        quick=True,
        faces_dir=faces_dir,
        progress=False,
        stream_seconds=seconds,
    )
    result = bench.run_bench(settings, opts)
    json.dumps(result.to_json())  # everything is plain JSON
    assert not result.failed_sections(), result.errors
    return result


def positive_stats(stats: Stats) -> None:
    assert stats.n > 0
    values = (stats.min_ms, stats.median_ms, stats.p95_ms, stats.max_ms)
    assert all(v is not None and math.isfinite(v) and v >= 0 for v in values), stats
    assert stats.min_ms <= stats.median_ms <= stats.p95_ms <= stats.max_ms
