"""The daemon speaks sd_notify to a real AF_UNIX datagram socket: READY only when its parts are up,
watchdog pings while they progress, STOPPING on SIGTERM."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from tests.support.daemon import Daemon, base_config, free_port, write_config

pytestmark = pytest.mark.integration


def test_daemon_notifies_systemd(tmp_path: Path, faces_dir: Path) -> None:
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(0.5)
    clip = faces_dir / "video/short_hamilton_clip.mp4"
    port = free_port()
    cfg = base_config(
        tmp_path, port, cameras=[{"id": "file", "source": str(clip), "loop": True, "fps_limit": 5}]
    )
    daemon = Daemon(
        write_config(tmp_path / "config.toml", cfg),
        port,
        env={"NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "1000000"},
    ).start()
    messages: list[str] = []

    def drain(until: float) -> None:
        while time.monotonic() < until:
            try:
                messages.append(sock.recv(4096).decode())
            except TimeoutError:
                continue

    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any("READY=1" in m for m in messages):
            drain(time.monotonic() + 0.5)
        assert any("READY=1" in m for m in messages), messages
        # READY is sent only once the camera pipeline and HTTP are up: the API answers by then.
        assert daemon.get("/health").json()["ready"] is True
        messages.clear()
        drain(time.monotonic() + 2.5)
        pings = [m for m in messages if "WATCHDOG=1" in m]
        assert len(pings) >= 3, messages  # period/2 = 0.5 s
        assert daemon.terminate() == 0
        drain(time.monotonic() + 0.6)
        assert any("STOPPING=1" in m for m in messages), messages
    finally:
        daemon.kill()
        sock.close()
