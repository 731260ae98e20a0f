"""Configuration: TOML + environment precedence, flat aliases, credentials, strict validation,
and the CLI's handling of good and bad configuration."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sputnik_edge.cli import main
from sputnik_edge.config import ConfigError, load_config
from tests.conftest import clear_config_env, pretend_mediapipe

SECRET_PASSWORD = "s3cr3t-Pa55"
SECRET_TOKEN = "tok-0123456789abcdef"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No configuration from the developer's shell leaks into a test."""
    clear_config_env(monkeypatch)
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_defaults_match_contract(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path / "empty.toml", ""))
    assert cfg.recognition.match_threshold == pytest.approx(0.55)
    assert cfg.recognition.low_confidence_threshold == pytest.approx(0.40)
    assert cfg.http.port == 8000
    assert cfg.http.host == "127.0.0.1"
    assert cfg.central.database_url.get_secret_value() == ""
    assert not cfg.central.enabled
    assert cfg.logging.level == "INFO"
    assert cfg.cameras == []


def test_toml_values_are_used(tmp_path: Path) -> None:
    cfg = load_config(
        write(
            tmp_path / "c.toml",
            """
[device]
id = "gate-7"
[recognition]
match_threshold = 0.6
[[cameras]]
id = "entrance"
source = "rtsp://10.0.0.5/stream1"
direction = "out"
""",
        )
    )
    assert cfg.device.id == "gate-7"
    assert cfg.recognition.match_threshold == pytest.approx(0.6)
    assert [(c.id, c.direction) for c in cfg.cameras] == [("entrance", "out")]


def test_nested_env_overrides_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "c.toml", "[http]\nport = 9000\n[recognition]\nmatch_threshold = 0.6\n")
    monkeypatch.setenv("SPUTNIK_HTTP__PORT", "9100")
    monkeypatch.setenv("SPUTNIK_RECOGNITION__MATCH_THRESHOLD", "0.7")
    cfg = load_config(path)
    assert cfg.http.port == 9100
    assert cfg.recognition.match_threshold == pytest.approx(0.7)


@pytest.mark.parametrize(
    ("name", "value", "section", "key", "expected"),
    [
        ("DATABASE_URL", "postgresql://u:p@db/x", "central", "database_url", "postgresql://u:p@db/x"),
        ("PORT", "8123", "http", "port", 8123),
        ("HOST", "localhost", "http", "host", "localhost"),
        ("LOG_LEVEL", "debug", "logging", "level", "DEBUG"),
        ("RECOGNITION_MATCH_THRESHOLD", "0.62", "recognition", "match_threshold", 0.62),
        ("RECOGNITION_LOW_CONFIDENCE_THRESHOLD", "0.33", "recognition", "low_confidence_threshold", 0.33),
        ("DEBUG_PHOTOS_TTL_DAYS", "3", "storage", "snapshot_ttl_days", 3.0),
        ("APP_NAME", "front-door", "app", "name", "front-door"),
    ],
)
def test_flat_aliases_map_to_nested_keys(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    value: str,
    section: str,
    key: str,
    expected: object,
) -> None:
    monkeypatch.setenv(name, value)
    cfg = load_config(write(tmp_path / "c.toml", ""))
    got = getattr(getattr(cfg, section), key)
    if hasattr(got, "get_secret_value"):
        got = got.get_secret_value()
    assert got == (pytest.approx(expected) if isinstance(expected, float) else expected)


def test_flat_alias_overrides_toml_and_nested_env_overrides_alias(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "c.toml", "[http]\nport = 9000\n")
    monkeypatch.setenv("PORT", "9001")
    assert load_config(path).http.port == 9001
    monkeypatch.setenv("SPUTNIK_HTTP__PORT", "9002")
    assert load_config(path).http.port == 9002


