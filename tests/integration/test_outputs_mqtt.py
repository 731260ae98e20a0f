"""MQTT outputs of the real daemon against real Mosquitto: the check-in from the RTSP clip is
published; a subscriber gets every event id across a broker restart in the middle of a burst and
across a SIGKILL of the daemon (redelivery carries the same id); the last will turns the
availability topic `offline`; Home Assistant discovery payloads are checked field by field; TLS
with a password against a TLS listener."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from sputnik_edge.attendance.types import AttendanceEvent, new_event_id
from sputnik_edge.outputs.dispatcher import DispatchSettings, OutputDispatcher
from sputnik_edge.outputs.mqtt import MqttSettings, MqttSink
from sputnik_edge.outputs.payload import SNAPSHOT_FIELD, EventFilter
from sputnik_edge.outputs.types import Delivery
from sputnik_edge.store.local import LocalStore
from tests.conftest import require
from tests.support.cameras import RtspServer
from tests.support.daemon import (
    Daemon,
    base_config,
    enrol_people,
    first_photo_per_person,
    free_port,
    write_config,
)
from tests.support.homeassistant import check_ha_sensor
from tests.support.mqtt import Broker, Subscriber, require_shared_broker
from tests.support.outputs_contract import DOCUMENTED, UNKNOWN_PHOTOS
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

DEVICE = "door-test"


def snapshot(d: Daemon, photo: Path) -> list[str]:
    r = httpx.post(
        d.base_url + "/api/v1/gateway/snapshot",
        files={"file": (photo.name, photo.read_bytes(), "application/octet-stream")},
        data={"camera_id": "entrance"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return [e["event_id"] for e in r.json()["events"]]


def mqtt_output(port: int, prefix: str = "sputnik", **kw: Any) -> dict[str, Any]:
    return {
        "id": "home",
        "kind": "mqtt",
        "host": "127.0.0.1",
        "port": port,
        "topic_prefix": prefix,
        "timeout_s": 2.0,
        "keepalive_s": 5,
        "backoff_initial_s": 0.2,
        "backoff_max_s": 1.0,
        **kw,
    }


def test_mqtt_every_event_across_broker_restart_and_sigkill(
    tmp_path: Path, faces_dir: Path, rtsp_server: Any
) -> None:
    server: RtspServer = rtsp_server()
    people = first_photo_per_person(faces_dir)
    enrol_people(tmp_path / "edge.db", {"lin_manuel_miranda": people["lin_manuel_miranda"]})
    broker = Broker(tmp_path / "broker").start()
    base = f"sputnik/{DEVICE}"
    sub = Subscriber("127.0.0.1", broker.port, [f"{base}/#", "homeassistant/#"])
    port = free_port()
    cfg = base_config(
        tmp_path,
        port,
        cameras=[{"id": "entrance", "source": server.url(), "direction": "in", "fps_limit": 10}],
        outputs=[mqtt_output(broker.port, homeassistant=True)],
    )
    config = write_config(tmp_path / "config.toml", cfg)
    daemon = Daemon(config, port).start()
    events_topic = f"{base}/events"
    try:
        daemon.wait_http()
        daemon.wait_for(
            lambda: any(json.loads(m.payload)["kind"] == "check_in" for m in sub.on(events_topic)),
            20,
            "the check-in on the events topic",
        )
        check_in = next(m.json() for m in sub.on(events_topic) if m.json()["kind"] == "check_in")
        assert check_in["employee_id"] == "lin_manuel_miranda" and check_in["device_id"] == DEVICE
        assert set(check_in) == DOCUMENTED
        # liveness.mode defaults to monitor: the receiver gets the verdict, not the raw evidence.
        assert set(check_in["liveness"]) == {"verdict", "score", "cues"}, check_in
        assert isinstance(check_in["track_id"], int)
        assert sub.last(f"{base}/availability").payload == b"online"

        # Discovery: last person and camera state for the camera, the outbox backlog.
        discovery = {m.topic: m.json() for m in sub.messages if m.topic.startswith("homeassistant/")}
        assert len(discovery) == 3, sorted(discovery)
        for topic, conf in discovery.items():
            check_ha_sensor(topic, conf, base)
        states = {c["state_topic"] for c in discovery.values()}
        assert states == {f"{base}/entrance/last", f"{base}/entrance/state", f"{base}/backlog"}
        assert len({c["unique_id"] for c in discovery.values()}) == 3
        daemon.wait_for(
            lambda: (m := sub.last(f"{base}/entrance/state")) is not None and m.payload == b"up",
            15,
            "the camera state up",
        )
        assert int(sub.last(f"{base}/backlog").payload) >= 0
        last = daemon.wait_for(lambda: sub.last(f"{base}/entrance/last"), 5, "the retained last event")
        assert last.json()["event_id"] in {e["event_id"] for e in daemon.events()}

        # A burst with a broker restart in the middle of it.
        burst = []
        for i, photo in enumerate(UNKNOWN_PHOTOS * 2):
            if i == 3:
                broker.restart()
            burst += snapshot(daemon, faces_dir / photo)
        assert len(burst) == 6

        def all_published() -> bool:
            return {e["event_id"] for e in daemon.events()} <= set(sub.event_ids(events_topic))

        daemon.wait_for(all_published, 30, "every event on the events topic after the broker restart")
        assert set(burst) <= set(sub.event_ids(events_topic))

        # Events committed while the broker is away, then the daemon is SIGKILLed: the next start
        # publishes them, with the same ids.
        broker.stop()
        pending = [eid for photo in UNKNOWN_PHOTOS[:2] for eid in snapshot(daemon, faces_dir / photo)]
        assert len(pending) == 2
        daemon.wait_for(
            lambda: daemon.get("/health").json()["outputs"]["home"]["failing"], 10, "the output failing"
        )
        assert daemon.get("/health").json()["outputs"]["home"]["backlog"] >= 2
        daemon.kill()
        assert not set(pending) & set(sub.event_ids(events_topic))
        # The daemon did lose the broker during the burst (and got it back on its own).
        first_log = daemon.log_text()
        assert (
            first_log.count("output_mqtt_disconnected") >= 1 and first_log.count("output_mqtt_connected") >= 2
        )
        broker.start()
        daemon = Daemon(config, port).start()
        daemon.wait_http()
        daemon.wait_for(
            lambda: set(pending) <= set(sub.event_ids(events_topic)), 20, "redelivery after SIGKILL"
        )
        daemon.wait_for(lambda: sub.last(f"{base}/availability").payload == b"online", 10, "online again")
        daemon.wait_for(all_published, 20, "every event published after the restart")
        received = sub.event_ids(events_topic)
        assert set(received) <= {e["event_id"] for e in daemon.events()}  # duplicates carry the same id
        print(f"mqtt: {len(received)} messages for {len(set(received))} event ids")
        for m in sub.on(events_topic):
            assert set(m.json()) == DOCUMENTED

        # SIGKILL with the broker up: the last will says offline.
        daemon.kill()
        daemon.wait_for(lambda: sub.last(f"{base}/availability").payload == b"offline", 15, "the last will")
        log = daemon.log_text()
        assert "output_mqtt_connected" in log
    finally:
        daemon.kill()
        sub.close()
        broker.stop()


def test_mqtt_on_the_shared_broker_publishes_only_what_the_filter_wants(
    tmp_path: Path, faces_dir: Path, rtsp_server: Any
) -> None:
    host, broker_port = require_shared_broker()
    server: RtspServer = rtsp_server()
    people = first_photo_per_person(faces_dir)
    enrol_people(tmp_path / "edge.db", {"lin_manuel_miranda": people["lin_manuel_miranda"]})
    prefix = f"sputnik-test-{uuid.uuid4().hex[:8]}"  # other runs on the shared broker stay apart
    base = f"{prefix}/{DEVICE}"
    sub = Subscriber(host, broker_port, [f"{base}/#"], persistent=False)  # leaves no session behind
    port = free_port()
    cfg = base_config(
        tmp_path,
        port,
        cameras=[{"id": "entrance", "source": server.url(), "direction": "in", "fps_limit": 10}],
        outputs=[mqtt_output(broker_port, prefix, events=["check_in"])],
    )
    daemon = Daemon(write_config(tmp_path / "config.toml", cfg), port).start()
    try:
        daemon.wait_http()
        unknown = snapshot(daemon, faces_dir / UNKNOWN_PHOTOS[0])
        daemon.wait_for(lambda: sub.on(f"{base}/events"), 20, "the check-in on the shared broker")
        daemon.wait_for(
            lambda: daemon.get("/health").json()["outputs"]["home"]["backlog"] == 0,
            10,
            "the output caught up",
        )
        kinds = [m.json()["kind"] for m in sub.on(f"{base}/events")]
        assert set(kinds) == {"check_in"}, kinds
        assert unknown and not set(unknown) & set(sub.event_ids(f"{base}/events"))
        assert daemon.terminate() == 0
        # A clean stop says offline too.
        daemon.wait_for(lambda: sub.last(f"{base}/availability").payload == b"offline", 5, "offline")
    finally:
        daemon.kill()
        # Leave no retained messages on the shared broker.
        for topic in {m.topic for m in sub.messages if m.retain} | {f"{base}/availability"}:
            sub.client.publish(topic, b"", qos=1, retain=True).wait_for_publish(2)
        sub.close()


def make_tls_files(d: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1 (openssl)."""

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca",
        "-keyout", "ca.key", "-out", "ca.pem")  # fmt: skip
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key",
        "-out", "server.csr")  # fmt: skip
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "1", "-extfile", "san.ext", "-out", "server.pem")  # fmt: skip
    for key in ("ca.key", "server.key"):
        (d / key).chmod(0o600)
    return d / "ca.pem", d / "server.pem", d / "server.key"


