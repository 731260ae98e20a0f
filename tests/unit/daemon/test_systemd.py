"""sd_notify client against real AF_UNIX datagram sockets, and the shipped unit file."""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from sputnik_edge.daemon.systemd import SystemdNotifier, watchdog_period
from tests.conftest import REPO_ROOT

UNIT_FILE = REPO_ROOT / "systemd" / "sputnik-edge.service"


class Receiver:
    """The systemd end: a bound datagram socket that hands back each message as text."""

    def __init__(self, sock: socket.socket, address: str) -> None:
        self.sock = sock
        self.address = address  # as it would appear in $NOTIFY_SOCKET

    def recv(self, timeout: float = 2.0) -> str:
        self.sock.settimeout(timeout)
        return self.sock.recv(4096).decode()

    def assert_silent(self, timeout: float = 0.1) -> None:
        self.sock.settimeout(timeout)
        with pytest.raises(TimeoutError):
            self.sock.recv(4096)


def _bind_path(tmp_path: Path) -> tuple[socket.socket, Path, str | None]:
    # sun_path holds 107 bytes; a long pytest tmp_path would not fit.
    short_dir = None
    path = tmp_path / "notify.sock"
    if len(str(path)) > 100:
        short_dir = tempfile.mkdtemp(prefix="sdn")
        path = Path(short_dir) / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    return sock, path, short_dir


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    sock, path, short_dir = _bind_path(tmp_path)
    try:
        yield Receiver(sock, str(path))
    finally:
        sock.close()
        if short_dir:
            shutil.rmtree(short_dir, ignore_errors=True)


@pytest.fixture
def abstract_receiver() -> Iterator[Receiver]:
    name = "sputnik-test-" + uuid.uuid4().hex
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    try:
        yield Receiver(sock, "@" + name)
    finally:
        sock.close()


def test_each_message_arrives_as_one_exact_datagram(receiver: Receiver) -> None:
    notifier = SystemdNotifier(environ={"NOTIFY_SOCKET": receiver.address})
    assert notifier.enabled

    assert notifier.ready()
    assert receiver.recv() == "READY=1"
    assert notifier.status("warming models")
    assert receiver.recv() == "STATUS=warming models"
    assert notifier.watchdog_ping()
    assert receiver.recv() == "WATCHDOG=1"
    assert notifier.extend_timeout(5_000_000)
    assert receiver.recv() == "EXTEND_TIMEOUT_USEC=5000000"
    assert notifier.stopping()
    assert receiver.recv() == "STOPPING=1"
    assert notifier.notify("READY=1\nSTATUS=running")
    assert receiver.recv() == "READY=1\nSTATUS=running"
    receiver.assert_silent()


def test_reads_notify_socket_from_process_environment(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", receiver.address)
    SystemdNotifier().ready()
    assert receiver.recv() == "READY=1"


def test_abstract_namespace_socket(abstract_receiver: Receiver) -> None:
    notifier = SystemdNotifier(environ={"NOTIFY_SOCKET": abstract_receiver.address})
    assert notifier.enabled
    assert notifier.watchdog_ping()
    assert abstract_receiver.recv() == "WATCHDOG=1"
    notifier.status("ok")
    assert abstract_receiver.recv() == "STATUS=ok"


def test_status_text_cannot_inject_other_assignments(receiver: Receiver) -> None:
    SystemdNotifier(environ={"NOTIFY_SOCKET": receiver.address}).status("camera lost\nREADY=1")
    assert receiver.recv() == "STATUS=camera lost READY=1"


def test_status_is_utf8(receiver: Receiver) -> None:
    SystemdNotifier(environ={"NOTIFY_SOCKET": receiver.address}).status("камера: ok")
    assert receiver.recv() == "STATUS=камера: ok"


@pytest.mark.parametrize("value", [None, "", "relative/path.sock", "@"])
def test_without_a_usable_socket_every_call_is_a_no_op(value: str | None) -> None:
    env = {} if value is None else {"NOTIFY_SOCKET": value}
    notifier = SystemdNotifier(environ=env)
    assert not notifier.enabled
    assert notifier.ready() is False
    assert notifier.status("x") is False
    assert notifier.watchdog_ping() is False
    assert notifier.stopping() is False


def test_unreachable_socket_never_raises_and_logs_once(tmp_path: Path) -> None:
    notifier = SystemdNotifier(environ={"NOTIFY_SOCKET": str(tmp_path / "missing.sock")})
    assert notifier.enabled
    with capture_logs() as logs:
        assert notifier.ready() is False
        assert notifier.watchdog_ping() is False
        assert notifier.stopping() is False
    failures = [entry for entry in logs if entry["event"] == "systemd.notify_failed"]
    assert len(failures) == 1
    assert failures[0]["log_level"] == "warning"


def test_delivery_resumes_when_the_socket_comes_back(tmp_path: Path) -> None:
    # systemd re-creates its socket on daemon-reexec: a per-message sendto must find the new one.
    sock, path, short_dir = _bind_path(tmp_path)
    try:
        notifier = SystemdNotifier(environ={"NOTIFY_SOCKET": str(path)})
        assert notifier.watchdog_ping()
        sock.close()
        path.unlink()
        assert notifier.watchdog_ping() is False  # nobody listening: swallowed

        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(path))
        assert notifier.watchdog_ping()
        assert Receiver(sock, str(path)).recv() == "WATCHDOG=1"
    finally:
        sock.close()
        if short_dir:
            shutil.rmtree(short_dir, ignore_errors=True)


