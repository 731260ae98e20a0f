"""The Employees pages in Debian's Chromium against a real office server, PostgreSQL and the real
models: the login form, adding an employee, photos accepted and refused (in words), the camera
path with a fake camera showing a real face, the duplicate warning naming the other person, edit,
(de)activate, the in-page search, erasure after typing the id; accessibility, 390 px and CSP."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import cv2
import pytest
from playwright.sync_api import expect

from tests.office.conftest import PASSWORD, OfficeServer
from tests.office.pages.conftest import browser_login
from tests.support.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    PHONE,
    assert_csp,
    horizontal_overflow,
    screenshot,
    serious_accessibility_violations,
)
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

OBAMA = "images/barack_obama/obama.jpg"
BIDEN = "images/joe_biden/biden.jpg"
COLLEAGUES = [
    ("e-401", "Maria Garcia", "Warehouse", True),
    ("e-402", "Ivan Petrov", "Warehouse", False),
    ("e-403", "Chen Wei", "Accounts", True),
]
# Playwright's wait_for_function evaluates strings in the page, which the pages' CSP forbids (as it
# should): waits go through locators and expect() instead.
VERDICT = re.compile(r"^(accepted|refused|error|duplicate)$")
CLIP_FILTER = (
    "scale=640:480:force_original_aspect_ratio=decrease,pad=640:480:(ow-iw)/2:(oh-ih)/2,format=yuv420p"
)


def check_page(page: Any, response: Any) -> None:
    """What every page must pass: CSP header, axe-core, no sideways scrolling at its width."""
    assert response is not None and response.status == 200, response and response.status
    assert_csp(response.headers)
    assert serious_accessibility_violations(page) == []
    assert horizontal_overflow(page) == 0


def degraded(faces_dir: Path, tmp_path: Path) -> dict[str, Path]:
    """Copies of a real photo the quality gate must refuse: shrunk until the face is too small,
    and blurred beyond the sharpness limit (written to tmp_path, never to the repository)."""
    img = cv2.imread(str(faces_dir / BIDEN))
    scale = 100 / img.shape[1]
    tiny = tmp_path / "tiny.jpg"
    cv2.imwrite(str(tiny), cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA))
    blurred = tmp_path / "blurred.jpg"
    cv2.imwrite(str(blurred), cv2.GaussianBlur(img, (0, 0), 25 / 3))
    return {"face_too_small": tiny, "blurry": blurred}


def fake_camera_clip(photo: Path, out: Path) -> Path:
    """A one-second 640x480 clip of a still photo, the format Chromium's fake camera plays."""
    subprocess.run(
        [
            "ffmpeg", "-y", "-loglevel", "error", "-loop", "1", "-i", str(photo), "-t", "1", "-r", "5",
            "-vf", CLIP_FILTER,
            "-f", "yuv4mpegpipe", str(out),
        ],
        check=True,
        timeout=60,
    )  # fmt: skip
    return out


def add_employee(page: Any, employee_id: str, name: str, department: str) -> None:
    page.fill("#new-id", employee_id)
    page.fill("#new-name", name)
    page.fill("#new-department", department)
    page.click("#add-employee button[type=submit]")
    page.wait_for_url(f"**/employees/{employee_id}")


def wait_for_verdict(page: Any) -> Any:
    result = page.locator("#photo-result")
    expect(result).to_have_attribute("data-outcome", VERDICT, timeout=30000)
    return result


def upload(page: Any, path: Path) -> Any:
    page.evaluate("delete document.getElementById('photo-result').dataset.outcome")  # no stale verdict
    page.set_input_files("#photo-file", str(path))
    page.click("#photo-upload button[type=submit]")
    return wait_for_verdict(page)


def test_login_form_says_wrong_without_saying_which_and_goes_back(office: OfficeServer, web_browser) -> None:  # type: ignore[no-untyped-def]
    page = web_browser.new_page(viewport=PHONE, locale="en-US")
    page.goto(office.url + "/devices")
    page.wait_for_url("**/login?next=%2Fdevices")
    check_page(page, page.goto(page.url))
    page.fill("#username", "anna")
    page.fill("#password", "wrong password")
    page.click("#login button[type=submit]")
    error = page.locator("#login-error")
    error.wait_for()
    assert error.inner_text() == "Wrong username or password."
    page.fill("#username", "nobody-here")
    page.fill("#password", PASSWORD)
    page.click("#login button[type=submit]")
    expect(page.locator("#password")).to_have_value("")
    assert error.inner_text() == "Wrong username or password."  # the same words for an unknown user
    # The API's limit per username: the page says to wait, and for how long.
    for _ in range(5):
        page.fill("#username", "mallory")
        page.fill("#password", "guess")
        page.click("#login button[type=submit]")
        expect(page.locator("#password")).to_have_value("")
    page.fill("#username", "mallory")
    page.fill("#password", "guess")
    page.click("#login button[type=submit]")
    expect(error).to_contain_text(re.compile(r"Too many failed attempts\. Try again in \d+ s\."))
    expect(page.locator("#login button[type=submit]")).to_be_disabled()

    page.reload()
    page.fill("#username", "anna")
    page.fill("#password", PASSWORD)
    page.click("#login button[type=submit]")
    page.wait_for_url("**/devices")
    assert page.locator('tr[data-device-id="door-2"][data-stale="true"]').count() == 1
    page.click("#logout")
    page.wait_for_url("**/login")
    assert page.goto(office.url + "/devices").url.endswith("/login?next=%2Fdevices")
    page.close()


