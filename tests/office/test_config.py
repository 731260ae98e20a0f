"""The office server's configuration: defaults, precedence, credentials, key-naming errors, and the
example file listing every key with its default."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from sputnik_edge.config import ConfigError
from sputnik_edge.office.config import (
    OfficeCameraSection,
    OfficeSettings,
    load_office_config,
    redacted_office_dump,
)
from tests.conftest import REPO_ROOT

EXAMPLE = REPO_ROOT / "office.example.toml"
OPTIONAL = {("recognition", "models_dir")}  # shown commented out (None)
BY_DETECTOR = {("recognition", "det_score_threshold"), ("recognition", "quality_min_det_score")}
SECRETS = {("central", "database_url"), ("http", "secret_key")}
KEY = "k" * 40


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_defaults(tmp_path: Path) -> None:
    cfg = load_office_config(write(tmp_path / "empty.toml", ""))
    assert (cfg.http.host, cfg.http.port) == ("127.0.0.1", 8080)
    assert cfg.http.max_upload_bytes == 10 * 1024 * 1024 and cfg.http.trusted_proxies == []
    assert cfg.http.secret_key.get_secret_value() == "" and not cfg.central.enabled
    assert (cfg.office.timezone, cfg.office.device_stale_after_s, cfg.office.unknown_retention_days) == (
        "UTC", 300, 30
    )  # fmt: skip
    assert cfg.recognition.match_threshold == 0.55 and cfg.cameras == []


def test_example_loads_and_lists_every_key_with_its_default() -> None:
    assert load_office_config(EXAMPLE).cameras[0].id == "lobby"
    text = EXAMPLE.read_text()
    data = tomllib.loads(text)
    for section, fields in OfficeSettings().model_dump(mode="json").items():
        if section == "cameras":
            continue
        documented = data[section]
        for key, value in fields.items():
            if (section, key) in OPTIONAL:
                assert key not in documented and re.search(rf"^# {key} = ", text, re.M)
                continue
            if (section, key) in BY_DETECTOR:
                assert key not in documented
                assert re.search(rf"^# {key} = {value}\b", text, re.M), f"{section}.{key} not shown"
                continue
            assert key in documented, f"{section}.{key} missing from office.example.toml"
            want = "" if (section, key) in SECRETS else value
            assert documented[key] == want, (
                f"{section}.{key}: example {documented[key]!r} != default {want!r}"
            )
        assert set(documented) <= set(fields), f"{section}: unknown keys {set(documented) - set(fields)}"
    camera = data["cameras"][0]
    for key, field in OfficeCameraSection.model_fields.items():
        assert key in camera, f"cameras.{key} missing"
        if not field.is_required():
            assert camera[key] == field.default, f"cameras.{key}"


def test_precedence_env_over_alias_over_credentials_over_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    toml = write(
        tmp_path / "o.toml", '[http]\nport = 7000\n[central]\ndatabase_url = "postgresql://file/db"\n'
    )
    assert load_office_config(toml).http.port == 7000
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "database_url").write_text("postgresql://cred/db\n")
    (creds / "secret_key").write_text(KEY + "\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    cfg = load_office_config(toml)
    assert cfg.central.database_url.get_secret_value() == "postgresql://cred/db"
    assert cfg.http.secret_key.get_secret_value() == KEY
    monkeypatch.setenv("DATABASE_URL", "postgresql://alias/db")
    monkeypatch.setenv("PORT", "7001")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    monkeypatch.setenv("HOST", "0.0.0.0")
    cfg = load_office_config(toml)
    assert cfg.central.database_url.get_secret_value() == "postgresql://alias/db"
    assert (cfg.http.port, cfg.http.host, cfg.logging.level) == (7001, "0.0.0.0", "DEBUG")
    monkeypatch.setenv("SPUTNIK_OFFICE_HTTP__PORT", "7002")
    monkeypatch.setenv("SPUTNIK_HTTP__PORT", "7999")  # the door device's variable: not ours
    assert load_office_config(toml).http.port == 7002


def test_config_file_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "SPUTNIK_OFFICE_CONFIG", str(write(tmp_path / "x.toml", "[office]\ntimezone = 'Europe/Moscow'\n"))
    )
    assert load_office_config().office.timezone == "Europe/Moscow"
    monkeypatch.setenv("SPUTNIK_OFFICE_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match=r"config file not found: .*missing\.toml"):
        load_office_config()


@pytest.mark.parametrize(
    ("toml", "names", "hidden"),
    [
        ("[http]\nsecret = 1\n", ["http.secret: unknown key"], None),
        (
            "[office]\ntimezone = 'Mars/Olympus'\n",
            ["office.timezone", "unknown time zone", "Mars/Olympus"],
            None,
        ),
        ("[http]\nsecret_key = 'short-secret'\n", ["http.secret_key", "32 bytes"], "short-secret"),
        ("[http]\ntrusted_proxies = ['10.0.0.0/33']\n", ["http.trusted_proxies", "10.0.0.0/33"], None),
        (
            "[[cameras]]\nid = 'c'\ndirection = 'up'\ntoken = 'tttttttttttttttttt'\n",
            ["cameras[0].direction"],
            None,
        ),
        (
            "[[cameras]]\nid = 'c'\ntoken = 'weak-token'\n",
            ["cameras[0].token", "16 characters"],
            "weak-token",
        ),
        ("[[cameras]]\nid = 'c'\n", ["cameras[0].token", "Field required"], None),
        (
            "[[cameras]]\nid = 'c'\ntoken = 'aaaaaaaaaaaaaaaaaa'\n"
            "[[cameras]]\nid = 'c'\ntoken = 'bbbbbbbbbbbbbbbbbb'\n",
            ["duplicate camera id(s): c"],
            None,
        ),
        (
            "[[cameras]]\nid = 'a'\ntoken = 'same-token-same-token'\n"
            "[[cameras]]\nid = 'b'\ntoken = 'same-token-same-token'\n",
            ["share a token"],
            "same-token-same-token",
        ),
        ("[central]\ndatabase_url = 42\n", ["central.database_url"], None),
        ("[http]\nport = 'x'\n", ["http.port"], None),
    ],
)
def test_bad_values_name_the_key_in_one_line(
    tmp_path: Path, toml: str, names: list[str], hidden: str | None
) -> None:
    with pytest.raises(ConfigError) as info:
        load_office_config(write(tmp_path / "bad.toml", toml))
    message = str(info.value)
    assert "\n" not in message and str(tmp_path / "bad.toml") in message
    for name in names:
        assert name in message, message
    if hidden is not None:
        assert hidden not in message


def test_redacted_dump_masks_every_secret() -> None:
    cfg = OfficeSettings(
        central={"database_url": "postgresql://u:pw-secret@db/x"},
        http={"secret_key": KEY},
        cameras=[{"id": "c", "token": "camera-secret-token-1"}],
    )
    dump = redacted_office_dump(cfg)
    text = str(dump)
    assert "pw-secret" not in text and KEY not in text and "camera-secret-token-1" not in text
    assert dump["central"]["database_url"] == "postgresql://***@db/x"
    assert dump["http"]["secret_key"] == "***" and dump["cameras"][0]["token"] == "***"
