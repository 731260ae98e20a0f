"""Simulated devices for the ``fleet`` bench: the real ``LocalStore`` and ``CentralSync`` per device,
driven on the device schedule by one scheduler thread and a bounded worker pool.

A device here is exactly what the daemon builds (its own SQLite file, its own ``CentralStore`` with
its own connection pool, its own backoff), minus the camera: events are recorded at a fixed rate.
The scheduler plays APScheduler's part: fixed-rate interval jobs, one running instance per job
(a run due while the previous one still runs is skipped), first runs spread over one interval as
devices booted at different times would be.
"""

from __future__ import annotations

import heapq
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from pydantic import SecretStr
from sqlalchemy import select

from sputnik_edge.attendance.types import AttendanceEvent, EventKind, new_event_id
from sputnik_edge.central import CentralError, CentralStore, DeviceHeartbeat, GalleryDelta
from sputnik_edge.central.sync import GALLERY_SEQ_KEY, CentralSync
from sputnik_edge.config import CentralSection, DeviceSection, Settings, StorageSection
from sputnik_edge.metrics import Metrics
from sputnik_edge.store.event_faces import EventFace
from sputnik_edge.store.local import LocalStore
from sputnik_edge.store.tables import events as local_events
from sputnik_edge.tools.bench.fleet_db import employee_id

log = structlog.get_logger(__name__)

PERIODIC = ("push", "pull", "heartbeat")
# A morning arrival burst: mostly check-ins, some passes and faces the gallery does not know.
KINDS: tuple[EventKind, ...] = ("check_in", "check_out", "pass", "unknown", "low_confidence")
KIND_WEIGHTS = (0.8, 0.05, 0.08, 0.05, 0.02)


