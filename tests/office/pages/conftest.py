"""Fixtures of the office page tests: a server of the module's own database with one account of
each role, and devices with heartbeats (one of them gone quiet)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text, update

from sputnik_edge.central.schema import devices
from sputnik_edge.central.types import DeviceHeartbeat
from sputnik_edge.office.config import OfficeSettings
from tests.office.conftest import PASSWORD, OfficeServer, add_user, office_settings

USERS = {"anna": "admin", "hanna": "hr", "victor": "viewer"}
ROLE_USER = {role: name for name, role in USERS.items()}
# Every page, with the lowest role that may open it (the API's roles).
PAGES = {
    "/today": "viewer",
    "/timesheet": "viewer",
    "/devices": "viewer",
    "/employees": "hr",
    "/unknowns": "hr",
    "/audit": "admin",
}
RANK = {"viewer": 0, "hr": 1, "admin": 2}


def may_open(role: str, page: str) -> bool:
    return RANK[role] >= RANK[PAGES[page]]


@pytest.fixture(scope="module")
def office(db_url: str, server_factory: Callable[[OfficeSettings], OfficeServer]) -> OfficeServer:
    server = server_factory(office_settings(db_url, office={"timezone": "Europe/Moscow"}))
    for name, role in USERS.items():
        add_user(server.central, name, role)
    add_devices(server)
    return server


def add_devices(server: OfficeServer) -> None:
    """``door-1`` reports now; ``door-2`` was last heard of an hour ago (stale)."""
    central = server.central
    central.heartbeat(DeviceHeartbeat("door-1", "Main door", "Lobby", "1.4.0", "sface", 12, 0))
    central.heartbeat(DeviceHeartbeat("door-2", "Back door", "Yard", "1.3.9", "sface", 9, 37))
    central._transaction(
        "ageing a device",
        lambda conn: conn.execute(
            update(devices)
            .where(devices.c.device_id == "door-2")
            .values(last_seen_at=text("now() - interval '1 hour'"))
        ),
    )


def browser_login(context: Any, server: OfficeServer, username: str) -> str:
    """A logged-in browser context (the cookie lands in the context's jar), without the form;
    returns the session's CSRF token."""
    r = context.request.post(
        server.url + "/api/v1/auth/login", data={"username": username, "password": PASSWORD}
    )
    assert r.ok, r.text()
    token: str = r.json()["csrf_token"]
    return token
