"""Today, Timesheet and Unknown visitors in Debian's Chromium on a real office server and
PostgreSQL: events pushed as a device's sync pushes them, Today picking a new check-in up without
a reload, the timesheet's marks in words, the XLSX download read back, a correction through the
dialog (then marked), a group of a real unknown face enrolled; and every page's accessibility,
390 px layout and CSP, for each role.

The office's time zone is chosen so that it is early afternoon there whenever the test runs: the
morning's punches are in the past and the 09:00-18:00 shift is under way, at any hour of the day.
"""

from __future__ import annotations

import io
import uuid
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import cv2
import openpyxl
import pytest
from playwright.sync_api import expect

from sputnik_edge.attendance.types import AttendanceEvent
from sputnik_edge.office.config import OfficeSettings
from sputnik_edge.store.event_faces import EventFace
from sputnik_edge.vision.imageio import load_image
from tests.office.conftest import OfficeServer, add_user, login, office_settings
from tests.office.pages.conftest import PAGES, USERS, add_devices, browser_login, may_open
from tests.support.browser import (
    DESKTOP,
    PHONE,
    assert_csp,
    horizontal_overflow,
    screenshot,
    serious_accessibility_violations,
)

pytestmark = pytest.mark.integration

IN, OUT = "check_in", "check_out"
# id, name, department, punches as (days ago, local time, kind): yesterday is a finished day (its
# marks are final), today is under way (nothing is absent or missing until it is over).
STAFF = [
    ("e-1", "Anna Ivanova", "Warehouse", [(1, "08:55", IN), (1, "18:05", OUT), (0, "08:52", IN)]),
    ("e-2", "Boris Petrov", "Warehouse", [(1, "09:24", IN), (0, "09:24", IN)]),
    ("e-3", "Chen Wei", "Warehouse", []),
    (
        "e-4",
        "Dana Scott",
        "Accounts",
        [(1, "08:47", IN), (1, "16:30", OUT), (0, "08:47", IN), (0, "12:10", OUT)],
    ),
    ("e-5", "Emil Novak", "Accounts", [(1, "08:58", IN), (1, "18:00", OUT)]),
]
SHIFT = ["09:00", "18:00"]
STRANGER = "kit_harington"


def afternoon_zone() -> str:
    """An ``Etc/GMT`` zone where it is about 13:00-14:00 now (the sign of Etc names is reversed)."""
    offset = (13 - datetime.now(UTC).hour + 12) % 24 - 12
    return f"Etc/GMT{-offset:+d}" if offset else "Etc/GMT"


def at(day: date, hhmm: str, zone: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(hhmm), ZoneInfo(zone))


def event(employee_id: str | None, kind: str, when: datetime, camera: str = "entrance") -> AttendanceEvent:
    return AttendanceEvent(
        event_id=str(uuid.uuid4()),
        device_id="door-1",
        camera_id=camera,
        kind=kind,  # type: ignore[arg-type]
        employee_id=employee_id,
        name=None,
        similarity=0.81 if employee_id else 0.2,
        captured_at=when.astimezone(UTC),
    )


def stranger_faces(faces_dir: Path, recognizer: Any, zone: str, day: date) -> tuple[list[Any], list[Any]]:
    """Unknown events with the face crop and embedding a device uploads (two photos, one person)."""
    events, faces = [], []
    for n, name in enumerate(("john1.jpeg", "john2.jpeg")):
        image = load_image(faces_dir / "images" / STRANGER / name)
        vec, _ = recognizer.enrollment_template(image, name)
        best = max(recognizer.analyze(image), key=lambda c: c.detection.score)
        x1, y1, x2, y2 = (max(0, int(v)) for v in best.detection.bbox)
        ok, crop = cv2.imencode(".jpg", image[y1:y2, x1:x2])  # BGR already
        assert ok
        ev = event(None, "unknown", at(day, f"10:1{n}", zone), camera="lobby")
        events.append(ev)
        faces.append(EventFace(ev.event_id, recognizer.model_id, vec.astype("<f4").tobytes(), crop.tobytes()))
    return events, faces


@pytest.fixture(scope="module")
def zone() -> str:
    return afternoon_zone()


