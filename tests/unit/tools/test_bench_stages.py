"""The ``stages`` section times the daemon's own frame path: counts follow the engine's decisions."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sputnik_edge.attendance.policy import CameraInfo, PolicyConfig
from sputnik_edge.attendance.tracker import IouTracker
from sputnik_edge.metrics import Metrics
from sputnik_edge.pipeline.engine import SnapshotSettings
from sputnik_edge.recognition.gallery import Gallery
from sputnik_edge.store.local import LocalStore
from sputnik_edge.tools.bench.results import STAGE_NAMES
from sputnik_edge.tools.bench.stages import StageClock, TimedEngine, TimedPolicy, TimedRecognizer
from sputnik_edge.vision.imageio import load_image
from tests.support.daemon import shared_recognizer
from tests.unit.tools.bench_helpers import bench_settings, positive_stats, run_quick


def test_stages_section_counts_are_consistent(tmp_path: Path, faces_dir: Path) -> None:
    stages = run_quick(bench_settings(tmp_path), faces_dir, "stages").sections.stages
    assert stages is not None
    assert list(stages.resolutions) == ["640x360", "1280x720", "1920x1080", "photos"]
    for res in stages.resolutions.values():
        st = res.stages
        assert list(st) == list(STAGE_NAMES)
        for name in ("decode", "detect", "total"):
            positive_stats(st[name].stats)
            assert st[name].stats.n == res.images * stages.repeats
        # Every detected face is aligned and judged once; one batched embed and match per frame.
        assert st["align"].stats.n == st["quality"].stats.n == round(res.faces_per_frame * res.images)
        assert st["embed"].stats.n == st["match"].stats.n <= res.images
        assert st["outbox"].stats.n == res.events <= st["policy"].stats.n
    # The clip and photos show faces: the embed, match and outbox stages run somewhere.
    for name in ("embed", "match", "policy", "outbox"):
        assert any(r.stages[name].stats.n > 0 for r in stages.resolutions.values()), name


def _engine(tmp_path: Path, clock: StageClock) -> tuple[TimedEngine, TimedRecognizer, LocalStore]:
    base = shared_recognizer()
    rec = TimedRecognizer(base, clock)
    store = LocalStore(tmp_path / "edge.db", device_id="bench")
    engine = TimedEngine(
        rec,
        TimedPolicy(PolicyConfig(1, 0.0), "bench", clock),
        store,
        SnapshotSettings(False, tmp_path),
        Metrics(),
    )
    engine.clock = clock
    return engine, rec, store


def test_timing_follows_the_real_engine(tmp_path: Path, faces_dir: Path) -> None:
    photo = load_image(faces_dir / "images/barack_obama/obama.jpg")
    clock = StageClock()
    engine, rec, store = _engine(tmp_path, clock)
    try:
        template, _ = rec.enrollment_template(photo)
        rec.set_gallery(Gallery.build(["obama"], template[None], {"obama": "Barack Obama"}))
        clock.samples = {k: [] for k in STAGE_NAMES}  # enrolment went through the same methods
        camera = CameraInfo("door", "in")

        tracker = IouTracker()
        out = engine.process_frame(camera, tracker, photo, datetime.now(UTC), time.monotonic())
        assert [e.kind for e in out.events] == ["check_in"] and out.events[0].employee_id == "obama"
        counts = {k: len(v) for k, v in clock.samples.items()}
        assert counts == {
            **counts,
            "detect": 1,
            "align": 1,
            "quality": 1,
            "embed": 1,
            "match": 1,
            "outbox": 1,
        }
        assert store.count_events() == 1

        # A quality gate nobody passes: the engine embeds nothing, and the timings say so.
        rec.limits = dataclasses.replace(rec.limits, min_face_px=10_000)
        out = engine.process_frame(camera, IouTracker(), photo, datetime.now(UTC), time.monotonic())
        assert out.embedded == 0 and not out.events
        assert (len(clock.samples["quality"]), len(clock.samples["embed"])) == (2, 1)
    finally:
        store.close()


def test_clock_records_a_failed_call() -> None:
    clock = StageClock()

    def boom() -> None:
        raise RuntimeError("inside the pipeline")

    with pytest.raises(RuntimeError):
        clock.call("embed", boom)
    assert len(clock.samples["embed"]) == 1
