"""``bench --only stream``: an in-process EdgeApp on the looped clip (two short runs)."""

from __future__ import annotations

from pathlib import Path

from tests.unit.tools.bench_helpers import bench_settings, positive_stats, run_quick


def test_stream_section(tmp_path: Path, faces_dir: Path) -> None:
    result = run_quick(bench_settings(tmp_path), faces_dir, "stream", seconds=2)
    stream = result.sections.stream
    assert stream is not None and set(stream.runs) == {"fps_limit_10", "fps_limit_0"}
    for run in stream.runs.values():
        assert run.frames_read > 0 and run.frames_processed > 0
        # A frame read just before the window opened may be processed inside it: at most one more.
        assert run.frames_processed <= run.frames_read + 1
        assert 0 < run.processed_fps <= run.read_fps * 1.2
        assert run.cpu_cores > 0 and run.peak_rss_mb > 50
        positive_stats(run.frame_latency)
        positive_stats(run.processing)
        assert len(run.samples_ms.frame_latency) == run.frame_latency.n
        assert run.event_latency.n <= run.events == sum(run.events_by_kind.values())
        assert run.gallery_employees == 6
    limited = stream.limited()
    assert limited is not None and limited.processed_fps <= 12  # the camera fps limit holds
    assert any("frame latency" in t.name for t in result.targets)
