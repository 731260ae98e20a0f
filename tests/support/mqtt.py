"""Real Mosquitto for tests: the shared broker on 127.0.0.1:1883 (CI starts it), or a private one
on a free port with persistence (so QoS 1 sessions survive its restart), and a QoS 1 subscriber
with a persistent session that records everything it receives."""

from __future__ import annotations

import getpass
import json
import shutil
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.conftest import require
from tests.support.daemon import free_port

SHARED_HOST, SHARED_PORT = "127.0.0.1", 1883
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def broker_listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_shared_broker() -> tuple[str, int]:
    """The shared broker; a skip locally when it is down, a failure under CI=true."""
    require(
        broker_listening(SHARED_HOST, SHARED_PORT),
        f"Mosquitto not reachable at {SHARED_HOST}:{SHARED_PORT} "
        "(start it: mosquitto -d -c /etc/mosquitto/mosquitto.conf)",
    )
    return SHARED_HOST, SHARED_PORT


def require_mosquitto_binary() -> str:
    require(Path(MOSQUITTO).is_file(), f"mosquitto binary not found ({MOSQUITTO}; apt-get install mosquitto)")
    return MOSQUITTO


@dataclass
class Broker:
    """A private Mosquitto with persistence in ``workdir``; restartable on the same port."""

    workdir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    head: str = ""  # config lines before the plain listener (e.g. per_listener_settings true)
    tail: str = ""  # more listeners (TLS, passwords)

    def start(self) -> Broker:
        binary = require_mosquitto_binary()
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(
            # `user`: run as root, Mosquitto would switch to the user "mosquitto", which cannot
            # write its persistence file (sessions, queued QoS 1) into the test's private folder.
            f"{self.head}user {getpass.getuser()}\n"
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {self.workdir}/\nautosave_interval 1\n"
            f"log_dest file {self.workdir}/mosquitto.log\n{self.tail}"
        )
        errors = self.workdir / "stderr.log"
        with errors.open("ab") as err:
            self.proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + 10
        while not broker_listening("127.0.0.1", self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                log = self.workdir / "mosquitto.log"
                why = log.read_text() if log.exists() else errors.read_text()
                raise AssertionError(f"mosquitto did not start: {why}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """SIGTERM: Mosquitto writes its persistence file (sessions, queued QoS 1) and exits."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes
    retain: bool

    def json(self) -> Any:
        return json.loads(self.payload)


class Subscriber:
    """QoS 1, persistent session (clean_session false): what is published while it reconnects
    after a broker restart is queued for it."""

    def __init__(self, host: str, port: int, topics: list[str], *, persistent: bool = True) -> None:
        self.topics = topics
        self.messages: list[Message] = []
        self._lock = threading.Lock()
        self.connected = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"test-sub-{uuid.uuid4().hex[:8]}",
            clean_session=not persistent,
        )
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *_a: self.connected.clear()
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.connect(host, port, keepalive=10)
        self.client.loop_start()
        if not self.connected.wait(10):
            raise AssertionError(f"subscriber could not connect to {host}:{port}")

    def _on_connect(self, client: mqtt.Client, _ud: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if not reason.is_failure:
            for t in self.topics:
                client.subscribe(t, qos=1)
            self.connected.set()

    def _on_message(self, _c: mqtt.Client, _ud: Any, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(Message(msg.topic, bytes(msg.payload), bool(msg.retain)))

    def on(self, topic: str) -> list[Message]:
        with self._lock:
            return [m for m in self.messages if m.topic == topic]

    def last(self, topic: str) -> Message | None:
        found = self.on(topic)
        return found[-1] if found else None

    def event_ids(self, topic: str) -> list[str]:
        return [m.json()["event_id"] for m in self.on(topic)]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
