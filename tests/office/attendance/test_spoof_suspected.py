"""spoof_suspected in the office: listed and filterable like any event, never presence."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine

from sputnik_edge.central.store import CentralStore
from sputnik_edge.office.attendance.service import AttendanceService
from tests.office.attendance.helpers import add_employee, event, push

pytestmark = pytest.mark.integration

DAY = date(2024, 6, 4)


def at(hh: int) -> datetime:
    return datetime(2024, 6, 4, hh, 0, tzinfo=UTC)


def test_spoof_suspected_is_listed_and_filtered_but_not_presence(
    engine: Engine, store: CentralStore, service: AttendanceService
) -> None:
    add_employee(engine, "ann", "Ann")
    add_employee(engine, "bob", "Bob")
    spoof_ann, ann_in, spoof_bob = push(
        store,
        [
            event("ann", "spoof_suspected", at(7)),
            event("ann", "check_in", at(9)),
            event("bob", "spoof_suspected", at(10)),
        ],
    )
    page = service.events(kind="spoof_suspected", limit=100)
    assert [e.event_id for e in page.events] == [spoof_bob, spoof_ann]
    assert {e.event_id for e in service.events(limit=100).events} == {spoof_ann, ann_in, spoof_bob}
    sheet = service.timesheet(DAY, DAY, now=datetime(2024, 6, 5, tzinfo=UTC))
    ann, bob = sheet.row("ann", DAY), sheet.row("bob", DAY)
    assert ann is not None and bob is not None
    assert ann.first_in == at(9)  # the 07:00 attack is not her arrival
    assert bob.first_in is None and bob.last_out is None and not bob.present