@pytest.fixture(scope="module")
def office(  # type: ignore[no-untyped-def]
    db_url: str, server_factory, zone: str, recognizer: Any, faces_dir: Path
) -> OfficeServer:
    settings: OfficeSettings = office_settings(db_url, office={"timezone": zone, "unknown_visitors": True})
    server = server_factory(settings)
    for name, role in USERS.items():
        add_user(server.central, name, role)
    add_devices(server)
    hr = login(server, "hanna")
    for department in ("Warehouse", "Accounts"):
        r = hr.unsafe(
            "PUT", f"/api/v1/attendance/schedules/department/{department}", json={"week": [SHIFT] * 7}
        )
        assert r.status_code == 200, r.text
    day = datetime.now(ZoneInfo(zone)).date()
    events = []
    for employee_id, name, department, punches in STAFF:
        r = hr.unsafe(
            "POST",
            "/api/v1/employees",
            json={"employee_id": employee_id, "full_name": name, "department": department},
        )
        assert r.status_code == 201, r.text
        events += [
            event(employee_id, kind, at(day - timedelta(days=ago), hhmm, zone)) for ago, hhmm, kind in punches
        ]
    unknown_events, faces = stranger_faces(faces_dir, recognizer, zone, day)
    assert server.central.push_events(events + unknown_events, faces) == len(events) + 2
    hr.client.close()
    return server


def check_page(page: Any, url: str) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 200, (url, response and response.status)
    assert_csp(response.headers)
    page.wait_for_load_state("networkidle")
    assert serious_accessibility_violations(page) == [], url
    assert horizontal_overflow(page) == 0, url


def test_today_shows_who_is_in_late_absent_and_follows_new_events(  # type: ignore[no-untyped-def]
    office: OfficeServer, web_browser, zone: str
) -> None:
    context = web_browser.new_context(viewport=DESKTOP, locale="en-US")
    browser_login(context, office, "victor")  # a viewer may watch the day
    page = context.new_page()
    check_page(page, office.url + "/today")
    in_now = page.locator("#list-in-now")
    expect(in_now.locator('li[data-employee-id="e-1"]')).to_contain_text("Anna Ivanova")
    expect(in_now.locator('li[data-employee-id="e-2"]')).to_be_visible()
    assert in_now.locator('li[data-employee-id="e-4"]').count() == 0  # checked out at noon
    expect(page.locator('#list-late li[data-employee-id="e-2"]')).to_contain_text("late by 24 min")
    absent = page.locator("#list-absent")
    expect(absent.locator('li[data-employee-id="e-3"]')).to_contain_text("not here yet")
    expect(page.locator('[data-counter="in_now"] .num')).to_have_text("2")
    expect(page.locator('#today-events li[data-kind="check_out"][data-employee-id="e-4"]')).to_be_visible()
    expect(page.locator('#today-devices tr[data-device-id="door-1"]')).to_contain_text("online")
    screenshot(page, "office-today")

    # A device syncs a new check-in: the page shows it without a reload.
    refreshes = int(page.locator("#today").get_attribute("data-refreshes") or 0)
    late = event("e-5", "check_in", datetime.now(UTC) - timedelta(minutes=1))
    assert office.central.push_events([late]) == 1
    expect(in_now.locator('li[data-employee-id="e-5"]')).to_be_visible(timeout=15000)
    expect(page.locator(f'#today-events li[data-event-id="{late.event_id}"]')).to_contain_text("Emil Novak")
    assert int(page.locator("#today").get_attribute("data-refreshes") or 0) > refreshes
    assert absent.locator('li[data-employee-id="e-5"]').count() == 0

    phone = context.new_page()
    phone.set_viewport_size(PHONE)
    check_page(phone, office.url + "/today?lang=ru")
    expect(phone.locator("#list-in-now")).to_contain_text("с ")
    context.close()


