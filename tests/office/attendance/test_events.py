"""The event listing against PostgreSQL: every filter, keyset pages, cursors, validation."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from sputnik_edge.central.schema import attendance_events
from sputnik_edge.central.store import CentralStore
from sputnik_edge.office.attendance.service import AttendanceService
from sputnik_edge.office.attendance.types import ParameterError
from tests.office.attendance.helpers import MSK, add_employee, event, push, set_office_timezone

pytestmark = pytest.mark.integration

T0 = datetime(2024, 6, 3, 6, 0, tzinfo=UTC)


def minutes(n: int) -> datetime:
    return T0 + timedelta(minutes=n)


@pytest.fixture
def sample(engine: Engine, store: CentralStore) -> dict[str, str]:
    """Seven events, named for what tells them apart:
    ann (dept it) checks in at door-1 +0 and out at door-2 +60; bob (dept sales) checks in at
    door-1 +10 and passes door-2 +20; an unknown face at door-1 +30; a low-confidence sighting at
    door-2 +40; eve (in no employee row) checks in at door-1 +50."""
    add_employee(engine, "ann", "Анна", "it")
    add_employee(engine, "bob", "Bob", "sales")
    names = ["ann_in", "ann_out", "bob_in", "bob_pass", "unknown", "low", "eve_in"]
    ids = push(
        store,
        [
            event("ann", "check_in", minutes(0), device="door-1"),
            event("ann", "check_out", minutes(60), device="door-2"),
            event("bob", "check_in", minutes(10), device="door-1"),
            event("bob", "pass", minutes(20), device="door-2"),
            event(None, "unknown", minutes(30), device="door-1"),
            event(None, "low_confidence", minutes(40), device="door-2"),
            event("eve", "check_in", minutes(50), device="door-1"),
        ],
    )
    return dict(zip(names, ids, strict=True))


def listed(service: AttendanceService, **filters: object) -> list[str]:
    page = service.events(limit=1000, **filters)  # type: ignore[arg-type]
    assert page.next_cursor is None
    return [e.event_id for e in page.events]


def test_without_filters_everything_newest_first(service: AttendanceService, sample: dict[str, str]) -> None:
    order = ["ann_out", "eve_in", "low", "unknown", "bob_pass", "bob_in", "ann_in"]
    assert listed(service) == [sample[n] for n in order]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"employee_id": "ann"}, ["ann_out", "ann_in"]),
        ({"employee_id": "eve"}, ["eve_in"]),
        ({"department": "sales"}, ["bob_pass", "bob_in"]),
        ({"device_id": "door-2"}, ["ann_out", "low", "bob_pass"]),
        ({"kind": "check_in"}, ["eve_in", "bob_in", "ann_in"]),
        ({"kind": "unknown"}, ["unknown"]),
        # since is inclusive, until exclusive: +10 is in, +40 is out.
        ({"since": minutes(10), "until": minutes(40)}, ["unknown", "bob_pass", "bob_in"]),
        ({"since": minutes(50)}, ["ann_out", "eve_in"]),
        ({"until": minutes(10)}, ["ann_in"]),
        ({"department": "it", "device_id": "door-1"}, ["ann_in"]),
        ({"employee_id": "bob", "kind": "check_out"}, []),
        ({"department": "nobody"}, []),
    ],
)
def test_each_filter_filters(
    service: AttendanceService, sample: dict[str, str], filters: dict[str, object], expected: list[str]
) -> None:
    assert listed(service, **filters) == [sample[n] for n in expected]


def test_rows_carry_the_employee_and_times_in_the_office_zone(
    engine: Engine, service: AttendanceService, sample: dict[str, str]
) -> None:
    set_office_timezone(engine, "Europe/Moscow")
    rows = {e.event_id: e for e in service.events().events}
    ann = rows[sample["ann_in"]]
    assert (ann.employee_id, ann.full_name, ann.department, ann.kind) == ("ann", "Анна", "it", "check_in")
    assert ann.captured_at == T0 and ann.captured_at.utcoffset() == timedelta(hours=3)
    assert ann.captured_at.tzinfo == MSK
    assert ann.similarity == pytest.approx(0.8)
    assert ann.camera_id == "entrance" and ann.device_id == "door-1"
    assert not ann.voided and ann.correction_id is None
    eve, unknown = rows[sample["eve_in"]], rows[sample["unknown"]]
    assert eve.employee_id == "eve" and eve.full_name is None and eve.department is None
    assert unknown.employee_id is None and unknown.similarity is None


def test_a_voided_event_is_listed_with_its_correction(
    engine: Engine, service: AttendanceService, sample: dict[str, str]
) -> None:
    void = service.add_correction(
        actor="hr", reason="colleague's badge", action="void", event_id=sample["ann_in"]
    )
    rows = {e.event_id: e for e in service.events().events}
    assert rows[sample["ann_in"]].voided
    assert rows[sample["ann_in"]].correction_id == void.correction_id
    assert not rows[sample["ann_out"]].voided
    # The original is untouched.
    with engine.connect() as conn:
        kept = conn.execute(
            select(attendance_events.c.kind, attendance_events.c.captured_at).where(
                attendance_events.c.event_id == sample["ann_in"]
            )
        ).one()
    assert kept.kind == "check_in" and kept.captured_at == T0


def test_pages_of_seven_visit_every_event_once_across_ties(
    engine: Engine, store: CentralStore, service: AttendanceService
) -> None:
    add_employee(engine, "ann", "Ann", "it")
    # 10 instants x 5 events each: every page boundary falls inside a tie on captured_at, so
    # only the event_id half of the key keeps the pages apart.
    events = [event("ann", "pass", minutes(i // 5)) for i in range(50)]
    push(store, events)
    seen: list[str] = []
    keys: list[tuple[datetime, str]] = []
    cursor = None
    pages = 0
    while True:
        page = service.events(limit=7, cursor=cursor)
        pages += 1
        assert len(page.events) == (7 if page.next_cursor else 50 - 7 * (pages - 1))
        seen += [e.event_id for e in page.events]
        keys += [(e.captured_at, e.event_id) for e in page.events]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == 8  # 7 full pages and one of 1
    assert sorted(seen) == sorted(e.event_id for e in events) and len(set(seen)) == 50
    assert keys == sorted(keys, reverse=True)


def test_a_cursor_keeps_to_its_filters(service: AttendanceService, sample: dict[str, str]) -> None:
    first = service.events(kind="check_in", limit=2)
    assert [e.event_id for e in first.events] == [sample["eve_in"], sample["bob_in"]]
    assert first.next_cursor is not None
    rest = service.events(kind="check_in", limit=2, cursor=first.next_cursor)
    assert [e.event_id for e in rest.events] == [sample["ann_in"]] and rest.next_cursor is None
    with pytest.raises(ParameterError) as info:
        service.events(kind="check_out", limit=2, cursor=first.next_cursor)
    assert info.value.field == "cursor"


def _flip(cursor: str, at: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[at] = ord("0") if raw[at] != ord("0") else ord("1")
    return base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


def test_a_tampered_cursor_is_refused(service: AttendanceService, sample: dict[str, str]) -> None:
    cursor = service.events(limit=3).next_cursor
    assert cursor is not None
    forged_time = _flip(cursor, 3)  # a digit of the timestamp: still decodes, checksum fails
    bad = [
        forged_time,
        cursor[:-4],
        cursor + "AAAA",
        "not a cursor!",
        "",
        "x" * 500,
        base64.b64encode(b"1|2|3|4").decode(),
    ]
    for value in bad:
        with pytest.raises(ParameterError) as info:
            service.events(limit=3, cursor=value)
        assert info.value.field == "cursor", value
        assert str(info.value).startswith("cursor:")


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": True}, "limit"),
        ({"kind": "teleport"}, "kind"),
        ({"since": datetime(2024, 6, 2, tzinfo=UTC), "until": datetime(2024, 6, 1, tzinfo=UTC)}, "since"),
        ({"since": datetime(2024, 6, 1)}, "since"),  # naive
        ({"until": "2024-06-01"}, "until"),
        ({"employee_id": ""}, "employee_id"),
        ({"device_id": "a\x00b"}, "device_id"),
        ({"department": "x" * 201}, "department"),
    ],
)
def test_bad_filters_name_the_parameter(
    service: AttendanceService, filters: dict[str, object], field: str
) -> None:
    with pytest.raises(ParameterError) as info:
        service.events(**filters)  # type: ignore[arg-type]
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}:")


def test_limits_at_the_edges_are_accepted(service: AttendanceService, sample: dict[str, str]) -> None:
    assert len(service.events(limit=1).events) == 1
    assert len(service.events(limit=1000).events) == 7
