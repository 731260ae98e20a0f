"""``bench --only memory``: the daemon as a subprocess (the one launcher), cold start and RSS."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.tools.bench_helpers import bench_settings, run_quick


@pytest.mark.slow
def test_memory_section(tmp_path: Path, faces_dir: Path) -> None:
    memory = run_quick(bench_settings(tmp_path), faces_dir, "memory").sections.memory
    assert memory is not None and set(memory.runs) == {"small_gallery_640p", "gallery_1000_1080p"}
    for run in memory.runs.values():
        assert run.exit_code == 0
        assert run.cold_start_s > 0 and run.peak_rss_mb > 50
        assert run.app_startup_s is not None and 0 < run.app_startup_s < run.cold_start_s
    assert memory.runs["gallery_1000_1080p"].gallery_templates == 1006
