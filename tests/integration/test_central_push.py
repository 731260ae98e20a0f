"""Event push: idempotency, concurrency, stored fields, erasure of late events."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from sputnik_edge.attendance.types import AttendanceEvent, EventKind
from sputnik_edge.central.schema import attendance_events
from sputnik_edge.central.store import CentralStore

pytestmark = pytest.mark.integration

T0 = datetime(2024, 5, 6, 8, 0, tzinfo=UTC)


def make_events(
    n: int,
    device_id: str = "door-1",
    employee_id: str | None = "e1",
    kind: EventKind = "check_in",
    start: datetime = T0,
    first_seq: int = 0,
) -> list[AttendanceEvent]:
    return [
        AttendanceEvent(
            event_id=str(uuid.uuid4()),
            device_id=device_id,
            camera_id="entrance",
            kind=kind,
            employee_id=employee_id,
            name="Ann",
            similarity=0.75,
            captured_at=start + timedelta(seconds=i),
            seq=first_seq + i,
            trace_id=f"trace-{i}",
            details={"track": i},
        )
        for i in range(n)
    ]


def test_push_is_idempotent(central_store: CentralStore) -> None:
    batch = make_events(50)
    assert central_store.push_events(batch) == 50
    assert central_store.push_events(batch) == 0
    # A batch that half overlaps inserts only the new half.
    more = make_events(30, first_seq=50)
    assert central_store.push_events(batch[25:] + more) == 30
    assert central_store.count_events() == 80
    assert central_store.count_events(device_id="door-1") == 80
    assert central_store.count_events(device_id="door-2") == 0


def test_duplicates_within_one_batch_count_once(central_store: CentralStore) -> None:
    [ev] = make_events(1)
    assert central_store.push_events([ev, ev, ev]) == 1
    assert central_store.count_events() == 1


def test_push_stores_every_field_and_device_seq(central_store: CentralStore) -> None:
    events = make_events(3, device_id="door-7", first_seq=100)
    naive = AttendanceEvent(
        event_id=str(uuid.uuid4()),
        device_id="door-7",
        camera_id="side",
        kind="unknown",
        employee_id=None,
        name=None,
        similarity=None,
        captured_at=datetime(2024, 5, 6, 9, 0),
        seq=103,
    )
    central_store.push_events([*events, naive])
    with central_store.engine.connect() as conn:
        rows = conn.execute(select(attendance_events).order_by(attendance_events.c.device_seq)).all()
    assert [r.device_seq for r in rows] == [100, 101, 102, 103]
    first = rows[0]
    assert first.event_id == events[0].event_id
    assert (first.device_id, first.camera_id, first.kind, first.employee_id) == (
        "door-7",
        "entrance",
        "check_in",
        "e1",
    )
    assert first.similarity == pytest.approx(0.75)
    assert first.captured_at == T0
    assert first.trace_id == "trace-0"
    assert first.details == {"track": 0}
    assert first.received_at is not None
    # A naive captured_at is UTC by contract, whatever the server's session zone is.
    assert rows[3].captured_at == datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
    assert rows[3].employee_id is None and rows[3].details is None


def test_invalid_events_are_rejected_before_anything_is_written(central_store: CentralStore) -> None:
    good = make_events(2)
    bad_kind = AttendanceEvent(
        event_id=str(uuid.uuid4()),
        device_id="d",
        camera_id="c",
        kind="teleport",  # type: ignore[arg-type]
        employee_id=None,
        name=None,
        similarity=None,
        captured_at=T0,
    )
    with pytest.raises(ValueError, match="teleport"):
        central_store.push_events([*good, bad_kind])
    bad_id = AttendanceEvent(
        event_id="not-a-uuid",
        device_id="d",
        camera_id="c",
        kind="pass",
        employee_id=None,
        name=None,
        similarity=None,
        captured_at=T0,
    )
    with pytest.raises(ValueError, match="not-a-uuid"):
        central_store.push_events([*good, bad_id])
    assert central_store.count_events() == 0
    assert central_store.push_events([]) == 0


def test_concurrent_overlapping_and_disjoint_pushes(central_url: str) -> None:
    shared = make_events(400, device_id="door-1")
    only_a = make_events(300, device_id="door-2", first_seq=1000)
    only_b = make_events(300, device_id="door-3", first_seq=2000)
    # Thread A pushes shared+only_a, thread B pushes only_b+shared, both in batches of 100, several
    # rounds (a retried batch must be a no-op), so the overlapping inserts race each other.
    plans = {"a": shared + only_a, "b": only_b + shared}
    inserted = {"a": 0, "b": 0}
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def worker(name: str) -> None:
        store = CentralStore(central_url)
        try:
            barrier.wait()
            for _ in range(3):
                events = plans[name]
                for start in range(0, len(events), 100):
                    inserted[name] += store.push_events(events[start : start + 100])
        except BaseException as exc:
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in plans]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert inserted["a"] + inserted["b"] == 1000
    with CentralStore(central_url) as store:
        assert store.count_events() == 1000
        ids = [e.event_id for e in shared + only_a + only_b]
        assert store.event_ids_present(ids) == set(ids)
        with store.engine.connect() as conn:
            dupes = conn.execute(
                text("SELECT count(*) - count(DISTINCT event_id) FROM attendance_events")
            ).scalar()
        assert dupes == 0


def test_event_ids_present(central_store: CentralStore) -> None:
    pushed = make_events(5)
    central_store.push_events(pushed)
    other = str(uuid.uuid4())
    ids = [pushed[0].event_id, pushed[4].event_id, other, "garbage"]
    assert central_store.event_ids_present(ids) == {pushed[0].event_id, pushed[4].event_id}
    assert central_store.event_ids_present([]) == set()


def test_late_events_of_erased_employee_are_anonymised(central_store: CentralStore) -> None:
    central_store.upsert_employee("gone", "Gone Person")
    central_store.push_events(make_events(2, employee_id="gone"))
    assert central_store.delete_employee("gone") is True
    assert central_store.count_events() == 0
    # An offline device syncs events of the erased person afterwards.
    late = make_events(3, employee_id="gone", start=datetime.now(UTC) - timedelta(hours=1))
    assert central_store.push_events(late) == 3
    with central_store.engine.connect() as conn:
        rows = conn.execute(select(attendance_events.c.employee_id, attendance_events.c.details)).all()
    assert len(rows) == 3
    assert all(r.employee_id is None and r.details is None for r in rows)

    # Re-enrolled later: events captured after the erasure keep the id again.
    central_store.upsert_employee("gone", "Back Again")
    fresh = make_events(1, employee_id="gone", start=datetime.now(UTC) + timedelta(seconds=5))
    central_store.push_events(fresh)
    with central_store.engine.connect() as conn:
        kept = conn.execute(
            select(attendance_events.c.employee_id).where(attendance_events.c.event_id == fresh[0].event_id)
        ).scalar_one()
    assert kept == "gone"
