"""MQTT output (paho-mqtt, v2 callback API), QoS 1 throughout.

Topics, with ``P`` the topic prefix and ``D`` the device id:
- ``P/D/events``: every wanted event (the payload of ``outputs.payload``), not retained;
- ``P/D/CAMERA/last``: the newest event per camera, retained, never with its face crop (a retained
  message lives on in the broker and in Home Assistant's recorder, past the device's retention);
- ``P/D/CAMERA/state``: ``starting`` / ``up`` / ``down`` / ``stopped``, retained;
- ``P/D/backlog``: events not yet in the central database, retained;
- ``P/D/availability``: ``online`` retained on connect; the broker's last will sets ``offline``
  when the device vanishes (a clean stop publishes it too).
With ``homeassistant = true`` discovery configs go to ``DISCOVERY/sensor/<node>/<object>/config``
(retained), again whenever Home Assistant announces itself on ``DISCOVERY/status``.
"""

from __future__ import annotations

import contextlib
import json
import re
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import structlog
from paho.mqtt.enums import CallbackAPIVersion

from sputnik_edge import __version__
from sputnik_edge.outputs.payload import SNAPSHOT_FIELD
from sputnik_edge.outputs.types import Delivery, DeviceState

log = structlog.get_logger(__name__)

ONLINE, OFFLINE = "online", "offline"
LAST_PERSON_TEMPLATE = (
    "{{ value_json.kind if value_json.kind == 'spoof_suspected' or not value_json.name"
    " else value_json.name }}"
)


def retained_last(payload: dict[str, Any]) -> dict[str, Any]:
    """The ``/last`` message: the event without its crop."""
    return {k: v for k, v in payload.items() if k != SNAPSHOT_FIELD}


@dataclass(frozen=True, slots=True)
class MqttSettings:
    host: str
    port: int
    device_id: str
    cameras: tuple[str, ...]
    topic_prefix: str = "sputnik"
    client_id: str = ""
    username: str = ""
    password: str = ""
    tls: bool = False
    ca_file: Path | None = None
    keepalive_s: int = 30
    timeout_s: float = 10.0
    homeassistant: bool = False
    discovery_prefix: str = "homeassistant"
    device_name: str = ""


def base_topic(prefix: str, device_id: str) -> str:
    return f"{prefix}/{device_id}"


def _slug(value: str) -> str:
    # Discovery node and object ids allow [a-zA-Z0-9_-] only.
    return re.sub(r"[^A-Za-z0-9_-]", "_", value)


def discovery_configs(s: MqttSettings, version: str = __version__) -> dict[str, dict[str, Any]]:
    """Topic -> Home Assistant MQTT discovery payload for each sensor (pure, tested field by field)."""
    base = base_topic(s.topic_prefix, s.device_id)
    node = _slug(f"sputnik_{s.device_id}")
    device = {
        "identifiers": [f"sputnik_edge_{s.device_id}"],
        "name": s.device_name or f"Sputnik Edge {s.device_id}",
        "model": "Sputnik Edge door device",
        "manufacturer": "Sputnik Edge",
        "sw_version": version,
    }
    common = {
        "availability_topic": f"{base}/availability",
        "payload_available": ONLINE,
        "payload_not_available": OFFLINE,
        "device": device,
        "qos": 1,
    }
    out: dict[str, dict[str, Any]] = {}
    for cam in s.cameras:
        obj = _slug(f"{cam}_last_person")
        out[f"{s.discovery_prefix}/sensor/{node}/{obj}/config"] = {
            **common,
            "name": f"{cam} last person",
            "unique_id": f"{node}_{obj}",
            "state_topic": f"{base}/{cam}/last",
            # A spoof_suspected event names whom the face matched; the sensor must not show it as
            # that person having been there.
            "value_template": LAST_PERSON_TEMPLATE,
            "json_attributes_topic": f"{base}/{cam}/last",
            "icon": "mdi:account-check",
        }
        obj = _slug(f"{cam}_camera_state")
        out[f"{s.discovery_prefix}/sensor/{node}/{obj}/config"] = {
            **common,
            "name": f"{cam} camera",
            "unique_id": f"{node}_{obj}",
            "state_topic": f"{base}/{cam}/state",
            "icon": "mdi:cctv",
            "entity_category": "diagnostic",
        }
    out[f"{s.discovery_prefix}/sensor/{node}/outbox_backlog/config"] = {
        **common,
        "name": "Outbox backlog",
        "unique_id": f"{node}_outbox_backlog",
        "state_topic": f"{base}/backlog",
        "unit_of_measurement": "events",
        "state_class": "measurement",
        "icon": "mdi:tray-full",
        "entity_category": "diagnostic",
    }
    return out


