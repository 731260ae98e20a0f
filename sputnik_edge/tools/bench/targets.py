"""The performance targets a device must meet, judged on a run's sections (pure functions)."""

from __future__ import annotations

from collections.abc import Callable

from sputnik_edge.tools.bench.results import Sections, StreamRun, Target


def _target(name: str, goal: str, value: float | None, unit: str, ok: Callable[[float], bool]) -> Target:
    v = None if value is None else float(value)
    return Target(name=name, goal=goal, value=v, unit=unit, passed=None if v is None else bool(ok(v)))


def _stream_targets(limited: StreamRun | None, every: StreamRun | None) -> list[Target]:
    out: list[Target] = []
    if limited is not None:
        at = f"stream at fps_limit {limited.fps_limit:g}"
        out += [
            _target(
                f"{at}: keeps real time",
                ">= 0.95 of target fps",
                limited.realtime_factor,
                "x",
                lambda v: v >= 0.95,
            ),
            _target(f"{at}: average CPU", "< 1 core", limited.cpu_cores, "cores", lambda v: v < 1.0),
            _target(
                f"{at}: p95 frame-to-outbox latency",
                "< 250 ms",
                limited.event_latency.p95_ms,
                "ms",
                lambda v: v < 250,
            ),
            _target(
                f"{at}: p95 frame latency", "< 250 ms", limited.frame_latency.p95_ms, "ms", lambda v: v < 250
            ),
        ]
    if every is not None:
        out += [
            _target(
                "stream, every frame (30 fps clip): real time",
                ">= 0.95 of 29.97 fps",
                every.realtime_factor,
                "x",
                lambda v: v >= 0.95,
            ),
            _target(
                "stream, every frame: average CPU", "< 1 core", every.cpu_cores, "cores", lambda v: v < 1.0
            ),
            _target(
                "stream, every frame: p95 frame-to-outbox latency",
                "< 250 ms",
                every.event_latency.p95_ms,
                "ms",
                lambda v: v < 250,
            ),
        ]
    return out


def evaluate_targets(s: Sections) -> list[Target]:
    """The issue's targets, each with the measured value and pass/fail (None: not measured)."""
    out: list[Target] = []
    if s.stream is not None:
        out += _stream_targets(s.stream.limited(), s.stream.every_frame())
    if s.match is not None:
        big = s.match.sizes.get("100000")
        out.append(
            _target(
                "1:N match at 100k templates",
                "< 5 ms per query",
                big.batch1.stats.median_ms if big else None,
                "ms",
                lambda v: v < 5,
            )
        )
        one = (s.match.single_thread_blas or {}).get("100000")
        if one is not None:
            out.append(
                _target(
                    "1:N match at 100k templates, OPENBLAS_NUM_THREADS=1",
                    "< 5 ms per query",
                    one.batch1.stats.median_ms,
                    "ms",
                    lambda v: v < 5,
                )
            )
    if s.memory is not None:
        big_run = s.memory.big_gallery()
        if big_run is not None:
            n = big_run.gallery_templates
            out += [
                _target(
                    f"peak RSS, {n} templates + 1080p camera",
                    "< 300 MB",
                    big_run.peak_rss_mb,
                    "MB",
                    lambda v: v < 300,
                ),
                _target(
                    f"cold start to ready, {n} templates", "< 3 s", big_run.cold_start_s, "s", lambda v: v < 3
                ),
            ]
        small = s.memory.runs.get("small_gallery_640p")
        if small is not None:
            out.append(
                _target(
                    "cold start to ready, small gallery", "< 3 s", small.cold_start_s, "s", lambda v: v < 3
                )
            )
    if s.reference is not None:
        for batch in ("batch1", "batch4"):
            overhead = s.reference.embedder_overhead.get(batch)
            out.append(
                _target(
                    f"embedder overhead vs bare session.run ({batch})",
                    "<= 1.2",
                    overhead.ratio if overhead else None,
                    "x",
                    lambda v: v <= 1.2,
                )
            )
        acc = s.reference.accuracy
        out.append(
            _target(
                "accuracy ours - OpenCV Zoo reference (calib pairs)",
                ">= -0.005",
                round(acc.ours.acc_best - acc.opencv_zoo.acc_best, 5),
                "",
                lambda v: v >= -0.005,
            )
        )
    return out
