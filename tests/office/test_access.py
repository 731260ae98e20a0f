"""The access matrix: every endpoint x every kind of caller gives the documented status.

Callers: nobody, a bad bearer token, a viewer's / hr's / admin's API token, an admin's session
cookie without the CSRF token, and a camera's token. Every operation of the OpenAPI schema must be
in the table below (a new endpoint fails ``test_the_matrix_covers_every_operation`` until it is
added), and nothing but ``/health`` (and the login itself) answers without credentials.

Roles: admin everything; hr employees, enrolment, identify (and what viewers may); viewer info,
metrics, devices, gateway health, who-am-I. The gateway snapshot takes camera tokens only; logout
needs a session.
"""

from __future__ import annotations

import functools
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from sputnik_edge.vision.imageio import load_image
from tests.office.conftest import CAMERA_TOKEN, PASSWORD, OfficeServer, add_user, login, new_token
from tests.support.clips import write_clip

pytestmark = pytest.mark.integration

CALLERS = ("nobody", "bad_token", "viewer", "hr", "admin", "cookie_no_csrf", "camera")
ROLE_OF = {"viewer": "viewer", "hr": "hr", "admin": "admin", "cookie_no_csrf": "admin"}
RANK = {"viewer": 0, "hr": 1, "admin": 2}
PHOTO = "images/barack_obama/obama-480p.jpg"


@dataclass(frozen=True)
class Op:
    method: str
    path: str  # the OpenAPI template; {employee_id} is filled per caller
    ok: int  # the answer to an allowed caller
    needs: str | None  # lowest role, None for open; "camera" and "session" are special
    body: str | None = None  # json | photo | snapshot | login

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def unsafe(self) -> bool:
        return self.method not in ("GET", "HEAD")


E = "/api/v1/employees/{employee_id}"
OPS = [
    Op("GET", "/health", 200, None),
    Op("POST", "/api/v1/auth/login", 200, None, "login"),
    Op("GET", "/api/v1/info", 200, "viewer"),
    Op("GET", "/metrics", 200, "viewer"),
    Op("GET", "/api/v1/auth/me", 200, "viewer"),
    Op("POST", "/api/v1/auth/logout", 204, "session"),
    Op("GET", "/api/v1/devices", 200, "viewer"),
    Op("GET", "/api/v1/gateway/health", 200, "viewer"),
    Op("POST", "/api/v1/gateway/snapshot", 200, "camera", "snapshot"),
    Op("GET", "/api/v1/employees", 200, "hr"),
    Op("POST", "/api/v1/employees", 201, "hr", "json"),
    Op("GET", E, 200, "hr"),
    Op("PATCH", E, 200, "hr", "json"),
    Op("POST", E + "/deactivate", 200, "hr"),
    Op("POST", E + "/activate", 200, "hr"),
    Op("POST", E + "/photos", 201, "hr", "photo"),
    Op("POST", E + "/clips", 201, "hr", "clip"),
    Op("DELETE", E, 204, "hr"),
    Op("POST", "/api/v1/recognition/identify", 200, "hr", "photo"),
    Op("GET", "/api/v1/audit", 200, "admin"),
    Op("GET", "/api/v1/attendance/events", 200, "viewer"),
    Op("GET", "/api/v1/attendance/daily", 200, "viewer"),
    Op("GET", "/api/v1/attendance/timesheet", 200, "viewer", "query"),
    Op("GET", "/api/v1/attendance/corrections", 200, "viewer"),
    Op("POST", "/api/v1/attendance/corrections", 201, "hr", "correction"),
    Op("GET", "/api/v1/attendance/schedules", 200, "viewer"),
    Op("PUT", "/api/v1/attendance/schedules/{scope}/{scope_key}", 200, "hr", "schedule"),
    Op("DELETE", "/api/v1/attendance/schedules/{scope}/{scope_key}", 204, "hr"),
    # Unknown visitors are off on this server: listing says so, the rest is not found.
    Op("GET", "/api/v1/unknowns", 200, "hr"),
    Op("GET", "/api/v1/unknowns/faces/{event_id}/crop.jpg", 404, "hr"),
    Op("POST", "/api/v1/unknowns/{group_id}/enroll", 404, "hr", "json"),
]
SOME_UUID = "6f1c1c2e-0c3b-4a57-9a51-2b4f1d7f9a10"


def expected(op: Op, caller: str) -> int:
    if op.needs is None:
        return op.ok
    if caller in ("nobody", "bad_token"):
        return 401
    if op.needs == "camera":
        return op.ok if caller == "camera" else 401
    if caller == "camera":
        # A camera token is no account; gateway health is the one other door it opens.
        return op.ok if op.path == "/api/v1/gateway/health" else 401
    if caller == "cookie_no_csrf" and op.unsafe:
        return 403
    if op.needs == "session":
        return op.ok if caller == "cookie_no_csrf" else 400  # tokens have no session to end
    return op.ok if RANK[ROLE_OF[caller]] >= RANK[op.needs] else 403


