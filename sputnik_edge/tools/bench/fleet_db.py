"""The PostgreSQL side of the ``fleet`` bench: a non-superuser device role, scratch databases
seeded with a gallery, and what the server did meanwhile (statistics views, sampled peaks, the
CPU of its processes).

Admin work and sampling go through the server's maintenance database as the URL's (super)user, so
they never count against the scratch database's connection limit.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import structlog
from sqlalchemy import URL, Connection, Engine, create_engine, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from sputnik_edge.central import upgrade
from sputnik_edge.central.errors import normalise_url
from sputnik_edge.central.schema import attendance_events, employees, face_templates
from sputnik_edge.tools.bench.stats import Stats, stats_ms
from sputnik_edge.tools.scratch_db import MAINTENANCE_DB, scratch_database, unique_name

log = structlog.get_logger(__name__)

SCRATCH_PREFIX = "sputnik_fleet"
_COUNTERS = ("xact_commit", "xact_rollback", "tup_inserted", "tup_updated", "tup_fetched", "deadlocks")
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", ""})


def admin_engine(url: str) -> Engine:
    return create_engine(
        normalise_url(url).set(database=MAINTENANCE_DB), poolclass=NullPool, isolation_level="AUTOCOMMIT"
    )


def server_settings(admin: Engine) -> dict[str, Any]:
    with admin.connect() as conn:
        return {
            "version": str(conn.execute(text("SHOW server_version")).scalar_one()),
            "max_connections": int(conn.execute(text("SHOW max_connections")).scalar_one()),
            "reserved": int(conn.execute(text("SHOW superuser_reserved_connections")).scalar_one()),
            "connections": int(
                conn.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")
                ).scalar_one()
            ),
        }


@contextmanager
def device_role(admin: Engine) -> Iterator[str]:
    """A LOGIN role without superuser rights (trust auth: no password), dropped after. Devices use
    one like it in production; it is also what makes a database CONNECTION LIMIT apply to them."""
    name = unique_name("sputnik_fleet_dev")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{name}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE'))
    try:
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP ROLE IF EXISTS "{name}"'))


@contextmanager
def fleet_database(url: str, admin: Engine, role: str, connection_limit: int | None) -> Iterator[URL]:
    """A migrated scratch database owned by ``role``; yields the role's URL for it."""
    with scratch_database(url, SCRATCH_PREFIX) as db_url:
        parsed = normalise_url(db_url)
        name = parsed.database
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" OWNER TO "{role}"'))
            if connection_limit is not None:
                conn.execute(text(f'ALTER DATABASE "{name}" CONNECTION LIMIT {int(connection_limit)}'))
        role_url = parsed.set(username=role, password=None)
        upgrade(role_url.render_as_string(hide_password=False))
        yield role_url


def seed_gallery(url: URL, n_employees: int, model_id: str, seed: int = 0) -> int:
    """``n_employees`` employees with one random unit template each; returns the gallery's
    change_seq (devices that hold this gallery pull from there)."""
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n_employees, 128)).astype("<f4")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(
                employees.insert(),
                [{"employee_id": employee_id(i), "full_name": f"Employee {i}"} for i in range(n_employees)],
            )
            conn.execute(
                face_templates.insert(),
                [
                    {
                        "template_id": str(uuid.uuid4()),
                        "employee_id": employee_id(i),
                        "model_id": model_id,
                        "embedding": vectors[i].tobytes(),
                        "quality": 0.9,
                    }
                    for i in range(n_employees)
                ],
            )
        with engine.connect() as conn:
            return int(
                conn.execute(
                    text(
                        "SELECT greatest((SELECT max(change_seq) FROM employees), "
                        "(SELECT max(change_seq) FROM face_templates))"
                    )
                ).scalar_one()
            )
    finally:
        engine.dispose()


def employee_id(i: int) -> str:
    return f"emp-{i:05d}"


def db_counters(admin: Engine, database: str) -> dict[str, float]:
    """pg_stat_database's counters of one database (active_time only where the server has it)."""
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_stat_clear_snapshot()"))
        row = conn.execute(
            text("SELECT to_jsonb(d) FROM pg_stat_database d WHERE datname = :db"), {"db": database}
        ).scalar_one()
    out = {k: float(row.get(k) or 0) for k in _COUNTERS}
    if row.get("active_time") is not None:
        out["active_time_ms"] = float(row["active_time"])
    return out


def postgres_cpu_s(url: URL) -> float | None:
    """CPU seconds of the server's processes, reaped backends included (the postmaster's children
    times); None when the server is not on this machine or /proc cannot be read."""
    if (url.host or "") not in _LOCAL_HOSTS:
        return None
    try:
        import psutil
    except ImportError:
        return None
    total = 0.0
    found = False
    for proc in psutil.process_iter(["name", "ppid"]):
        try:
            if proc.info["name"] != "postgres":
                continue
            times = proc.cpu_times()
            total += times.user + times.system
            found = True
            parent = psutil.Process(proc.info["ppid"]) if proc.info["ppid"] else None
            if parent is None or parent.name() != "postgres":  # the postmaster
                total += times.children_user + times.children_system
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return total if found else None


def backend_cpu_s(admin: Engine, database: str, url: URL) -> dict[int, float] | None:
    """CPU seconds so far of each backend connected to ``database`` (pid -> seconds): the share of
    the server's CPU that is this database's, other users of a shared server left out."""
    if (url.host or "") not in _LOCAL_HOSTS:
        return None
    with admin.connect() as conn:
        pids = conn.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = :db"), {"db": database}
        ).scalars()
        found = {int(pid): process_cpu_s(int(pid)) for pid in pids}
    return {pid: cpu for pid, cpu in found.items() if cpu is not None}