def test_sputnik_config_env_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "from-env.toml", '[device]\nid = "from-env"\n')
    monkeypatch.setenv("SPUTNIK_CONFIG", str(path))
    assert load_config().device.id == "from-env"
    # An explicit path wins over $SPUTNIK_CONFIG.
    other = write(tmp_path / "explicit.toml", '[device]\nid = "explicit"\n')
    assert load_config(other).device.id == "explicit"


def test_credentials_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "api_token").write_text(SECRET_TOKEN + "\n")
    (creds / "database_url").write_text(f"postgresql://edge:{SECRET_PASSWORD}@db.example/att\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    cfg = load_config(write(tmp_path / "c.toml", ""))
    assert cfg.http.api_token.get_secret_value() == SECRET_TOKEN
    assert cfg.central.database_url.get_secret_value().endswith("@db.example/att")
    assert cfg.central.enabled


def test_empty_credential_file_means_not_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "database_url").write_text("\n")
    (creds / "api_token").write_text("")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    path = write(tmp_path / "c.toml", '[central]\ndatabase_url = "postgresql://u@toml-db/x"\n')
    cfg = load_config(path)
    assert cfg.central.database_url.get_secret_value() == "postgresql://u@toml-db/x"
    assert cfg.http.api_token.get_secret_value() == ""


def test_credential_allows_non_loopback_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "api_token").write_text(SECRET_TOKEN)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    cfg = load_config(write(tmp_path / "c.toml", '[http]\nhost = "0.0.0.0"\n'))
    assert cfg.http.host == "0.0.0.0"


@pytest.mark.parametrize(
    ("toml", "must_name"),
    [
        ("[recognition]\nmatch_treshold = 0.5\n", ["recognition.match_treshold", "unknown"]),
        ("[nonsense]\nx = 1\n", ["nonsense"]),
        ('[http]\nport = "eighty"\n', ["http.port", "eighty"]),
        ("[http]\nport = 70000\n", ["http.port", "70000"]),
        ("[recognition]\nmatch_threshold = 1.5\n", ["recognition.match_threshold", "1.5"]),
        (
            "[recognition]\nmatch_threshold = 0.3\nlow_confidence_threshold = 0.5\n",
            ["low_confidence_threshold", "0.5", "match_threshold", "0.3"],
        ),
        (
            '[[cameras]]\nid = "cam"\nsource = "usb:0"\ndirection = "sideways"\n',
            ["cameras[0].direction", "sideways"],
        ),
        (
            '[[cameras]]\nid = "a"\nsource = "usb:0"\n[[cameras]]\nid = "a"\nsource = "usb:1"\n',
            ["cameras", "duplicate", "a"],
        ),
        ('[http]\nhost = "0.0.0.0"\n', ["http", "0.0.0.0", "api_token"]),
        ('[logging]\nlevel = "LOUD"\n', ["logging.level", "LOUD"]),
    ],
)
def test_bad_values_name_key_and_value(tmp_path: Path, toml: str, must_name: list[str]) -> None:
    path = write(tmp_path / "bad.toml", toml)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message
    for part in must_name:
        assert part in message, f"{part!r} not in {message!r}"


def test_bad_env_value_names_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPUTNIK_HTTP__PORT", "not-a-port")
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path / "c.toml", ""))
    assert "http.port" in str(info.value)
    assert "not-a-port" in str(info.value)


def test_bad_database_url_error_does_not_leak_password(tmp_path: Path) -> None:
    # A wrong type under central.database_url would echo the value; the password must not appear.
    path = write(tmp_path / "c.toml", f'[central]\ndatabase_url = "x://u:{SECRET_PASSWORD}@h"\nbogus = 1\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "central.bogus" in str(info.value)
    assert SECRET_PASSWORD not in str(info.value)


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "config.toml"
    with pytest.raises(ConfigError, match="not found") as info:
        load_config(missing)
    assert str(missing) in str(info.value)


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "broken.toml", "[http\nport = \n")
    with pytest.raises(ConfigError, match="not valid TOML") as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_directory_as_config_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    assert str(tmp_path) in str(info.value)


