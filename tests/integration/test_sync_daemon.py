"""The real daemon (`sputnik-edge run`) with a central PostgreSQL: gallery changes made centrally
reach a running device, the local cache carries it through an outage, and a bad DATABASE_URL
never stops recognition or loses events."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, create_engine, make_url, text

from sputnik_edge.central.store import CentralStore
from sputnik_edge.vision.imageio import load_image
from tests.support.daemon import Daemon, base_config, enrol_people, free_port, shared_recognizer, write_config

pytestmark = pytest.mark.integration

PULL_S = 2.0
PASSWORD = "pw-Zq8s1-do-not-print"

OBAMA = "images/barack_obama/obama.jpg"
OBAMA_OTHER = "images/barack_obama/obama2.jpg"
BIDEN = "images/joe_biden/biden.jpg"
BIDEN_OTHER = "images/joe_biden/biden2.jpg"


def snapshot(d: Daemon, photo: Path, camera_id: str = "gate") -> dict[str, Any]:
    r = httpx.post(
        d.base_url + "/api/v1/gateway/snapshot",
        files={"file": (photo.name, photo.read_bytes(), "application/octet-stream")},
        data={"camera_id": camera_id},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def matched(d: Daemon, photo: Path) -> list[str | None]:
    """Employee ids of the faces in ``photo`` that passed the quality gate (None: not matched)."""
    faces = [f for f in snapshot(d, photo)["faces"] if f["decision"] != "rejected"]
    return [f["employee_id"] if f["decision"] == "match" else None for f in faces]


def enrol_centrally(central: CentralStore, employee_id: str, photo: Path) -> list[str]:
    rec = shared_recognizer()
    vec, q = rec.enrollment_template(load_image(photo), str(photo))
    central.upsert_employee(employee_id, employee_id.replace("_", " ").title())
    return central.add_templates(employee_id, rec.model_id, vec[None], [q.score])


def metric(d: Daemon, name: str) -> float | None:
    m = re.search(rf"^{re.escape(name)} (\S+)$", d.get("/metrics").text, re.M)
    return float(m.group(1)) if m else None


def central_event_ids(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return {r[0] for r in conn.execute(text("SELECT event_id::text FROM attendance_events"))}


@pytest.fixture
def daemons() -> Iterator[list[Daemon]]:
    started: list[Daemon] = []
    yield started
    for d in started:
        d.kill()


def start(daemons: list[Daemon], tmp: Path, database_url: str, name: str, **central: Any) -> Daemon:
    port = free_port()
    cfg = base_config(
        tmp,
        port,
        central={
            "database_url": database_url,
            "gallery_interval_s": PULL_S,
            "sync_interval_s": 0.5,
            "heartbeat_interval_s": 1,
            "connect_timeout_s": 2,
            **central,
        },
        attendance={"cooldown_s": 0},
    )
    d = Daemon(write_config(tmp / f"{name}.toml", cfg), port).start()
    daemons.append(d)
    d.wait_http()
    return d


def with_password(url: str) -> str:
    return make_url(url).set(password=PASSWORD).render_as_string(hide_password=False)


def test_central_gallery_changes_reach_the_running_daemon(
    tmp_path: Path, faces_dir: Path, central_url: str, central_engine: Engine, daemons: list[Daemon]
) -> None:
    with CentralStore(central_url) as central:
        enrol_centrally(central, "barack_obama", faces_dir / OBAMA)
        d = start(daemons, tmp_path, central_url, "run1")
        # The first pull runs at start: the empty local store fills from central.
        d.wait_for(lambda: d.get("/health").json()["gallery"]["employees"] == 1, 3 * PULL_S + 5, "first pull")
        assert matched(d, faces_dir / OBAMA_OTHER) == ["barack_obama"]
        assert matched(d, faces_dir / BIDEN_OTHER) == [None]

        # A new employee enrolled centrally is recognised within a pull interval.
        enrol_centrally(central, "joe_biden", faces_dir / BIDEN)
        t0 = time.monotonic()
        d.wait_for(
            lambda: matched(d, faces_dir / BIDEN_OTHER) == ["joe_biden"], 2 * PULL_S + 3, "new employee"
        )
        took_add = time.monotonic() - t0
        gallery = d.get("/api/v1/info").json()["gallery"]
        assert (gallery["employees"], gallery["templates"]) == (2, 2)
        # The matcher's gallery version is the central change_seq it was built from.
        assert gallery["version"] == d.get("/health").json()["central"]["gallery_seq"] > 0

        # Deactivated centrally: no longer recognised within a pull interval.
        assert central.deactivate_employee("joe_biden")
        t0 = time.monotonic()
        d.wait_for(lambda: matched(d, faces_dir / BIDEN_OTHER) == [None], 2 * PULL_S + 3, "deactivation")
        took_deactivate = time.monotonic() - t0
        assert matched(d, faces_dir / OBAMA_OTHER) == ["barack_obama"]
        health = d.get("/health").json()
        assert health["central"]["last_error"] is None and health["central"]["gallery_seq"] > 0
        print(f"new employee after {took_add:.2f}s, deactivation after {took_deactivate:.2f}s")
        local_events = d.events()
        assert d.terminate() == 0

        # Everything reached central on the way, including the heartbeat's device row.
        with central.engine.connect() as conn:
            remote = dict(
                conn.execute(
                    text("SELECT event_id::text, coalesce(employee_id, kind) FROM attendance_events")
                ).all()
            )
            dev = conn.execute(
                text(
                    "SELECT software_version, outbox_backlog, gallery_seq FROM devices "
                    "WHERE device_id = 'door-test'"
                )
            ).one()
        # The outbox was flushed at the latest on SIGTERM: central holds exactly the local log.
        assert remote == {e["event_id"]: e["employee_id"] or e["kind"] for e in local_events}
        assert {"barack_obama", "joe_biden", "unknown"} <= set(remote.values())
        assert dev.software_version and dev.gallery_seq > 0

    # Restart with the central database unreachable (closed port): the local cache still recognises
    # everyone, events are buffered and /health says why.
    dead_url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{free_port()}/sputnik"
    d2 = start(daemons, tmp_path, dead_url, "run2")
    assert d2.get("/health").json()["gallery"]["employees"] == 1
    buffered = assert_buffers_while_failing(d2, faces_dir, "connection refused")
    assert matched(d2, faces_dir / OBAMA) == ["barack_obama"]
    assert d2.terminate() == 0
    assert PASSWORD not in d2.log_text()
    assert not buffered & central_event_ids(central_engine)

    # Pointed at the good database again, the daemon delivers everything it buffered.
    d3 = start(daemons, tmp_path, central_url, "run3")
    d3.wait_for(lambda: d3.get("/health").json()["outbox"]["backlog"] == 0, 15, "backlog to drain")
    assert buffered <= central_event_ids(central_engine)
    assert central_event_ids(central_engine) == {e["event_id"] for e in d3.events()}
    health = d3.get("/health").json()
    assert health["central"]["last_error"] is None and "central" not in health["degraded"]
    assert (metric(d3, "sputnik_sync_last_success_timestamp") or 0) > 0
    assert d3.terminate() == 0


def assert_buffers_while_failing(d: Daemon, faces_dir: Path, expected_error: str) -> set[str]:
    """Recognition and the outbox work without the central database, and /health, /metrics say
    what is wrong. Returns the ids of the buffered events."""
    first = snapshot(d, faces_dir / OBAMA_OTHER, camera_id="gate-1")
    assert [(e["kind"], e["employee_id"]) for e in first["events"]] == [("check_in", "barack_obama")]
    second = snapshot(d, faces_dir / BIDEN_OTHER, camera_id="gate-2")
    assert [e["kind"] for e in second["events"]] == ["unknown"]  # not enrolled or deactivated
    buffered = {e["event_id"] for e in first["events"] + second["events"]}

    def failing_health() -> dict[str, Any] | None:
        h = dict(d.get("/health").json())
        err = h["central"]["last_error"]
        return h if err and expected_error in err and h["central"]["backlog"] >= 2 else None

    health = d.wait_for(failing_health, 15, "the push failure in /health")
    assert health["status"] == "degraded" and "central" in health["degraded"]
    assert health["central"]["enabled"] is True and health["outbox"]["backlog"] == 2
    assert PASSWORD not in health["central"]["last_error"] and PASSWORD not in health["central"]["database"]
    assert metric(d, "sputnik_outbox_backlog") == 2
    assert (metric(d, "sputnik_sync_failures_total") or 0) >= 1
    # Another event while offline: the backlog grows.
    buffered |= {e["event_id"] for e in snapshot(d, faces_dir / OBAMA, camera_id="gate-3")["events"]}
    assert len(buffered) == 3 and d.get("/health").json()["outbox"]["backlog"] == 3
    assert {e["event_id"] for e in d.events() if not e["synced"]} == buffered
    return buffered


def test_schemaless_database_buffers_until_db_upgrade(
    tmp_path: Path, faces_dir: Path, empty_db_url: str, daemons: list[Daemon]
) -> None:
    """A database without the schema: the daemon buffers; once `db upgrade` has run, the running
    daemon delivers on its next retry, without a restart."""
    enrol_people(tmp_path / "edge.db", {"barack_obama": faces_dir / OBAMA}, device_id="door-test")
    url = with_password(empty_db_url)
    d = start(daemons, tmp_path, url, "noschema")
    buffered = assert_buffers_while_failing(d, faces_dir, "does not exist")
    assert PASSWORD not in d.log_text()

    upgrade = subprocess.run(
        [sys.executable, "-m", "sputnik_edge", "db", "upgrade"],
        env={**os.environ, "DATABASE_URL": url, "SPUTNIK_STORAGE__DATABASE": str(tmp_path / "cli.db")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert upgrade.returncode == 0, upgrade.stderr
    d.wait_for(lambda: d.get("/health").json()["outbox"]["backlog"] == 0, 20, "delivery after db upgrade")
    engine = create_engine(empty_db_url)
    try:
        assert central_event_ids(engine) == buffered
    finally:
        engine.dispose()
    d.wait_for(lambda: d.get("/health").json()["central"]["last_error"] is None, 10, "errors to clear")
    assert d.terminate() == 0
