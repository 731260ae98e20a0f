"""A clip on the employee page in Debian's Chromium: the file input takes the real webcam clip,
the page sends it to the clip door and says how many templates its best frames gave; a clip of
two people is refused in words."""

from __future__ import annotations

from pathlib import Path

import pytest

from sputnik_edge.vision.imageio import load_image
from tests.conftest import require
from tests.office.conftest import OfficeServer
from tests.office.pages.conftest import browser_login
from tests.office.pages.test_employee_pages import add_employee, check_page, upload
from tests.support.browser import DESKTOP
from tests.support.clips import write_clip

pytestmark = pytest.mark.integration

WEBCAM = "liveness/webcam_live.webm"


def test_clip_upload_on_the_employee_page(  # type: ignore[no-untyped-def]
    office: OfficeServer, web_browser, faces_dir: Path, tmp_path: Path
) -> None:
    clip = faces_dir / WEBCAM
    require(clip.is_file(), f"webcam clip not found at {clip}")
    context = web_browser.new_context(viewport=DESKTOP, locale="en-US")
    browser_login(context, office, "hanna")
    page = context.new_page()
    check_page(page, page.goto(office.url + "/employees"))
    add_employee(page, "e-700", "Webcam Man", "Front desk")

    two = write_clip(tmp_path / "two.webm.avi", [load_image(faces_dir / "multi_face/two_people.jpg")] * 6)
    renamed = two.rename(tmp_path / "two.webm")  # the page picks the door by the file's type
    result = upload(page, renamed)
    assert result.get_attribute("data-outcome") == "refused"
    assert "Clip refused: more than one face" in result.inner_text()

    result = upload(page, clip)
    assert result.get_attribute("data-outcome") == "accepted", result.inner_text()
    assert "Clip accepted: 5 face template(s)" in result.inner_text()
    assert page.locator("#templates-count").inner_text() == "Face templates: 5"
    context.close()