class MqttSink:
    """A paho client on its own network thread; ``deliver`` waits for each PUBACK."""

    def __init__(self, s: MqttSettings) -> None:
        self.s = s
        self.base = base_topic(s.topic_prefix, s.device_id)
        self.availability = f"{self.base}/availability"
        self.target = f"{s.host}:{s.port}"
        self._connected = threading.Event()
        self._last_state: DeviceState | None = None
        self._connect_error: str | None = None
        self._closing = False
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=s.client_id or f"sputnik-{s.device_id}",
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        if s.username:
            client.username_pw_set(s.username, s.password or None)
        if s.tls:
            client.tls_set(ca_certs=str(s.ca_file) if s.ca_file else None, cert_reqs=ssl.CERT_REQUIRED)
        client.will_set(self.availability, OFFLINE, qos=1, retain=True)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._client = client
        client.connect_async(s.host, s.port, keepalive=s.keepalive_s)
        client.loop_start()

    # ---- paho callbacks (its network thread) -------------------------------------------------

    def _on_connect(self, client: mqtt.Client, _ud: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            self._connect_error = f"broker refused the connection: {reason}"
            return
        self._connect_error = None
        client.publish(self.availability, ONLINE, qos=1, retain=True)
        if self.s.homeassistant:
            client.subscribe(f"{self.s.discovery_prefix}/status", qos=1)
            self._publish_discovery()
        self._last_state = None  # republish the retained state on the next round
        self._connected.set()
        log.info("output_mqtt_connected", broker=self.target)

    def _on_disconnect(self, _c: mqtt.Client, _ud: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if self._connected.is_set() and not self._closing:
            log.warning("output_mqtt_disconnected", broker=self.target, reason=str(reason))
        self._connected.clear()

    def _on_message(self, _c: mqtt.Client, _ud: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.payload == ONLINE.encode():  # Home Assistant restarted: it asks for discovery again
            self._publish_discovery()

    def _publish_discovery(self) -> None:
        for topic, config in discovery_configs(self.s).items():
            self._client.publish(topic, json.dumps(config), qos=1, retain=True)

    # ---- the dispatcher's side ---------------------------------------------------------------

    def _wait_connected(self) -> str | None:
        if self._connected.wait(self.s.timeout_s):
            return None
        return self._connect_error or f"not connected to {self.target}"

    def _publish_all(self, messages: Sequence[tuple[str, str, bool]]) -> Delivery:
        infos = [self._client.publish(t, p, qos=1, retain=r) for t, p, r in messages]
        deadline = time.monotonic() + self.s.timeout_s
        for i, info in enumerate(infos):
            try:
                info.wait_for_publish(max(0.0, deadline - time.monotonic()))
            except (RuntimeError, ValueError) as exc:
                return Delivery(i, f"publish failed: {exc}")
            if not info.is_published():
                return Delivery(i, f"no PUBACK from {self.target} within {self.s.timeout_s:g} s")
        return Delivery(len(infos))

    def deliver(self, payloads: Sequence[dict[str, Any]]) -> Delivery:
        error = self._wait_connected()
        if error:
            return Delivery(0, error)
        messages = [(f"{self.base}/events", json.dumps(p, sort_keys=True), False) for p in payloads]
        done = self._publish_all(messages)
        if done.sent:
            newest = {str(p["camera_id"]): p for p in payloads[: done.sent]}
            self._publish_all(
                [
                    (f"{self.base}/{cam}/last", json.dumps(retained_last(p), sort_keys=True), True)
                    for cam, p in newest.items()
                ]
            )
        return done

    def publish_state(self, state: DeviceState) -> None:
        if state == self._last_state or not self._connected.is_set():
            return
        messages = [(f"{self.base}/{cam}/state", st, True) for cam, st in state.cameras.items()]
        messages.append((f"{self.base}/backlog", str(state.backlog), True))
        if self._publish_all(messages).error is None:
            self._last_state = state

    def close(self) -> None:
        """A clean stop says ``offline`` itself (the will is only for an unclean end)."""
        self._closing = True
        if self._connected.is_set():
            info = self._client.publish(self.availability, OFFLINE, qos=1, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(2.0)
        self._client.disconnect()
        self._client.loop_stop()
