"""The device's snapshot gateway under liveness.mode = "enforce": a single photo cannot be judged
live, so it checks nobody in and records spoof_suspected naming the match, with a face crop, at
most once per camera and person within the cooldown."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from sputnik_edge.store.local import LocalStore
from tests.support.daemon import Daemon, base_config, enrol_people, free_port, write_config

pytestmark = pytest.mark.integration


def test_enforce_gateway_records_spoof_suspected_not_check_in(tmp_path: Path, faces_dir: Path) -> None:
    enrol_people(tmp_path / "edge.db", {"barack_obama": faces_dir / "images/barack_obama/obama.jpg"})
    port = free_port()
    cfg = base_config(tmp_path, port, liveness={"mode": "enforce"})
    d = Daemon(write_config(tmp_path / "config.toml", cfg), port).start()
    try:
        d.wait_http()
        photo = (faces_dir / "images/barack_obama/obama2.jpg").read_bytes()
        r = httpx.post(d.base_url + "/api/v1/gateway/snapshot", files={"file": ("o.jpg", photo)}, timeout=30)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] == "match"
        assert body["liveness"]["verdict"] == "not_checked"
        assert [(e["kind"], e["employee_id"]) for e in body["events"]] == [
            ("spoof_suspected", "barack_obama")
        ]
        # A push camera sending the same person every second: one event and crop per cooldown.
        for _ in range(3):
            r = httpx.post(
                d.base_url + "/api/v1/gateway/snapshot", files={"file": ("o.jpg", photo)}, timeout=30
            )
            assert r.status_code == 200 and r.json()["status"] == "match", r.text
            assert r.json()["events"] == []
        assert d.terminate() == 0
    finally:
        d.kill()
    store = LocalStore(tmp_path / "edge.db", device_id="door-test")
    try:
        (stored,) = store.list_events()
    finally:
        store.close()
    assert stored.event.details["liveness"]["verdict"] == "not_checked"
    assert stored.event.details["mode"] == "enforce"
    assert stored.snapshot is not None and (tmp_path / "snapshots" / stored.snapshot).is_file()
    assert len([p for p in (tmp_path / "snapshots").rglob("*") if p.is_file()]) == 1