def test_closed_notifier_is_a_no_op(receiver: Receiver) -> None:
    with SystemdNotifier(environ={"NOTIFY_SOCKET": receiver.address}) as notifier:
        pass
    assert not notifier.enabled
    assert notifier.ready() is False
    receiver.assert_silent()


def test_messages_carry_the_sending_process_pid(receiver: Receiver) -> None:
    # NotifyAccess=main: systemd drops datagrams whose SCM_CREDENTIALS pid is not the main pid, so the
    # daemon process itself (not a helper) must be the sender. Run the client in a real child process.
    receiver.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    code = "from sputnik_edge.daemon.systemd import SystemdNotifier; SystemdNotifier().ready()"
    env = {**os.environ, "NOTIFY_SOCKET": receiver.address, "PYTHONPATH": str(REPO_ROOT)}
    child = subprocess.Popen([sys.executable, "-c", code], env=env)
    assert child.wait(timeout=30) == 0

    receiver.sock.settimeout(2.0)
    data, ancdata, _flags, _addr = receiver.sock.recvmsg(4096, socket.CMSG_SPACE(12))
    assert data == b"READY=1"
    creds = [c for c in ancdata if c[0] == socket.SOL_SOCKET and c[1] == socket.SCM_CREDENTIALS]
    assert creds, "kernel attached no credentials"
    pid, _uid, _gid = struct.unpack("3i", creds[0][2][:12])
    assert pid == child.pid


def test_extend_timeout_rejects_non_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        SystemdNotifier(environ={}).extend_timeout(0)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "30000000"}, 30.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "4242"}, 30.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "4243"}, None),  # meant for another process
        ({"WATCHDOG_USEC": "500000", "WATCHDOG_PID": ""}, 0.5),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "thirty"}, None),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "main"}, None),
    ],
)
def test_watchdog_period(env: dict[str, str], expected: float | None) -> None:
    assert watchdog_period(env, pid=4242) == expected


def test_watchdog_period_defaults_to_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert watchdog_period() == 2.0
    assert SystemdNotifier().watchdog_period() == 2.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    assert watchdog_period() is None


# --- the shipped unit file ---------------------------------------------------------------------------


def _parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    # configparser keeps only the last of repeated keys; systemd accumulates them (LoadCredential=).
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"assignment outside a section: {line!r}"
        key, sep, value = line.partition("=")
        assert sep, f"not an assignment: {line!r}"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


@pytest.fixture(scope="module")
def unit() -> dict[str, dict[str, list[str]]]:
    return _parse_unit(UNIT_FILE)


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("Unit", "StartLimitIntervalSec", "300"),
        ("Unit", "StartLimitBurst", "5"),
        ("Service", "Type", "notify"),
        ("Service", "NotifyAccess", "main"),
        (
            "Service",
            "ExecStart",
            "/opt/sputnik-edge/venv/bin/sputnik-edge run --config /etc/sputnik-edge/config.toml",
        ),
        ("Service", "WatchdogSec", "30"),
        ("Service", "Restart", "on-failure"),
        ("Service", "RestartSec", "5"),
        ("Service", "TimeoutStopSec", "15"),
        ("Service", "User", "sputnik-edge"),
        ("Service", "Group", "sputnik-edge"),
        ("Service", "SupplementaryGroups", "video"),
        ("Service", "StateDirectory", "sputnik-edge"),
        ("Service", "StateDirectoryMode", "0700"),
        ("Service", "UMask", "0077"),
        ("Service", "ConfigurationDirectory", "sputnik-edge"),
        ("Service", "Environment", "PYTHONUNBUFFERED=1"),
        ("Service", "MemoryMax", "600M"),
        ("Service", "ProtectSystem", "strict"),
        ("Service", "ProtectHome", "yes"),
        ("Service", "PrivateTmp", "yes"),
        ("Service", "NoNewPrivileges", "yes"),
        ("Service", "ProtectKernelTunables", "yes"),
        ("Service", "ProtectKernelModules", "yes"),
        ("Service", "ProtectKernelLogs", "yes"),
        ("Service", "ProtectControlGroups", "yes"),
        ("Service", "RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6 AF_NETLINK"),
        ("Service", "RestrictNamespaces", "yes"),
        ("Service", "LockPersonality", "yes"),
        ("Service", "MemoryDenyWriteExecute", "no"),
        ("Service", "SystemCallArchitectures", "native"),
        ("Service", "PrivateDevices", "no"),
        ("Service", "DeviceAllow", "char-video4linux rw"),
        ("Install", "WantedBy", "multi-user.target"),
    ],
)
def test_unit_directive(unit: dict[str, dict[str, list[str]]], section: str, key: str, value: str) -> None:
    assert unit[section].get(key) == [value]


def test_unit_loads_both_credentials(unit: dict[str, dict[str, list[str]]]) -> None:
    assert sorted(unit["Service"]["LoadCredential"]) == [
        "api_token:/etc/sputnik-edge/credentials/api_token",
        "database_url:/etc/sputnik-edge/credentials/database_url",
    ]


def test_unit_passes_secrets_only_as_credentials(unit: dict[str, dict[str, list[str]]]) -> None:
    env = " ".join(unit["Service"].get("Environment", []))
    assert "DATABASE_URL" not in env
    assert "TOKEN" not in env.upper()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_unit_verifies_with_systemd_analyze(tmp_path: Path) -> None:
    # verify insists the ExecStart binary exists; everything else is checked as shipped.
    text = UNIT_FILE.read_text().replace("/opt/sputnik-edge/venv/bin/sputnik-edge", "/bin/true")
    copy = tmp_path / "sputnik-edge.service"
    copy.write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sputnik-edge.service" not in result.stderr, result.stderr  # no warnings about our unit
