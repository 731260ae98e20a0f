"""The daemon's retention with event outputs: undelivered events stay (up to the output's cap,
beyond which the oldest are dropped with a warning counting them); disabled outputs hold nothing;
/health and /metrics show each output."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from sputnik_edge.attendance.types import AttendanceEvent, new_event_id
from sputnik_edge.config import Settings
from sputnik_edge.daemon.app import EdgeApp
from tests.support.daemon import free_port


def hook(output_id: str, **kw: Any) -> dict[str, Any]:
    # Nothing listens there: the output never delivers in these tests.
    return {
        "id": output_id,
        "kind": "webhook",
        "url": f"http://127.0.0.1:{free_port()}/x",
        "secret": "k",
        **kw,
    }


@pytest.fixture
def app(tmp_path: Path) -> Iterator[EdgeApp]:
    settings = Settings(
        storage={
            "database": tmp_path / "edge.db",
            "snapshots_dir": tmp_path / "snaps",
            "event_retention_days": 30,
        },
        http={"enabled": False},
        outputs=[hook("hr", max_backlog=3), hook("off", enabled=False)],
    )
    a = EdgeApp(settings)
    yield a
    a.stop()


def old_event(app: EdgeApp) -> AttendanceEvent:
    when = datetime.now(UTC) - timedelta(days=40)
    ev = AttendanceEvent(new_event_id(), "door-1", "cam", "unknown", None, None, None, when)
    return app.store.record_event(ev)


def test_retention_keeps_undelivered_events_up_to_the_cap(app: EdgeApp) -> None:
    assert [d.s.output_id for d in app.outputs.dispatchers] == ["hr"]  # the disabled one holds nothing
    seqs = [old_event(app).seq for _ in range(5)]
    with capture_logs() as logs:
        pruned = app.prune_events()
    # Standalone, all five are past retention; "hr" has delivered none and keeps its cap of 3.
    assert pruned == 2
    assert [e.event.seq for e in app.store.list_events()] == seqs[2:]
    dropped = [e for e in logs if e["event"] == "output_backlog_dropped"]
    assert len(dropped) == 1 and dropped[0]["count"] == 2 and dropped[0]["output"] == "hr"
    assert app.metrics.output_dropped.labels("hr")._value.get() == 2


def test_health_and_metrics_show_each_output(app: EdgeApp) -> None:
    old_event(app)
    app.store.outputs.failed("hr", "ConnectError: refused")
    body = app.health().as_dict()
    hr = body["outputs"]["hr"]
    assert hr["backlog"] == 1 and hr["failing"] and hr["last_error"] == "ConnectError: refused"
    assert hr["kind"] == "webhook" and hr["target"].startswith("http://127.0.0.1:")
    assert "output:hr" in body["degraded"] and body["status"] == "degraded"
    app.refresh_metrics()
    assert app.metrics.output_backlog.labels("hr")._value.get() == 1
    assert app.metrics.output_up.labels("hr")._value.get() == 0
