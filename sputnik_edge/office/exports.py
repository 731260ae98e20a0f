"""Timesheets and other tables as CSV (UTF-8 with BOM) and XLSX (openpyxl), safe to open in Excel.

Formula injection: a text cell starting with ``= + - @``, a tab or a carriage return is one a
spreadsheet may run as a formula. In CSV it gets a leading apostrophe (Excel shows the text and
hides the apostrophe); in XLSX it is written as an inline string cell (data type ``s``, never ``f``)
with its text unchanged. XLSX has two limits of its own, applied to every text cell: characters XML
cannot carry (controls other than tab and newline) become U+FFFD, and a carriage return becomes a
newline because XML readers normalise line ends anyway; CSV keeps every character.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from sputnik_edge.office.timesheet import DayRow, EmployeeTotals, Timesheet

Lang = Literal["en", "ru"]
CellValue = str | int | float | date | None

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
CORRECTED_FILL = "FFF2CC"  # pale yellow: a row HR changed
ALERT_COLOUR = "C00000"  # dark red text: absent, late, early leave, incomplete
_BAD_SHEET_CHARS = str.maketrans({c: "_" for c in "[]:*?/\\"})


@dataclass(frozen=True, slots=True)
class Table:
    """A sheet: headers, rows, the data rows (0-based) to fill as corrected, and the cells
    (data row, column), 0-based, to show as alerts."""

    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[CellValue, ...], ...]
    highlighted_rows: frozenset[int] = frozenset()
    alert_cells: frozenset[tuple[int, int]] = frozenset()

    def __post_init__(self) -> None:
        for i, row in enumerate(self.rows):
            if len(row) != len(self.headers):
                raise ValueError(
                    f"{self.title}: row {i} has {len(row)} cells for {len(self.headers)} headers"
                )


def neutralise_csv_text(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def _plain_text(value: CellValue) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def to_csv(table: Table, *, delimiter: str = ",") -> bytes:
    """UTF-8 with a byte-order mark, without which Excel reads the bytes as the local code page and
    shows Cyrillic as mojibake. Numbers are left as numbers; only text is neutralised."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow([neutralise_csv_text(h) for h in table.headers])
    for row in table.rows:
        writer.writerow([neutralise_csv_text(v) if isinstance(v, str) else _plain_text(v) for v in row])
    return out.getvalue().encode("utf-8-sig")


def _xlsx_text(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return ILLEGAL_CHARACTERS_RE.sub("\ufffd", text)


def _set_text(cell: Any, text: str) -> None:
    cell.value = _xlsx_text(text)
    # openpyxl infers a formula from "=..." and an error from "#N/A"; what we write is text.
    cell.data_type = "s"


def _sheet_title(title: str) -> str:
    cleaned = title.translate(_BAD_SHEET_CHARS).strip("'")[:31]
    return cleaned or "Sheet"


def to_xlsx(tables: Sequence[Table]) -> bytes:
    if not tables:
        raise ValueError("an XLSX export needs at least one table")
    wb = Workbook()
    wb.remove(wb.active)
    fill = PatternFill(fill_type="solid", start_color=CORRECTED_FILL, end_color=CORRECTED_FILL)
    alert = Font(color=ALERT_COLOUR, bold=True)
    header_font = Font(bold=True)
    for table in tables:
        ws = wb.create_sheet(_sheet_title(table.title))
        widths = [len(h) for h in table.headers]
        for col, header in enumerate(table.headers, start=1):
            cell = ws.cell(row=1, column=col)
            _set_text(cell, header)
            cell.font = header_font
        for r, row in enumerate(table.rows):
            for c, value in enumerate(row):
                cell = ws.cell(row=r + 2, column=c + 1)
                if isinstance(value, str):
                    _set_text(cell, value)
                elif isinstance(value, datetime) and value.tzinfo is not None:
                    # Excel has no time zones: show the local wall time as text.
                    _set_text(cell, _plain_text(value))
                else:
                    cell.value = value
                    if isinstance(value, date) and not isinstance(value, datetime):
                        cell.number_format = "yyyy-mm-dd"
                if r in table.highlighted_rows:
                    cell.fill = fill
                if (r, c) in table.alert_cells:
                    cell.font = alert
                widths[c] = max(widths[c], min(len(_plain_text(value)), 60))
        for c, width in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(c)].width = width + 2
        ws.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# Column headers per language, in the order _day_cells and _total_cells fill them.
DAY_HEADERS: Mapping[Lang, tuple[str, ...]] = {
    "en": (
        "Employee ID", "Name", "Department", "Date", "Weekday", "Scheduled start", "Scheduled end",
        "First in", "Last out", "Worked, min", "Worked, h:mm", "Late, min", "Early leave, min",
        "Status", "Corrected", "Correction reasons", "Outside shift window",
    ),
    "ru": (
        "Табельный номер", "ФИО", "Отдел", "Дата", "День недели", "Начало по графику",
        "Конец по графику", "Приход", "Уход", "Отработано, мин", "Отработано, ч:мм", "Опоздание, мин",
        "Ранний уход, мин", "Статус", "Исправлено", "Причины исправлений", "Вне окна смены",
    ),
}  # fmt: skip
TOTAL_HEADERS: Mapping[Lang, tuple[str, ...]] = {
    "en": (
        "Employee ID", "Name", "Department", "Worked, min", "Worked, h:mm", "Late, min",
        "Early leave, min", "Days present", "Days absent", "Days late", "Days early leave",
        "Days missing out", "Days corrected",
    ),
    "ru": (
        "Табельный номер", "ФИО", "Отдел", "Отработано, мин", "Отработано, ч:мм", "Опоздание, мин",
        "Ранний уход, мин", "Дней присутствия", "Дней отсутствия", "Дней с опозданием",
        "Дней с ранним уходом", "Дней без ухода", "Дней с исправлениями",
    ),
}  # fmt: skip
SHEET_TITLES: Mapping[Lang, tuple[str, str]] = {"en": ("Timesheet", "Totals"), "ru": ("Табель", "Итоги")}
WEEKDAYS: Mapping[Lang, tuple[str, ...]] = {
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    "ru": ("Пн", "Вт", "Ср", "Чт", "Пт", "Сб", "Вс"),
}
STATUS_WORDS: Mapping[Lang, Mapping[str, str]] = {
    "en": {
        "absent": "absent", "late": "late", "early_leave": "early leave", "missing_out": "no check-out",
        "missing_in": "no check-in", "present": "present", "day_off": "day off",
        "scheduled": "scheduled", "pending": "in progress", "yes": "yes",
    },
    "ru": {
        "absent": "отсутствие", "late": "опоздание", "early_leave": "ранний уход",
        "missing_out": "нет ухода", "missing_in": "нет прихода", "present": "присутствие",
        "day_off": "выходной", "scheduled": "по графику", "pending": "не завершён", "yes": "да",
    },
}  # fmt: skip
_DAY_STATUS_COLUMN = DAY_HEADERS["en"].index("Status")


