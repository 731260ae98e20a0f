"""CentralSync and Backoff without a database: a fake central store that records what it was given
and fails on demand, and a real LocalStore in tmp_path."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text

from sputnik_edge.attendance.types import AttendanceEvent
from sputnik_edge.central.errors import CentralError
from sputnik_edge.central.sync import GALLERY_SEQ_KEY, CentralSync
from sputnik_edge.central.types import DeviceHeartbeat, EmployeeRow, GalleryDelta, TemplateRow
from sputnik_edge.config import Settings
from sputnik_edge.metrics import Metrics
from sputnik_edge.recognition.gallery import EMBEDDING_DIM
from sputnik_edge.store.local import LocalStore

MODEL = "model-a"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeCentral:
    """Stands in for CentralStore: keeps pushed events, serves a queue of gallery deltas."""

    display_url = "postgresql://***@db.example/central"

    def __init__(self) -> None:
        self.events: dict[str, AttendanceEvent] = {}
        self.batches: list[list[str]] = []
        self.fail: str | None = None
        self.fail_after_commit = False
        self.deltas: list[GalleryDelta] = []
        self.heartbeats: list[DeviceHeartbeat] = []

    def push_events(self, events: Sequence[AttendanceEvent], faces: Sequence[object] = ()) -> int:
        if self.fail and not self.fail_after_commit:
            raise CentralError(self.fail)
        self.batches.append([e.event_id for e in events])
        new = [e for e in events if e.event_id not in self.events]
        self.events.update((e.event_id, e) for e in new)
        if self.fail:  # committed, but the answer never arrives
            raise CentralError(self.fail)
        return len(new)

    def pull_gallery(self, model_id: str, since_seq: int) -> GalleryDelta:
        if self.fail:
            raise CentralError(self.fail)
        assert model_id == MODEL
        if self.deltas and self.deltas[0].since_seq == since_seq:
            return self.deltas.pop(0)
        return GalleryDelta(since_seq, since_seq)

    def heartbeat(self, status: DeviceHeartbeat) -> float:
        if self.fail:
            raise CentralError(self.fail)
        self.heartbeats.append(status)
        return 12.5

    def close(self) -> None:
        pass


def event(i: int, employee_id: str | None = "e1") -> AttendanceEvent:
    return AttendanceEvent(
        event_id=str(uuid.uuid4()),
        device_id="door-u",
        camera_id="cam",
        kind="check_in" if employee_id else "unknown",
        employee_id=employee_id,
        name=None,
        similarity=0.9,
        captured_at=datetime(2024, 1, 1, tzinfo=UTC),
        details={"i": i},
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LocalStore]:
    s = LocalStore(tmp_path / "edge.db", device_id="door-u")
    yield s
    s.close()


def make_sync(
    tmp_path: Path, store: LocalStore, central: FakeCentral, batch_size: int = 3, **kw: object
) -> CentralSync:
    settings = Settings(
        device={"id": "door-u"},
        storage={"database": str(tmp_path / "edge.db"), "snapshots_dir": str(tmp_path / "snaps")},
        central={"database_url": "postgresql://u:secret@db.example/central", "batch_size": batch_size},
    )
    return CentralSync(settings, store, MODEL, Metrics(), central=central, **kw)  # type: ignore[arg-type]


# ---- push ----------------------------------------------------------------------------------------


def test_push_sends_oldest_first_in_batches_and_marks_sent(tmp_path: Path, store: LocalStore) -> None:
    central = FakeCentral()
    sync = make_sync(tmp_path, store, central, batch_size=3)
    recorded = [store.record_event(event(i)) for i in range(8)]
    assert sync.push_once() == 8
    assert central.batches == [[e.event_id for e in recorded[i : i + 3]] for i in (0, 3, 6)]
    assert store.backlog() == 0
    assert sync.status().pushed == 8 and sync.status().last_error is None
    assert sync.metrics.registry.get_sample_value("sputnik_sync_events_pushed_total") == 8
    assert sync.push_once() == 0 and len(central.batches) == 3  # nothing pending, nothing sent


def test_failed_push_marks_nothing_and_backs_off(tmp_path: Path, store: LocalStore) -> None:
    central = FakeCentral()
    sync = make_sync(tmp_path, store, central)
    for i in range(4):
        store.record_event(event(i))
    central.fail = "pushing events failed on postgresql://***@db.example/central: connection lost"
    assert sync.push_once() == 0
    assert store.backlog() == 4 and central.events == {}
    st = sync.status()
    assert st.last_error == central.fail and st.failures == 1 and st.backlog == 4
    assert "secret" not in str(st)
    assert sync.metrics.registry.get_sample_value("sputnik_outbox_backlog") == 4
    assert sync.metrics.registry.get_sample_value("sputnik_sync_failures_total") == 1
    # Within the backoff the scheduler's call does nothing; the failure was recorded on the events.
    assert sync.push_once() == 0 and sync.push_backoff.failures == 1
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT attempts, last_error FROM events")).all()
    # Only the batch that was tried (batch_size 3) counts an attempt.
    assert sorted(tuple(r) for r in rows) == [(0, None)] + [(1, central.fail)] * 3
    central.fail = None
    assert sync.push_once(force=True) == 4
    assert store.backlog() == 0 and sync.status().last_error is None and sync.push_backoff.failures == 0


def test_commit_without_answer_is_resent_and_counted_once(tmp_path: Path, store: LocalStore) -> None:
    """The central committed but the answer was lost: the batch stays pending and its re-send is a
    no-op centrally (the real store does ON CONFLICT DO NOTHING; the fake mimics it)."""
    central = FakeCentral()
    sync = make_sync(tmp_path, store, central, batch_size=10)
    for i in range(5):
        store.record_event(event(i))
    central.fail, central.fail_after_commit = "connection lost", True
    assert sync.push_once(force=True) == 0
    assert len(central.events) == 5 and store.backlog() == 5
    central.fail = None
    assert sync.push_once(force=True) == 0  # all five were already there
    assert store.backlog() == 0 and len(central.batches) == 2


def test_a_push_of_an_empty_outbox_does_not_hide_a_failing_pull(tmp_path: Path, store: LocalStore) -> None:
    central = FakeCentral()
    sync = make_sync(tmp_path, store, central)
    central.fail = "pulling gallery failed: host unreachable"
    assert sync.pull_once() == 0
    assert sync.status().last_error == central.fail
    central.fail = None
    sync.push_once()  # nothing to push: says nothing about the pull
    assert sync.status().last_error == "pulling gallery failed: host unreachable"
    sync.pull_once(force=True)
    assert sync.status().last_error is None


def test_latest_standing_error_is_reported(tmp_path: Path, store: LocalStore) -> None:
    central = FakeCentral()
    sync = make_sync(tmp_path, store, central)
    store.record_event(event(0))
    central.fail = "heartbeat down"
    assert sync.heartbeat_once() is None
    central.fail = "push down"
    sync.push_once(force=True)
    assert sync.last_error == "push down"
    central.fail = None
    assert sync.heartbeat_once() == 12.5
    assert sync.last_error == "push down"  # the heartbeat's success does not clear the push failure
    sync.push_once(force=True)
    assert sync.last_error is None


def test_heartbeat_reports_backlog_and_gallery_seq(tmp_path: Path, store: LocalStore) -> None:
    central = FakeCentral()
    sync = make_sync(tmp_path, store, central)
    store.record_event(event(0))
    store.set_state(GALLERY_SEQ_KEY, "42")
    assert sync.heartbeat_once() == 12.5
    [hb] = central.heartbeats
    assert (hb.device_id, hb.outbox_backlog, hb.gallery_seq, hb.model_id) == ("door-u", 1, 42, MODEL)
    assert hb.software_version
    assert sync.status().clock_offset_ms == 12.5


# ---- gallery pull --------------------------------------------------------------------------------


def vec(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(EMBEDDING_DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def tpl(tid: str, emp: str, seed: int, seq: int, deleted: bool = False) -> TemplateRow:
    return TemplateRow(tid, emp, vec(seed), 0.9, deleted, seq)


def test_pull_applies_changes_in_order_and_keeps_the_cursor(tmp_path: Path, store: LocalStore) -> None:
    central = FakeCentral()
    calls: list[int] = []
    sync = make_sync(tmp_path, store, central, on_gallery_change=lambda: calls.append(1))
    t_ann, t_bob, t_bob2 = (str(uuid.uuid4()) for _ in range(3))
    central.deltas = [
        GalleryDelta(
            0,
            4,
            employees=[EmployeeRow("ann", "Ann", None, True, 1), EmployeeRow("bob", "Bob", "R&D", True, 2)],
            templates=[tpl(t_ann, "ann", 1, 3), tpl(t_bob, "bob", 2, 4)],
        ),
        GalleryDelta(
            4,
            7,
            employees=[EmployeeRow("ann", "Ann", None, False, 5)],  # deactivated
            templates=[tpl(t_bob, "bob", 2, 6, deleted=True), tpl(t_bob2, "bob", 3, 7)],
        ),
    ]
    assert sync.pull_once() == 4
    assert store.get_state(GALLERY_SEQ_KEY) == "4" and calls == [1]
    g = store.load_gallery(MODEL)
    assert sorted(set(g.employee_ids)) == ["ann", "bob"]
    assert sync.pull_once() > 0
    assert store.get_state(GALLERY_SEQ_KEY) == "7" and calls == [1, 1]
    g = store.load_gallery(MODEL)
    assert list(g.employee_ids) == ["bob"] and g.n_templates == 1
    assert np.allclose(g.scores(vec(3)[None]).max(), 1.0, atol=1e-5)  # bob's new template, bit-exact
    # Nothing new: no reload of the matcher.
    assert sync.pull_once() == 0 and calls == [1, 1]
    # Pulling the same delta twice (a crash before the cursor was saved) changes nothing twice.
    store.set_state(GALLERY_SEQ_KEY, "4")
    central.deltas = [GalleryDelta(4, 7, templates=[tpl(t_bob2, "bob", 3, 7)])]
    sync.pull_once()
    assert store.template_count(MODEL) == 2  # ann (inactive) + bob's second template


def test_pull_erasure_removes_person_events_and_snapshots(tmp_path: Path, store: LocalStore) -> None:
    central = FakeCentral()
    sync = make_sync(tmp_path, store, central)
    central.deltas = [
        GalleryDelta(
            0, 2, employees=[EmployeeRow("eve", "Eve", None, True, 1)], templates=[tpl("t-eve", "eve", 5, 2)]
        )
    ]
    sync.pull_once()
    snaps = tmp_path / "snaps"
    snaps.mkdir(mode=0o700, exist_ok=True)
    (snaps / "eve.jpg").write_bytes(b"x")
    ev = store.record_event(event(0, employee_id="eve"))
    store.set_snapshot(ev.event_id, "eve.jpg")
    keep = store.record_event(event(1, employee_id=None))
    # Erased and re-enrolled in the same window: old data goes, the new template stays.
    central.deltas = [
        GalleryDelta(
            2,
            5,
            employees=[EmployeeRow("eve", "Eve", None, True, 4)],
            templates=[tpl("t-eve2", "eve", 6, 5)],
            erased=["eve"],
        )
    ]
    sync.pull_once()
    assert [e.event.event_id for e in store.list_events()] == [keep.event_id]
    assert not (snaps / "eve.jpg").exists()
    assert store.template_count(MODEL) == 1
    g = store.load_gallery(MODEL)
    assert np.allclose(g.scores(vec(6)[None]).max(), 1.0, atol=1e-5)


def test_failed_pull_keeps_the_cursor(tmp_path: Path, store: LocalStore) -> None:
    central = FakeCentral()
    sync = make_sync(tmp_path, store, central)
    store.set_state(GALLERY_SEQ_KEY, "9")
    central.fail = "down"
    assert sync.pull_once() == 0
    assert store.get_state(GALLERY_SEQ_KEY) == "9" and not sync.pull_backoff.ready()
    assert sync.pull_once() == 0 and sync.pull_backoff.failures == 1  # backing off: not even tried
