"""``fleet``: N simulated devices (the real ``LocalStore`` and ``CentralSync``, one SQLite file and one
connection pool each) against one PostgreSQL seeded with a gallery; push, pull and heartbeat
latency, delivery (nothing lost, nothing duplicated) and database load per N.

Each run gets a fresh scratch database owned by a non-superuser device role, with a CONNECTION LIMIT
standing in for max_connections: the server is shared, and a run that exhausts the real limit would
lock everyone else out. ``direct`` runs connect the devices straight to PostgreSQL, as shipped;
``pgbouncer`` runs put a private PgBouncer (transaction pooling) in between, when it is installed.

Per run: warm-up of one push interval (connections open), then the measured window; a newcomer
device makes a full initial pull before the warm-up (idle database) and one in mid-window (under
load); an HR writer enrols one employee every few seconds so incremental pulls see a few changes.
After the window every device makes its final push (the drain) and the outboxes are compared with
``attendance_events``.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import structlog
from sqlalchemy import Engine

from sputnik_edge.central import CentralError, CentralStore
from sputnik_edge.config import CentralSection
from sputnik_edge.tools.bench.context import BenchContext, BenchError
from sputnik_edge.tools.bench.fleet_bouncer import pgbouncer, pgbouncer_binary, pgbouncer_version
from sputnik_edge.tools.bench.fleet_db import (
    ActivitySampler,
    admin_engine,
    central_events,
    db_counters,
    delivery_latency,
    device_role,
    fleet_database,
    postgres_cpu_s,
    process_cpu_s,
    seed_gallery,
    server_settings,
    wait_for_stats_flush,
)
from sputnik_edge.tools.bench.fleet_results import (
    FleetDbLoad,
    FleetDelivery,
    FleetErrors,
    FleetResult,
    FleetRun,
    FleetSchedule,
    FleetServer,
)
from sputnik_edge.tools.bench.fleet_sim import (
    DeviceSchedule,
    FleetDriver,
    Probe,
    make_device,
    quiet_device_logs,
    recorded_ids,
)
from sputnik_edge.tools.bench.stats import stats_ms

if TYPE_CHECKING:
    from sputnik_edge.config import Settings

log = structlog.get_logger(__name__)

_DEFAULTS = CentralSection()


@dataclass(frozen=True, slots=True, kw_only=True)
class FleetConfig:
    runs: tuple[tuple[int, str], ...]  # (devices, mode)
    employees: int
    window_s: float  # measured window, wall seconds
    time_scale: float = 1.0  # multiplies the device intervals, the warm-up and the HR cadence
    workers: int = 16  # driver threads for all devices (the machine has few cores)
    events_per_interval: tuple[int, int] = (1, 3)
    hr_every_s: float = 10.0
    connection_limit: int | None = 60
    bouncer_pool: int = 20
    push_s: float = _DEFAULTS.sync_interval_s
    pull_s: float = _DEFAULTS.gallery_interval_s
    heartbeat_s: float = _DEFAULTS.heartbeat_interval_s
    batch_size: int = _DEFAULTS.batch_size

    def schedule(self) -> DeviceSchedule:
        k = self.time_scale
        return DeviceSchedule(
            push_s=self.push_s * k,
            pull_s=self.pull_s * k,
            heartbeat_s=self.heartbeat_s * k,
            batch_size=self.batch_size,
            events_per_interval=self.events_per_interval,
        )


FULL = FleetConfig(
    runs=(
        (50, "direct"),
        (200, "direct"),
        (500, "direct"),
        (50, "pgbouncer"),
        (200, "pgbouncer"),
        (500, "pgbouncer"),
    ),
    employees=5000,
    window_s=60.0,
)
QUICK = FleetConfig(
    runs=((5, "direct"), (20, "direct"), (20, "pgbouncer")), employees=200, window_s=6.0, time_scale=0.25
)


def embedder_model_id(settings: Settings) -> str:
    """The model id the device's templates carry (from the models' MANIFEST, without loading them)."""
    from sputnik_edge.vision.models import ModelError, default_models_dir, load_manifest

    models_dir = Path(settings.recognition.models_dir or default_models_dir())
    try:
        return load_manifest(models_dir)["embedder"].model_id
    except (ModelError, KeyError) as exc:
        raise BenchError(f"no embedder model id: {exc}") from None


def bench_fleet(ctx: BenchContext) -> FleetResult:
    url = ctx.database_url or ctx.settings.central.database_url.get_secret_value()
    if not url:
        raise BenchError("skipped: no --database-url and no central.database_url configured")
    try:
        return run_fleet(url, QUICK if ctx.quick else FULL, embedder_model_id(ctx.settings))
    except CentralError as exc:
        raise BenchError(str(exc)) from None


def run_fleet(url: str, cfg: FleetConfig, model_id: str) -> FleetResult:
    admin = admin_engine(url)
    try:
        info = server_settings(admin)
        limit = cfg.connection_limit
        if limit is not None:  # never take what the server's other users have left
            free = info["max_connections"] - info["reserved"] - info["connections"]
            limit = max(5, min(limit, free - 10))
        binary = pgbouncer_binary()
        bouncer_text = (
            f"{pgbouncer_version(binary)}, pool_mode transaction, default_pool_size {cfg.bouncer_pool}"
            if binary
            else "not installed: its runs were skipped"
        )
        runs: dict[str, FleetRun] = {}
        skipped: dict[str, str] = {}
        with device_role(admin) as role:
            for devices, mode in cfg.runs:
                key = f"{devices}_{mode}"
                if mode == "pgbouncer" and binary is None:
                    skipped[key] = "pgbouncer not installed"
                    continue
                log.info("bench_fleet_run_start", run=key, connection_limit=limit)
                with quiet_device_logs():
                    runs[key] = _run(url, admin, role, cfg, devices, mode, binary, model_id, limit)
                _log_run(key, runs[key])
    finally:
        admin.dispose()
    sched = cfg.schedule()
    # A device's pool as CentralConnection builds it (the engine connects lazily: nothing opens).
    pool = CentralStore("postgresql://pool@127.0.0.1/probe").engine.pool
    pool_size = getattr(pool, "size", lambda: "?")()
    return FleetResult(
        employees=cfg.employees,
        templates_per_employee=1,
        model_id=model_id,
        schedule=FleetSchedule(
            push_s=sched.push_s,
            pull_s=sched.pull_s,
            heartbeat_s=sched.heartbeat_s,
            time_scale=cfg.time_scale,
            batch_size=cfg.batch_size,
            events_per_push_interval=list(cfg.events_per_interval),
            warmup_s=sched.push_s,
            window_s=cfg.window_s,
            hr_change_every_s=cfg.hr_every_s * cfg.time_scale,
            driver_workers=cfg.workers,
            device_pool=(
                f"one SQLAlchemy pool per device: pool_size {pool_size}, max_overflow "
                f"{getattr(pool, '_max_overflow', '?')}, pre-ping"
            ),
        ),
        server=FleetServer(
            version=info["version"],
            max_connections=info["max_connections"],
            superuser_reserved_connections=info["reserved"],
            connections_at_start=info["connections"],
            database_connection_limit=limit,
            device_role="LOGIN, NOSUPERUSER, owner of its scratch database",
        ),
        pgbouncer=bouncer_text,
        runs=runs,
        skipped=skipped,
    )


@dataclass
class _Window:
    """Snapshots at the start of the measured window, taken in its own thread right on time."""

    wall: datetime | None = None
    counters: dict[str, float] | None = None
    pg_cpu: float | None = None
    driver_cpu: float = 0.0
    bouncer_cpu: float | None = None


def _run(
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
        probe = Probe()
        with ThreadPoolExecutor(max_workers=cfg.workers) as ex:
            devices = list(
                ex.map(
                    lambda i: make_device(
                        workdir, f"dev-{i:04d}", device_url, sched, model_id, probe, gallery_seq
                    ),
                    range(n),
                )
            )
        idle_pull = _initial_pull(workdir, "new-idle", device_url, sched, model_id, probe)
        loaded_pull: list[tuple[float | None, int]] = []
        hr_times: list[float] = []
        window = _Window()
        sampler = stack.enter_context(ActivitySampler(admin, database, bouncer))

        def open_window() -> None:
            window.wall = datetime.now(UTC)
            window.counters = db_counters(admin, database)
            window.pg_cpu = postgres_cpu_s(role_url)
            window.driver_cpu = time.process_time()
            window.bouncer_cpu = process_cpu_s(bouncer.proc.pid) if bouncer else None
            sampler.measuring.set()

        extra = [
            (warmup, open_window),
            (warmup, lambda: _hr_writer(device_url, model_id, probe, hr_every, hr_times)),
            (
                warmup + cfg.window_s / 2,
                lambda: loaded_pull.append(
                    _initial_pull(workdir, "new-loaded", device_url, sched, model_id, probe)
                ),
            ),
        ]
        driver = FleetDriver(devices, sched, probe, cfg.employees, cfg.workers, extra)
        stack.callback(driver.close)
        t0 = time.monotonic() + 0.2
        probe.start, probe.measure_from, probe.end = t0, t0 + warmup, t0 + warmup + cfg.window_s
        setup_s = time.monotonic() - t_setup
        driver.run(t0)
        end_wall = datetime.now(UTC)
        sampler.measuring.clear()
        backlog_at_stop = sum(d.local.backlog() for d in devices)
        never = sum(1 for d in devices if d.sync.pushed_total == 0 and d.local.count_events())
        failing = sum(1 for d in devices if d.sync.last_error)
        wait_for_stats_flush()
        c1 = db_counters(admin, database)
        pg_cpu1, driver_cpu1 = postgres_cpu_s(role_url), time.process_time()
        bouncer_cpu1 = process_cpu_s(bouncer.proc.pid) if bouncer else None
        t_drain = time.monotonic()
        rounds = driver.drain()
        drain_s = time.monotonic() - t_drain
        recorded: set[str] = set()
        for d in devices:
            recorded |= recorded_ids(d)
        central = central_events(role_url)
        latency, in_window = delivery_latency(role_url, window.wall or end_wall, end_wall)
        db = _db_load(cfg.window_s, window, c1, pg_cpu1, driver_cpu1, bouncer_cpu1, sampler)
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
        lag=stats_ms(driver.lags),
        initial_pull_idle_ms=idle_pull[0],
        initial_pull_loaded_ms=loaded_pull[0][0] if loaded_pull else None,
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
            backlog_at_stop=backlog_at_stop,
            drain_rounds=rounds,
            drain_s=round(drain_s, 2),
            latency=latency,
        ),
        errors=FleetErrors(
            count=dict(probe.errors),
            first=dict(probe.first_error),
            backoff_skips={k: probe.counts[f"backoff_{k}"] for k in ("push", "pull")},
            overlap_skips=driver.overlap_skips,
            devices_never_pushed=never,
            devices_failing_at_stop=failing,
        ),
        db=db,
    )


def _rate(c0: dict[str, float], c1: dict[str, float], key: str, seconds: float) -> float:
    return round((c1.get(key, 0.0) - c0.get(key, 0.0)) / seconds, 1)


def _db_load(
    seconds: float,
    w: _Window,
    c1: dict[str, float],
    pg_cpu1: float | None,
    driver_cpu1: float,
    bouncer_cpu1: float | None,
    sampler: ActivitySampler,
) -> FleetDbLoad:
    c0 = w.counters or c1
    pg_cpu = None if pg_cpu1 is None or w.pg_cpu is None else round(pg_cpu1 - w.pg_cpu, 2)
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
        driver_cpu_cores=round((driver_cpu1 - w.driver_cpu) / seconds, 3),
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
) -> tuple[float | None, int]:
    """A new device's first pull of the whole gallery: (ms or None when it failed, templates)."""
    dev = make_device(workdir, device_id, url, sched, model_id, Probe(), 0)
    try:
        t0 = time.monotonic()
        dev.sync.pull_once(force=True)
        seconds = time.monotonic() - t0
        if dev.sync.last_pull_ok is None:
            probe.failed("initial_pull", probe.start, dev.sync.last_error or "failed")
            return None, 0
        return round(1000 * seconds, 1), dev.local.template_count(model_id)
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


def _log_run(key: str, r: FleetRun) -> None:
    log.info(
        "bench_fleet_run_done",
        run=key,
        push_p50_ms=r.push.median_ms,
        push_p99_ms=r.push.p99_ms,
        pull_p50_ms=r.pull.median_ms,
        pull_p99_ms=r.pull.p99_ms,
        errors=sum(r.errors.count.values()),
        recorded=r.delivery.recorded,
        delivered=r.delivery.delivered,
        peak_connections=r.db.peak_connections,
    )
