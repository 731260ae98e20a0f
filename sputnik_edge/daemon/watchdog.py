"""Liveness for systemd: parts report progress, the watchdog is pinged only while all of them do.

A hung part (a capture thread stuck in a read, a deadlocked pipeline) keeps the process alive but
useless; Python cannot kill one thread, so the fix is to stop pinging and let systemd restart us.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import structlog

from sputnik_edge.daemon.systemd import SystemdNotifier
from sputnik_edge.health import part_stalled

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class _Part:
    max_silence_s: float
    registered_at: float
    last_beat: float | None = None


class ProgressMonitor:
    """Registry of parts and their last progress beat. Thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._parts: dict[str, _Part] = {}
        self._cond = threading.Condition()

    def register(self, name: str, max_silence_s: float) -> None:
        """Watch ``name``: it is stalled once it goes ``max_silence_s`` without a beat.

        The window starts at registration, so a part that hangs while starting up also counts.
        """
        if max_silence_s <= 0:
            raise ValueError(f"part {name!r}: max_silence_s must be positive, got {max_silence_s}")
        with self._cond:
            if name in self._parts:
                raise ValueError(f"part {name!r} is already registered")
            self._parts[name] = _Part(max_silence_s=max_silence_s, registered_at=self._clock())

    def unregister(self, name: str) -> None:
        """Stop watching a part that finished on purpose (a missing name is ignored)."""
        with self._cond:
            self._parts.pop(name, None)
            self._cond.notify_all()

    def beat(self, name: str) -> None:
        """Record progress; cheap enough to call once per frame."""
        with self._cond:
            part = self._parts.get(name)
            if part is None:
                raise KeyError(f"beat from unregistered part {name!r}; call register() first")
            first = part.last_beat is None
            self._parts[name] = _Part(part.max_silence_s, part.registered_at, self._clock())
            if first:
                self._cond.notify_all()

    def healthy(self) -> tuple[bool, list[str]]:
        """(all parts progressing, sorted names of the stalled ones)."""
        now = self._clock()
        with self._cond:
            stalled = sorted(
                name
                for name, part in self._parts.items()
                if part_stalled(
                    now - (part.registered_at if part.last_beat is None else part.last_beat),
                    part.max_silence_s,
                )
            )
        return not stalled, stalled

    def pending(self, parts: Iterable[str] | None = None) -> list[str]:
        """Sorted names among ``parts`` (default: all registered) that have never beaten."""
        with self._cond:
            return self._pending_locked(parts)

    def wait_started(
        self,
        parts: Iterable[str] | None = None,
        *,
        stop_event: threading.Event,
        timeout_s: float | None = None,
    ) -> bool:
        """Block until every part in ``parts`` has beaten once; False on stop or timeout."""
        names = None if parts is None else list(parts)
        deadline = None if timeout_s is None else self._clock() + timeout_s
        with self._cond:
            while self._pending_locked(names):
                if stop_event.is_set():
                    return False
                remaining = None if deadline is None else deadline - self._clock()
                if remaining is not None and remaining <= 0:
                    return False
                # Short slices so a stop request is noticed even though it does not notify the condition.
                self._cond.wait(0.1 if remaining is None else min(0.1, remaining))
        return True

    def _pending_locked(self, parts: Iterable[str] | None) -> list[str]:
        names = self._parts.keys() if parts is None else parts
        unknown = [name for name in names if name not in self._parts]
        if unknown:
            raise KeyError(f"unregistered parts: {', '.join(sorted(unknown))}")
        return sorted(name for name in names if self._parts[name].last_beat is None)


def ready_when(
    notifier: SystemdNotifier,
    monitor: ProgressMonitor,
    stop_event: threading.Event,
    parts: Iterable[str] | None = None,
    timeout_s: float | None = None,
) -> bool:
    """Send READY=1 once every part in ``parts`` (default: all registered) has beaten once.

    Blocks; returns False without notifying when ``stop_event`` is set or ``timeout_s`` passes first, so
    systemd's TimeoutStartSec= catches a part that never comes up.
    """
    names = None if parts is None else list(parts)
    if not monitor.wait_started(names, stop_event=stop_event, timeout_s=timeout_s):
        log.warning("watchdog_not_ready", pending=monitor.pending(names), stopping=stop_event.is_set())
        return False
    notifier.notify("READY=1\nSTATUS=running")
    log.info("watchdog_ready")
    return True


class WatchdogThread(threading.Thread):
    """Pings systemd's watchdog every ``period_s / 2`` while the monitor is healthy.

    ``period_s`` is WatchdogSec= (see ``watchdog_period()``); half of it, as sd_watchdog_enabled(3)
    recommends, leaves room for one late tick. While any part is stalled no ping is sent and STATUS names
    the stalled parts, so ``systemctl status`` shows why the restart is coming.
    """

    def __init__(
        self,
        notifier: SystemdNotifier,
        monitor: ProgressMonitor,
        stop_event: threading.Event,
        period_s: float,
    ) -> None:
        if period_s <= 0:
            raise ValueError(f"watchdog period must be positive, got {period_s}")
        super().__init__(name="systemd-watchdog", daemon=True)
        self._notifier = notifier
        self._monitor = monitor
        self._stop_event = stop_event
        self._interval_s = period_s / 2

    def run(self) -> None:
        last_stalled: list[str] = []
        try:
            while True:
                ok, stalled = self._monitor.healthy()
                if ok and last_stalled:
                    log.info("watchdog_recovered", parts=last_stalled)
                    self._notifier.notify("WATCHDOG=1\nSTATUS=running")
                elif ok:
                    self._notifier.watchdog_ping()
                elif stalled != last_stalled:
                    log.warning("watchdog_stalled", parts=stalled)
                    self._notifier.status("stalled: " + ", ".join(stalled))
                last_stalled = stalled
                if self._stop_event.wait(self._interval_s):
                    return
        except Exception:
            # Dying here stops the pings, which is the safe outcome: systemd restarts the service.
            log.exception("watchdog_crashed")
