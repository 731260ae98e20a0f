"""Hostile names through a timesheet built from the database, into CSV and XLSX and back: every
character intact, nothing a spreadsheet would run."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine

from sputnik_edge.central.store import CentralStore
from sputnik_edge.office.attendance.service import AttendanceService
from sputnik_edge.office.exports import DAY_HEADERS, TOTAL_HEADERS, timesheet_csv, timesheet_xlsx, totals_csv
from tests.office.attendance.helpers import (
    LATER,
    MSK,
    OFFICE_WEEK,
    add_employee,
    local,
    punches,
    set_office_timezone,
)

pytestmark = pytest.mark.integration

MON = date(2024, 6, 3)
NAMES = {
    "e1": "Анна Петрова-Водкина",
    "e2": "O'Brien \"Bob\", Jr.; 'quoted'",
    "e3": "=cmd|' /C calc'!A0",
    "e4": "Ж" * 250 + "z" * 250,
    "e5": "@SUM(A1:A9)",
    "e6": "-2+3",
    "e7": "+7 (495) 123",
}
DEPARTMENT = '=HYPERLINK("http://x")'
TRIGGERS = ("=", "+", "-", "@")


@pytest.fixture
def sheet(engine: Engine, store: CentralStore, service: AttendanceService):  # type: ignore[no-untyped-def]
    set_office_timezone(engine, "Europe/Moscow")
    service.set_schedule("department", DEPARTMENT, OFFICE_WEEK, grace_minutes=5)
    for eid, name in NAMES.items():
        add_employee(engine, eid, name, DEPARTMENT)
        punches(store, eid, ("check_in", local(MSK, MON, 9, 30)), ("check_out", local(MSK, MON, 18)))
    return service.timesheet(MON, MON, now=LATER)


def test_names_survive_the_database(sheet) -> None:  # type: ignore[no-untyped-def]
    assert {r.employee_id: r.full_name for r in sheet.rows} == NAMES
    assert len(NAMES["e4"]) == 500
    assert all(r.department == DEPARTMENT and r.late_minutes == 30 for r in sheet.rows)


def test_csv_keeps_every_character_and_neutralises_formulas(sheet) -> None:  # type: ignore[no-untyped-def]
    data = timesheet_csv(sheet)
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for Cyrillic
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert tuple(rows[0]) == DAY_HEADERS["en"]
    name_col, dept_col = DAY_HEADERS["en"].index("Name"), DAY_HEADERS["en"].index("Department")
    got = {r[0]: r for r in rows[1:]}
    assert set(got) == set(NAMES)
    for eid, name in NAMES.items():
        expected = "'" + name if name.startswith(TRIGGERS) else name
        assert got[eid][name_col] == expected, eid
        assert got[eid][dept_col] == "'" + DEPARTMENT
    # No cell anywhere starts with a formula trigger.
    assert not [c for r in rows for c in r if c.startswith(TRIGGERS)]
    totals = list(csv.reader(io.StringIO(totals_csv(sheet, "ru").decode("utf-8-sig")), delimiter=";"))
    assert tuple(totals[0]) == TOTAL_HEADERS["ru"]
    assert {r[0]: r[1] for r in totals[1:]}["e3"] == "'" + NAMES["e3"]


def test_xlsx_cells_are_text_with_the_exact_names(sheet) -> None:  # type: ignore[no-untyped-def]
    book = load_workbook(io.BytesIO(timesheet_xlsx(sheet)))
    days, totals = book["Timesheet"], book["Totals"]
    for ws in (days, totals):
        names = {}
        for row in ws.iter_rows(min_row=2):
            eid, name, dept = row[0], row[1], row[2]
            assert name.data_type == "s" and dept.data_type == "s", (ws.title, eid.value)
            assert dept.value == DEPARTMENT
            names[eid.value] = name.value
        assert names == NAMES
        assert not [c.coordinate for r in ws.iter_rows() for c in r if c.data_type == "f"]
