"""The technician's status page in a real browser: a real daemon on a real RTSP camera, the live
preview with the face box drawn, the camera going down when the RTSP server dies; token form,
accessibility, 390 px, CSP, English and Russian."""

from __future__ import annotations

from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest

from sputnik_edge.pipeline.preview import COLOURS, PREVIEW_MAX_SIDE
from tests.support.browser import (
    DESKTOP,
    PHONE,
    assert_csp,
    horizontal_overflow,
    screenshot,
    serious_accessibility_violations,
)
from tests.support.cameras import RtspServer
from tests.support.daemon import (
    Daemon,
    base_config,
    enrol_people,
    first_photo_per_person,
    free_port,
    write_config,
)

pytestmark = pytest.mark.integration
TOKEN = "page-token-5d1c2b7e"


def box_colour_share(jpeg: bytes, bbox: list[float], scale: float, colour: tuple[int, int, int]) -> float:
    """Share of the pixels on the box's top edge that have the decision's colour."""
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    x1, y1, x2, _ = (round(v * scale) for v in bbox)
    edge = img[max(0, y1), max(0, x1) : x2].astype(int)
    close = np.abs(edge - np.array(colour)).max(axis=1) < 60
    return float(close.mean()) if len(close) else 0.0


def test_status_page_live_preview_and_camera_down(
    tmp_path: Path, faces_dir: Path, rtsp_server, web_browser
) -> None:  # type: ignore[no-untyped-def]
    server: RtspServer = rtsp_server()
    enrol_people(tmp_path / "edge.db", first_photo_per_person(faces_dir))
    port = free_port()
    cfg = base_config(
        tmp_path,
        port,
        cameras=[
            {
                "id": "entrance",
                "source": server.url(),
                "fps_limit": 10,
                "open_timeout_s": 3,
                "read_timeout_s": 2,
            }
        ],
        http={"api_token": TOKEN},
    )
    daemon = Daemon(write_config(tmp_path / "config.toml", cfg), port).start()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    try:
        daemon.wait_http()

        # The preview with a face box: the faces endpoint says where, the JPEG has the box there.
        def a_face() -> dict | None:  # type: ignore[type-arg]
            r = daemon.get("/api/v1/cameras/entrance/faces", headers=auth)
            return r.json() if r.status_code == 200 and r.json()["faces"] else None

        def same_frame() -> tuple[dict, httpx.Response] | None:  # type: ignore[type-arg]
            seen = a_face()
            jpeg = daemon.get("/api/v1/cameras/entrance/preview.jpg", headers=auth)
            if seen and jpeg.headers.get("x-frame-captured-at") == seen["captured_at"]:
                return seen, jpeg
            return None

        seen, jpeg = daemon.wait_for(same_frame, 30, "faces and preview of one frame")
        assert jpeg.status_code == 200 and jpeg.headers["content-type"] == "image/jpeg"
        assert jpeg.headers["cache-control"] == "no-store"
        assert daemon.get("/api/v1/cameras/entrance/preview.jpg").status_code == 401
        face = seen["faces"][0]
        scale = min(1.0, PREVIEW_MAX_SIDE / max(seen["width"], seen["height"]))
        assert box_colour_share(jpeg.content, face["bbox"], scale, COLOURS[face["decision"]]) > 0.5

        page = web_browser.new_page(viewport=DESKTOP, locale="en-US")
        response = page.goto(daemon.base_url + "/")
        assert response is not None and response.status == 200
        assert_csp(response.headers)
        page.wait_for_selector("#token-form:not([hidden])")
        page.fill("#token-input", "wrong")
        page.click("#token button")
        page.wait_for_selector("#token-error:not([hidden])")
        page.fill("#token-input", TOKEN)
        page.click("#token button")
        card = page.locator("#camera-entrance")
        card.locator('[data-role="state"]').filter(has_text="up").wait_for(timeout=15000)
        preview = page.locator('img[data-camera="entrance"]')
        daemon.wait_for(lambda: preview.evaluate("img => img.naturalWidth") > 0, 15, "the preview shown")
        page.locator("#events li strong").filter(has_text="check-in").first.wait_for(timeout=20000)
        assert serious_accessibility_violations(page) == []
        # The test faces stay out of the repository: blur the preview in the README's screenshot.
        blur = "document.querySelectorAll('img.preview').forEach(i => { i.style.filter = 'blur(9px)'; })"
        page.evaluate(blur)
        screenshot(page, "device-status")

        phone = web_browser.new_page(viewport=PHONE, locale="ru-RU")
        phone.goto(daemon.base_url + "/")
        phone.evaluate(f"sessionStorage.setItem('sputnik-token', '{TOKEN}')")
        phone.reload()
        assert phone.locator("html").get_attribute("lang") == "ru"
        phone.locator("#camera-entrance [data-role='state']").filter(has_text="работает").wait_for(
            timeout=15000
        )
        assert horizontal_overflow(phone) == 0
        assert serious_accessibility_violations(phone) == []

        # The RTSP server dies: the page shows the camera down without a reload.
        server.stop()
        card.locator('[data-role="state"]').filter(has_text="down").wait_for(timeout=20000)
        assert "secret" not in page.content()
        events = daemon.get("/api/v1/events", params={"limit": 1000}, headers=auth).json()["events"]
        nameless = [e for e in events if e["kind"] in ("unknown", "low_confidence")]
    finally:
        daemon.terminate()
    assert "preview" not in daemon.log_text()  # never logged
    # Never stored: the only JPEGs on disk are the debug snapshots of nameless events.
    stored = list(tmp_path.rglob("*.jpg"))
    assert all("snapshots" in p.parts for p in stored) and len(stored) <= len(nameless)


def test_page_language_choice(tmp_path: Path) -> None:
    port = free_port()
    daemon = Daemon(write_config(tmp_path / "config.toml", base_config(tmp_path, port)), port).start()
    try:
        daemon.wait_http()
        ru = daemon.get("/", headers={"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"})
        assert ru.status_code == 200 and '<html lang="ru">' in ru.text and "Состояние устройства" in ru.text
        en = daemon.get("/?lang=en", headers={"Accept-Language": "ru"})
        assert '<html lang="en">' in en.text and "Device status" in en.text
        assert httpx.get(daemon.base_url + "/ui/static/device.js").status_code == 200
    finally:
        daemon.terminate()
