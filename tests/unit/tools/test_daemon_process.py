"""The one daemon launcher: its config and environment, and a real start, ready, SIGTERM."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from sputnik_edge.tools.daemon_process import (
    DaemonError,
    DaemonProcess,
    daemon_config,
    daemon_env,
    write_config,
)


def test_config_merges_sections_and_drops_nulls(tmp_path: Path) -> None:
    cfg = daemon_config(
        tmp_path,
        8123,
        device_id="door-9",
        cameras=[{"id": "c1", "source": "x.mp4"}],
        http={"rate_limit_per_minute": 0},
        recognition={"models_dir": None, "threads": 1},
    )
    assert cfg["http"] == {"host": "127.0.0.1", "port": 8123, "rate_limit_per_minute": 0}
    assert cfg["storage"]["database"] == str(tmp_path / "edge.db") and cfg["device"] == {"id": "door-9"}
    data = tomllib.loads(write_config(tmp_path / "c.toml", cfg).read_text())
    assert data["recognition"] == {"threads": 1}  # TOML has no null: an unset key is absent
    assert data["cameras"] == [{"id": "c1", "source": "x.mp4"}]


def test_env_keeps_the_config_file_in_charge(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "SPUTNIK_HTTP__PORT": "1",
        "DATABASE_URL": "postgresql://elsewhere/x",
        "NOTIFY_SOCKET": "/run/systemd/notify",
        "SPUTNIK_FACES_DIR": "/faces",
        "PATH": "/usr/bin",
    }.items():
        monkeypatch.setenv(name, value)
    env = daemon_env({"NOTIFY_SOCKET": "/tmp/mine", "SPUTNIK_TEST_X": "1"})
    assert "SPUTNIK_HTTP__PORT" not in env and "DATABASE_URL" not in env
    assert env["NOTIFY_SOCKET"] == "/tmp/mine" and env["SPUTNIK_TEST_X"] == "1"
    assert env["SPUTNIK_FACES_DIR"] == "/faces" and env["PATH"] == "/usr/bin"


def test_start_ready_stop(tmp_path: Path) -> None:
    daemon = DaemonProcess.in_workdir(tmp_path, device_id="door-dp")
    daemon.start()
    try:
        health = daemon.wait_ready(timeout=60)
        assert health["ready"] is True and health["cameras"] == {}
        assert daemon.running()
    finally:
        code = daemon.stop()
    assert code == 0 and not daemon.running()
    assert '"event": "ready"' in daemon.log_text()


def test_a_daemon_that_exits_is_an_error_with_its_log(tmp_path: Path) -> None:
    daemon = DaemonProcess.in_workdir(tmp_path, cameras=[{"id": "c", "source": "x", "direction": "sideways"}])
    daemon.start()
    try:
        with pytest.raises(DaemonError, match=r"(?s)daemon exited with 2.*direction"):
            daemon.wait_ready(timeout=60)
    finally:
        daemon.kill()
