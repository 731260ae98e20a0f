"""Webhook outputs of the real daemon (RTSP clip + gateway snapshots) against real HTTP receivers
on loopback that verify the signature: one answering 500, one hanging past the timeout and one
that is down all back off and deliver everything once they recover, while recognition, the
central push and a healthy output carry on; an output's filter filters; only the documented
fields leave the device."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from sputnik_edge.tools.daemon_process import daemon_env
from tests.support.cameras import RtspServer
from tests.support.conditions import metric
from tests.support.daemon import (
    Daemon,
    base_config,
    enrol_people,
    first_photo_per_person,
    free_port,
    write_config,
)
from tests.support.outputs_contract import DOCUMENTED, UNKNOWN_PHOTOS
from tests.support.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.integration

SECRET = "whsec-test-Qm3v9-never-logged"
URL_PASSWORD = "hook-pw-Zr81"
PATH_SECRET = "webhook-id-Qm27"  # as in Home Assistant's /api/webhook/<id>: the path is the secret


def snapshot(d: Daemon, photo: Path) -> list[dict[str, Any]]:
    r = httpx.post(
        d.base_url + "/api/v1/gateway/snapshot",
        files={"file": (photo.name, photo.read_bytes(), "application/octet-stream")},
        data={"camera_id": "entrance"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return list(r.json()["events"])


def central_ids(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return {str(r[0]) for r in conn.execute(text("SELECT event_id FROM attendance_events"))}


def webhook(output_id: str, url: str, **kw: Any) -> dict[str, Any]:
    return {
        "id": output_id,
        "kind": "webhook",
        "url": url,
        "timeout_s": 1.0,
        "backoff_initial_s": 0.2,
        "backoff_max_s": 1.0,
        **kw,
    }


def test_failing_webhooks_back_off_then_deliver_everything(
    tmp_path: Path, faces_dir: Path, rtsp_server: Any, central_url: str, central_engine: Engine
) -> None:
    for photo in UNKNOWN_PHOTOS:
        assert (faces_dir / photo).is_file(), photo
    server: RtspServer = rtsp_server()
    people = first_photo_per_person(faces_dir)
    enrol_people(tmp_path / "edge.db", {"lin_manuel_miranda": people["lin_manuel_miranda"]})
    good = WebhookReceiver(SECRET.encode()).start()
    alerts = WebhookReceiver(SECRET.encode()).start()
    flaky = WebhookReceiver(SECRET.encode(), mode="error").start()
    slow = WebhookReceiver(SECRET.encode(), mode="hang").start()
    down = WebhookReceiver(SECRET.encode(), port=free_port())  # started only later
    creds = tmp_path / "credentials"
    creds.mkdir(mode=0o700)
    for oid in ("good", "alerts", "flaky", "slow", "down"):
        (creds / f"output_{oid}_secret").write_text(SECRET + "\n")
    port = free_port()
    cfg = base_config(
        tmp_path,
        port,
        cameras=[{"id": "entrance", "source": server.url(), "direction": "in", "fps_limit": 10}],
        central={"database_url": central_url, "sync_interval_s": 1},
        outputs=[
            webhook("good", good.url, headers={"X-Tenant": "acme"}),
            webhook("alerts", alerts.url, events=["unknown"], cameras=["entrance"], include_snapshot=True),
            webhook("flaky", flaky.url),
            webhook("slow", slow.url),
            webhook(
                "down",
                f"http://hookuser:{URL_PASSWORD}@127.0.0.1:{down.port}/api/webhook/{PATH_SECRET}?sig=x",
            ),
        ],
    )
    config = write_config(tmp_path / "config.toml", cfg)
    daemon = Daemon(config, port, env={"CREDENTIALS_DIRECTORY": str(creds)}).start()
    try:
        daemon.wait_http()
        # Recognition is on time: his check-in is committed within 15 s of the start while three
        # of five outputs fail.
        daemon.wait_for(
            lambda: any(e["kind"] == "check_in" for e in daemon.events()),
            timeout=15 - (time.monotonic() - daemon.started_at),
            what="the check-in",
        )
        # A burst of unknown visitors through the gateway: each event is in the outbox when the
        # request returns, and in the central database within a few push intervals.
        burst: list[dict[str, Any]] = []
        for photo in UNKNOWN_PHOTOS * 2:
            events = snapshot(daemon, faces_dir / photo)
            assert [e["kind"] for e in events] == ["unknown"], events
            committed = {e["event_id"] for e in daemon.events()}
            assert {e["event_id"] for e in events} <= committed
            burst += events
        burst_ids = {e["event_id"] for e in burst}
        t0 = time.monotonic()
        daemon.wait_for(lambda: burst_ids <= central_ids(central_engine), 10, "the burst pushed to central")
        pushed_s = time.monotonic() - t0
        # The healthy output has them too; the three failing ones have delivered nothing.
        daemon.wait_for(lambda: burst_ids <= good.event_ids(), 10, "the good receiver has the burst")
        health = daemon.get("/health").json()
        outs = health["outputs"]
        for oid in ("flaky", "slow", "down"):
            assert outs[oid]["failing"] is True, outs[oid]
            assert outs[oid]["backlog"] >= len(burst), outs[oid]
            assert outs[oid]["delivered"] == 0 and outs[oid]["last_error"]
            assert f"output:{oid}" in health["degraded"]
        assert "HTTP 500" in outs["flaky"]["last_error"]
        assert "Timeout" in outs["slow"]["last_error"]
        assert "Connect" in outs["down"]["last_error"]
        assert outs["good"]["failing"] is False and outs["good"]["last_success_at"]
        assert outs["down"]["target"] == f"http://127.0.0.1:{down.port}/…"
        assert PATH_SECRET not in json.dumps(health)
        assert metric(daemon, "sputnik_output_failures_total", output="flaky") >= 2  # retried: backoff
        assert flaky.refused >= 2 and good.refused == 0

        # They recover: everything arrives, signed, once per event id at least.
        flaky.recover()
        slow.recover()
        down.start()
        receivers = {"good": good, "flaky": flaky, "slow": slow, "down": down}

        def all_delivered() -> bool:
            ids = {e["event_id"] for e in daemon.events()}
            unknown = {e["event_id"] for e in daemon.events() if e["kind"] == "unknown"}
            return all(ids <= r.event_ids() for r in receivers.values()) and unknown <= alerts.event_ids()

        daemon.wait_for(all_delivered, 30, "every receiver to have every event")
        events = {e["event_id"]: e for e in daemon.events()}
        for name, r in [*receivers.items(), ("alerts", alerts)]:
            assert r.bad_signatures == 0, name
            for got in r.accepted:
                assert got.signature_ok and got.idempotency_key == got.event_id, name
                assert got.event_id in events, name  # nothing but real events
                stored = events[got.event_id]
                assert got.body["kind"] == stored["kind"] and got.body["camera_id"] == stored["camera_id"]
                assert got.body["device_id"] == "door-test"
                if name != "alerts":
                    assert set(got.body) == DOCUMENTED, (name, sorted(got.body))
        # The filter filters: only unknown events reached "alerts", each with its JPEG snapshot.
        assert {r.body["kind"] for r in alerts.accepted} == {"unknown"}
        assert burst_ids <= alerts.event_ids()
        for got in alerts.accepted:
            assert set(got.body) == DOCUMENTED | {"snapshot_jpeg_base64"}, sorted(got.body)
            assert base64.b64decode(got.body["snapshot_jpeg_base64"])[:3] == b"\xff\xd8\xff"
        daemon.wait_for(
            lambda: all(not o["failing"] for o in daemon.get("/health").json()["outputs"].values()),
            10,
            "every output healthy again",
        )
        assert metric(daemon, "sputnik_output_events_delivered_total", output="down") >= len(burst_ids)

        # doctor reads the same state from the store.
        doctor = subprocess.run(
            [sys.executable, "-m", "sputnik_edge", "doctor", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
            env=daemon_env({"CREDENTIALS_DIRECTORY": str(creds)}),
        )
        lines = [ln for ln in doctor.stdout.splitlines() if " output " in f" {ln}"]
        assert len(lines) == 5, doctor.stdout + doctor.stderr
        down_line = next(ln for ln in lines if "output down:" in ln)
        assert down_line.startswith("ok") and "delivered" in down_line and URL_PASSWORD not in down_line
        assert PATH_SECRET not in doctor.stdout
        assert daemon.terminate() == 0
        log = daemon.log_text()
        assert SECRET not in log and URL_PASSWORD not in log and PATH_SECRET not in log
        assert "output_delivery_failed" in log
    finally:
        daemon.kill()
        for r in (good, alerts, flaky, slow, down):
            r.stop()
    print(f"burst of {len(burst_ids)} pushed to central {pushed_s:.2f} s after the last commit")
