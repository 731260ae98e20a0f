"""HR corrections: validation naming the field, originals kept, listing, and the erasure helper."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from sputnik_edge.central.schema import attendance_corrections, attendance_events, work_schedules
from sputnik_edge.central.store import CentralStore
from sputnik_edge.office.attendance.corrections import erase_employee_rows
from sputnik_edge.office.attendance.service import AttendanceService
from sputnik_edge.office.attendance.types import CorrectionError, CorrectionRow
from tests.office.attendance.helpers import MSK, OFFICE_WEEK, add_employee, punches, set_office_timezone

pytestmark = pytest.mark.integration

AT = datetime(2024, 6, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def ann_in(engine: Engine, store: CentralStore) -> str:
    add_employee(engine, "ann", "Ann", "it")
    (event_id,) = punches(store, "ann", ("check_in", AT))
    return event_id


def void(service: AttendanceService, event_id: object, **extra: object) -> CorrectionRow:
    return service.add_correction(actor="hr", reason="wrong", action="void", event_id=event_id, **extra)  # type: ignore[arg-type]


def add(service: AttendanceService, **overrides: object) -> CorrectionRow:
    request: dict[str, object] = {
        "actor": "hr",
        "reason": "forgot",
        "action": "add",
        "employee_id": "ann",
        "punch_kind": "check_out",
        "at": AT + timedelta(hours=9),
    }
    request.update(overrides)
    return service.add_correction(**request)  # type: ignore[arg-type]


def refused(field: str, call: object) -> CorrectionError:
    assert callable(call)
    with pytest.raises(CorrectionError) as info:
        call()
    assert info.value.field == field, str(info.value)
    assert isinstance(info.value, ValueError) and str(info.value).startswith(f"{field}:")
    return info.value


def test_add_and_void_rows(engine: Engine, service: AttendanceService, ann_in: str) -> None:
    set_office_timezone(engine, "Europe/Moscow")
    added = service.add_correction(
        actor="hr-olga",
        reason="  forgot to check out  ",
        action="add",
        employee_id="ann",
        punch_kind="check_out",
        at=AT + timedelta(hours=9),
    )
    assert (added.action, added.employee_id, added.punch_kind, added.reason, added.created_by) == (
        "add",
        "ann",
        "check_out",
        "forgot to check out",
        "hr-olga",
    )
    assert added.at == AT + timedelta(hours=9) and added.at.tzinfo == MSK and added.applies_at == added.at
    voided = service.add_correction(
        actor="hr-olga", reason="colleague's badge", action="void", event_id=ann_in
    )
    assert (voided.action, voided.event_id, voided.employee_id, voided.at) == ("void", ann_in, "ann", None)
    assert voided.applies_at == AT
    # The original event is still there, unchanged; only a correction row was added.
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(attendance_events)).scalar_one() == 1
        assert conn.execute(select(attendance_events.c.kind, attendance_events.c.captured_at)).one() == (
            "check_in",
            AT,
        )
        assert conn.execute(select(func.count()).select_from(attendance_corrections)).scalar_one() == 2


def test_reason_and_actor(service: AttendanceService, ann_in: str) -> None:
    refused(
        "action", lambda: service.add_correction(actor="hr", reason="x", action="delete", event_id=ann_in)
    )
    refused("reason", lambda: service.add_correction(actor="hr", reason="", action="void", event_id=ann_in))
    refused(
        "reason", lambda: service.add_correction(actor="hr", reason="   ", action="void", event_id=ann_in)
    )
    refused(
        "reason", lambda: service.add_correction(actor="hr", reason="x" * 501, action="void", event_id=ann_in)
    )
    refused(
        "reason", lambda: service.add_correction(actor="hr", reason="a\x00b", action="void", event_id=ann_in)
    )
    refused("actor", lambda: service.add_correction(actor="", reason="x", action="void", event_id=ann_in))
    # Exactly 500 characters is allowed.
    row = service.add_correction(actor="hr", reason="я" * 500, action="void", event_id=ann_in)
    assert row.reason == "я" * 500


def test_void_rules(service: AttendanceService, ann_in: str) -> None:
    refused("event_id", lambda: void(service, None))
    refused("event_id", lambda: void(service, "not-a-uuid"))
    refused("event_id", lambda: void(service, str(uuid.uuid4())))
    refused("at", lambda: void(service, ann_in, at=AT))
    refused("punch_kind", lambda: void(service, ann_in, punch_kind="check_in"))
    refused("employee_id", lambda: void(service, ann_in, employee_id="bob"))
    void(service, ann_in, employee_id="ann")  # naming the right owner is fine
    error = refused("event_id", lambda: void(service, ann_in))
    assert "already voided" in str(error)


def test_add_rules(service: AttendanceService, ann_in: str) -> None:
    refused("employee_id", lambda: add(service, employee_id="nobody"))
    refused("employee_id", lambda: add(service, employee_id=None))
    refused("punch_kind", lambda: add(service, punch_kind="pass"))
    refused("punch_kind", lambda: add(service, punch_kind=None))
    refused("at", lambda: add(service, at=None))
    refused("at", lambda: add(service, at=datetime(2024, 6, 3, 18, 0)))  # naive
    refused("at", lambda: add(service, at="2024-06-03T18:00:00+00:00"))
    refused("at", lambda: add(service, at=datetime.now(UTC) + timedelta(days=1, minutes=5)))
    refused("event_id", lambda: add(service, event_id=ann_in))
    add(service, at=datetime.now(UTC) + timedelta(hours=23))  # less than a day ahead: a clock slip
    add(service, employee_id="ann", punch_kind="check_in", at=AT)


def test_a_void_racing_another_waits_and_is_refused(
    engine: Engine, service: AttendanceService, ann_in: str
) -> None:
    # Another HR session holds the event (as a void in progress does) and voids it; ours must wait
    # for it and then see the void, not add a second one.
    result: list[BaseException | CorrectionRow] = []
    with engine.connect() as other, other.begin():
        other.execute(
            select(attendance_events.c.event_id)
            .where(attendance_events.c.event_id == ann_in)
            .with_for_update()
        )
        racer = threading.Thread(target=lambda: result.append(_attempt(service, ann_in)))
        racer.start()
        racer.join(0.5)
        assert racer.is_alive()  # blocked on the row lock
        other.execute(
            attendance_corrections.insert().values(
                correction_id=str(uuid.uuid4()),
                action="void",
                event_id=ann_in,
                reason="first",
                created_by="hr2",
            )
        )
    racer.join(10)
    (outcome,) = result
    assert isinstance(outcome, CorrectionError) and outcome.field == "event_id"
    assert "already voided" in str(outcome)


def _attempt(service: AttendanceService, event_id: str) -> BaseException | CorrectionRow:
    try:
        return void(service, event_id)
    except BaseException as exc:
        return exc


def test_an_added_punch_can_be_voided_once(service: AttendanceService, ann_in: str) -> None:
    added = add(service)
    row = void(service, added.correction_id)
    assert row.employee_id == "ann" and row.applies_at == AT + timedelta(hours=9)
    refused("event_id", lambda: void(service, added.correction_id))
    # A void is no event: it cannot be voided.
    refused("event_id", lambda: void(service, row.correction_id))


def test_listing(engine: Engine, store: CentralStore, service: AttendanceService, ann_in: str) -> None:
    add_employee(engine, "bob", "Bob", "it")
    (bob_in,) = punches(store, "bob", ("check_in", AT + timedelta(days=1)))
    first = void(service, ann_in)
    second = add(service)  # ann, applies at AT + 9 h
    third = void(service, bob_in)
    ids = [c.correction_id for c in service.list_corrections()]
    assert ids == [third.correction_id, second.correction_id, first.correction_id]
    assert {c.correction_id for c in service.list_corrections(employee_id="ann")} == {
        first.correction_id,
        second.correction_id,
    }
    # By the instant a correction affects: [AT + 1 h, AT + 1 day) holds only the added punch.
    window = service.list_corrections(since=AT + timedelta(hours=1), until=AT + timedelta(days=1))
    assert [c.correction_id for c in window] == [second.correction_id]
    assert len(service.list_corrections(limit=1)) == 1
    with pytest.raises(ValueError, match=r"^since:"):
        service.list_corrections(since=AT, until=AT - timedelta(seconds=1))


def test_erase_helper_removes_the_persons_corrections_only(
    engine: Engine, store: CentralStore, service: AttendanceService, ann_in: str
) -> None:
    add_employee(engine, "bob", "Bob", "it")
    (bob_in,) = punches(store, "bob", ("check_in", AT))
    service.set_schedule("department", "it", OFFICE_WEEK)
    service.set_schedule("employee", "ann", OFFICE_WEEK, grace_minutes=5)
    service.set_schedule("employee", "bob", OFFICE_WEEK, grace_minutes=5)
    void(service, ann_in)
    ann_added = add(service)
    void(service, ann_added.correction_id)
    bob_void = void(service, bob_in)
    bob_added = add(service, employee_id="bob")
    # A void written by hand without the employee id: found through Ann's event.
    with engine.begin() as conn:
        (ann_out,) = punches(store, "ann", ("check_out", AT + timedelta(hours=8)))
        conn.execute(
            attendance_corrections.insert().values(
                correction_id=str(uuid.uuid4()), action="void", event_id=ann_out, reason="x", created_by="sql"
            )
        )
    with engine.begin() as conn:
        assert erase_employee_rows(conn, "ann") == 4
    left = {c.correction_id for c in service.list_corrections()}
    assert left == {bob_void.correction_id, bob_added.correction_id}
    with engine.connect() as conn:
        keys = set(conn.execute(select(work_schedules.c.scope, work_schedules.c.scope_key)).all())
        # Events are the erasure's own business: the helper leaves them.
        assert conn.execute(select(func.count()).select_from(attendance_events)).scalar_one() == 3
    assert keys == {("department", "it"), ("employee", "bob")}
    with engine.begin() as conn:
        assert erase_employee_rows(conn, "ann") == 0