@pytest.fixture(scope="module")
def clients(server: OfficeServer) -> dict[str, httpx.Client]:
    central = server.central
    out: dict[str, httpx.Client] = {
        "nobody": server.client(),
        "bad_token": server.client(headers={"Authorization": "Bearer spo_" + "x" * 43}),
        "camera": server.client(headers={"Authorization": f"Bearer {CAMERA_TOKEN}"}),
    }
    for role in ("viewer", "hr", "admin"):
        add_user(central, f"m-{role}", role)
        out[role] = server.client(headers={"Authorization": f"Bearer {new_token(central, f'm-{role}')}"})
    out["cookie_no_csrf"] = login(server, "m-admin").client
    add_user(central, "m-login", "viewer")
    week = {"week": [["09:00", "18:00"]] * 5 + [None, None]}
    for caller in CALLERS:
        r = out["admin"].put(f"/api/v1/attendance/schedules/department/dept-{caller}", json=week)
        assert r.status_code == 200, r.text
        for prefix in ("m", "del", "ph"):
            r = out["admin"].post(
                "/api/v1/employees", json={"employee_id": f"{prefix}-{caller}", "full_name": caller}
            )
            assert r.status_code == 201, r.text
    return out


def call(client: httpx.Client, op: Op, caller: str, faces_dir: Path) -> httpx.Response:
    prefix = "del" if op.method == "DELETE" else ("ph" if op.path.endswith(("/photos", "/clips")) else "m")
    path = op.path.replace("{employee_id}", f"{prefix}-{caller}")
    path = path.replace("{event_id}", SOME_UUID).replace("{group_id}", SOME_UUID)
    # Each caller has a department schedule of its own to replace or delete.
    path = path.replace("{scope}", "department").replace("{scope_key}", f"dept-{caller}")
    kw: dict[str, Any] = {}
    if op.body == "json" and op.method == "POST":
        kw["json"] = {"employee_id": f"new-{caller}", "full_name": "New Person"}
    elif op.body == "json":
        kw["json"] = {"department": "Matrix"}
    elif op.body == "login":
        kw["json"] = {"username": "m-login", "password": PASSWORD}
    elif op.body == "query":
        kw["params"] = {"from": "2026-11-01", "to": "2026-11-30"}
    elif op.body == "correction":
        kw["json"] = {
            "action": "add",
            "employee_id": f"m-{caller}",
            "punch_kind": "check_in",
            "at": "2026-11-02T09:00:00+00:00",
            "reason": "forgot the card",
        }
    elif op.body == "schedule":
        kw["json"] = {"week": [["09:00", "18:00"]] * 5 + [None, None], "grace_minutes": 10}
    elif op.body == "clip":
        kw["files"] = {"file": ("c.avi", clip_of(faces_dir / PHOTO), "video/x-msvideo")}
        kw["data"] = {"force": "true", "max_templates": "1"}
    elif op.body in ("photo", "snapshot"):
        kw["files"] = {"file": ("p.jpg", (faces_dir / PHOTO).read_bytes(), "image/jpeg")}
        if op.path.endswith("/photos"):
            kw["data"] = {"force": "true"}  # the same face for every caller's employee
    if op.body == "login":  # a client of its own: the new session must not replace the caller's
        url = str(client.base_url).rstrip("/") + path
        return httpx.request(op.method, url, headers=client.headers, cookies=client.cookies, timeout=30, **kw)
    return client.request(op.method, path, **kw)


@functools.cache
def clip_of(photo: Path) -> bytes:
    """Three frames of one photo as a clip (one template: the others are near-duplicates)."""
    with tempfile.TemporaryDirectory() as tmp:
        return write_clip(Path(tmp) / "c.avi", [load_image(photo)] * 3).read_bytes()


def test_the_matrix_covers_every_operation(server: OfficeServer, clients: dict[str, httpx.Client]) -> None:
    schema = clients["admin"].get("/openapi.json").json()
    documented = {f"{m.upper()} {p}" for p, item in schema["paths"].items() for m in item}
    assert documented == {op.label for op in OPS}


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("op", OPS, ids=lambda op: op.label)
def test_access(
    server: OfficeServer, clients: dict[str, httpx.Client], faces_dir: Path, op: Op, caller: str
) -> None:
    r = call(clients[caller], op, caller, faces_dir)
    want = expected(op, caller)
    assert r.status_code == want, f"{op.label} as {caller}: {r.status_code} {r.text[:300]}"
    assert r.headers.get("X-Trace-ID")
    if want >= 400:
        assert set(r.json()) == {"error"}
        if want == 403 and caller == "cookie_no_csrf":
            assert r.json()["error"]["code"] == "csrf_failed"
        if want == 401:
            assert r.headers.get("WWW-Authenticate") == "Bearer"


@pytest.mark.parametrize("caller", CALLERS)
def test_schema_and_unknown_paths_need_credentials_too(clients: dict[str, httpx.Client], caller: str) -> None:
    account = caller in ROLE_OF
    assert clients[caller].get("/openapi.json").status_code == (200 if account else 401)
    assert clients[caller].get("/api/v1/nothing-here").status_code == (404 if account else 401)
    assert clients[caller].get("/api/docs").status_code == (404 if account else 401)  # docs off