@contextmanager
def quiet_device_logs() -> Iterator[None]:
    """Hundreds of devices logging like daemons (gallery_pulled, sync_push_failed, ...) would bury
    the bench's own output; the probe counts their failures and keeps the first message."""
    loggers = [logging.getLogger(name) for name in ("sputnik_edge.central", "sputnik_edge.store")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


class Probe:
    """Thread-safe collection of timings and failures, tagged by operation. Timings count only when
    the run started inside the measured window; failures count from the schedule's start."""

    def __init__(self) -> None:
        self.start = self.measure_from = 0.0
        self.end = float("inf")
        self._lock = threading.Lock()
        self.samples: dict[str, list[float]] = {}
        self.errors: Counter[str] = Counter()
        self.first_error: dict[str, tuple[float, str]] = {}  # op -> (when, message)
        self.counts: Counter[str] = Counter()

    def in_window(self, started: float) -> bool:
        return self.measure_from <= started < self.end

    def sample(self, key: str, started: float, seconds: float) -> None:
        if self.in_window(started):
            with self._lock:
                self.samples.setdefault(key, []).append(seconds)

    def count(self, key: str, started: float, n: int = 1) -> None:
        if self.in_window(started):
            with self._lock:
                self.counts[key] += n

    def failed(self, op: str, started: float, error: BaseException | str) -> None:
        if self.start <= started < self.end:
            with self._lock:
                self.errors[op] += 1
                self.first_error.setdefault(op, (started, str(error)))

    def get(self, key: str) -> list[float]:
        return self.samples.get(key, [])

    def state(self) -> dict[str, Any]:
        """Everything collected, as plain values (a shard sends it to the parent)."""
        with self._lock:
            return {
                "samples": {k: list(v) for k, v in self.samples.items()},
                "errors": dict(self.errors),
                "first_error": dict(self.first_error),
                "counts": dict(self.counts),
            }

    def merge(self, state: dict[str, Any]) -> None:
        with self._lock:
            for k, v in state["samples"].items():
                self.samples.setdefault(k, []).extend(v)
            self.errors.update(state["errors"])
            self.counts.update(state["counts"])
            for op, (at, msg) in state["first_error"].items():
                if op not in self.first_error or at < self.first_error[op][0]:
                    self.first_error[op] = (at, msg)

    def first_messages(self) -> dict[str, str]:
        return {op: msg for op, (_, msg) in sorted(self.first_error.items(), key=lambda e: e[1][0])}


class TimedCentralStore(CentralStore):
    """The real central store, timing the three calls a device makes (the transaction, with the
    connection checkout) and counting their failures before the sync code handles them."""

    def __init__(self, url: str, probe: Probe, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self._probe = probe

    def _timed(self, op: str, call: Callable[[], Any]) -> Any:
        t0 = time.monotonic()
        try:
            out = call()
        except CentralError as exc:
            self._probe.failed(op, t0, exc)
            raise
        self._probe.sample(f"{op}_central", t0, time.monotonic() - t0)
        return out

    def push_events(self, events: Sequence[AttendanceEvent], faces: Sequence[EventFace] = ()) -> int:
        return int(self._timed("push", lambda: super(TimedCentralStore, self).push_events(events, faces)))

    def pull_gallery(self, model_id: str, since_seq: int) -> GalleryDelta:
        delta: GalleryDelta = self._timed(
            "pull", lambda: super(TimedCentralStore, self).pull_gallery(model_id, since_seq)
        )
        return delta

    def heartbeat(self, status: DeviceHeartbeat) -> float:
        return float(self._timed("heartbeat", lambda: super(TimedCentralStore, self).heartbeat(status)))


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceSchedule:
    push_s: float
    pull_s: float
    heartbeat_s: float
    batch_size: int
    events_per_interval: tuple[int, int]

    def interval(self, op: str) -> float:
        return {"push": self.push_s, "pull": self.pull_s, "heartbeat": self.heartbeat_s}[op]


@dataclass
class SimDevice:
    device_id: str
    local: LocalStore
    sync: CentralSync
    rng: random.Random
    running: set[str] = field(default_factory=set)
    closed: bool = False

    def close_central(self) -> None:
        if not self.closed:
            self.sync.close()  # returns the pool's connections: what a stopped daemon does
            self.closed = True


def device_settings(workdir: Path, device_id: str, url: str, sched: DeviceSchedule) -> Settings:
    return Settings(
        device=DeviceSection(id=device_id),
        storage=StorageSection(
            database=workdir / f"{device_id}.db", snapshots_dir=workdir / f"{device_id}-snaps"
        ),
        central=CentralSection(
            database_url=SecretStr(url),
            sync_interval_s=sched.push_s,
            gallery_interval_s=sched.pull_s,
            heartbeat_interval_s=sched.heartbeat_s,
            batch_size=sched.batch_size,
        ),
    )


def make_device(
    workdir: Path,
    device_id: str,
    url: str,
    sched: DeviceSchedule,
    model_id: str,
    probe: Probe,
    gallery_seq: int,
) -> SimDevice:
    """One device as the daemon builds it. ``gallery_seq``: the device already holds the gallery up
    to there (it pulls only what changes); 0 makes it pull everything."""
    settings = device_settings(workdir, device_id, url, sched)
    local = LocalStore(settings.storage.database, device_id=device_id)
    if gallery_seq:
        local.set_state(GALLERY_SEQ_KEY, str(gallery_seq))
    central = TimedCentralStore(url, probe, connect_timeout_s=settings.central.connect_timeout_s)
    sync = CentralSync(settings, local, model_id, Metrics(), central=central)
    return SimDevice(device_id, local, sync, random.Random(device_id))


def recorded_ids(device: SimDevice) -> set[str]:
    with device.local.engine.connect() as conn:
        return {str(r) for r in conn.execute(select(local_events.c.event_id)).scalars()}


class FleetDriver:
    """Runs ``devices`` on the schedule from ``t0`` until ``probe.end`` with ``workers`` threads."""

    def __init__(
        self,
        devices: list[SimDevice],
        sched: DeviceSchedule,
        probe: Probe,
        n_employees: int,
        workers: int,
        extra: list[tuple[float, Callable[[], None]]] | None = None,
    ) -> None:
        self.devices = devices
        self.sched = sched
        self.probe = probe
        self.n_employees = n_employees
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fleet")
        self.extra = sorted(extra or [], key=lambda e: e[0])  # (offset s, action) run in own threads
        self._futures: list[Future[None]] = []
        self._threads: list[threading.Thread] = []

    def _plan(self, t0: float, end: float) -> list[tuple[float, int, int, str]]:
        heap: list[tuple[float, int, int, str]] = []
        n = 0
        lo, hi = self.sched.events_per_interval
        for i, dev in enumerate(self.devices):
            for op in PERIODIC:
                heap.append((t0 + dev.rng.uniform(0, self.sched.interval(op)), n, i, op))
                n += 1
            window = t0
            while window < end:
                for _ in range(dev.rng.randint(lo, hi)):
                    at = window + dev.rng.uniform(0, self.sched.push_s)
                    if at < end:
                        heap.append((at, n, i, "record"))
                        n += 1
                window += self.sched.push_s
        heapq.heapify(heap)
        return heap

    def run(self, t0: float) -> None:
        probe = self.probe
        heap = self._plan(t0, probe.end)
        seq = len(heap)
        extra = list(self.extra)
        while heap:
            due, _, i, op = heap[0]
            now = time.monotonic()
            while extra and t0 + extra[0][0] <= now:
                self._spawn(extra.pop(0)[1])
            if due >= probe.end:
                break
            if due > now:
                time.sleep(min(due - now, 0.02))
                continue
            heapq.heappop(heap)
            probe.count("due", due)
            dev = self.devices[i]
            if op in PERIODIC:
                heapq.heappush(heap, (due + self.sched.interval(op), seq, i, op))
                seq += 1
                if op in dev.running:
                    probe.count("overlap", due)
                    continue
                dev.running.add(op)
            self._futures.append(self.pool.submit(self._run_op, dev, op, due))
        remaining = probe.end - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)
        for fut in self._futures:
            fut.result()
        for t in self._threads:
            t.join()

    def _spawn(self, action: Callable[[], None]) -> None:
        t = threading.Thread(target=action, name="fleet-extra", daemon=True)
        t.start()
        self._threads.append(t)

    def _run_op(self, dev: SimDevice, op: str, due: float) -> None:
        started = time.monotonic()
        self.probe.sample("lag", due, started - due)
        if started < self.probe.end:  # due in the window and started in it: the schedule kept
            self.probe.count("started", due)
        try:
            getattr(self, f"_{op}")(dev, started)
        except Exception as exc:  # the device code handles central failures; this is anything else
            self.probe.failed(f"device_{op}", started, exc)
        finally:
            dev.running.discard(op)

    def _record(self, dev: SimDevice, started: float) -> None:
        kind = dev.rng.choices(KINDS, KIND_WEIGHTS)[0]
        known = kind not in ("unknown", "low_confidence")
        ev = AttendanceEvent(
            event_id=new_event_id(),
            device_id=dev.device_id,
            camera_id="entrance",
            kind=kind,
            employee_id=employee_id(dev.rng.randrange(self.n_employees)) if known else None,
            name=None,
            similarity=round(dev.rng.uniform(0.45, 0.9), 3),
            captured_at=datetime.now(UTC),
            details={"frames": 3, "track_id": dev.rng.randrange(1 << 30)},
        )
        dev.local.record_event(ev)
        self.probe.sample("record", started, time.monotonic() - started)
        self.probe.count("record", started)

    def _push(self, dev: SimDevice, started: float) -> None:
        if not dev.sync.push_backoff.ready():  # the daemon's scheduler calls it anyway: a no-op
            self.probe.count("backoff_push", started)
        before = dev.sync.pushed_total
        dev.sync.push_once()
        sent = dev.sync.pushed_total - before
        self.probe.count("push", started)
        if sent:
            self.probe.sample("push", started, time.monotonic() - started)
            self.probe.count("push_events", started, sent)

    def _pull(self, dev: SimDevice, started: float) -> None:
        if not dev.sync.pull_backoff.ready():  # as for push: the scheduled call returns at once
            self.probe.count("backoff_pull", started)
            dev.sync.pull_once()
            return
        before = dev.sync.last_pull_ok
        changed = dev.sync.pull_once()
        self.probe.count("pull", started)
        if dev.sync.last_pull_ok != before:  # set only by a pull that reached the database
            self.probe.sample("pull", started, time.monotonic() - started)
        if changed:
            self.probe.count("pull_changed", started)

    def _heartbeat(self, dev: SimDevice, started: float) -> None:
        offset = dev.sync.heartbeat_once()
        self.probe.count("heartbeat", started)
        if offset is not None:
            self.probe.sample("heartbeat", started, time.monotonic() - started)

    def drain(self, max_rounds: int = 20) -> int:
        """The devices' last push (as at daemon shutdown), repeated while some still hold events.
        A device that is done closes its pool at once, so one that could not connect gets in."""

        def final_push(d: SimDevice) -> None:
            d.sync.push_once(force=True)
            if not d.local.backlog():
                d.close_central()

        for round_no in range(1, max_rounds + 1):
            waiting = [d for d in self.devices if d.local.backlog()]
            for d in self.devices:
                if d not in waiting:
                    d.close_central()
            if not waiting:
                return round_no - 1
            if round_no > 1:
                time.sleep(0.5)  # closed connections' backends take a moment to leave the server
            list(self.pool.map(final_push, waiting))
        return max_rounds

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        for d in self.devices:
            d.close_central()
            d.local.close()