def test_timesheet_marks_downloads_and_corrections(  # type: ignore[no-untyped-def]
    office: OfficeServer, web_browser, zone: str
) -> None:
    today = datetime.now(ZoneInfo(zone)).date()
    day = (today - timedelta(days=1)).isoformat()  # a finished day
    context = web_browser.new_context(viewport=DESKTOP, locale="en-US", accept_downloads=True)
    browser_login(context, office, "hanna")
    page = context.new_page()
    check_page(page, office.url + f"/timesheet?from={day}&to={today.isoformat()}")
    row = page.locator(f'#timesheet-table tr[data-employee-id="e-2"][data-day="{day}"]')
    marks = row.locator('[data-cell="marks"]')
    expect(marks).to_contain_text("late 24 min")  # in words, not only in colour
    expect(marks).to_contain_text("no check-out")
    chen = page.locator(f'#timesheet-table tr[data-employee-id="e-3"][data-day="{day}"]')
    expect(chen.locator('[data-cell="marks"]')).to_contain_text("absent")
    dana = page.locator(f'#timesheet-table tr[data-employee-id="e-4"][data-day="{day}"]')
    expect(dana.locator('[data-cell="marks"]')).to_contain_text("left 1 h 30 min early")

    with page.expect_download() as info:
        page.click("#download-xlsx")
    download = info.value
    assert download.suggested_filename.endswith(".xlsx")
    book = openpyxl.load_workbook(io.BytesIO(Path(download.path()).read_bytes()))
    cells = {str(c.value) for sheet in book.worksheets for r in sheet.iter_rows() for c in r if c.value}
    assert {"Anna Ivanova", "Boris Petrov", "Chen Wei"} <= cells

    # Boris never checked out: hr adds the check-out through the dialog, with a reason.
    row.locator("button[data-correct]").click()
    dialog = page.locator("#correction")
    expect(dialog).to_be_visible()
    assert serious_accessibility_violations(page) == []
    page.select_option("#punch-kind", "check_out")
    page.fill("#punch-time", "17:30")
    page.click("#correction-save")
    expect(page.locator("#correction-error")).to_contain_text("Give a reason.")  # required
    page.fill("#reason", "Forgot to check out")
    page.click("#correction-save")
    expect(dialog).to_be_hidden()
    expect(row).to_have_attribute("data-corrected", "true")
    expect(marks).to_contain_text("corrected")
    expect(marks).to_contain_text("Forgot to check out")
    expect(row.locator('[data-cell="last_out"]')).to_have_text("17:30")
    expect(marks).not_to_contain_text("no check-out")

    # Voiding: Dana's early check-out was a mistake; the day shows it voided.
    dana.locator("button[data-correct]").click()
    page.check('#correction input[name="action"][value="void"]')
    page.locator("#void-events input[name=event_id]").first.wait_for()
    page.locator("#void-events label", has_text="check-out").locator("input").check()
    page.fill("#reason", "Left for an errand, came back")
    page.click("#correction-save")
    expect(dana).to_have_attribute("data-corrected", "true")
    expect(dana.locator('[data-cell="last_out"]')).to_have_text("–")
    expect(dana.locator('[data-cell="marks"]')).to_contain_text("no check-out")
    screenshot(page, "office-timesheet")
    context.close()


def test_unknown_visitor_group_enrolled_as_a_new_employee(office: OfficeServer, web_browser) -> None:  # type: ignore[no-untyped-def]
    context = web_browser.new_context(viewport=PHONE, locale="en-US")
    browser_login(context, office, "hanna")
    page = context.new_page()
    check_page(page, office.url + "/unknowns")
    group = page.locator("#unknowns article.group")
    expect(group).to_have_count(1)
    expect(group.locator("h2")).to_have_text("Seen 2 times")
    crops = group.locator(".crops img")
    expect(crops).to_have_count(2)
    assert all(crops.nth(i).evaluate("img => img.complete && img.naturalWidth > 0") for i in range(2))
    group.locator('input[value="new"]').check()
    group.locator('input[name="employee_id"]').fill("e-9")
    group.locator('input[name="full_name"]').fill("Kit Harington")
    group.locator("button[type=submit]").click()
    expect(group.locator('[data-role="result"]')).to_contain_text("Enrolled as e-9 (2 templates)")
    assert crops.count() == 0
    with office.client() as c:
        assert c.get("/employees/e-9").status_code == 303
    context.close()


def test_every_page_for_every_role(office: OfficeServer, web_browser) -> None:  # type: ignore[no-untyped-def]
    """axe-core, 390 px and CSP on every page. An admin sees every page and every control, so his
    pages are checked at both widths; a viewer's (fewer controls, Russian) at phone width, and the
    pages above a role answer 403 with no link to them."""
    runs = [
        ("anna", DESKTOP, "en-US"),
        ("anna", PHONE, "en-US"),
        ("victor", PHONE, "ru-RU"),
        ("hanna", PHONE, "ru-RU"),
    ]
    for username, viewport, locale in runs:
        role = USERS[username]
        context = web_browser.new_context(viewport=viewport, locale=locale)
        browser_login(context, office, username)
        page = context.new_page()
        for path in [*PAGES, "/employees/e-1"]:
            allowed = may_open(role, path) if path in PAGES else role != "viewer"
            if allowed and role == "hr":
                continue  # the admin's runs cover these pages with more on them
            if allowed:
                check_page(page, office.url + path)
                continue
            response = page.goto(office.url + path)
            assert response is not None and response.status == 403, (role, path)
            assert_csp(response.headers)
            assert page.locator(f'.menu a[href="{path}"]').count() == 0
            assert serious_accessibility_violations(page) == []
            assert horizontal_overflow(page) == 0
        context.close()
