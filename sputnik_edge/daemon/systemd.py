"""Dependency-free sd_notify client: READY/STATUS/STOPPING/WATCHDOG, a no-op outside systemd.

The protocol is one datagram of newline-separated ``KEY=value`` lines sent to the AF_UNIX socket named
in ``$NOTIFY_SOCKET`` (a path, or ``@name`` for the abstract namespace). See sd_notify(3).
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Mapping

import structlog

log = structlog.get_logger(__name__)

# A send must never stall the caller (the watchdog thread): systemd drains its socket promptly, so a
# full buffer for this long means systemd is wedged and the message is better dropped.
_SEND_TIMEOUT_S = 1.0


def _parse_address(raw: str | None) -> str | None:
    if not raw:
        return None
    if raw.startswith("@") and len(raw) > 1:
        return "\0" + raw[1:]
    if raw.startswith("/"):
        return raw
    # sd_notify(3) accepts only these two forms (vsock needs more than this client offers).
    log.warning("systemd_notify_socket_unsupported", notify_socket=raw)
    return None


class SystemdNotifier:
    """Talks to systemd's notification socket; every method is safe to call when not under systemd.

    Failures (socket gone, systemd restarting) are logged once and otherwise swallowed: losing a
    notification must never take the daemon down. Each message is sent with ``sendto`` rather than on a
    connected socket so that a systemd re-exec, which re-creates the socket, does not break us for good.
    Thread-safe: a datagram send is atomic and the only shared state is guarded by a lock.
    """

    def __init__(self, address: str | None = None, *, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self._address = _parse_address(address if address is not None else env.get("NOTIFY_SOCKET"))
        self._environ = env
        self._lock = threading.Lock()
        self._failure_logged = False
        self._sock: socket.socket | None = None
        if self._address is not None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.settimeout(_SEND_TIMEOUT_S)

    @property
    def enabled(self) -> bool:
        """True when a notification socket is configured (systemd may still be unreachable)."""
        return self._sock is not None

    def notify(self, msg: str) -> bool:
        """Send one raw notification (``"KEY=value"`` lines); returns True if it was delivered."""
        sock = self._sock
        if sock is None or self._address is None:
            return False
        try:
            sock.sendto(msg.encode("utf-8"), self._address)
        except OSError as exc:
            with self._lock:
                first, self._failure_logged = not self._failure_logged, True
            if first:
                log.warning(
                    "systemd.notify_failed",
                    notify_socket=self._address.replace("\0", "@"),
                    error=str(exc),
                    note="further failures are not logged",
                )
            return False
        return True

    def ready(self) -> bool:
        return self.notify("READY=1")

    def status(self, text: str) -> bool:
        # A newline would start a new assignment and let the text inject other keys.
        return self.notify("STATUS=" + " ".join(text.splitlines()))

    def stopping(self) -> bool:
        return self.notify("STOPPING=1")

    def watchdog_ping(self) -> bool:
        return self.notify("WATCHDOG=1")

    def extend_timeout(self, us: int) -> bool:
        """Ask for ``us`` more microseconds to finish starting or stopping."""
        if us <= 0:
            raise ValueError(f"extend_timeout needs a positive number of microseconds, got {us}")
        return self.notify(f"EXTEND_TIMEOUT_USEC={int(us)}")

    def watchdog_period(self) -> float | None:
        return watchdog_period(self._environ)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> SystemdNotifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def watchdog_period(environ: Mapping[str, str] | None = None, pid: int | None = None) -> float | None:
    """WatchdogSec= in seconds when systemd expects pings from this process, else None.

    ``WATCHDOG_PID`` names the process the watchdog is meant for; a child that inherited the variables
    must not believe it is the one being watched.
    """
    env = os.environ if environ is None else environ
    raw_usec = env.get("WATCHDOG_USEC")
    if not raw_usec:
        return None
    raw_pid = env.get("WATCHDOG_PID")
    try:
        usec = int(raw_usec)
        watched_pid = int(raw_pid) if raw_pid else None
    except ValueError:
        log.warning("systemd_watchdog_env_invalid", watchdog_usec=raw_usec, watchdog_pid=raw_pid)
        return None
    if watched_pid is not None and watched_pid != (os.getpid() if pid is None else pid):
        return None
    if usec <= 0:
        return None
    return usec / 1_000_000
