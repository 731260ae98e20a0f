"""Issue 11's end-to-end path, all real: `sputnik-office users add` -> login -> create an employee
-> upload his photo -> a real device daemon on the RTSP clip, with central configured, pulls the
template and checks him in -> the event is in `events`, `daily` and the XLSX timesheet."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
import tomli_w

from sputnik_edge.office.config import OfficeSettings
from tests.office.conftest import SECRET_KEY, OfficeServer, office_settings
from tests.support.daemon import Daemon, base_config, free_port, write_config

pytestmark = pytest.mark.integration
PASSWORD = "a long enough password"
TZ = "Europe/Moscow"


def test_enrol_in_the_office_check_in_at_the_door(
    new_database: Callable[[bool], str],
    server_factory: Callable[[OfficeSettings], OfficeServer],
    faces_dir: Path,
    rtsp_server,  # type: ignore[no-untyped-def]
    web_browser,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    db = new_database(True)
    office = server_factory(office_settings(db, office={"timezone": TZ}))
    office.central.set_office_timezone(TZ)

    # The first account, with the CLI as an administrator would make it.
    cfg = tmp_path / "office.toml"
    cfg.write_bytes(
        tomli_w.dumps({"central": {"database_url": db}, "http": {"secret_key": SECRET_KEY}}).encode()
    )
    (tmp_path / "pw").write_text(PASSWORD + "\n")
    add = subprocess.run(
        [sys.executable, "-m", "sputnik_edge.office.cli", "users", "add", "--config", str(cfg),
         "--username", "hr1", "--role", "hr", "--password-file", str(tmp_path / "pw")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert add.returncode == 0, add.stdout + add.stderr

    client = office.client()
    r = client.post("/api/v1/auth/login", json={"username": "hr1", "password": PASSWORD})
    assert r.status_code == 200, r.text
    csrf = {"X-CSRF-Token": r.json()["csrf_token"]}
    person = {"employee_id": "lmm", "full_name": "Lin-Manuel Miranda", "department": "Cast"}
    r = client.post("/api/v1/employees", json=person, headers=csrf)
    assert r.status_code == 201, r.text
    photo = (faces_dir / "images/lin_manuel_miranda/lin-manuel-miranda.png").read_bytes()
    r = client.post(
        "/api/v1/employees/lmm/photos", files={"file": ("lmm.png", photo, "image/png")}, headers=csrf
    )
    assert r.status_code == 201, r.text

    # HR watches Today in a browser; the page must show the check-in without a reload.
    context = web_browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    r = context.request.post(
        office.url + "/api/v1/auth/login", data={"username": "hr1", "password": PASSWORD}
    )
    assert r.ok, r.text()
    today = context.new_page()
    today.goto(office.url + "/today")
    today.locator("#today[data-refreshes]").wait_for()
    today.evaluate("window.e2eMarker = 42")  # gone if the page were reloaded

    # The door: a real daemon on a real RTSP camera, syncing with the same PostgreSQL.
    server = rtsp_server()
    port = free_port()
    device = base_config(
        tmp_path,
        port,
        device={"id": "door-e2e"},
        cameras=[{"id": "entrance", "source": server.url(), "direction": "in", "fps_limit": 10}],
        central={
            "database_url": db,
            "sync_interval_s": 2,
            "gallery_interval_s": 2,
            "heartbeat_interval_s": 5,
        },
    )
    daemon = Daemon(write_config(tmp_path / "device.toml", device), port).start()
    try:
        daemon.wait_http()
        check_in = daemon.wait_for(
            lambda: [e for e in daemon.events() if e["employee_id"] == "lmm" and e["kind"] == "check_in"],
            60,
            "his check-in at the door",
        )[0]

        def in_office() -> list[dict[str, object]]:
            events = client.get("/api/v1/attendance/events", params={"employee_id": "lmm"}).json()["events"]
            return [e for e in events if e["event_id"] == check_in["event_id"]]

        seen = daemon.wait_for(in_office, 10, "the check-in in the office's events (push every 2 s)")[0]
        assert (
            seen["device_id"] == "door-e2e"
            and seen["kind"] == "check_in"
            and seen["full_name"] == "Lin-Manuel Miranda"
        )
    finally:
        daemon.terminate()

    local = datetime.fromisoformat(check_in["captured_at"]).astimezone(ZoneInfo(TZ))
    day = local.date().isoformat()
    daily = client.get("/api/v1/attendance/daily", params={"day": day}).json()
    row = next(r for r in daily["rows"] if r["employee_id"] == "lmm")
    assert row["present"] is True and row["first_in"] == local.isoformat()

    xlsx = client.get("/api/v1/attendance/timesheet", params={"from": day, "to": day, "format": "xlsx"})
    assert xlsx.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).worksheets[0]
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, (c.value for c in r), strict=True)) for r in sheet.iter_rows(min_row=2)]
    his = [r for r in rows if "lmm" in [str(v) for v in r.values()]]
    assert len(his) == 1, rows
    cells = [str(v) for v in his[0].values() if v is not None]
    assert "Lin-Manuel Miranda" in cells and "Cast" in cells and day in " ".join(cells)
    assert local.strftime("%H:%M") in " ".join(cells)
