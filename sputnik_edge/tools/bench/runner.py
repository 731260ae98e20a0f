"""Run the selected bench sections into one ``BenchResult``; a failing section is reported under
``errors`` and never costs the other sections their numbers."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from sputnik_edge.tools.bench.backlight import bench_backlight
from sputnik_edge.tools.bench.central import bench_central
from sputnik_edge.tools.bench.context import SECTIONS, BenchContext, BenchError
from sputnik_edge.tools.bench.detectors import bench_detectors
from sputnik_edge.tools.bench.embedders import bench_embedders
from sputnik_edge.tools.bench.fleet import bench_fleet
from sputnik_edge.tools.bench.imagesets import bench_imagesets
from sputnik_edge.tools.bench.liveness import bench_liveness
from sputnik_edge.tools.bench.machine import loadavg, machine_info
from sputnik_edge.tools.bench.match import bench_match
from sputnik_edge.tools.bench.memory import bench_memory
from sputnik_edge.tools.bench.outbox import bench_outbox
from sputnik_edge.tools.bench.reference import bench_reference
from sputnik_edge.tools.bench.results import SCHEMA, BenchConfig, BenchResult, Sections
from sputnik_edge.tools.bench.stages import bench_stages
from sputnik_edge.tools.bench.stream import bench_stream
from sputnik_edge.tools.bench.targets import evaluate_targets
from sputnik_edge.tools.paths import default_faces_dir

if TYPE_CHECKING:
    from sputnik_edge.config import Settings

log = structlog.get_logger(__name__)

RUNNERS: dict[str, Callable[[BenchContext], Any]] = {
    "stages": bench_stages,
    "reference": bench_reference,
    "stream": bench_stream,
    "match": bench_match,
    "memory": bench_memory,
    "outbox": bench_outbox,
    "central": bench_central,
    "detectors": bench_detectors,
    "fleet": bench_fleet,
    "backlight": bench_backlight,
    "liveness": bench_liveness,
    "imagesets": bench_imagesets,
    "embedders": bench_embedders,
}
# Sections that read the dev face data (the others make their own inputs).
NEEDS_FACES = frozenset(
    {"stages", "reference", "stream", "memory", "backlight", "liveness", "imagesets", "embedders"}
)


@dataclass(frozen=True, slots=True)
class BenchOptions:
    sections: tuple[str, ...] = SECTIONS
    quick: bool = False
    faces_dir: Path = field(default_factory=default_faces_dir)
    progress: bool = True
    stream_seconds: float | None = None
    database_url: str = ""
    command: str = "sputnik-edge bench"


def parse_sections(text: str | None) -> tuple[str, ...]:
    if not text:
        return SECTIONS
    chosen = tuple(dict.fromkeys(s.strip() for s in text.split(",") if s.strip()))
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown or not chosen:
        raise ValueError(
            f"--only: unknown section(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(SECTIONS)}"
        )
    return chosen


@contextlib.contextmanager
def _quiet_native_logs() -> Iterator[None]:
    """OpenCV's DNN engine warns on every net it builds; the bench output stays readable."""
    import cv2

    prev = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(prev)


def run_bench(settings: Settings, opts: BenchOptions) -> BenchResult:
    """Run the selected sections; BenchError only when the face data the selection needs is missing."""
    needs = NEEDS_FACES & set(opts.sections)
    if needs and not (opts.faces_dir / "labels.csv").is_file():
        raise BenchError(
            f"face data not found at {opts.faces_dir} (needed by "
            f"{', '.join(sorted(needs))}); set --faces-dir or SPUTNIK_FACES_DIR"
        )
    ctx = BenchContext(
        settings=settings,
        faces_dir=opts.faces_dir,
        quick=opts.quick,
        progress=opts.progress,
        seconds=opts.stream_seconds,
        database_url=opts.database_url,
    )
    generated_at = datetime.now(UTC).isoformat(timespec="seconds")
    machine = machine_info()
    sections: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    errors: dict[str, str] = {}
    with _quiet_native_logs():
        for name in opts.sections:
            t0 = time.monotonic()
            log.info("bench_section_start", section=name)
            try:
                sections[name] = RUNNERS[name](ctx)
            except BenchError as exc:
                errors[name] = str(exc)
                log.warning("bench_section_skipped", section=name, error=str(exc))
            except Exception as exc:  # one broken section must not lose the others' numbers
                errors[name] = f"{type(exc).__name__}: {exc}"
                log.exception("bench_section_failed", section=name)
            seconds[name] = round(time.monotonic() - t0, 1)
            log.info("bench_section_done", section=name, seconds=seconds[name])
    done = Sections(**sections)
    return BenchResult(
        schema=SCHEMA,
        generated_at=generated_at,
        command=opts.command,
        quick=opts.quick,
        machine=replace(machine, loadavg_end=loadavg()),
        config=BenchConfig(
            detect_max_side=settings.recognition.detect_max_side,
            onnx_threads=settings.recognition.threads,
            camera_fps_limit=ctx.configured_fps_limit(),
            min_frames=settings.attendance.min_frames,
        ),
        sections=done,
        section_seconds=seconds,
        errors=errors,
        targets=evaluate_targets(done),
    )
