"""EdgeApp wiring: scheduled jobs, retention, and a failing job that must not kill the daemon."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from structlog.testing import capture_logs

from sputnik_edge.attendance.types import AttendanceEvent, new_event_id
from sputnik_edge.config import Settings
from sputnik_edge.daemon.app import EdgeApp
from sputnik_edge.store.snapshots import save_snapshot
from tests.support.waiting import wait_until


@pytest.fixture
def app(tmp_path: Path) -> Iterator[EdgeApp]:
    settings = Settings(
        storage={
            "database": tmp_path / "edge.db",
            "snapshots_dir": tmp_path / "snaps",
            "snapshot_ttl_days": 7,
            "event_retention_days": 30,
        },
        http={"enabled": False},
    )
    a = EdgeApp(settings)
    yield a
    a.stop()


def event(captured_at: datetime, kind: str = "unknown") -> AttendanceEvent:
    return AttendanceEvent(new_event_id(), "door-1", "cam", kind, None, None, 0.1, captured_at)  # type: ignore[arg-type]


def test_failing_job_is_logged_counted_and_survived(app: EdgeApp) -> None:
    def boom() -> None:
        raise RuntimeError("disk on fire")

    job = app._job("boom", boom)
    with capture_logs() as logs:
        job()  # must not raise
        job()
    failures = [entry for entry in logs if entry["event"] == "job_failed"]
    assert len(failures) == 2 and failures[0]["job"] == "boom" and "disk on fire" in failures[0]["error"]
    assert app.metrics.job_failures.labels("boom")._value.get() == 2


def test_scheduler_runs_the_retention_jobs(app: EdgeApp) -> None:
    app.start()
    names = {job.name for job in app.scheduler.get_jobs()}
    assert {"snapshot_cleanup", "event_retention", "gallery_reload", "metrics_refresh"} <= names
    assert "sync" not in names  # standalone: no central jobs


def test_snapshot_ttl_and_event_retention(app: EdgeApp, tmp_path: Path) -> None:
    snaps = tmp_path / "snaps"
    img = np.full((120, 120, 3), 128, np.uint8)
    old_rel = save_snapshot(snaps, "old", img)
    new_rel = save_snapshot(snaps, "new", img)
    assert old_rel and new_rel
    ten_days_ago = time.time() - 10 * 86400
    os.utime(snaps / old_rel, (ten_days_ago, ten_days_ago))
    assert app.cleanup_snapshots() == 1
    assert not (snaps / old_rel).exists() and (snaps / new_rel).exists()
    assert oct((snaps / new_rel).stat().st_mode & 0o777) == "0o600"
    assert oct(snaps.stat().st_mode & 0o777) == "0o700"

    now = datetime.now(UTC)
    stale = app.store.record_event(event(now - timedelta(days=40)))
    fresh = app.store.record_event(event(now - timedelta(days=1)))
    app.store.set_snapshot(stale.event_id, new_rel)
    assert app.prune_events() == 1  # standalone: the local log is the record, old rows go
    left = {e.event.event_id for e in app.store.list_events(limit=10)}
    assert left == {fresh.event_id}
    assert not (snaps / new_rel).exists()  # the pruned event's snapshot went with it


def test_pipeline_alive_and_ready_without_cameras(app: EdgeApp) -> None:
    app.start()
    assert app.pipeline_alive()
    assert wait_until(lambda: app.ready, timeout=5)  # no camera and no HTTP: nothing to wait for
