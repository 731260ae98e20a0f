"""Identify against the central gallery, the office gateway with its cooldown, devices, health, info,
metrics: over real HTTP with the real models on real photos."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, make_url, select, text

from sputnik_edge.central.schema import attendance_events
from sputnik_edge.central.types import DeviceHeartbeat
from sputnik_edge.office.config import OfficeSettings
from tests.integration.conftest import TcpProxy
from tests.office.conftest import (
    CAMERA_TOKEN,
    EXIT_TOKEN_CAMERA,
    OfficeServer,
    add_user,
    assert_error,
    new_token,
    office_settings,
)
from tests.support.daemon import free_port

pytestmark = pytest.mark.integration

OBAMA = "images/barack_obama/obama.jpg"
OBAMA_480P = "images/barack_obama/obama-480p.jpg"
BIDEN = "images/joe_biden/biden.jpg"
BIDEN_2 = "images/joe_biden/biden2.jpg"


@pytest.fixture(scope="module")
def hr(server: OfficeServer, faces_dir: Path) -> httpx.Client:
    add_user(server.central, "hr", "hr")
    add_user(server.central, "viewer", "viewer")
    c = server.client(headers={"Authorization": f"Bearer {new_token(server.central, 'hr')}"})
    assert (
        c.post("/api/v1/employees", json={"employee_id": "obama", "full_name": "Barack Obama"}).status_code
        == 201
    )
    files = {"file": ("o.jpg", (faces_dir / OBAMA).read_bytes())}
    assert c.post("/api/v1/employees/obama/photos", files=files).status_code == 201
    return c


@pytest.fixture(scope="module")
def viewer(server: OfficeServer, hr: httpx.Client) -> httpx.Client:
    return server.client(headers={"Authorization": f"Bearer {new_token(server.central, 'viewer')}"})


def events_in_db(server: OfficeServer) -> int:
    with server.central.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(attendance_events)).scalar_one())


def identify(client: httpx.Client, data: bytes) -> list[dict[str, Any]]:
    r = client.post("/api/v1/recognition/identify", files={"file": ("x.jpg", data)})
    assert r.status_code == 200, r.text
    assert r.json()["trace_id"] == r.headers["X-Trace-ID"]
    return list(r.json()["faces"])


def main_face(faces: list[dict[str, Any]]) -> dict[str, Any]:
    return max(faces, key=lambda f: f["det_score"])  # biden2.jpg has weak background faces too


def snapshot(server: OfficeServer, data: bytes, token: str, camera_id: str | None = None) -> httpx.Response:
    form = {"camera_id": camera_id} if camera_id else {}
    return server.client().post(
        "/api/v1/gateway/snapshot",
        files={"file": ("s.jpg", data)},
        data=form,
        headers={"Authorization": f"Bearer {token}"},
    )


def test_identify_follows_the_central_gallery_and_records_nothing(
    server: OfficeServer, hr: httpx.Client, faces_dir: Path
) -> None:
    before = events_in_db(server)
    (face,) = identify(hr, (faces_dir / OBAMA_480P).read_bytes())
    assert (face["decision"], face["employee_id"], face["name"]) == ("match", "obama", "Barack Obama")
    assert face["similarity"] >= 0.55 and face["quality"]["ok"] is True
    stranger = main_face(identify(hr, (faces_dir / BIDEN_2).read_bytes()))
    assert stranger["decision"] != "match" and stranger["employee_id"] is None
    # Enrolled through the API: the next identify sees him (the gallery's change_seq moved).
    assert (
        hr.post("/api/v1/employees", json={"employee_id": "biden", "full_name": "Joe Biden"}).status_code
        == 201
    )
    r = hr.post("/api/v1/employees/biden/photos", files={"file": ("b.jpg", (faces_dir / BIDEN).read_bytes())})
    assert r.status_code == 201
    assert main_face(identify(hr, (faces_dir / BIDEN_2).read_bytes()))["employee_id"] == "biden"
    # Deactivated employees never match.
    hr.post("/api/v1/employees/biden/deactivate")
    assert main_face(identify(hr, (faces_dir / BIDEN_2).read_bytes()))["decision"] != "match"
    hr.post("/api/v1/employees/biden/activate")
    assert events_in_db(server) == before


def test_gateway_match_becomes_an_event_of_the_virtual_device_with_cooldown(
    server: OfficeServer, hr: httpx.Client, faces_dir: Path
) -> None:
    data = (faces_dir / OBAMA_480P).read_bytes()
    r = snapshot(server, data, CAMERA_TOKEN, "entrance")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "match" and body["trace_id"] == r.headers["X-Trace-ID"]
    (event,) = body["events"]
    assert (event["kind"], event["employee_id"], event["camera_id"]) == ("check_in", "obama", "entrance")
    with server.central.engine.connect() as conn:
        row = conn.execute(
            select(attendance_events).where(attendance_events.c.event_id == event["event_id"])
        ).one()
    assert (row.device_id, row.kind, row.employee_id, row.trace_id) == (
        "office:entrance", "check_in", "obama", r.headers["X-Trace-ID"]
    )  # fmt: skip
    # A single photo proves no liveness: the answer and the event say what was not checked.
    assert body["liveness"]["verdict"] == row.details["liveness"]["verdict"] == "not_checked"
    assert "single photo" in body["liveness"]["reason"]
    again = snapshot(server, data, CAMERA_TOKEN)  # camera_id may be left out: the token names it
    assert again.json()["status"] == "match" and again.json()["events"] == []  # cooldown, from the table
    outs = [snapshot(server, data, EXIT_TOKEN_CAMERA, "exit").json()["events"] for _ in range(2)]
    assert [e[0]["kind"] for e in outs] == ["check_out", "check_out"]  # that camera has cooldown_s = 0
    unknown = snapshot(server, (faces_dir / "images/rose_leslie/img1.jpg").read_bytes(), CAMERA_TOKEN)
    assert unknown.json()["status"] in ("unknown", "low_confidence") and unknown.json()["events"] == []
    health = hr.get("/api/v1/gateway/health").json()
    assert health["accepted"] == 5 and health["last_snapshot_at"]


def test_gateway_takes_camera_tokens_only(server: OfficeServer, hr: httpx.Client, faces_dir: Path) -> None:
    data = (faces_dir / OBAMA_480P).read_bytes()
    user_token = hr.headers["Authorization"].split()[1]
    assert_error(server.client().post("/api/v1/gateway/snapshot", files={"file": ("s", data)}), 401)
    assert_error(snapshot(server, data, user_token), 401)
    assert_error(snapshot(server, data, CAMERA_TOKEN + "x"), 401)
    assert_error(snapshot(server, data, CAMERA_TOKEN, "exit"), 403, "wrong_camera")
    assert_error(snapshot(server, b"junk", CAMERA_TOKEN), 415, "not_an_image")
    assert_error(snapshot(server, data[:2000], CAMERA_TOKEN), 422)
    assert_error(snapshot(server, b"\xff\xd8\xff" + b"\0" * (11 * 2**20), CAMERA_TOKEN), 413, "too_large")
    camera = server.client(headers={"Authorization": f"Bearer {CAMERA_TOKEN}"})
    assert camera.get("/api/v1/gateway/health").json()["rejected"] >= 3
    assert_error(camera.get("/api/v1/employees"), 401)  # a camera token opens nothing else
    assert_error(server.client().get("/api/v1/gateway/health"), 401)


def test_devices_with_their_heartbeat_and_a_stale_flag(server: OfficeServer, viewer: httpx.Client) -> None:
    server.central.heartbeat(
        DeviceHeartbeat("door-1", software_version="0.1.0", model_id="m", outbox_backlog=3)
    )
    server.central.heartbeat(DeviceHeartbeat("door-old", software_version="0.0.9"))
    with server.central.engine.begin() as conn:
        conn.execute(
            text("UPDATE devices SET last_seen_at = now() - interval '1 hour' WHERE device_id = 'door-old'")
        )
    body = viewer.get("/api/v1/devices").json()
    by_id = {d["device_id"]: d for d in body["devices"]}
    assert body["stale_after_s"] == 300
    assert by_id["door-1"]["stale"] is False and by_id["door-1"]["outbox_backlog"] == 3
    assert by_id["door-old"]["stale"] is True and by_id["door-old"]["silent_for_s"] >= 3599
    assert by_id["office:entrance"]["stale"] is False  # the gateway's camera reports in as a device


def test_info_and_metrics(server: OfficeServer, viewer: httpx.Client, recognizer: Any) -> None:
    info = viewer.get("/api/v1/info").json()
    assert info["app"] == "sputnik-office" and info["models"]["embedder"]["model_id"] == recognizer.model_id
    assert len(info["models"]["detector"]["sha256"]) == 64
    assert info["gallery"]["employees"] >= 1 and info["thresholds"]["match"] == 0.55
    assert [c["device_id"] for c in info["cameras"]] == ["office:entrance", "office:exit"]
    assert info["office_timezone"] == "UTC"
    metrics = viewer.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'route="/api/v1/employees/{employee_id}/photos"' in metrics.text
    assert 'sputnik_office_gateway_events_total{kind="check_in"} 1.0' in metrics.text
    assert "sputnik_office_database_up 1.0" in metrics.text
    assert 'sputnik_office_device_silent_seconds{device="office:entrance"}' in metrics.text
    assert CAMERA_TOKEN not in metrics.text


def test_health_reports_the_database(
    server: OfficeServer,
    server_factory: Callable[[OfficeSettings], OfficeServer],
    new_database: Callable[[bool], str],
) -> None:
    ok = server.client().get("/health")
    assert ok.status_code == 200
    assert (
        ok.json()["status"] == "ok"
        and ok.json()["database"]["revision"] == ok.json()["database"]["expected_revision"]
    )
    unmigrated = server_factory(office_settings(new_database(False)))
    r = unmigrated.client().get("/health")
    assert r.status_code == 503 and r.json()["status"] == "degraded"
    down = server_factory(office_settings(f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"))
    r = down.client().get("/health")
    assert (
        r.status_code == 503 and r.json()["status"] == "down" and r.json()["database"]["reachable"] is False
    )
    assert_error(down.client(headers={"Authorization": "Bearer spo_" + "a" * 43}).get("/api/v1/info"), 503)
    login = down.client().post("/api/v1/auth/login", json={"username": "a", "password": "b"})
    assert_error(login, 503, "database_unavailable")


def test_a_database_outage_seen_from_outside(
    db_url: str,
    viewer: httpx.Client,  # the account exists
    server_factory: Callable[[OfficeSettings], OfficeServer],
) -> None:
    """/health says down; requests needing the database get 503; Prometheus' token keeps scraping
    /metrics (it cannot be checked, and nothing can be revoked meanwhile) and reads database_up 0."""
    url = make_url(db_url)
    proxy = TcpProxy(url.host or "127.0.0.1", int(url.port or 5432)).start()
    try:
        proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        office = server_factory(office_settings(proxied))
        scraper = office.client(
            headers={"Authorization": f"Bearer {new_token(office.central, 'viewer', 'prom')}"}
        )
        other = office.client(
            headers={"Authorization": f"Bearer {new_token(office.central, 'viewer', 'other')}"}
        )
        assert scraper.get("/metrics").status_code == 200
        assert other.get("/api/v1/devices").status_code == 200
        proxy.cut()
        assert office.client().get("/health").status_code == 503
        scrape = scraper.get("/metrics")
        assert scrape.status_code == 200 and "sputnik_office_database_up 0.0" in scrape.text
        assert "sputnik_office_device_silent_seconds{" not in scrape.text
        assert_error(other.get("/metrics"), 503, "database_unavailable")  # never scraped: not known
        assert_error(scraper.get("/api/v1/devices"), 503, "database_unavailable")
        proxy.restore()
        assert office.client().get("/health").status_code == 200
        assert "sputnik_office_database_up 1.0" in scraper.get("/metrics").text
    finally:
        proxy.close()


def test_an_unexpected_failure_is_a_json_500_counted_under_its_route(
    server: OfficeServer,
    hr: httpx.Client,
    viewer: httpx.Client,
    faces_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def boom(image: Any) -> Any:
        raise RuntimeError("internal detail that must not leak")

    monkeypatch.setattr(server.state.recognition, "identify", boom)
    r = hr.post(
        "/api/v1/recognition/identify", files={"file": ("x.jpg", (faces_dir / OBAMA_480P).read_bytes())}
    )
    err = assert_error(r, 500, "internal_error")
    assert "internal detail" not in r.text and "trace id" in err["message"]
    samples = {
        (s.labels["route"], s.labels["method"], s.labels["status"]): s.value
        for family in text_string_to_metric_families(viewer.get("/metrics").text)
        if family.name == "sputnik_office_http_requests"
        for s in family.samples
        if s.name.endswith("_total")
    }
    assert samples[("/api/v1/recognition/identify", "POST", "500")] == 1.0