def test_employee_from_adding_to_erasure(  # type: ignore[no-untyped-def]
    office: OfficeServer, web_browser, faces_dir: Path, tmp_path: Path
) -> None:
    context = web_browser.new_context(viewport=DESKTOP, locale="en-US")
    csrf = browser_login(context, office, "hanna")
    page = context.new_page()
    check_page(page, page.goto(office.url + "/employees"))

    # A photo file: refused in words when it is poor, accepted when it is good.
    add_employee(page, "e-200", "Joe Biden", "Management")
    for reason, path in degraded(faces_dir, tmp_path).items():
        result = upload(page, path)
        assert result.get_attribute("data-outcome") == "refused"
        assert result.get_attribute("data-reasons").split(",")[0] == reason
        words = {"face_too_small": "face too small", "blurry": "blurry"}[reason]
        assert f"Photo refused: {words}" in result.inner_text()
    assert upload(page, faces_dir / BIDEN).get_attribute("data-outcome") == "accepted"
    assert page.locator("#templates-count").inner_text() == "Face templates: 1"
    check_page(page, page.reload())

    # The duplicate warning names the person the face already belongs to; hr may enrol anyway.
    page.goto(office.url + "/employees")
    add_employee(page, "e-300", "Look Alike", "Management")
    result = upload(page, faces_dir / BIDEN)
    assert result.get_attribute("data-outcome") == "duplicate"
    warning = result.locator("[data-other-id]")
    assert warning.get_attribute("data-other-id") == "e-200"
    assert "already looks like Joe Biden (e-200)" in warning.inner_text()
    page.evaluate("delete document.getElementById('photo-result').dataset.outcome")
    page.click("#enrol-anyway")
    assert wait_for_verdict(page).get_attribute("data-outcome") == "accepted"

    # Edit and (de)activate.
    page.fill("#edit-name", "Look Alike Jr")
    page.click("#edit-employee button[type=submit]")
    page.locator("#edit-result").filter(has_text="Saved.").wait_for()
    assert page.locator("#employee-name").inner_text() == "Look Alike Jr"
    page.click("#toggle-active")
    page.locator("#employee-status").filter(has_text="deactivated").wait_for()
    page.click("#toggle-active")
    page.locator("#employee-status").filter(has_text="active").wait_for()

    # Search in the list, without a request.
    page.goto(office.url + "/employees")
    page.fill("#search", "biden")
    assert page.locator("#employees-table tbody tr:visible").count() == 1
    assert page.locator('tr[data-employee-id="e-200"]').is_visible()

    # Erasure only after typing the id exactly.
    page.goto(office.url + "/employees/e-300")
    button = page.locator("#erase-submit")
    page.fill("#erase-confirm", "e-30")
    assert button.is_disabled()
    page.fill("#erase-confirm", "e-300")
    assert button.is_enabled()
    button.click()
    page.wait_for_url("**/employees?done=erased")
    assert "The employee was erased." in page.locator("main").inner_text()
    assert page.locator('tr[data-employee-id="e-300"]').count() == 0
    assert context.request.get(office.url + "/api/v1/employees/e-300").status == 404

    # The list as the README shows it: colleagues without a photo, one deactivated.
    for employee_id, name, dept, active in COLLEAGUES:
        r = context.request.post(
            office.url + "/api/v1/employees",
            data={"employee_id": employee_id, "full_name": name, "department": dept, "is_active": active},
            headers={"X-CSRF-Token": csrf},
        )
        assert r.status == 201, r.text()
    page.goto(office.url + "/employees")
    screenshot(page, "office-employees")
    phone = context.new_page()
    phone.set_viewport_size(PHONE)
    check_page(phone, phone.goto(office.url + "/employees"))
    screenshot(phone, "office-employees-phone")
    context.close()


def test_camera_capture_enrols_a_photo(
    office: OfficeServer, web_browser, faces_dir: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    clip = fake_camera_clip(faces_dir / OBAMA, tmp_path / "obama.y4m")
    camera_browser = web_browser.browser_type.launch(
        executable_path=CHROMIUM,
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={clip}",
        ],
    )
    try:
        context = camera_browser.new_context(viewport=PHONE, locale="ru-RU")
        browser_login(context, office, "hanna")
        page = context.new_page()
        page.goto(office.url + "/employees")
        add_employee(page, "e-100", "Barack Obama", "Management")
        page.click("#camera-start")
        playing = wait_until(
            lambda: page.evaluate("document.getElementById('camera-video').videoWidth") > 0, 15
        )
        assert playing, "the fake camera never delivered a frame"
        assert horizontal_overflow(page) == 0
        assert serious_accessibility_violations(page) == []
        page.click("#camera-take")
        result = wait_for_verdict(page)
        assert result.get_attribute("data-outcome") == "accepted", result.inner_text()
        assert "Фото принято" in result.inner_text()
        assert page.locator("#camera-video").is_hidden()  # the camera is released after the capture
        assert page.locator("#templates-count").get_attribute("data-count") == "1"
        context.close()
    finally:
        camera_browser.close()