# ---- through the CLI ---------------------------------------------------------------------------


def test_check_config_prints_json_with_secrets_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path / "c.toml",
        f"""
[central]
database_url = "postgresql://edge:{SECRET_PASSWORD}@db.example:5432/att"
[http]
host = "0.0.0.0"
api_token = "{SECRET_TOKEN}"
[[cameras]]
id = "entrance"
source = "rtsp://admin:{SECRET_PASSWORD}@10.0.0.5/stream1"
""",
    )
    monkeypatch.setenv("SPUTNIK_HTTP__PORT", "8111")
    assert main(["check-config", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert SECRET_PASSWORD not in out
    assert SECRET_TOKEN not in out
    data = json.loads(out)
    assert data["http"]["port"] == 8111
    assert data["http"]["host"] == "0.0.0.0"
    assert data["http"]["api_token"]  # masked but shown as set
    assert "db.example" in data["central"]["database_url"]
    assert "10.0.0.5" in data["cameras"][0]["source"]
    assert data["recognition"]["match_threshold"] == pytest.approx(0.55)


@pytest.mark.parametrize("command", [["check-config"], ["employees", "list"], ["identify", "x.jpg"]])
def test_bad_config_exits_2_with_one_line_naming_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    path = write(
        tmp_path / "c.toml", "[recognition]\nmatch_threshold = 0.3\nlow_confidence_threshold = 0.5\n"
    )
    assert main([*command, "--config", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert "recognition" in lines[0]
    assert "low_confidence_threshold" in lines[0]


def test_console_script_bad_config_exit_code(tmp_path: Path) -> None:
    path = write(tmp_path / "c.toml", "[http]\nport = -5\n")
    exe = Path(sys.executable).parent / "sputnik-edge"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "sputnik_edge"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPUTNIK_")}
    proc = subprocess.run(
        [*cmd, "check-config", "--config", str(path)], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "http.port" in proc.stderr


# ---- detector choice --------------------------------------------------------------------------------


def test_unknown_detector_names_key_and_choices(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path / "c.toml", '[recognition]\ndetector = "retinaface"\n'))
    message = str(info.value)
    assert "recognition.detector" in message and "retinaface" in message
    assert "yunet" in message and "blazeface" in message


def test_blazeface_without_mediapipe_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Whether or not this venv has mediapipe: the check must speak up when it is absent.
    pretend_mediapipe(monkeypatch, installed=False)
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path / "c.toml", '[recognition]\ndetector = "blazeface"\n'))
    message = str(info.value)
    assert "recognition.detector" in message
    assert "sputnik-edge[mediapipe]" in message
    assert "\n" not in message


def test_blazeface_score_defaults_and_explicit_values_win(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pretend_mediapipe(monkeypatch, installed=True)
    yunet = load_config(write(tmp_path / "y.toml", "")).recognition
    assert (yunet.detector, yunet.det_score_threshold, yunet.quality_min_det_score) == ("yunet", 0.6, 0.8)
    blaze = load_config(write(tmp_path / "b.toml", '[recognition]\ndetector = "blazeface"\n')).recognition
    assert (blaze.det_score_threshold, blaze.quality_min_det_score) == (0.5, 0.75)
    explicit = load_config(
        write(tmp_path / "e.toml", '[recognition]\ndetector = "blazeface"\nquality_min_det_score = 0.9\n')
    ).recognition
    assert (explicit.det_score_threshold, explicit.quality_min_det_score) == (0.5, 0.9)
    monkeypatch.setenv("SPUTNIK_RECOGNITION__DETECTOR", "blazeface")
    monkeypatch.setenv("SPUTNIK_RECOGNITION__DET_SCORE_THRESHOLD", "0.4")
    from_env = load_config(write(tmp_path / "n.toml", "")).recognition
    assert (from_env.detector, from_env.det_score_threshold, from_env.quality_min_det_score) == (
        "blazeface",
        0.4,
        0.75,
    )