def test_mqtt_over_tls_with_a_password(tmp_path: Path) -> None:
    require(shutil.which("openssl") is not None and shutil.which("mosquitto_passwd") is not None,
            "openssl and mosquitto_passwd needed (apt-get install openssl mosquitto)")  # fmt: skip
    certs = tmp_path / "certs"
    certs.mkdir()
    ca, cert, key = make_tls_files(certs)
    pwfile = tmp_path / "passwd"
    subprocess.run(
        ["mosquitto_passwd", "-c", "-b", str(pwfile), "door", "mq-pw-41"], check=True, capture_output=True
    )
    pwfile.chmod(0o600)
    tls_port = free_port()
    broker = Broker(
        tmp_path / "broker",
        head="per_listener_settings true\n",
        tail=(
            f"listener {tls_port} 127.0.0.1\nallow_anonymous false\npassword_file {pwfile}\n"
            f"cafile {ca}\ncertfile {cert}\nkeyfile {key}\n"
        ),
    ).start()
    sub = Subscriber("127.0.0.1", broker.port, ["tls/door-t/#"])  # the plain, local listener
    settings = MqttSettings(
        host="127.0.0.1", port=tls_port, device_id="door-t", cameras=("entrance",), topic_prefix="tls",
        username="door", password="mq-pw-41", tls=True, ca_file=ca, timeout_s=5,
    )  # fmt: skip
    payload = {"event_id": str(uuid.uuid4()), "camera_id": "entrance", "kind": "unknown"}
    sinks = []
    try:
        good = MqttSink(settings)
        sinks.append(good)
        assert good.deliver([payload]) == Delivery(1)
        wrong = MqttSink(dataclasses.replace(settings, password="nope", client_id="wrong", timeout_s=2))
        sinks.append(wrong)
        refused = wrong.deliver([payload])
        assert refused.sent == 0 and "refused" in (refused.error or ""), refused
        untrusted = MqttSink(dataclasses.replace(settings, ca_file=None, client_id="untrusted", timeout_s=2))
        sinks.append(untrusted)  # the system CAs do not know the test CA: no connection
        assert untrusted.deliver([payload]).sent == 0
        assert wait_until(lambda: sub.event_ids("tls/door-t/events") == [payload["event_id"]], timeout=5)
        assert sub.last("tls/door-t/availability").payload == b"online"  # type: ignore[union-attr]
    finally:
        for s in sinks:
            s.close()
        sub.close()
        broker.stop()


