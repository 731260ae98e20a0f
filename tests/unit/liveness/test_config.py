"""The [liveness] config section: defaults, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from sputnik_edge.config import ConfigError, Settings, load_settings
from sputnik_edge.liveness.stage import build_liveness, liveness_settings
from tests.conftest import clear_config_env


def load(tmp_path: Path, body: str) -> Settings:
    path = tmp_path / "c.toml"
    path.write_text(body)
    return load_settings(Settings, path)


def test_defaults_and_the_stage_they_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clear_config_env(monkeypatch)
    s = load(tmp_path, "")
    assert s.liveness.mode == "monitor"
    assert liveness_settings(s.liveness).cues == ("blink", "motion", "border")
    assert build_liveness(s) is not None
    assert build_liveness(load(tmp_path, '[liveness]\nmode = "off"\n')) is None


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ('[liveness]\nmode = "strict"\n', "liveness"),
        ('[liveness]\ncues = ["blink", "smile"]\n', "smile"),
        ("[liveness]\nborder_frames = 0\n", "border_frames"),
        ("[liveness]\nblinks = 2\n", "blinks"),
    ],
)
def test_bad_values_name_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, named: str
) -> None:
    clear_config_env(monkeypatch)
    with pytest.raises(ConfigError, match=named):
        load(tmp_path, body)
