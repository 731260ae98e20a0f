"""CSV and XLSX exports read back cell by cell: Cyrillic, hostile names, markers, numbers."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import UTC, date, datetime, time, timedelta

import openpyxl
import pytest

from sputnik_edge.office.exports import (
    Table,
    neutralise_csv_text,
    timesheet_csv,
    timesheet_tables,
    timesheet_xlsx,
    to_csv,
    to_xlsx,
    totals_csv,
)
from sputnik_edge.office.timesheet import Employee, Schedule, Schedules, Timesheet, VoidEvent
from tests.unit.office.builders import MON, MSK, ev, local, sheet

BOM = b"\xef\xbb\xbf"
HOSTILE = [
    "Иванов Иван Иванович",
    'O\'Brien "Bob", Jr.',
    "Line one\nline two",
    "=cmd|' /C calc'!A0",
    "+SUM(A1:A9)",
    "-2+3",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\tTabbed",
    "\rReturn first",
    "#N/A",
    "Ж" * 250 + "x" * 250,
]
TUE = MON + timedelta(days=1)


HOSTILE_DEPARTMENT = '=HYPERLINK("http://x")'


def hostile_sheet() -> Timesheet:
    employees = [Employee(f"e{i}", name, HOSTILE_DEPARTMENT) for i, name in enumerate(HOSTILE)]
    events = []
    for e in employees:
        # Monday: 09:12 -> 18:03 (late 12, worked 8:51); Tuesday: nothing (absent).
        events.append(ev("check_in", local(MSK, MON, 9, 12), employee=e.employee_id))
        events.append(ev("check_out", local(MSK, MON, 18, 3), employee=e.employee_id))
    schedule = Schedule.weekly(time(9), time(18), grace_minutes=5)
    schedules = Schedules(by_department={HOSTILE_DEPARTMENT: schedule})
    return sheet(events, employees=employees, start=MON, end=TUE, schedules=schedules)


def read_csv(data: bytes, delimiter: str = ",") -> list[list[str]]:
    assert data.startswith(BOM)
    text = data.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def csv_form(text: str) -> str:
    return "'" + text if text[:1] in {"=", "+", "-", "@", "\t", "\r"} else text


def test_csv_round_trip_keeps_every_hostile_name_and_neutralises_formulas() -> None:
    rows = read_csv(timesheet_csv(hostile_sheet()))
    header, body = rows[0], rows[1:]
    assert header[:4] == ["Employee ID", "Name", "Department", "Date"]
    assert len(body) == len(HOSTILE) * 2
    for i, name in enumerate(HOSTILE):
        mon, tue = body[2 * i], body[2 * i + 1]
        assert mon[1] == csv_form(name)
        assert mon[1].lstrip("'") == name  # nothing else changed, the 500 characters included
        assert mon[2] == '\'=HYPERLINK("http://x")'
        assert mon == [
            f"e{i}",
            csv_form(name),
            '\'=HYPERLINK("http://x")',
            "2024-06-03",
            "Mon",
            "09:00",
            "18:00",
            "2024-06-03 09:12",
            "2024-06-03 18:03",
            str(8 * 60 + 51),
            "8:51",
            "12",
            "0",
            "late",
            "",
            "",
            "",
        ]
        assert tue[3:5] == ["2024-06-04", "Tue"]
        assert tue[7:10] == ["", "", "0"]
        assert tue[13] == "absent"
    # No cell anywhere starts with a formula trigger once neutralised.
    for row in rows:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


def test_russian_csv_uses_semicolons_and_russian_words() -> None:
    data = timesheet_csv(hostile_sheet(), lang="ru")
    rows = read_csv(data, delimiter=";")
    assert rows[0][1] == "ФИО" and rows[0][3] == "Дата"
    assert rows[1][4] == "Пн" and rows[1][13] == "опоздание"
    assert rows[2][13] == "отсутствие"
    assert rows[1][1] == HOSTILE[0]
    # Overridable when the reader expects commas.
    assert read_csv(timesheet_csv(hostile_sheet(), lang="ru", delimiter=","))[1][1] == HOSTILE[0]


def test_totals_csv() -> None:
    rows = read_csv(totals_csv(hostile_sheet()))
    assert rows[0][:4] == ["Employee ID", "Name", "Department", "Worked, min"]
    first = rows[1]
    # One day of 531 minutes, 12 late, Monday present, Tuesday absent.
    assert first[0] == "e0" and first[1] == HOSTILE[0]
    assert first[3:9] == ["531", "8:51", "12", "0", "1", "1"]


def xlsx_expected(name: str) -> str:
    # XML readers turn a carriage return into a newline; everything else is kept as written.
    return name.replace("\r\n", "\n").replace("\r", "\n")


def test_xlsx_round_trip_writes_names_as_plain_strings() -> None:
    data = timesheet_xlsx(hostile_sheet())
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["Timesheet", "Totals"]
    ws = wb["Timesheet"]
    assert [c.value for c in ws[1]][:3] == ["Employee ID", "Name", "Department"]
    for i, name in enumerate(HOSTILE):
        mon = ws[2 + 2 * i]
        assert mon[1].value == xlsx_expected(name)
        assert mon[1].data_type == "s"
        assert mon[2].value == '=HYPERLINK("http://x")' and mon[2].data_type == "s"
        assert mon[3].value == datetime(2024, 6, 3)  # a real date cell
        assert mon[9].value == 531 and mon[9].data_type == "n"
        assert mon[11].value == 12
        assert mon[13].value == "late"
        assert ws[3 + 2 * i][13].value == "absent"
    totals = wb["Totals"]
    assert totals.cell(row=2, column=2).value == HOSTILE[0]
    assert totals.cell(row=2, column=4).value == 531
    # Belt and braces: the sheet XML holds no formula element at all.
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for part in z.namelist():
            if part.startswith("xl/worksheets/"):
                assert re.search(rb"<f[ >]", z.read(part)) is None, part


def test_xlsx_marks_corrected_rows_and_alerts() -> None:
    events = [
        ev("check_in", local(MSK, MON, 7), eid="wrong"),
        ev("check_in", local(MSK, MON, 9)),
        ev("check_out", local(MSK, MON, 18)),
    ]
    ts = sheet(events, start=MON, end=TUE, corrections=[VoidEvent("c1", "wrong", "not her")])
    ws = openpyxl.load_workbook(io.BytesIO(timesheet_xlsx(ts)))["Timesheet"]
    mon, tue = ws[2], ws[3]
    assert mon[14].value == "yes" and "not her" in str(mon[15].value)
    assert mon[1].fill.fgColor.rgb.endswith("FFF2CC")
    assert tue[1].fill.fill_type is None
    assert tue[13].value == "absent" and tue[13].font.bold
    assert not mon[13].font.bold  # on time: nothing to flag
    csv_rows = read_csv(timesheet_csv(ts))
    assert csv_rows[1][14] == "yes" and "not her" in csv_rows[1][15]


def test_control_characters_survive_csv_and_become_replacement_marks_in_xlsx() -> None:
    table = Table("T", ("name",), (("a\x01b\x0bc",),))
    assert read_csv(to_csv(table))[1] == ["a\x01b\x0bc"]
    ws = openpyxl.load_workbook(io.BytesIO(to_xlsx([table])))["T"]
    assert ws["A2"].value == "a\ufffdb\ufffdc"


def test_generic_tables_keep_types() -> None:
    aware = datetime(2024, 6, 3, 9, 30, tzinfo=MSK)
    table = Table(
        "bad/name:with*chars?[and]a very long title indeed",
        ("text", "int", "float", "date", "naive", "aware", "none"),
        (("x", 7, 2.5, date(2024, 6, 3), datetime(2024, 6, 3, 10, 15), aware, None),),
    )
    assert read_csv(to_csv(table))[1] == [
        "x",
        "7",
        "2.5",
        "2024-06-03",
        "2024-06-03 10:15",
        "2024-06-03 09:30",
        "",
    ]
    wb = openpyxl.load_workbook(io.BytesIO(to_xlsx([table])))
    (title,) = wb.sheetnames
    assert len(title) <= 31 and not set(title) & set("[]:*?/\\")
    row = [c.value for c in wb[title][2]]
    assert row == ["x", 7, 2.5, datetime(2024, 6, 3), datetime(2024, 6, 3, 10, 15), "2024-06-03 09:30", None]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("=1", "'=1"), ("+1", "'+1"), ("-1", "'-1"), ("@x", "'@x"), ("\tx", "'\tx"), ("\rx", "'\rx"),
     ("a=1", "a=1"), ("", ""), ("'quoted", "'quoted"), (" =1", " =1")],
)  # fmt: skip
def test_neutralise_csv_text(text: str, expected: str) -> None:
    assert neutralise_csv_text(text) == expected


def test_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="language"):
        timesheet_tables(sheet([]), lang="de")
    with pytest.raises(ValueError):
        to_xlsx([])


def test_timezone_shown_is_local() -> None:
    # 06:12 UTC is 09:12 in Moscow: the export shows the office's wall clock.
    ts = sheet([ev("check_in", datetime(2024, 6, 3, 6, 12, tzinfo=UTC))])
    assert read_csv(timesheet_csv(ts))[1][7] == "2024-06-03 09:12"


def test_table_rows_must_match_headers() -> None:
    with pytest.raises(ValueError, match="row 0 has 1 cells for 2 headers"):
        Table("T", ("a", "b"), (("only one",),))
