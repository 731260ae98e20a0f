"""Hostile input to the office server over real HTTP: schemathesis over its whole OpenAPI schema,
and the device tests' image battery at the office's two upload doors (gateway, enrolment).

Every answer must be < 500 and carry ``X-Trace-ID``; errors are ``{"error": {...}}``; status codes,
content types and bodies are what the schema documents. Budget (~700 requests, ~40 s here):
schemathesis 19 operations x 20 positive + 12 with inputs x 15 negative examples; images 3 x 40.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from sputnik_edge.office.config import OfficeSettings
from tests.integration.test_api_fuzz import MAGICS, mutated
from tests.office.conftest import CAMERA_TOKEN, OfficeServer, add_user, new_token, office_settings

pytestmark = pytest.mark.integration

FUZZ = settings(
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
POSITIVE_EXAMPLES = 20
NEGATIVE_EXAMPLES = 15
CAMERA = {"Authorization": f"Bearer {CAMERA_TOKEN}"}


@pytest.fixture(scope="module")
def server(db_url: str, server_factory: Callable[[OfficeSettings], OfficeServer]) -> OfficeServer:
    # Failed logins cost an argon2 hash each until the address is limited: limit it early.
    return server_factory(office_settings(db_url, http={"login_attempts_per_address": 3}))


@pytest.fixture(scope="module")
def admin_headers(server: OfficeServer) -> dict[str, str]:
    add_user(server.central, "fuzzer", "admin")
    return {"Authorization": f"Bearer {new_token(server.central, 'fuzzer')}"}


@pytest.fixture(scope="module")
def api_schema(server: OfficeServer, admin_headers: dict[str, str]) -> Any:
    assert httpx.get(server.url + "/openapi.json").status_code == 401  # the schema is behind auth too
    return schemathesis.openapi.from_url(server.url + "/openapi.json", headers=admin_headers)


@pytest.fixture(scope="module")
def seeds(faces_dir: Path) -> dict[str, bytes]:
    return {
        "jpeg": (faces_dir / "images/barack_obama/obama-240p.jpg").read_bytes(),
        "png": (faces_dir / "images/alex_lacamoire/alex-lacamoire.png").read_bytes(),
    }


def check(r: httpx.Response, allowed: set[int]) -> None:
    assert r.status_code < 500, r.text
    assert r.status_code in allowed, (r.status_code, r.text)
    trace = r.headers["X-Trace-ID"]
    if r.status_code >= 400:
        body = r.json()
        assert set(body) == {"error"} and body["error"]["trace_id"] == trace


# Every operation of the schema (test_the_list_is_the_schema keeps this honest); those with an
# input to break are fuzzed with invalid data too.
OPERATIONS = {
    "GET /health": False,
    "GET /api/v1/info": False,
    "GET /metrics": False,
    "POST /api/v1/auth/login": True,
    "POST /api/v1/auth/logout": False,
    "GET /api/v1/auth/me": False,
    "GET /api/v1/employees": True,
    "POST /api/v1/employees": True,
    "GET /api/v1/employees/{employee_id}": True,
    "PATCH /api/v1/employees/{employee_id}": True,
    "DELETE /api/v1/employees/{employee_id}": True,
    "POST /api/v1/employees/{employee_id}/deactivate": True,
    "POST /api/v1/employees/{employee_id}/activate": True,
    "POST /api/v1/employees/{employee_id}/photos": True,
    "POST /api/v1/employees/{employee_id}/clips": True,
    "GET /api/v1/devices": False,
    "POST /api/v1/recognition/identify": True,
    "POST /api/v1/gateway/snapshot": True,
    "GET /api/v1/gateway/health": False,
    "GET /api/v1/audit": True,
    "GET /api/v1/attendance/events": True,
    "GET /api/v1/attendance/daily": True,
    "GET /api/v1/attendance/timesheet": True,
    "GET /api/v1/attendance/corrections": True,
    "POST /api/v1/attendance/corrections": True,
    "GET /api/v1/attendance/schedules": False,
    "PUT /api/v1/attendance/schedules/{scope}/{scope_key}": True,
    "DELETE /api/v1/attendance/schedules/{scope}/{scope_key}": True,
    "GET /api/v1/unknowns": False,
    "GET /api/v1/unknowns/faces/{event_id}/crop.jpg": True,
    "POST /api/v1/unknowns/{group_id}/enroll": True,
}


def test_the_list_is_the_schema(api_schema: Any) -> None:
    assert {op.ok().label for op in api_schema.get_all_operations()} == set(OPERATIONS)


@pytest.mark.parametrize(
    ("label", "mode"),
    [(label, GenerationMode.POSITIVE) for label in OPERATIONS]
    + [(label, GenerationMode.NEGATIVE) for label, has_input in OPERATIONS.items() if has_input],
)
def test_openapi_conformance(
    server: OfficeServer, api_schema: Any, admin_headers: dict[str, str], label: str, mode: GenerationMode
) -> None:
    """No 5xx; status code, content type and body as documented (errors included)."""
    operation = api_schema.find_operation_by_label(label)
    headers = CAMERA if label == "POST /api/v1/gateway/snapshot" else admin_headers
    checks = [not_a_server_error, response_schema_conformance, status_code_conformance]
    if mode is GenerationMode.POSITIVE:
        checks.append(content_type_conformance)
    examples = POSITIVE_EXAMPLES if mode is GenerationMode.POSITIVE else NEGATIVE_EXAMPLES
    seen: list[int] = []

    @settings(FUZZ, max_examples=examples)
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call_and_validate(headers=headers, checks=checks, timeout=30)
        seen.append(response.status_code)
        assert response.headers.get("x-trace-id")

    run()
    assert seen
    assert server.client().get("/health").status_code == 200


@settings(FUZZ, max_examples=40)
@given(data=st.binary(max_size=4096))
def test_random_bytes_at_both_upload_doors(
    server: OfficeServer, admin_headers: dict[str, str], data: bytes
) -> None:
    files = {"file": ("x.jpg", data, "application/octet-stream")}
    c = server.client()
    check(c.post("/api/v1/gateway/snapshot", files=files, headers=CAMERA), {413, 415, 422})
    check(c.post("/api/v1/recognition/identify", files=files, headers=admin_headers), {413, 415, 422})


@settings(FUZZ, max_examples=40)
@given(magic=st.sampled_from(MAGICS), tail=st.binary(max_size=2048))
def test_magic_bytes_with_random_tails(
    server: OfficeServer, admin_headers: dict[str, str], magic: bytes, tail: bytes
) -> None:
    files = {"file": ("x.jpg", magic + tail)}
    check(server.client().post("/api/v1/gateway/snapshot", files=files, headers=CAMERA), {413, 415, 422})


@settings(FUZZ, max_examples=40)
@given(st.data())
def test_mutated_real_photos_at_enrolment(
    server: OfficeServer, admin_headers: dict[str, str], seeds: dict[str, bytes], data: st.DataObject
) -> None:
    c = server.client(headers=admin_headers)
    if c.get("/api/v1/employees/fuzz-target").status_code == 404:
        assert (
            c.post("/api/v1/employees", json={"employee_id": "fuzz-target", "full_name": "F"}).status_code
            == 201
        )
    body = data.draw(mutated(seeds))
    r = c.post(
        "/api/v1/employees/fuzz-target/photos", files={"file": ("p.jpg", body)}, data={"force": "true"}
    )
    check(r, {201, 409, 413, 415, 422})


CLIP_MAGICS = (b"\x1a\x45\xdf\xa3", b"\x00\x00\x00\x20ftypisom", b"RIFF\x00\x10\x00\x00AVI LIST")


@settings(FUZZ, max_examples=30)
@given(magic=st.sampled_from((b"", *CLIP_MAGICS)), tail=st.binary(max_size=4096))
def test_random_clips_at_enrolment(
    server: OfficeServer, admin_headers: dict[str, str], magic: bytes, tail: bytes
) -> None:
    """Garbage behind a real container signature goes to the real decoder: a 4xx, never a 5xx."""
    c = server.client(headers=admin_headers)
    if c.get("/api/v1/employees/fuzz-clip").status_code == 404:
        assert (
            c.post("/api/v1/employees", json={"employee_id": "fuzz-clip", "full_name": "F"}).status_code
            == 201
        )
    r = c.post("/api/v1/employees/fuzz-clip/clips", files={"file": ("c.webm", magic + tail)})
    check(r, {413, 415, 422})
