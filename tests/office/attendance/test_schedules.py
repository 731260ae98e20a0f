"""Work schedules: validation naming the field, storage, and the core's Schedules from them."""

from __future__ import annotations

from datetime import time

import pytest
from sqlalchemy import Engine, text

from sputnik_edge.office.attendance.service import AttendanceService
from sputnik_edge.office.attendance.types import ParameterError
from sputnik_edge.office.timesheet import Shift
from tests.office.attendance.helpers import OFFICE_WEEK, add_employee

pytestmark = pytest.mark.integration

NIGHTS = [["22:00", "06:00"]] * 5 + [None, None]


def test_set_list_get_delete(engine: Engine, service: AttendanceService) -> None:
    add_employee(engine, "ann", "Ann", "it")
    row = service.set_schedule("department", "it", OFFICE_WEEK, grace_minutes=10)
    assert (row.scope, row.scope_key, row.grace_minutes) == ("department", "it", 10)
    assert row.week == (("09:00", "18:00"),) * 5 + (None, None)
    service.set_schedule("employee", "ann", NIGHTS)
    assert [(r.scope, r.scope_key) for r in service.list_schedules()] == [
        ("department", "it"),
        ("employee", "ann"),
    ]

    schedules = service.get_schedules()
    it = schedules.by_department["it"]
    assert it.week[0] == Shift(time(9), time(18)) and it.week[6] is None and it.grace_minutes == 10
    # The employee's own schedule beats the department's; someone else in it gets the department's.
    own = schedules.for_employee("ann", "it")
    assert own is not None and own.week[0] == Shift(time(22), time(6)) and own.week[0].crosses_midnight
    assert schedules.for_employee("bob", "it") is it

    # Setting again replaces.
    again = service.set_schedule("department", "it", NIGHTS, grace_minutes=0)
    assert again.week[0] == ("22:00", "06:00") and again.grace_minutes == 0
    assert len(service.list_schedules()) == 2
    assert service.delete_schedule("employee", "ann") is True
    assert service.delete_schedule("employee", "ann") is False
    assert service.get_schedules().by_employee == {}


@pytest.mark.parametrize(
    ("scope", "key", "week", "grace", "field"),
    [
        ("team", "it", OFFICE_WEEK, 0, "scope"),
        ("department", "", OFFICE_WEEK, 0, "scope_key"),
        ("department", "x" * 201, OFFICE_WEEK, 0, "scope_key"),
        ("employee", "nobody", OFFICE_WEEK, 0, "scope_key"),
        ("department", "it", OFFICE_WEEK[:6], 0, "week"),
        ("department", "it", [*OFFICE_WEEK, None], 0, "week"),
        ("department", "it", "09:00-18:00", 0, "week"),
        ("department", "it", [["9:00", "18:00"], *OFFICE_WEEK[1:]], 0, "week"),
        ("department", "it", [["24:00", "06:00"], *OFFICE_WEEK[1:]], 0, "week"),
        ("department", "it", [["09:60", "18:00"], *OFFICE_WEEK[1:]], 0, "week"),
        ("department", "it", [["09:00"], *OFFICE_WEEK[1:]], 0, "week"),
        ("department", "it", [["09:00", "18:00", "19:00"], *OFFICE_WEEK[1:]], 0, "week"),
        ("department", "it", [[9, 18], *OFFICE_WEEK[1:]], 0, "week"),
        ("department", "it", OFFICE_WEEK, -1, "grace_minutes"),
        ("department", "it", OFFICE_WEEK, 241, "grace_minutes"),
        ("department", "it", OFFICE_WEEK, "5", "grace_minutes"),
        ("department", "it", OFFICE_WEEK, 5.0, "grace_minutes"),
    ],
)
def test_bad_schedules_name_the_field(
    engine: Engine, service: AttendanceService, scope: str, key: str, week: object, grace: object, field: str
) -> None:
    with pytest.raises(ParameterError) as info:
        service.set_schedule(scope, key, week, grace)  # type: ignore[arg-type]
    assert info.value.field == field
    assert service.list_schedules() == []


def test_the_message_says_which_day(service: AttendanceService) -> None:
    week = [*OFFICE_WEEK[:2], ["09:00", "25:00"], *OFFICE_WEEK[3:]]
    with pytest.raises(ParameterError, match=r"week\[2\] \(Wednesday\) end"):
        service.set_schedule("department", "it", week)


def test_edges_are_accepted(service: AttendanceService) -> None:
    week = [["00:00", "23:59"], ["07:00", "07:00"], None, None, None, None, ("23:59", "00:00")]
    row = service.set_schedule("department", "it", week, grace_minutes=240)
    assert row.week[1] == ("07:00", "07:00") and row.week[6] == ("23:59", "00:00")
    twenty_four = service.get_schedules().by_department["it"].week[1]
    assert twenty_four is not None and twenty_four.crosses_midnight  # equal times: a 24-hour shift


def test_a_row_broken_by_hand_stops_the_report(engine: Engine, service: AttendanceService) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO work_schedules (scope, scope_key, week) VALUES ('department', 'it', '[1, 2]')")
        )
    with pytest.raises(ValueError, match=r"work_schedules row \(department, it\) is malformed"):
        service.get_schedules()
