"""config.example.toml documents every key with its default, and loads as it is."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from sputnik_edge.config import CameraSection, Settings, load_config
from sputnik_edge.config_outputs import MqttOutput, WebhookOutput
from tests.conftest import REPO_ROOT, pretend_mediapipe

EXAMPLE = REPO_ROOT / "config.example.toml"
OPTIONAL = {("recognition", "models_dir"), ("http", "static_path")}  # shown commented out (None)
# Defaults that depend on recognition.detector: shown commented out with YuNet's value.
BY_DETECTOR = {("recognition", "det_score_threshold"), ("recognition", "quality_min_det_score")}


def test_example_loads_and_passes_validation() -> None:
    settings = load_config(EXAMPLE)
    assert settings.cameras[0].id == "entrance"


def test_example_lists_every_key_with_its_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    text = EXAMPLE.read_text()
    data = tomllib.loads(text)
    defaults = Settings().model_dump(mode="json")
    for section, fields in defaults.items():
        if section in ("cameras", "outputs"):
            continue
        documented = data[section]
        for key, value in fields.items():
            if (section, key) in OPTIONAL:
                assert key not in documented
                continue
            if (section, key) in BY_DETECTOR:
                assert key not in documented
                assert re.search(rf"^# {key} = {value}\b", text, re.M), f"{section}.{key} not shown"
                continue
            assert key in documented, f"{section}.{key} missing from config.example.toml"
            if key == "database_url":
                value = ""
            if key == "api_token":
                value = ""
            assert documented[key] == value, (
                f"{section}.{key}: example {documented[key]!r} != default {value!r}"
            )
        assert set(documented) <= set(fields), f"{section}: unknown keys {set(documented) - set(fields)}"
    camera = data["cameras"][0]
    for key, field in CameraSection.model_fields.items():
        assert key in camera, f"cameras.{key} missing"
        if not field.is_required():
            assert camera[key] == field.default, f"cameras.{key}"


def test_example_switched_to_blazeface_gets_its_score_floors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Copying the example and changing only the detector must not keep YuNet's floors."""
    pretend_mediapipe(monkeypatch, installed=True)
    text = EXAMPLE.read_text().replace('detector = "yunet"', 'detector = "blazeface"', 1)
    assert 'detector = "blazeface"' in text
    copy = tmp_path / "config.toml"
    copy.write_text(text)
    rec = load_config(copy).recognition
    assert (rec.detector, rec.det_score_threshold, rec.quality_min_det_score) == ("blazeface", 0.5, 0.75)


def test_example_lists_every_output_key_with_its_default() -> None:
    data = tomllib.loads(EXAMPLE.read_text())
    shown = {o["kind"]: o for o in data["outputs"]}
    assert set(shown) == {"webhook", "mqtt"}
    for kind, model in (("webhook", WebhookOutput), ("mqtt", MqttOutput)):
        example = shown[kind]
        for key, field in model.model_fields.items():
            if key == "ca_file":  # None: shown commented out
                assert key not in example
                continue
            assert key in example, f"outputs ({kind}).{key} missing"
            if not field.is_required() and key not in ("enabled", "secret", "password"):
                default = field.get_default(call_default_factory=True)
                assert example[key] == default, f"outputs ({kind}).{key}"
        assert example["enabled"] is False  # an example must not post anywhere
        assert set(example) <= set(model.model_fields)
