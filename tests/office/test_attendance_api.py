"""Attendance over HTTP (real server, real PostgreSQL): events with filters and cursor pages, the
day's overview, timesheets as JSON / CSV / XLSX read back cell by cell, corrections (marked,
audited, refused with the field named), schedules."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import openpyxl
import pytest

from sputnik_edge.attendance.types import AttendanceEvent, new_event_id
from sputnik_edge.office.config import OfficeSettings
from tests.office.conftest import OfficeServer, add_user, audit_rows, login, new_token, office_settings

pytestmark = pytest.mark.integration
HOSTILE = "=cmd|' /C calc'!A0"


@pytest.fixture(scope="module")
def office(
    new_database: Callable[[bool], str], server_factory: Callable[[OfficeSettings], OfficeServer]
) -> OfficeServer:
    server = server_factory(office_settings(new_database(True), office={"timezone": "Europe/Moscow"}))
    central = server.central
    central.set_office_timezone("Europe/Moscow")
    central.upsert_employee("anna", "Анна Иванова", "IT")
    central.upsert_employee("evil", HOSTILE, "Sales")
    events = []
    for day in range(2, 7):  # Mon 2 .. Fri 6 November 2026; 09:00 Moscow is 06:00 UTC
        start = datetime(2026, 11, day, 6, 0, tzinfo=UTC)
        for emp, late in (("anna", 0), ("evil", 30)):
            events.append(
                AttendanceEvent(
                    new_event_id(),
                    "door-1",
                    "in",
                    "check_in",
                    emp,
                    None,
                    0.8,
                    start + timedelta(minutes=late),
                )
            )
            events.append(
                AttendanceEvent(
                    new_event_id(), "door-1", "out", "check_out", emp, None, 0.8, start + timedelta(hours=9)
                )
            )
    central.push_events(events)
    add_user(central, "a-hr", "hr")
    add_user(central, "a-viewer", "viewer")
    return server


def test_events_filter_and_page(office: OfficeServer) -> None:
    c = office.client(headers={"Authorization": f"Bearer {new_token(office.central, 'a-viewer')}"})
    all_events = c.get("/api/v1/attendance/events", params={"limit": 1000}).json()["events"]
    assert len(all_events) == 20
    anna = c.get("/api/v1/attendance/events", params={"employee_id": "anna"}).json()["events"]
    assert len(anna) == 10 and {e["full_name"] for e in anna} == {"Анна Иванова"}
    sales = c.get("/api/v1/attendance/events", params={"department": "Sales", "kind": "check_in"}).json()
    assert len(sales["events"]) == 5 and {e["employee_id"] for e in sales["events"]} == {"evil"}
    seen, cursor = [], None
    while True:
        page = c.get(
            "/api/v1/attendance/events", params={"limit": 7, **({"cursor": cursor} if cursor else {})}
        ).json()
        seen += [e["event_id"] for e in page["events"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(e["event_id"] for e in all_events) and len(seen) == len(set(seen))
    bad = c.get("/api/v1/attendance/events", params={"cursor": "not-a-cursor"})
    assert bad.status_code == 422 and "cursor" in bad.json()["error"]["message"]


def test_daily_timesheet_exports_and_corrections(office: OfficeServer) -> None:
    hr = login(office, "a-hr")
    viewer = office.client(headers={"Authorization": f"Bearer {new_token(office.central, 'a-viewer')}"})
    r = hr.unsafe(
        "PUT", "/api/v1/attendance/schedules/department/Sales",
        json={"week": [["09:00", "18:00"]] * 5 + [None, None], "grace_minutes": 10},
    )  # fmt: skip
    assert r.status_code == 200, r.text

    day = viewer.get("/api/v1/attendance/daily", params={"day": "2026-11-03"}).json()
    assert day["timezone"] == "Europe/Moscow"
    rows = {r["employee_id"]: r for r in day["rows"]}
    assert rows["anna"]["first_in"].startswith("2026-11-03T09:00:00") and rows["anna"]["late"] is False
    assert rows["evil"]["late"] is True and rows["evil"]["late_minutes"] == 30
    assert rows["evil"]["in_now"] is False and rows["anna"]["events"] == 2

    params = {"from": "2026-11-02", "to": "2026-11-08"}
    sheet = viewer.get("/api/v1/attendance/timesheet", params=params).json()
    evil = [r for r in sheet["rows"] if r["employee_id"] == "evil"]
    assert [r["late_minutes"] for r in evil[:5]] == [30] * 5
    assert all(r["worked_minutes"] == 510 for r in evil[:5])
    totals = {t["employee_id"]: t for t in sheet["totals"]}
    assert totals["evil"]["days_late"] == 5 and totals["anna"]["worked_minutes"] == 5 * 540

    # A correction: Anna's Wednesday check-out was wrong; void it and add the right one.
    events = viewer.get(
        "/api/v1/attendance/events", params={"employee_id": "anna", "kind": "check_out"}
    ).json()
    wed = next(e for e in events["events"] if e["captured_at"].startswith("2026-11-04"))
    denied = viewer.post(
        "/api/v1/attendance/corrections", json={"action": "void", "event_id": wed["event_id"], "reason": "x"}
    )
    assert denied.status_code == 403
    r = hr.unsafe(
        "POST",
        "/api/v1/attendance/corrections",
        json={"action": "void", "event_id": wed["event_id"], "reason": "door held open"},
    )
    assert r.status_code == 201, r.text
    add = {"action": "add", "employee_id": "anna", "punch_kind": "check_out", "reason": "left late"}
    r = hr.unsafe("POST", "/api/v1/attendance/corrections", json={**add, "at": "2026-11-04T19:30:00+03:00"})
    assert r.status_code == 201, r.text
    bad = hr.unsafe(
        "POST",
        "/api/v1/attendance/corrections",
        json={
            "action": "add",
            "employee_id": "nobody",
            "punch_kind": "check_in",
            "at": "2026-11-04T09:00:00+03:00",
            "reason": "?",
        },
    )
    assert bad.status_code == 422 and "employee_id" in bad.json()["error"]["message"]
    assert {r.action for r in audit_rows(office.central)} >= {
        "correction_void",
        "correction_add",
        "schedule_set",
    }

    sheet = viewer.get("/api/v1/attendance/timesheet", params=params).json()
    wed_row = next(r for r in sheet["rows"] if r["employee_id"] == "anna" and r["day"] == "2026-11-04")
    assert wed_row["corrected"] is True and wed_row["last_out"].startswith("2026-11-04T19:30:00")
    assert wed_row["worked_minutes"] == 630

    csv_r = viewer.get("/api/v1/attendance/timesheet", params={**params, "format": "csv"})
    assert csv_r.status_code == 200 and "attachment" in csv_r.headers["content-disposition"]
    assert csv_r.content.startswith(b"\xef\xbb\xbf")
    cells = [cell for row in csv.reader(io.StringIO(csv_r.content.decode("utf-8-sig"))) for cell in row]
    assert "Анна Иванова" in cells and "'" + HOSTILE in cells and HOSTILE not in cells

    xlsx = viewer.get("/api/v1/attendance/timesheet", params={**params, "format": "xlsx", "lang": "ru"})
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    values = [c for row in book.worksheets[0].iter_rows() for c in row]
    assert any(c.value == HOSTILE and c.data_type == "s" for c in values)  # text, never a formula
    assert not any(c.data_type == "f" for c in values)
    assert any(c.value == "Анна Иванова" for c in values)
