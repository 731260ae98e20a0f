"""Home Assistant's MQTT discovery schema for sensors, vendored as key -> type, and a check of a
discovery payload field by field."""

from __future__ import annotations

from typing import Any

# Home Assistant's MQTT sensor discovery schema: the configuration variables documented at
# https://www.home-assistant.io/integrations/sensor.mqtt/ and, for `device`, at
# https://www.home-assistant.io/integrations/mqtt/#discovery-payload (vendored: key -> type).
HA_SENSOR_KEYS: dict[str, type | tuple[type, ...]] = {
    "availability": list,
    "availability_mode": str,
    "availability_template": str,
    "availability_topic": str,
    "device": dict,
    "device_class": str,
    "enabled_by_default": bool,
    "encoding": str,
    "entity_category": str,
    "entity_picture": str,
    "expire_after": int,
    "force_update": bool,
    "icon": str,
    "json_attributes_template": str,
    "json_attributes_topic": str,
    "last_reset_value_template": str,
    "name": str,
    "object_id": str,
    "options": list,
    "payload_available": str,
    "payload_not_available": str,
    "platform": str,
    "qos": int,
    "state_class": str,
    "state_topic": str,
    "suggested_display_precision": int,
    "unique_id": str,
    "unit_of_measurement": str,
    "value_template": str,
}
HA_DEVICE_KEYS: dict[str, type | tuple[type, ...]] = {
    "configuration_url": str,
    "connections": list,
    "hw_version": str,
    "identifiers": (list, str),
    "manufacturer": str,
    "model": str,
    "model_id": str,
    "name": str,
    "serial_number": str,
    "suggested_area": str,
    "sw_version": str,
    "via_device": str,
}
HA_STATE_CLASSES = {"measurement", "total", "total_increasing", "measurement_angle"}
HA_ENTITY_CATEGORIES = {"config", "diagnostic"}


def check_ha_sensor(topic: str, config: dict[str, Any], base: str) -> None:
    parts = topic.split("/")
    assert len(parts) == 5 and parts[0] == "homeassistant" and parts[1] == "sensor" and parts[4] == "config"
    assert all(p.replace("_", "").replace("-", "").isalnum() for p in parts[2:4]), topic
    for key, value in config.items():
        assert key in HA_SENSOR_KEYS, f"{topic}: {key} is not an MQTT sensor option"
        assert isinstance(value, HA_SENSOR_KEYS[key]), f"{topic}: {key} = {value!r}"
    for key in ("name", "unique_id", "state_topic", "availability_topic", "device"):
        assert key in config, f"{topic}: {key} missing"
    assert not ("availability" in config and "availability_topic" in config)  # exclusive in HA
    assert config["state_topic"].startswith(base + "/")
    assert config["availability_topic"] == f"{base}/availability"
    assert (config["payload_available"], config["payload_not_available"]) == ("online", "offline")
    assert config.get("qos", 0) in (0, 1, 2)
    assert config.get("state_class", "measurement") in HA_STATE_CLASSES
    assert config.get("entity_category", "diagnostic") in HA_ENTITY_CATEGORIES
    device = config["device"]
    for key, value in device.items():
        assert key in HA_DEVICE_KEYS, f"{topic}: device.{key} is not a device option"
        assert isinstance(value, HA_DEVICE_KEYS[key]), f"{topic}: device.{key} = {value!r}"
    assert device["identifiers"] and device["name"]
    if "value_template" in config:
        assert config["value_template"].startswith("{{") and config["value_template"].endswith("}}")
