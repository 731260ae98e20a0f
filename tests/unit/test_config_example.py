"""config.example.toml documents every key with its default, and loads as it is."""

from __future__ import annotations

import tomllib

import pytest

from sputnik_edge.config import CameraSection, Settings, load_config
from tests.conftest import REPO_ROOT

EXAMPLE = REPO_ROOT / "config.example.toml"
OPTIONAL = {("recognition", "models_dir"), ("http", "static_path")}  # shown commented out (None)


def test_example_loads_and_passes_validation() -> None:
    settings = load_config(EXAMPLE)
    assert settings.cameras[0].id == "entrance"


def test_example_lists_every_key_with_its_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    data = tomllib.loads(EXAMPLE.read_text())
    defaults = Settings().model_dump(mode="json")
    for section, fields in defaults.items():
        if section == "cameras":
            continue
        documented = data[section]
        for key, value in fields.items():
            if (section, key) in OPTIONAL:
                assert key not in documented
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
