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

The devices run in a few child processes (``fleet_shard``): one interpreter cannot carry hundreds of
devices' Python work on schedule. A handful of "canary" devices get a process of their own, so their
times show what one device sees without the simulation's own contention. Where the machine still
cannot keep the schedule, the run says so (``lag``, ``schedule_kept``) rather than hiding it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from sputnik_edge.central import CentralError, CentralStore
from sputnik_edge.tools.bench.context import BenchContext, BenchError
from sputnik_edge.tools.bench.fleet_bouncer import pgbouncer_binary, pgbouncer_version
from sputnik_edge.tools.bench.fleet_db import admin_engine, device_role, server_settings
from sputnik_edge.tools.bench.fleet_results import FleetResult, FleetRun, FleetSchedule, FleetServer
from sputnik_edge.tools.bench.fleet_run import FleetConfig, run_once
from sputnik_edge.tools.bench.fleet_sim import quiet_device_logs

if TYPE_CHECKING:
    from sputnik_edge.config import Settings

__all__ = ["FULL", "QUICK", "FleetConfig", "bench_fleet", "embedder_model_id", "run_fleet"]

log = structlog.get_logger(__name__)


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
# Quick: the intervals compressed 4x (push every 1.25 s) so a few seconds see every operation.
QUICK = FleetConfig(
    runs=((5, "direct"), (20, "direct"), (20, "pgbouncer")),
    employees=200,
    window_s=5.0,
    time_scale=0.25,
    processes=1,
    workers=4,
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
                try:
                    with quiet_device_logs():
                        runs[key] = run_once(url, admin, role, cfg, devices, mode, binary, model_id, limit)
                except Exception as exc:  # one broken run must not cost the others their numbers
                    skipped[key] = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
                    log.exception("bench_fleet_run_failed", run=key)
                    continue
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
            driver_processes=cfg.processes,
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
