"""Home Assistant discovery payloads (pure) and the topic layout."""

from __future__ import annotations

import jinja2

from sputnik_edge.outputs.mqtt import MqttSettings, base_topic, discovery_configs, retained_last
from sputnik_edge.outputs.payload import SNAPSHOT_FIELD
from tests.support.homeassistant import check_ha_sensor


def test_discovery_per_camera_and_backlog_valid_for_home_assistant() -> None:
    s = MqttSettings(
        host="b", port=1883, device_id="door.1", cameras=("entrance", "back-door"), topic_prefix="site/a"
    )
    configs = discovery_configs(s, version="1.2.3")
    base = base_topic("site/a", "door.1")
    assert base == "site/a/door.1"
    assert len(configs) == 5  # last person + camera state per camera, one backlog
    for topic, conf in configs.items():
        check_ha_sensor(topic, conf, base)
        assert conf["device"]["sw_version"] == "1.2.3"
        assert conf["device"]["identifiers"] == ["sputnik_edge_door.1"]
    assert "homeassistant/sensor/sputnik_door_1/back-door_last_person/config" in configs
    states = sorted(c["state_topic"] for c in configs.values())
    assert states == sorted(
        [f"{base}/{cam}/{leaf}" for cam in ("entrance", "back-door") for leaf in ("last", "state")]
        + [f"{base}/backlog"]
    )
    assert len({c["unique_id"] for c in configs.values()}) == 5
    backlog = configs["homeassistant/sensor/sputnik_door_1/outbox_backlog/config"]
    assert backlog["state_class"] == "measurement" and backlog["unit_of_measurement"] == "events"


def test_last_person_shows_the_kind_for_a_spoof_not_the_matched_name() -> None:
    s = MqttSettings(host="b", port=1883, device_id="d", cameras=("entrance",))
    (conf,) = [c for c in discovery_configs(s).values() if c["state_topic"].endswith("/last")]
    template = jinja2.Environment().from_string(conf["value_template"])

    def shown(**event: object) -> str:
        return template.render(value_json=event)

    assert shown(kind="check_in", name="Ada") == "Ada"
    assert shown(kind="unknown", name=None) == "unknown"
    assert shown(kind="spoof_suspected", name="Ada") == "spoof_suspected"


def test_retained_last_drops_the_crop() -> None:
    body = {"event_id": "x", "kind": "unknown", SNAPSHOT_FIELD: "AAAA"}
    assert retained_last(body) == {"event_id": "x", "kind": "unknown"}
    assert SNAPSHOT_FIELD in body  # the events topic still gets it