def backend_cpu_delta(before: dict[int, float] | None, after: dict[int, float] | None) -> float | None:
    """CPU the backends used between two ``backend_cpu_s`` readings; a backend born in between
    counts whole, one that left in between is missed (pooled backends live through a run)."""
    if before is None or after is None:
        return None
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def process_cpu_s(pid: int) -> float | None:
    try:
        import psutil

        t = psutil.Process(pid).cpu_times()
        return float(t.user + t.system)
    except Exception:  # psutil missing, or the process is gone: not measured
        return None


@dataclass
class ActivityPeaks:
    connections: int = 0
    active: int = 0
    lock_waits: int = 0
    advisory_waits: int = 0
    server_connections: int = 0
    samples: list[int] = field(default_factory=list)
    bouncer_clients: int | None = None
    bouncer_waiting: int | None = None
    bouncer_max_wait_ms: float | None = None

    def mean_connections(self) -> float:
        return round(sum(self.samples) / len(self.samples), 1) if self.samples else 0.0


_ACTIVITY = text(
    "SELECT count(*) FILTER (WHERE datname = :db), "
    "count(*) FILTER (WHERE datname = :db AND state = 'active'), "
    "count(*) FILTER (WHERE datname = :db AND wait_event_type = 'Lock'), "
    "count(*) "
    "FROM pg_stat_activity WHERE backend_type = 'client backend'"
)
_ADVISORY_WAITS = text(
    "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
    "WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = :db"
)


class ActivitySampler:
    """Samples pg_stat_activity and pg_locks (and PgBouncer's pools) every ``every_s`` in a thread;
    the peaks count only while ``measuring`` is set."""

    def __init__(self, admin: Engine, database: str, bouncer: Any = None, every_s: float = 0.5) -> None:
        self.admin, self.database, self.bouncer, self.every_s = admin, database, bouncer, every_s
        self.peaks = ActivityPeaks()
        self.measuring = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fleet-sampler", daemon=True)

    def __enter__(self) -> ActivitySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        with self.admin.connect() as conn:
            while not self._stop.wait(self.every_s):
                if not self.measuring.is_set():
                    continue
                try:
                    self._sample(conn)
                except Exception as exc:  # a missed sample must not end the run
                    log.warning("fleet_sample_failed", error=str(exc))

    def _sample(self, conn: Any) -> None:
        p = self.peaks
        conns, active, locks, total = conn.execute(_ACTIVITY, {"db": self.database}).one()
        advisory = int(conn.execute(_ADVISORY_WAITS, {"db": self.database}).scalar_one())
        p.samples.append(int(conns))
        p.connections = max(p.connections, int(conns))
        p.active = max(p.active, int(active))
        p.lock_waits = max(p.lock_waits, int(locks))
        p.advisory_waits = max(p.advisory_waits, advisory)
        p.server_connections = max(p.server_connections, int(total))
        if self.bouncer is not None:
            pools = self.bouncer.pools()
            if pools is not None:
                clients, waiting, wait_ms = pools
                p.bouncer_clients = max(p.bouncer_clients or 0, clients)
                p.bouncer_waiting = max(p.bouncer_waiting or 0, waiting)
                p.bouncer_max_wait_ms = max(p.bouncer_max_wait_ms or 0.0, wait_ms)


@dataclass(frozen=True, slots=True)
class CentralEvents:
    ids: set[str]
    rows: int
    duplicates: int  # rows sharing (device_id, device_seq)


def connect_retrying(engine: Engine, attempts: int = 20) -> Connection:
    """A connection right after the fleet closed its pools: their backends leave the server a
    moment after the sockets close, and until then the database may still be at its limit."""
    for attempt in range(attempts):
        try:
            return engine.connect()
        except OperationalError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5)
    raise AssertionError("unreachable")


def central_events(url: URL) -> CentralEvents:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with connect_retrying(engine) as conn:
            ids = {str(r) for r in conn.execute(select(attendance_events.c.event_id)).scalars()}
            rows, pairs = conn.execute(
                text("SELECT count(*), count(DISTINCT (device_id, device_seq)) FROM attendance_events")
            ).one()
    finally:
        engine.dispose()
    return CentralEvents(ids=ids, rows=int(rows), duplicates=int(rows) - int(pairs))


def delivery_latency(url: URL, since: datetime, until: datetime) -> tuple[Stats, int]:
    """captured_at -> received_at of the events captured in [since, until) and delivered by
    ``until`` (one machine, one clock); also how many rows were there at ``until``."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with connect_retrying(engine) as conn:
            lat = conn.execute(
                text(
                    "SELECT extract(epoch FROM received_at - captured_at) FROM attendance_events "
                    "WHERE captured_at >= :since AND captured_at < :until AND received_at < :until"
                ),
                {"since": since, "until": until},
            ).scalars()
            samples = [float(v) for v in lat]
            delivered = conn.execute(
                text("SELECT count(*) FROM attendance_events WHERE received_at < :until"), {"until": until}
            ).scalar_one()
    finally:
        engine.dispose()
    return stats_ms(samples), int(delivered)


def wait_for_stats_flush(seconds: float = 1.2) -> None:
    # Backends publish their statistics at most once a second (PostgreSQL 15); without this pause
    # the last second of the window would be missing from the deltas.
    time.sleep(seconds)