def test_retained_last_message_never_carries_the_face_crop(tmp_path: Path) -> None:
    """include_snapshot = true: the crop goes on the events topic only; the retained /last (Home
    Assistant's attributes topic, kept by the broker and HA's recorder) is the event without it."""
    broker = Broker(tmp_path / "broker").start()
    live = Subscriber("127.0.0.1", broker.port, ["crop/door-c/#"])
    store = LocalStore(tmp_path / "edge.db")
    snaps = tmp_path / "snaps"
    (snaps / "d").mkdir(parents=True)
    (snaps / "d" / "a.jpg").write_bytes(b"\xff\xd8\xff-crop")
    sink = MqttSink(
        MqttSettings(host="127.0.0.1", port=broker.port, device_id="door-c", cameras=("entrance",),
                     topic_prefix="crop", timeout_s=5, homeassistant=True)
    )  # fmt: skip
    settings = DispatchSettings("home", "mqtt", "mqtt://127.0.0.1/…", EventFilter(), True, snaps)
    d = OutputDispatcher(settings, store.outputs, lambda: sink, threading.Event())
    late: Subscriber | None = None
    try:
        now = datetime.now(UTC)
        ev = AttendanceEvent(new_event_id(), "door-c", "entrance", "unknown", None, None, 0.2, now)
        store.record_event(ev)
        store.set_snapshot(ev.event_id, "d/a.jpg")
        d.round(sink)
        assert wait_until(lambda: live.on("crop/door-c/entrance/last"), timeout=5)
        (sent,) = [m.json() for m in live.on("crop/door-c/events")]
        assert sent["event_id"] == ev.event_id and SNAPSHOT_FIELD in sent
        # What the broker keeps: a subscriber arriving later gets the retained message only.
        late = Subscriber("127.0.0.1", broker.port, ["crop/door-c/entrance/last"], persistent=False)
        assert wait_until(lambda: late.on("crop/door-c/entrance/last"), timeout=5)
        (kept,) = late.on("crop/door-c/entrance/last")
        assert kept.retain and kept.json()["event_id"] == ev.event_id
        assert SNAPSHOT_FIELD not in kept.json() and b"snapshot" not in kept.payload
        assert all(SNAPSHOT_FIELD not in m.json() for m in live.on("crop/door-c/entrance/last"))
    finally:
        sink.close()
        live.close()
        if late is not None:
            late.close()
        store.close()
        broker.stop()
