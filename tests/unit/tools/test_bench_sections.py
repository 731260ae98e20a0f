"""Smoke tests of ``sputnik-edge bench --quick`` sections: structure and sane values, never timings."""

from __future__ import annotations

from pathlib import Path

import pytest

from sputnik_edge.tools import bench
from tests.unit.tools.bench_helpers import bench_settings, positive_stats, run_quick


def test_parse_sections() -> None:
    assert bench.parse_sections(None) == bench.SECTIONS
    assert bench.parse_sections("match, outbox,match") == ("match", "outbox")
    with pytest.raises(ValueError, match="unknown section"):
        bench.parse_sections("match,gpu")


def test_machine_block_and_fast_sections(tmp_path: Path, faces_dir: Path) -> None:
    result = run_quick(bench_settings(tmp_path), faces_dir, "match,outbox,central")
    m = result.machine
    assert m.logical_cores and m.logical_cores >= 1 and m.ram_mb > 0
    assert m.python and m.onnxruntime and m.opencv and m.numpy and m.cpu_model
    assert "OPENBLAS_NUM_THREADS" in m.env and m.loadavg_end is not None
    assert result.quick is True and result.schema == 1

    match = result.sections.match
    assert match is not None and list(match.sizes) == ["1000", "10000", "100000"]
    for size, entry in match.sizes.items():
        assert entry.templates == int(size) and entry.employees == int(size) // match.templates_per_employee
        positive_stats(entry.batch1.stats)
        positive_stats(entry.batch4.stats)
    # The same sizes again in a child process with one BLAS thread, unless that is already the setting.
    if match.single_thread_blas is not None:
        assert list(match.single_thread_blas) == list(match.sizes)
        positive_stats(match.single_thread_blas["100000"].batch1.stats)
    else:
        assert match.blas_threads == "1" and match.single_thread_blas_error is None

    outbox = result.sections.outbox
    assert outbox is not None and outbox.stored == outbox.events == 20 and outbox.events_per_s > 0
    assert outbox.commit.n == 20

    # No database URL: the central section is skipped, not failed.
    assert result.sections.central is None and result.errors["central"].startswith("skipped")
    by_name = {t.name: t for t in result.targets}
    assert by_name["1:N match at 100k templates"].value == match.sizes["100000"].batch1.stats.median_ms
    assert all(t.passed in (True, False) for t in result.targets)
    text = bench.format_report(result)
    assert "match (1:N, synthetic)" in text and "outbox:" in text and "targets" in text
    assert "central: skipped" in text


def test_missing_face_data_is_a_bench_error(tmp_path: Path) -> None:
    opts = bench.BenchOptions(sections=("outbox", "stream"), quick=True, faces_dir=tmp_path, progress=False)
    with pytest.raises(bench.BenchError, match="needed by stream"):
        bench.run_bench(bench_settings(tmp_path), opts)
