"""Typed results of the ``fleet`` bench section (``sections.fleet`` of bench.json, and
docs/bench/fleet.json): one record per run of N simulated devices against one PostgreSQL.

Kept out of ``results`` so that module stays readable; ``results.Sections`` refers to it.
Times are milliseconds unless a key says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sputnik_edge.tools.bench.codec import OMIT
from sputnik_edge.tools.bench.stats import Stats

FLEET_MODES = ("direct", "pgbouncer")


@dataclass(frozen=True, slots=True, kw_only=True)
class FleetSchedule:
    """The device schedule the runs used (seconds after ``time_scale``, which compresses them)."""

    push_s: float
    pull_s: float
    heartbeat_s: float
    time_scale: float
    batch_size: int
    events_per_push_interval: list[int]  # [min, max] events each device records per push interval
    warmup_s: float
    window_s: float
    hr_change_every_s: float
    driver_processes: int  # device shards, each its own interpreter
    driver_workers: int  # threads per shard
    device_pool: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FleetServer:
    version: str
    max_connections: int
    superuser_reserved_connections: int
    connections_at_start: int  # the whole server, other users included
    # CONNECTION LIMIT on each scratch database: stands in for max_connections so that a run that
    # exhausts it does not lock the shared server's other users out (None: the server's limit only).
    database_connection_limit: int | None
    device_role: str  # devices log in as a non-superuser role, as in production


@dataclass(frozen=True, slots=True, kw_only=True)
class FleetDbLoad:
    """The scratch database during the measured window (pg_stat_database deltas, pg_stat_activity
    sampled every 0.5 s, CPU of the server's processes from /proc)."""

    xact_commit_per_s: float
    xact_rollback_per_s: float
    tup_inserted_per_s: float
    tup_updated_per_s: float
    tup_fetched_per_s: float
    busy_backends: float | None  # active_time delta / window: statements running on average
    deadlocks: int
    peak_connections: int
    mean_connections: float
    peak_active: int
    peak_lock_waits: int
    peak_advisory_lock_waits: int
    server_peak_connections: int
    postgres_cpu_s: float | None  # whole server (shared machine: other users' queries included)
    postgres_cpu_cores: float | None
    backend_cpu_cores: float | None  # the bench database's own backends only
    driver_cpu_cores: float  # this process: all simulated devices together
    pgbouncer_cpu_cores: float | None = field(default=None, metadata=OMIT)
    pgbouncer_peak_clients: int | None = field(default=None, metadata=OMIT)
    pgbouncer_peak_waiting: int | None = field(default=None, metadata=OMIT)
    pgbouncer_max_wait_ms: float | None = field(default=None, metadata=OMIT)


@dataclass(frozen=True, slots=True, kw_only=True)
class FleetDelivery:
    """Events recorded in the devices' outboxes against rows in ``attendance_events``, after the
    devices' final push (the drain) and at the end of the window."""

    recorded: int
    delivered: int
    lost: int  # recorded locally, not in attendance_events
    unexpected: int  # in attendance_events, never recorded
    duplicates: int  # rows sharing (device_id, device_seq)
    delivered_in_window: int
    backlog_at_stop: int
    drain_rounds: int
    drain_s: float
    latency: Stats  # captured_at -> received_at of events captured and delivered in the window

    @property
    def ok(self) -> bool:
        return self.recorded == self.delivered and not (self.lost or self.unexpected or self.duplicates)


@dataclass(frozen=True, slots=True, kw_only=True)
class FleetErrors:
    """Failures seen from the devices' side, warm-up and window (the drain not counted)."""

    count: dict[str, int]  # operation -> failed central calls
    first: dict[str, str]  # operation -> first message
    backoff_skips: dict[str, int]  # scheduled runs the device's own backoff turned into no-ops
    overlap_skips: int  # runs skipped because the previous one still ran (max_instances=1)
    devices_never_pushed: int  # devices with events and no successful push in the window
    devices_failing_at_stop: int  # devices whose last_error was set when the window ended


@dataclass(frozen=True, slots=True, kw_only=True)
class FleetCanary:
    """A few of the run's devices in a process of their own, lightly loaded: their times leave out
    the driver's contention (hundreds of devices share a few interpreters here, while on site each
    device is its own machine), so they are the closest to what one device sees."""

    devices: int
    push: Stats
    pull: Stats
    heartbeat: Stats
    lag: Stats


@dataclass(frozen=True, slots=True, kw_only=True)
class FleetRun:
    devices: int
    mode: str  # direct: devices connect to PostgreSQL; pgbouncer: through PgBouncer (transaction)
    setup_s: float
    seconds: float
    ops: dict[str, int]  # runs started in the window, per operation
    push: Stats  # push_once calls that sent a batch
    push_central: Stats  # their push_events transaction alone (connection checkout included)
    push_batch_mean: float  # events per push
    pull: Stats  # incremental pull_once (no or few changes)
    pull_changed: int  # incremental pulls that applied a change (the HR writer's)
    heartbeat: Stats
    record: Stats  # LocalStore.record_event, the durable local commit
    lag: Stats  # how late the driver started runs (its own saturation; 0 on real devices)
    schedule_kept: float  # of the runs due in the window, the share started before it ended
    canary: FleetCanary | None = field(default=None, metadata=OMIT)
    initial_pull_idle_ms: float | None
    initial_pull_loaded_ms: float | None
    initial_pull_central_ms: float | None  # the idle one's database transaction alone
    initial_pull_templates: int
    hr_enrol: Stats  # one employee + one template, two transactions on the gallery lock
    hr_changes: int
    delivery: FleetDelivery
    errors: FleetErrors
    db: FleetDbLoad


@dataclass(frozen=True, slots=True, kw_only=True)
class FleetResult:
    employees: int
    templates_per_employee: int
    model_id: str
    schedule: FleetSchedule
    server: FleetServer
    pgbouncer: str  # version and pool settings, or why its runs were skipped
    runs: dict[str, FleetRun]  # "<devices>_<mode>"
    skipped: dict[str, str]

    def by_mode(self, mode: str) -> list[FleetRun]:
        return sorted((r for r in self.runs.values() if r.mode == mode), key=lambda r: r.devices)
