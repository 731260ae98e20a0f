"""ProgressMonitor, WatchdogThread and ready_when against a real notification socket and real threads."""

from __future__ import annotations

import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sputnik_edge.daemon.systemd import SystemdNotifier
from sputnik_edge.daemon.watchdog import ProgressMonitor, WatchdogThread, ready_when

PERIOD_S = 0.1  # WatchdogSec: pings every 50 ms
MAX_SILENCE_S = 0.5


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Systemd:
    """The receiving end of $NOTIFY_SOCKET."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def recv(self, timeout: float = 2.0) -> str | None:
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(4096).decode()
        except TimeoutError:
            return None

    def wait_for(self, predicate_text: str, timeout: float = 3.0) -> tuple[str, list[str]]:
        """Read until a datagram contains ``predicate_text``; returns it and everything read before."""
        deadline = time.monotonic() + timeout
        before: list[str] = []
        while (remaining := deadline - time.monotonic()) > 0:
            msg = self.recv(remaining)
            if msg is None:
                break
            if predicate_text in msg:
                return msg, before
            before.append(msg)
        raise AssertionError(f"no {predicate_text!r} within {timeout}s; got {before}")

    def collect(self, duration: float) -> list[str]:
        deadline = time.monotonic() + duration
        got = []
        while (remaining := deadline - time.monotonic()) > 0:
            msg = self.recv(remaining)
            if msg is not None:
                got.append(msg)
        return got


@pytest.fixture
def systemd(tmp_path: Path) -> Iterator[tuple[Systemd, SystemdNotifier]]:
    short_dir = None
    path = tmp_path / "notify.sock"
    if len(str(path)) > 100:  # sun_path limit
        short_dir = tempfile.mkdtemp(prefix="sdn")
        path = Path(short_dir) / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    notifier = SystemdNotifier(environ={"NOTIFY_SOCKET": str(path)})
    try:
        yield Systemd(sock), notifier
    finally:
        notifier.close()
        sock.close()
        if short_dir:
            shutil.rmtree(short_dir, ignore_errors=True)


class Part(threading.Thread):
    """A pipeline-like worker that beats while it runs; clearing ``gate`` hangs it on an Event."""

    def __init__(self, name: str, monitor: ProgressMonitor, stop: threading.Event) -> None:
        super().__init__(name=name, daemon=True)
        self.part = name
        self.monitor = monitor
        self.stop = stop
        self.gate = threading.Event()
        self.gate.set()

    def run(self) -> None:
        while not self.stop.is_set():
            self.gate.wait()  # a hung read / deadlock: the thread lives but makes no progress
            self.monitor.beat(self.part)
            self.stop.wait(0.01)


@pytest.fixture
def stop() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


# --- ProgressMonitor ---------------------------------------------------------------------------------


def test_part_is_stalled_after_max_silence_without_beat() -> None:
    clock = FakeClock()
    monitor = ProgressMonitor(clock=clock)
    monitor.register("capture", 1.0)
    monitor.register("pipeline", 5.0)
    assert monitor.healthy() == (True, [])

    clock.now += 2.0  # capture never beat within its window
    monitor.beat("pipeline")
    assert monitor.healthy() == (False, ["capture"])

    monitor.beat("capture")
    assert monitor.healthy() == (True, [])

    clock.now += 5.5
    assert monitor.healthy() == (False, ["capture", "pipeline"])


def test_unregistered_part_stops_counting() -> None:
    clock = FakeClock()
    monitor = ProgressMonitor(clock=clock)
    monitor.register("camera-2", 1.0)
    clock.now += 2.0
    assert monitor.healthy() == (False, ["camera-2"])
    monitor.unregister("camera-2")
    assert monitor.healthy() == (True, [])


def test_pending_lists_parts_that_never_beat() -> None:
    monitor = ProgressMonitor()
    monitor.register("a", 1.0)
    monitor.register("b", 1.0)
    assert monitor.pending() == ["a", "b"]
    monitor.beat("b")
    assert monitor.pending() == ["a"]
    assert monitor.pending(["b"]) == []


def test_misuse_is_a_clear_error() -> None:
    monitor = ProgressMonitor()
    monitor.register("a", 1.0)
    with pytest.raises(KeyError, match="unregistered part 'b'"):
        monitor.beat("b")
    with pytest.raises(ValueError, match="already registered"):
        monitor.register("a", 1.0)
    with pytest.raises(ValueError, match="positive"):
        monitor.register("c", 0)
    with pytest.raises(KeyError, match="unregistered parts: zz"):
        monitor.pending(["a", "zz"])


def test_beats_from_many_threads_are_all_recorded() -> None:
    monitor = ProgressMonitor()
    names = [f"p{i}" for i in range(8)]
    for name in names:
        monitor.register(name, 10.0)

    def hammer(name: str) -> None:
        for _ in range(500):
            monitor.beat(name)

    threads = [threading.Thread(target=hammer, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert monitor.pending() == []
    assert monitor.healthy() == (True, [])


# --- WatchdogThread ----------------------------------------------------------------------------------


def test_pings_stop_while_a_part_hangs_and_resume_after(
    systemd: tuple[Systemd, SystemdNotifier], stop: threading.Event
) -> None:
    sd, notifier = systemd
    monitor = ProgressMonitor()
    capture, pipeline = Part("capture", monitor, stop), Part("pipeline", monitor, stop)
    for part in (capture, pipeline):
        monitor.register(part.part, MAX_SILENCE_S)
        part.start()
    watchdog = WatchdogThread(notifier, monitor, stop, PERIOD_S)
    watchdog.start()

    healthy = sd.collect(4 * PERIOD_S)
    assert healthy.count("WATCHDOG=1") >= 3
    assert all(msg == "WATCHDOG=1" for msg in healthy)

    pipeline.gate.clear()
    hung_at = time.monotonic()
    status, before = sd.wait_for("STATUS=", timeout=MAX_SILENCE_S + PERIOD_S + 2.0)
    assert status == "STATUS=stalled: pipeline"  # names only the hung part
    assert set(before) <= {"WATCHDOG=1"}
    # Correctness bound, not speed: the stall must be noticed within max silence + one period
    # (plus scheduling slack), i.e. well before systemd's own WatchdogSec would expire.
    assert time.monotonic() - hung_at < MAX_SILENCE_S + PERIOD_S + 1.0

    # Well over one WatchdogSec without a single ping: systemd would now kill and restart us.
    assert sd.collect(3 * PERIOD_S) == []
    assert pipeline.is_alive()  # the thread is hung, not dead: only the watchdog can catch this

    pipeline.gate.set()
    status, before = sd.wait_for("STATUS=running", timeout=2.0)
    assert before == []
    assert status.splitlines() == ["WATCHDOG=1", "STATUS=running"]  # one datagram with the first ping
    resumed = sd.collect(3 * PERIOD_S)
    assert resumed.count("WATCHDOG=1") >= 2

    stop.set()
    watchdog.join(timeout=2.0)
    assert not watchdog.is_alive()


def test_status_follows_the_set_of_stalled_parts(
    systemd: tuple[Systemd, SystemdNotifier], stop: threading.Event
) -> None:
    sd, notifier = systemd
    monitor = ProgressMonitor()
    parts = [Part(name, monitor, stop) for name in ("capture", "outbox", "pipeline")]
    for part in parts:
        monitor.register(part.part, MAX_SILENCE_S)
        part.start()
    WatchdogThread(notifier, monitor, stop, PERIOD_S).start()
    sd.wait_for("WATCHDOG=1")

    parts[2].gate.clear()
    assert sd.wait_for("STATUS=")[0] == "STATUS=stalled: pipeline"
    parts[0].gate.clear()
    assert sd.wait_for("STATUS=")[0] == "STATUS=stalled: capture, pipeline"
    # An unchanged stall is reported once, not on every tick.
    assert sd.collect(3 * PERIOD_S) == []


def test_watchdog_thread_stops_on_the_shared_event(stop: threading.Event) -> None:
    monitor = ProgressMonitor()
    monitor.register("a", 1.0)
    # Outside systemd the notifier is a no-op; the thread must still run and stop cleanly.
    watchdog = WatchdogThread(SystemdNotifier(environ={}), monitor, stop, period_s=60.0)
    watchdog.start()
    stop.set()
    watchdog.join(timeout=2.0)
    assert not watchdog.is_alive()


def test_watchdog_rejects_non_positive_period() -> None:
    with pytest.raises(ValueError, match="positive"):
        WatchdogThread(SystemdNotifier(environ={}), ProgressMonitor(), threading.Event(), 0)


# --- ready_when --------------------------------------------------------------------------------------


def test_ready_only_after_every_part_has_beaten(
    systemd: tuple[Systemd, SystemdNotifier], stop: threading.Event
) -> None:
    sd, notifier = systemd
    monitor = ProgressMonitor()
    for name in ("capture", "pipeline", "api"):
        monitor.register(name, 10.0)
    result: list[bool] = []
    waiter = threading.Thread(target=lambda: result.append(ready_when(notifier, monitor, stop)))
    waiter.start()

    assert sd.recv(timeout=0.3) is None
    monitor.beat("capture")
    monitor.beat("pipeline")
    assert sd.recv(timeout=0.3) is None  # "api" is still starting
    assert waiter.is_alive()

    monitor.beat("api")
    msg = sd.recv()
    assert msg is not None
    assert "READY=1" in msg.splitlines()
    waiter.join(timeout=2.0)
    assert result == [True]


def test_ready_for_a_subset_of_parts(systemd: tuple[Systemd, SystemdNotifier], stop: threading.Event) -> None:
    sd, notifier = systemd
    monitor = ProgressMonitor()
    monitor.register("capture", 10.0)
    monitor.register("sync", 10.0)  # optional: must not hold back READY
    monitor.beat("capture")
    assert ready_when(notifier, monitor, stop, parts=["capture"])
    msg = sd.recv()
    assert msg is not None
    assert "READY=1" in msg.splitlines()


def test_no_ready_when_stopping_or_timed_out(
    systemd: tuple[Systemd, SystemdNotifier], stop: threading.Event
) -> None:
    sd, notifier = systemd
    monitor = ProgressMonitor()
    monitor.register("capture", 10.0)

    assert ready_when(notifier, monitor, stop, timeout_s=0.2) is False

    result: list[bool] = []
    waiter = threading.Thread(target=lambda: result.append(ready_when(notifier, monitor, stop)))
    waiter.start()
    stop.set()
    waiter.join(timeout=2.0)
    assert not waiter.is_alive()
    assert result == [False]
    assert sd.recv(timeout=0.2) is None