def _check_lang(lang: str) -> Lang:
    if lang == "en":
        return "en"
    if lang == "ru":
        return "ru"
    raise ValueError(f"unsupported export language {lang!r}: use 'en' or 'ru'")


def hours_minutes(minutes: int) -> str:
    return f"{minutes // 60}:{minutes % 60:02d}"


def _hhmm(value: datetime | None) -> str | None:
    return None if value is None else value.strftime("%H:%M")


def day_status(row: DayRow, lang: Lang = "en") -> tuple[str, bool]:
    """Readable status words and whether any of them needs HR's attention."""
    words = STATUS_WORDS[lang]
    issues = [
        key
        for key, flag in (
            ("absent", row.absent),
            ("late", row.late_minutes > 0),
            ("early_leave", row.early_leave_minutes > 0),
            ("missing_out", row.missing_out),
            ("missing_in", row.missing_in),
        )
        if flag
    ]
    parts = [words[k] for k in issues]
    if not parts:
        if row.present:
            parts.append(words["present"])
        elif not row.scheduled:
            parts.append(words["day_off"])
        else:
            parts.append(words["scheduled"])
    if row.pending and row.scheduled:
        parts.append(words["pending"])
    return ", ".join(parts), bool(issues)


def _day_cells(row: DayRow, lang: Lang) -> tuple[CellValue, ...]:
    status, _ = day_status(row, lang)
    outside = ", ".join(t.strftime("%Y-%m-%d %H:%M") for t in row.outside_window)
    return (
        row.employee_id,
        row.full_name,
        row.department or "",
        row.day,
        WEEKDAYS[lang][row.day.weekday()],
        _hhmm(row.scheduled_start),
        _hhmm(row.scheduled_end),
        row.first_in,
        row.last_out,
        row.worked_minutes,
        hours_minutes(row.worked_minutes),
        row.late_minutes,
        row.early_leave_minutes,
        status,
        STATUS_WORDS[lang]["yes"] if row.corrected else "",
        "; ".join(row.correction_reasons),
        outside,
    )


def _total_cells(t: EmployeeTotals) -> tuple[CellValue, ...]:
    return (
        t.employee_id,
        t.full_name,
        t.department or "",
        t.worked_minutes,
        hours_minutes(t.worked_minutes),
        t.late_minutes,
        t.early_leave_minutes,
        t.days_present,
        t.days_absent,
        t.days_late,
        t.days_early_leave,
        t.days_missing_out,
        t.days_corrected,
    )


def timesheet_tables(timesheet: Timesheet, lang: str = "en") -> tuple[Table, Table]:
    """The day rows and the per-employee totals as two tables."""
    language = _check_lang(lang)
    day_rows = tuple(_day_cells(r, language) for r in timesheet.rows)
    highlighted = frozenset(i for i, r in enumerate(timesheet.rows) if r.corrected)
    alerts = frozenset(
        (i, _DAY_STATUS_COLUMN) for i, r in enumerate(timesheet.rows) if day_status(r, language)[1]
    )
    days_title, totals_title = SHEET_TITLES[language]
    days = Table(days_title, DAY_HEADERS[language], day_rows, highlighted, alerts)
    totals = Table(totals_title, TOTAL_HEADERS[language], tuple(_total_cells(t) for t in timesheet.totals))
    return days, totals


def _default_delimiter(lang: Lang, delimiter: str | None) -> str:
    # Excel in a Russian locale splits CSV on its list separator, ";", not ",".
    if delimiter is not None:
        return delimiter
    return ";" if lang == "ru" else ","


def timesheet_csv(timesheet: Timesheet, lang: str = "en", *, delimiter: str | None = None) -> bytes:
    """The day rows as CSV (one table per file keeps it machine-readable; totals have their own)."""
    language = _check_lang(lang)
    days, _ = timesheet_tables(timesheet, language)
    return to_csv(days, delimiter=_default_delimiter(language, delimiter))


def totals_csv(timesheet: Timesheet, lang: str = "en", *, delimiter: str | None = None) -> bytes:
    language = _check_lang(lang)
    _, totals = timesheet_tables(timesheet, language)
    return to_csv(totals, delimiter=_default_delimiter(language, delimiter))


def timesheet_xlsx(timesheet: Timesheet, lang: str = "en") -> bytes:
    """One workbook, the day rows on the first sheet and the totals on the second."""
    return to_xlsx(timesheet_tables(timesheet, lang))
