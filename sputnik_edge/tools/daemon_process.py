"""The one way the tools and the tests run the real daemon: ``sputnik-edge run`` as a subprocess.

A config file written with ``tomli_w`` into a work folder, the daemon's output in a log file next
to it, readiness read from ``/health`` over loopback, SIGTERM to stop. Used by the bench (memory
and cold start), soak, loadtest and ``tests/support/daemon.py``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import httpx
import tomli_w

T = TypeVar("T")


class DaemonError(RuntimeError):
    """The daemon exited or did not become ready; the message carries the end of its log."""


def free_port() -> int:
    """A loopback TCP port that was free a moment ago (the daemon binds it soon after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def daemon_config(
    workdir: Path,
    port: int,
    *,
    device_id: str = "bench",
    log_level: str = "INFO",
    cameras: Sequence[Mapping[str, Any]] = (),
    **sections: Any,
) -> dict[str, Any]:
    """A config whose state (database, snapshots) lives in ``workdir``; ``sections`` are merged in
    (a dict updates that table, anything else replaces the key)."""
    cfg: dict[str, Any] = {
        "device": {"id": device_id},
        "storage": {"database": str(workdir / "edge.db"), "snapshots_dir": str(workdir / "snapshots")},
        "http": {"host": "127.0.0.1", "port": port},
        "logging": {"level": log_level, "format": "json"},
        "cameras": [dict(c) for c in cameras],
    }
    for name, values in sections.items():
        if isinstance(values, Mapping):
            cfg.setdefault(name, {}).update(values)
        else:
            cfg[name] = values
    return cfg


def _without_none(value: Any) -> Any:
    # TOML has no null: an unset option is an absent key.
    if isinstance(value, Mapping):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_without_none(v) for v in value]
    return value


def write_config(path: Path, data: Mapping[str, Any]) -> Path:
    path.write_bytes(tomli_w.dumps(_without_none(data)).encode())
    return path


def daemon_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment for the child, minus what would change what runs or whom it
    talks to: configuration overrides (``SPUTNIK_*``, the flat aliases), so the config file is the
    whole configuration, and ``NOTIFY_SOCKET``/``CREDENTIALS_DIRECTORY``, which belong to our own
    service manager. ``extra`` is applied last."""
    from sputnik_edge.config import FLAT_ALIASES

    drop = {*FLAT_ALIASES, "NOTIFY_SOCKET", "CREDENTIALS_DIRECTORY"}
    env = {
        k: v
        for k, v in os.environ.items()
        if k.upper() not in drop
        and not (k.upper().startswith("SPUTNIK_") and k.upper() != "SPUTNIK_FACES_DIR")
    }
    env.update(extra or {})
    return env


class DaemonProcess:
    """``sputnik-edge run --config CONFIG`` listening on 127.0.0.1:``port``."""

    def __init__(self, config: Path, port: int, env: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.port = port
        self.env = dict(env or {})
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None
        self.started_at = 0.0

    @classmethod
    def in_workdir(
        cls, workdir: Path, *, env: Mapping[str, str] | None = None, **config: Any
    ) -> DaemonProcess:
        """A daemon on a free port with ``daemon_config(workdir, port, **config)`` written there."""
        port = free_port()
        path = write_config(workdir / "config.toml", daemon_config(workdir, port, **config))
        return cls(path, port, env)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise DaemonError("daemon not started")
        return self.proc.pid

    def start(self) -> DaemonProcess:
        # One log per start: a restarted daemon must not append to (or truncate) the last one's.
        self.log_path = self.config.with_suffix(f".{int(time.time() * 1000)}.log")
        self.started_at = time.monotonic()
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "sputnik_edge", "run", "--config", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=daemon_env(self.env),
            )
        return self

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def get(self, path: str, timeout: float = 10, **kw: Any) -> httpx.Response:
        return httpx.get(self.url + path, timeout=timeout, **kw)

    def health(self, timeout: float = 2) -> dict[str, Any] | None:
        """The /health body, or None while the daemon does not answer with JSON."""
        try:
            body = self.get("/health", timeout=timeout).json()
        except (httpx.HTTPError, ValueError):
            return None
        return dict(body) if isinstance(body, dict) else None

    def wait_ready(self, timeout: float = 60, poll_s: float = 0.05) -> dict[str, Any]:
        """Poll /health until it says ``ready: true``; returns that body."""

        def ready() -> dict[str, Any] | None:
            body = self.health(timeout=0.5)
            return body if body is not None and body.get("ready") else None

        return self._wait(ready, timeout, poll_s)

    def wait_http(self, timeout: float = 30, poll_s: float = 0.1) -> None:
        """Until /health answers at all (200 ready, 503 not yet or degraded)."""

        def answered() -> bool | None:
            try:
                return self.get("/health", timeout=2).status_code in (200, 503)
            except httpx.HTTPError:
                return None

        self._wait(answered, timeout, poll_s)

    def _wait(self, probe: Callable[[], T | None], timeout: float, poll_s: float) -> T:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise DaemonError(f"daemon exited with {self.proc.returncode}:\n{self.log_tail()}")
            value = probe()
            if value:
                return value
            time.sleep(poll_s)
        raise DaemonError(f"daemon not ready within {timeout:g} s:\n{self.log_tail()}")

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM and the exit code; a daemon that does not exit in time is killed and
        ``subprocess.TimeoutExpired`` raised (a hung shutdown is a bug, not a result)."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log_text(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_text()[-chars:]
