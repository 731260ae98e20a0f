"""HTTP API of the real daemon over loopback: gateway, errors, auth, trace ids, metrics, info."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.support.daemon import Daemon, base_config, enrol_people, free_port, write_config

pytestmark = pytest.mark.integration

TOKEN = "test-token-7f3a9c"
RATE_LIMIT = 40


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, faces_dir: Path) -> Iterator[Daemon]:
    tmp = tmp_path_factory.mktemp("api")
    enrol_people(tmp / "edge.db", {"barack_obama": faces_dir / "images/barack_obama/obama.jpg"})
    port = free_port()
    cfg = base_config(tmp, port, http={"api_token": TOKEN, "rate_limit_per_minute": RATE_LIMIT})
    d = Daemon(write_config(tmp / "config.toml", cfg), port).start()
    try:
        d.wait_http()
        yield d
    finally:
        assert d.terminate() == 0
        assert TOKEN not in d.log_text()


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def post_snapshot(d: Daemon, content: bytes, filename: str = "x.jpg", **kw: object) -> httpx.Response:
    headers = {**AUTH, **kw.pop("headers", {})}  # type: ignore[dict-item]
    return httpx.post(
        d.base_url + "/api/v1/gateway/snapshot",
        files={"file": (filename, content, "application/octet-stream")},
        headers=headers,
        timeout=30,
        **kw,  # type: ignore[arg-type]
    )


def png_bytes(w: int, h: int, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (120, 130, 140)).save(buf, fmt)
    return buf.getvalue()


def assert_error(r: httpx.Response, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    err = body["error"]
    assert set(err) == {"code", "message", "trace_id"}
    assert err["message"]
    assert r.headers["X-Trace-ID"] == err["trace_id"]
    if code:
        assert err["code"] == code
    return err


def test_obama_snapshot_matches_and_lands_in_outbox(daemon: Daemon, faces_dir: Path) -> None:
    r = post_snapshot(daemon, (faces_dir / "images/barack_obama/obama.jpg").read_bytes())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "match"
    assert body["trace_id"] == r.headers["X-Trace-ID"]
    assert [f["employee_id"] for f in body["faces"]] == ["barack_obama"]
    assert len(body["events"]) == 1
    ev = body["events"][0]
    assert ev["kind"] == "check_in" and ev["employee_id"] == "barack_obama"
    # liveness.mode is monitor by default: the photo checks in, and the answer says that a single
    # photo could not be checked for liveness.
    assert body["liveness"]["verdict"] == "not_checked" and "single photo" in body["liveness"]["reason"]
    outbox = daemon.get("/api/v1/events", headers=AUTH).json()["events"]
    stored = [e for e in outbox if e["event_id"] == ev["event_id"]]
    assert stored and stored[0]["synced"] is False
    # Within the cooldown a second snapshot still matches but adds no event.
    again = post_snapshot(daemon, (faces_dir / "images/barack_obama/obama2.jpg").read_bytes()).json()
    assert again["status"] == "match" and again["events"] == []


@pytest.mark.parametrize(
    ("name", "make", "status", "code"),
    [
        ("empty", lambda f: b"", 422, "empty"),
        ("text", lambda f: b"hello, this is not an image\n" * 10, 415, "not_an_image"),
        ("truncated", lambda f: (f / "images/barack_obama/obama.jpg").read_bytes()[:20000], 422, "truncated"),
        ("11MB", lambda f: b"\xff\xd8\xff\xe0" + b"\0" * (11 * 1024 * 1024), 413, "too_large"),
        ("50x50", lambda f: png_bytes(50, 50), 422, "too_small"),
        ("gif", lambda f: png_bytes(200, 200, "GIF"), 415, "unsupported_type"),
    ],
)
def test_gateway_rejects_bad_uploads(
    daemon: Daemon, faces_dir: Path, name: str, make, status: int, code: str
) -> None:
    before = daemon.get("/api/v1/gateway/health", headers=AUTH).json()
    r = post_snapshot(daemon, make(faces_dir))
    assert_error(r, status, code)
    after = daemon.get("/api/v1/gateway/health", headers=AUTH).json()
    if status != 413:  # an oversized body is refused from its Content-Length, before the endpoint
        assert after["rejected"] == before["rejected"] + 1


def test_missing_file_field_is_a_json_422(daemon: Daemon) -> None:
    r = httpx.post(daemon.base_url + "/api/v1/gateway/snapshot", data={"camera_id": "x"}, headers=AUTH)
    assert_error(r, 422, "invalid_request")


def test_auth_and_trace_ids(daemon: Daemon) -> None:
    assert daemon.get("/health").status_code == 200  # health stays open for probes
    assert_error(daemon.get("/api/v1/info"), 401, "unauthorized")
    assert_error(daemon.get("/api/v1/info", headers={"Authorization": "Bearer wrong"}), 401, "unauthorized")
    assert_error(daemon.get("/api/v1/info", headers={"Authorization": TOKEN}), 401)
    r = daemon.get("/api/v1/info", headers={**AUTH, "X-Trace-ID": "trace-abc-12345"})
    assert r.status_code == 200 and r.headers["X-Trace-ID"] == "trace-abc-12345"
    bad = daemon.get("/api/v1/info", headers={**AUTH, "X-Trace-ID": "bad id\twith spaces"})
    assert bad.headers["X-Trace-ID"] != "bad id\twith spaces" and len(bad.headers["X-Trace-ID"]) >= 16
    assert_error(daemon.get("/nope", headers=AUTH), 404, "not_found")


def test_info_events_and_metrics(daemon: Daemon) -> None:
    info = daemon.get("/api/v1/info", headers=AUTH).json()
    assert info["device_id"] == "door-test"
    assert len(info["models"]["embedder"]["sha256"]) == 64
    # liveness.mode defaults to monitor: the face mesh is a model in use too.
    assert info["models"]["face_landmark"]["file"] == "face_landmark.onnx"
    assert len(info["models"]["face_landmark"]["sha256"]) == 64
    assert info["gallery"]["employees"] == 1
    assert TOKEN not in json.dumps(info)
    assert_error(daemon.get("/api/v1/events", params={"limit": 0}, headers=AUTH), 422, "invalid_request")
    assert_error(daemon.get("/api/v1/events", params={"since": "yesterday"}, headers=AUTH), 422)
    metrics = daemon.get("/metrics", headers=AUTH).text
    assert "sputnik_frame_to_outbox_seconds_bucket" in metrics
    assert 'sputnik_gateway_snapshots_total{result="accepted"}' in metrics
    assert "sputnik_outbox_backlog" in metrics


def test_rate_limit_gives_429(daemon: Daemon) -> None:
    small = png_bytes(50, 50)
    codes = [post_snapshot(daemon, small).status_code for _ in range(RATE_LIMIT + 5)]
    assert 429 in codes
    limited = post_snapshot(daemon, small)
    assert_error(limited, 429, "rate_limited")
    assert limited.headers["Retry-After"] == "60"


def test_cors_only_for_configured_origins(tmp_path: Path) -> None:
    port = free_port()
    cfg = base_config(tmp_path, port, http={"cors_origins": ["https://office.example"]})
    d = Daemon(write_config(tmp_path / "config.toml", cfg), port).start()
    try:
        d.wait_http()
        preflight = {"Access-Control-Request-Method": "GET"}
        ok = httpx.options(
            d.base_url + "/api/v1/events", headers={"Origin": "https://office.example", **preflight}
        )
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == "https://office.example"
        other = d.get("/api/v1/events", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        simple = d.get("/api/v1/events", headers={"Origin": "https://office.example"})
        assert simple.headers["access-control-allow-origin"] == "https://office.example"
        assert "X-Trace-ID" in simple.headers.get("access-control-expose-headers", "")
    finally:
        assert d.terminate() == 0
