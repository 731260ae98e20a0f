"""One run of the ``fleet`` bench, the parent's side: a scratch database seeded with the gallery,
optionally a PgBouncer, the device shards (``fleet_shard``), the HR writer and the newcomer devices,
the database's counters around the measured window, then the drain and the delivery check.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine

from sputnik_edge.central import CentralError, CentralStore
from sputnik_edge.config import CentralSection
from sputnik_edge.tools.bench.fleet_bouncer import pgbouncer
from sputnik_edge.tools.bench.fleet_db import (
    ActivitySampler,
    backend_cpu_delta,
    backend_cpu_s,
    central_events,
    db_counters,
    delivery_latency,
    fleet_database,
    postgres_cpu_s,
    process_cpu_s,
    seed_gallery,
    wait_for_stats_flush,
)
from sputnik_edge.tools.bench.fleet_results import (
    FleetCanary,
    FleetDbLoad,
    FleetDelivery,
    FleetErrors,
    FleetRun,
)
from sputnik_edge.tools.bench.fleet_shard import ShardDone, Shards, ShardSpec, ShardStop, split
from sputnik_edge.tools.bench.fleet_sim import DeviceSchedule, Probe, make_device
from sputnik_edge.tools.bench.stats import stats_ms

_DEFAULTS = CentralSection()


@dataclass(frozen=True, slots=True, kw_only=True)
class FleetConfig:
    runs: tuple[tuple[int, str], ...]  # (devices, mode)
    employees: int
    window_s: float  # measured window, wall seconds
    time_scale: float = 1.0  # multiplies the device intervals, the warm-up and the HR cadence
    processes: int = 3  # device shards, each its own interpreter (one GIL caps a process near a core)
    workers: int = 8  # driver threads per shard
    canary: int = 20  # devices in a shard of their own (see FleetCanary)
    events_per_interval: tuple[int, int] = (1, 3)
    hr_every_s: float = 10.0
    connection_limit: int | None = 60
    bouncer_pool: int = 20
    push_s: float = _DEFAULTS.sync_interval_s
    pull_s: float = _DEFAULTS.gallery_interval_s
    heartbeat_s: float = _DEFAULTS.heartbeat_interval_s
    batch_size: int = _DEFAULTS.batch_size

    def canaries(self, n: int) -> int:
        """Devices of the canary shard: a tenth of the fleet, at most ``canary``; none below 20."""
        return min(self.canary, n // 10) if n >= 20 else 0

    def schedule(self) -> DeviceSchedule:
        k = self.time_scale
        return DeviceSchedule(
            push_s=self.push_s * k,
            pull_s=self.pull_s * k,
            heartbeat_s=self.heartbeat_s * k,
            batch_size=self.batch_size,
            events_per_interval=self.events_per_interval,
        )


@dataclass
class _Window:
    """Snapshots at the start of the measured window, taken in its own thread right on time."""

    wall: datetime | None = None
    counters: dict[str, float] | None = None
    pg_cpu: float | None = None
    backends: dict[int, float] | None = None
    bouncer_cpu: float | None = None


def _at(when: float, action: Callable[[], None]) -> threading.Thread:
    """Run ``action`` in a thread of its own at monotonic time ``when``."""

    def wait_then_run() -> None:
        time.sleep(max(0.0, when - time.monotonic()))
        action()

    t = threading.Thread(target=wait_then_run, name="fleet-timer", daemon=True)
    t.start()
    return t


def run_once(
    url: str,
    admin: Engine,
    role: str,
    cfg: FleetConfig,
    n: int,
    mode: str,
    binary: str | None,
    model_id: str,
    limit: int | None,
) -> FleetRun:
    t_setup = time.monotonic()
    sched = cfg.schedule()
    warmup, hr_every = sched.push_s, cfg.hr_every_s * cfg.time_scale
    with ExitStack() as stack:
        role_url = stack.enter_context(fleet_database(url, admin, role, limit))
        database = str(role_url.database)
        gallery_seq = seed_gallery(role_url, cfg.employees, model_id)
        bouncer = None
        if mode == "pgbouncer" and binary is not None:
            bouncer = stack.enter_context(
                pgbouncer(binary, role_url, pool_size=cfg.bouncer_pool, max_clients=8 * n + 100)
            )
        device_url = (bouncer.url if bouncer else role_url).render_as_string(hide_password=False)
        workdir = Path(tempfile.mkdtemp(prefix="sputnik-fleet-"))
        stack.callback(shutil.rmtree, workdir, True)
        canaries = cfg.canaries(n)
        slices = ([(0, canaries)] if canaries else []) + [
            (first + canaries, count) for first, count in split(n - canaries, cfg.processes)
        ]
        specs = [
            ShardSpec(
                index=k,
                first=first,
                count=count,
                workdir=str(workdir),
                url=device_url,
                sched=sched,
                model_id=model_id,
                gallery_seq=gallery_seq,
                n_employees=cfg.employees,
                workers=2 if canaries and k == 0 else cfg.workers,
            )
            for k, (first, count) in enumerate(slices)
        ]
        shards = stack.enter_context(Shards(specs))
        shards.expect("ready", timeout_s=600)
        probe = Probe()  # the parent's own actors: HR writer and newcomers
        idle_pull = _initial_pull(workdir, "new-idle", device_url, sched, model_id, probe)
        sampler = stack.enter_context(ActivitySampler(admin, database, bouncer))
        window = _Window()

        def open_window() -> None:
            window.wall = datetime.now(UTC)
            window.counters = db_counters(admin, database)
            window.pg_cpu = postgres_cpu_s(role_url)
            window.backends = backend_cpu_s(admin, database, role_url)
            window.bouncer_cpu = process_cpu_s(bouncer.proc.pid) if bouncer else None
            sampler.measuring.set()

        loaded_pull: list[tuple[float | None, int, float | None]] = []
        hr_times: list[float] = []
        t0 = time.monotonic() + 0.5
        probe.start, probe.measure_from, probe.end = t0, t0 + warmup, t0 + warmup + cfg.window_s
        setup_s = time.monotonic() - t_setup
        shards.send(("start", (probe.start, probe.measure_from, probe.end)))
        timers = [
            _at(probe.measure_from, open_window),
            _at(probe.measure_from, lambda: _hr_writer(device_url, model_id, probe, hr_every, hr_times)),
            _at(
                probe.measure_from + cfg.window_s / 2,
                lambda: loaded_pull.append(
                    _initial_pull(workdir, "new-loaded", device_url, sched, model_id, probe)
                ),
            ),
        ]
        stops: list[ShardStop] = shards.expect("stopped", timeout_s=probe.end - time.monotonic() + 600)
        end_wall = datetime.now(UTC)
        sampler.measuring.clear()
        for t in timers:
            t.join()
        wait_for_stats_flush()
        c1 = db_counters(admin, database)
        pg_cpu1 = postgres_cpu_s(role_url)
        backend_cpu = backend_cpu_delta(window.backends, backend_cpu_s(admin, database, role_url))
        bouncer_cpu1 = process_cpu_s(bouncer.proc.pid) if bouncer else None
        shards.send(("drain", None))
        dones: list[ShardDone] = shards.expect("done", timeout_s=900)
        recorded: set[str] = set()
        for done in dones:
            probe.merge(done.probe)
            recorded |= done.recorded
        canary = _canary(canaries, dones[0].probe) if canaries else None
        central = central_events(role_url)
        latency, in_window = delivery_latency(role_url, window.wall or end_wall, end_wall)
        driver_cpu = sum(s.cpu_s for s in stops)
        db = _db_load(cfg.window_s, window, c1, pg_cpu1, backend_cpu, driver_cpu, bouncer_cpu1, sampler)
    pushes = probe.get("push")
    return FleetRun(
        devices=n,
        mode=mode,
        setup_s=round(setup_s, 1),
        seconds=cfg.window_s,
        ops={k: probe.counts[k] for k in ("push", "pull", "heartbeat", "record")},
        push=stats_ms(pushes),
        push_central=stats_ms(probe.get("push_central")),
        push_batch_mean=round(probe.counts["push_events"] / len(pushes), 2) if pushes else 0.0,
        pull=stats_ms(probe.get("pull")),
        pull_changed=probe.counts["pull_changed"],
        heartbeat=stats_ms(probe.get("heartbeat")),
        record=stats_ms(probe.get("record")),
        lag=stats_ms(probe.get("lag")),
        schedule_kept=round(probe.counts["started"] / probe.counts["due"], 3) if probe.counts["due"] else 0.0,
        canary=canary,
        initial_pull_idle_ms=idle_pull[0],
        initial_pull_loaded_ms=loaded_pull[0][0] if loaded_pull else None,
        initial_pull_central_ms=idle_pull[2],
        initial_pull_templates=idle_pull[1],
        hr_enrol=stats_ms(hr_times),
        hr_changes=len(hr_times),
        delivery=FleetDelivery(
            recorded=len(recorded),
            delivered=len(central.ids & recorded),
            lost=len(recorded - central.ids),
            unexpected=len(central.ids - recorded),
            duplicates=central.duplicates,
            delivered_in_window=in_window,
            backlog_at_stop=sum(s.backlog for s in stops),
            drain_rounds=max(d.drain_rounds for d in dones),
            drain_s=round(max(d.drain_s for d in dones), 2),
            latency=latency,
        ),
        errors=FleetErrors(
            count=dict(probe.errors),
            first=probe.first_messages(),
            backoff_skips={k: probe.counts[f"backoff_{k}"] for k in ("push", "pull")},
            overlap_skips=probe.counts["overlap"],
            devices_never_pushed=sum(s.never_pushed for s in stops),
            devices_failing_at_stop=sum(s.failing for s in stops),
        ),
        db=db,
    )


def _canary(devices: int, state: dict[str, Any]) -> FleetCanary:
    samples = state["samples"]
    return FleetCanary(
        devices=devices,
        push=stats_ms(samples.get("push", [])),
        pull=stats_ms(samples.get("pull", [])),
        heartbeat=stats_ms(samples.get("heartbeat", [])),
        lag=stats_ms(samples.get("lag", [])),
    )


def _rate(c0: dict[str, float], c1: dict[str, float], key: str, seconds: float) -> float:
    return round((c1.get(key, 0.0) - c0.get(key, 0.0)) / seconds, 1)


def _db_load(
    seconds: float,
    w: _Window,
    c1: dict[str, float],
    pg_cpu1: float | None,
    backend_cpu: float | None,
    driver_cpu_s: float,
    bouncer_cpu1: float | None,
    sampler: ActivitySampler,
) -> FleetDbLoad:
    c0 = w.counters or c1
    pg_cpu = None if pg_cpu1 is None or w.pg_cpu is None else round(pg_cpu1 - w.pg_cpu, 2)
    if pg_cpu is not None and pg_cpu < 0:  # a process left between the readings, not yet reaped
        pg_cpu = None
    p = sampler.peaks
    active = c1.get("active_time_ms")
    out = FleetDbLoad(
        xact_commit_per_s=_rate(c0, c1, "xact_commit", seconds),
        xact_rollback_per_s=_rate(c0, c1, "xact_rollback", seconds),
        tup_inserted_per_s=_rate(c0, c1, "tup_inserted", seconds),
        tup_updated_per_s=_rate(c0, c1, "tup_updated", seconds),
        tup_fetched_per_s=_rate(c0, c1, "tup_fetched", seconds),
        busy_backends=None if active is None else round((active - c0["active_time_ms"]) / 1000 / seconds, 3),
        deadlocks=int(c1["deadlocks"] - c0["deadlocks"]),
        peak_connections=p.connections,
        mean_connections=p.mean_connections(),
        peak_active=p.active,
        peak_lock_waits=p.lock_waits,
        peak_advisory_lock_waits=p.advisory_waits,
        server_peak_connections=p.server_connections,
        postgres_cpu_s=pg_cpu,
        postgres_cpu_cores=None if pg_cpu is None else round(pg_cpu / seconds, 3),
        backend_cpu_cores=None if backend_cpu is None else round(backend_cpu / seconds, 3),
        driver_cpu_cores=round(driver_cpu_s / seconds, 3),
    )
    if bouncer_cpu1 is not None and w.bouncer_cpu is not None:
        out = replace(
            out,
            pgbouncer_cpu_cores=round((bouncer_cpu1 - w.bouncer_cpu) / seconds, 3),
            pgbouncer_peak_clients=p.bouncer_clients,
            pgbouncer_peak_waiting=p.bouncer_waiting,
            pgbouncer_max_wait_ms=None if p.bouncer_max_wait_ms is None else round(p.bouncer_max_wait_ms, 1),
        )
    return out


def _initial_pull(
    workdir: Path, device_id: str, url: str, sched: DeviceSchedule, model_id: str, probe: Probe
) -> tuple[float | None, int, float | None]:
    """A new device's first pull of the whole gallery: ms (None when it failed), templates, and
    the ms of its database transaction alone (the rest is the device writing them to SQLite)."""
    own = Probe()  # its window is open: it times everything
    dev = make_device(workdir, device_id, url, sched, model_id, own, 0)
    try:
        t0 = time.monotonic()
        dev.sync.pull_once(force=True)
        seconds = time.monotonic() - t0
        if dev.sync.last_pull_ok is None:
            probe.failed("initial_pull", probe.start, dev.sync.last_error or "failed")
            return None, 0, None
        central = own.get("pull_central")
        return (
            round(1000 * seconds, 1),
            dev.local.template_count(model_id),
            round(1000 * central[0], 1) if central else None,
        )
    finally:
        dev.close_central()
        dev.local.close()


def _hr_writer(url: str, model_id: str, probe: Probe, every_s: float, times: list[float]) -> None:
    """The office enrolling people while the fleet runs: one employee and one template each time
    (both writes take the gallery advisory lock), so devices' incremental pulls carry changes."""
    rng = np.random.default_rng(1)
    k = 0
    with CentralStore(url) as store:
        while time.monotonic() + every_s < probe.end:
            time.sleep(every_s)
            k += 1
            vec = rng.standard_normal(128).astype("<f4")
            vec /= np.linalg.norm(vec)
            t0 = time.monotonic()
            try:
                store.upsert_employee(f"hire-{k:04d}", f"New Hire {k}", "bench")
                store.add_templates(f"hire-{k:04d}", model_id, vec[None], [0.9])
            except CentralError as exc:
                probe.failed("hr", t0, exc)
                continue
            times.append(time.monotonic() - t0)
