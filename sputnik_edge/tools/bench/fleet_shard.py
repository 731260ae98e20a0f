"""Shards of the simulated fleet: child processes, each with its own devices, scheduler and thread
pool, so that hundreds of devices' Python work is not capped by one interpreter lock (one process
tops out near one core; 500 devices on the default schedule need about that much).

The parent drives every shard through the same steps over a socket pair: spec -> ready ->
start (t0, window) -> stopped -> drain -> done. Children are started with ``python -c`` rather than
multiprocessing's spawn, which would re-run the parent's ``__main__`` (``python -m sputnik_edge``).
The monotonic clock is the system's, so one ``t0`` means the same instant in every process.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import structlog

from sputnik_edge.tools.bench.fleet_sim import DeviceSchedule, FleetDriver, Probe, make_device, recorded_ids

log = structlog.get_logger(__name__)

_CHILD = "from sputnik_edge.tools.bench.fleet_shard import child_main; child_main()"


@dataclass(frozen=True, slots=True, kw_only=True)
class ShardSpec:
    index: int
    first: int  # device numbers first .. first + count - 1
    count: int
    workdir: str
    url: str
    sched: DeviceSchedule
    model_id: str
    gallery_seq: int
    n_employees: int
    workers: int


@dataclass(frozen=True, slots=True)
class ShardStop:
    """A shard at the end of the window, before the drain."""

    backlog: int
    never_pushed: int  # devices with events and no successful push
    failing: int  # devices whose last_error is set
    cpu_s: float  # the shard's CPU over the measured window


@dataclass(frozen=True, slots=True)
class ShardDone:
    probe: dict[str, Any]
    recorded: set[str]
    drain_rounds: int
    drain_s: float


def device_name(i: int) -> str:
    return f"dev-{i:04d}"


def child_main() -> None:
    conn = Connection(int(sys.argv[1]))
    # Everything a library prints goes to stderr; the devices' own logs only from errors up.
    os.dup2(2, 1)
    from sputnik_edge.logging import configure_logging

    configure_logging("ERROR", "json")
    try:
        spec: ShardSpec = conn.recv()
        _serve(spec, conn)
    except BaseException:  # the parent reports it; a silent child would only time out
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


def _serve(spec: ShardSpec, conn: Connection) -> None:
    probe = Probe()
    workdir = Path(spec.workdir)
    with ThreadPoolExecutor(max_workers=spec.workers) as ex:
        devices = list(
            ex.map(
                lambda i: make_device(
                    workdir, device_name(i), spec.url, spec.sched, spec.model_id, probe, spec.gallery_seq
                ),
                range(spec.first, spec.first + spec.count),
            )
        )
    conn.send(("ready", None))
    _, (start, measure_from, end) = conn.recv()
    probe.start, probe.measure_from, probe.end = start, measure_from, end
    cpu_at: list[float] = []
    driver = FleetDriver(
        devices,
        spec.sched,
        probe,
        spec.n_employees,
        spec.workers,
        extra=[(measure_from - start, lambda: cpu_at.append(time.process_time()))],
    )
    try:
        driver.run(start)
        stop = ShardStop(
            backlog=sum(d.local.backlog() for d in devices),
            never_pushed=sum(1 for d in devices if d.sync.pushed_total == 0 and d.local.count_events()),
            failing=sum(1 for d in devices if d.sync.last_error),
            cpu_s=time.process_time() - (cpu_at[0] if cpu_at else 0.0),
        )
        conn.send(("stopped", stop))
        conn.recv()  # the parent has read the database's counters: drain now
        t0 = time.monotonic()
        rounds = driver.drain()
        drain_s = time.monotonic() - t0
        recorded: set[str] = set()
        for d in devices:
            recorded |= recorded_ids(d)
    finally:
        driver.close()
    conn.send(("done", ShardDone(probe.state(), recorded, rounds, drain_s)))


class Shards:
    """The parent's side: start the children, step them together, stop them whatever happens."""

    def __init__(self, specs: list[ShardSpec]) -> None:
        self.specs = specs
        self.procs: list[subprocess.Popen[bytes]] = []
        self.conns: list[Connection] = []

    def __enter__(self) -> Shards:
        import sputnik_edge

        env = dict(os.environ)
        root = str(Path(sputnik_edge.__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
        try:
            for spec in self.specs:
                ours, theirs = socket.socketpair()
                proc = subprocess.Popen(
                    [sys.executable, "-c", _CHILD, str(theirs.fileno())],
                    pass_fds=(theirs.fileno(),),
                    env=env,
                    stdout=subprocess.DEVNULL,
                )
                theirs.close()
                self.procs.append(proc)
                conn = Connection(ours.detach())
                self.conns.append(conn)
                conn.send(spec)
        except BaseException:
            self.__exit__()
            raise
        return self

    def send(self, message: Any) -> None:
        for conn in self.conns:
            conn.send(message)

    def expect(self, tag: str, timeout_s: float) -> list[Any]:
        """Each shard's next message, which must be ``tag``; a shard's error is raised here."""
        out = []
        deadline = time.monotonic() + timeout_s
        for spec, conn in zip(self.specs, self.conns, strict=True):
            if not conn.poll(max(0.0, deadline - time.monotonic())):
                raise RuntimeError(f"fleet shard {spec.index} sent no {tag!r} within {timeout_s:g} s")
            got, payload = conn.recv()
            if got == "error":
                raise RuntimeError(f"fleet shard {spec.index} failed:\n{payload}")
            if got != tag:
                raise RuntimeError(f"fleet shard {spec.index} sent {got!r}, expected {tag!r}")
            out.append(payload)
        return out

    def __exit__(self, *exc: object) -> None:
        for conn in self.conns:
            conn.close()
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                log.warning("fleet_shard_killed", pid=proc.pid)
                proc.kill()
                proc.wait(timeout=10)


def split(n: int, parts: int) -> list[tuple[int, int]]:
    """(first, count) of ``parts`` nearly equal slices of ``n`` devices (none empty)."""
    parts = max(1, min(parts, n))
    base, extra = divmod(n, parts)
    out, first = [], 0
    for i in range(parts):
        count = base + (1 if i < extra else 0)
        out.append((first, count))
        first += count
    return out
