"""The ``fleet`` section in words: its Markdown (a table per device count and a capacity paragraph
computed from the runs) and its console lines.

    python scripts/bench_report.py docs/bench/fleet.json --fleet-md docs/bench/fleet.md

renders the section alone from a ``sputnik-edge bench --only fleet --out DIR`` result.
"""

from __future__ import annotations

from sputnik_edge.tools.bench.fleet_results import FLEET_MODES, FleetResult, FleetRun
from sputnik_edge.tools.bench.formatting import MISSING, ms_cells, num
from sputnik_edge.tools.bench.results import BenchResult
from sputnik_edge.tools.bench.stats import Stats

P50_P99 = ("median_ms", "p99_ms")
MODE_LABEL = {"direct": "direct to PostgreSQL", "pgbouncer": "through PgBouncer"}


def _t(stats: Stats, nd: int = 1) -> str:
    """``p50 / p99 (n)`` of a distribution, ``-`` without samples."""
    return f"{ms_cells(stats, P50_P99, nd=nd)} (n={stats.n})" if stats.n else MISSING


def cores(v: float | None) -> str:
    # Whole-server CPU of a file written before negative deltas were dropped: not a measurement.
    return num(v, 2) if v is None or v >= 0 else MISSING


def short_error(message: str) -> str:
    """The part of a connection error that says what happened (after the URL and the address)."""
    at = message.find("FATAL:")
    return (message[at:] if at >= 0 else message)[:160]


def _errors(r: FleetRun) -> str:
    e = r.errors
    if not e.count:
        return "none"
    counts = ", ".join(f"{op} {n:,}" for op, n in sorted(e.count.items(), key=lambda kv: -kv[1]))
    op, first = next(iter(e.first.items()))
    return f"{counts}; first ({op}): `{short_error(first)}`"


def _rows(r: FleetRun) -> list[tuple[str, str]]:
    d, db, e = r.delivery, r.db, r.errors
    rows = [
        ("push_once that sent a batch, p50 / p99 ms", f"{_t(r.push)}; {r.push_batch_mean} events each"),
        ("  its central transaction, p50 / p99 ms", _t(r.push_central)),
        ("incremental pull, p50 / p99 ms", f"{_t(r.pull)}; {r.pull_changed} applied a change"),
        ("heartbeat, p50 / p99 ms", _t(r.heartbeat)),
        (
            "full initial pull, idle / under load ms",
            f"{num(r.initial_pull_idle_ms)} / {num(r.initial_pull_loaded_ms)} "
            f"({r.initial_pull_templates:,} templates; the database's part "
            f"{num(r.initial_pull_central_ms)} ms)",
        ),
        ("HR enrolment (gallery lock), p50 / p99 ms", _t(r.hr_enrol)),
        ("event recorded -> in attendance_events, p50 / p99 ms", _t(d.latency, 0)),
        (
            "events recorded / delivered / lost / duplicated",
            f"{d.recorded:,} / {d.delivered:,} / {d.lost} / {d.duplicates}"
            + ("" if d.ok else " **MISMATCH**"),
        ),
        (
            "delivered in the window / backlog at stop / drain",
            f"{d.delivered_in_window:,} / {d.backlog_at_stop:,} / {d.drain_rounds} round(s), {d.drain_s} s",
        ),
        ("errors", _errors(r)),
        (
            "devices that never pushed / failing at stop / backoff no-ops (push, pull)",
            f"{e.devices_never_pushed} / {e.devices_failing_at_stop} / "
            f"{e.backoff_skips.get('push', 0):,}, {e.backoff_skips.get('pull', 0):,}",
        ),
        (
            "PostgreSQL commits/s, rows inserted/s, fetched/s",
            f"{db.xact_commit_per_s:,} / {db.tup_inserted_per_s:,} / {db.tup_fetched_per_s:,}",
        ),
        (
            "connections to the database: peak / mean (server peak)",
            f"{db.peak_connections} / {db.mean_connections} ({db.server_peak_connections})",
        ),
        (
            "busy backends (mean) / peak active / peak lock waits (advisory)",
            f"{num(db.busy_backends, 3)} / {db.peak_active} / "
            f"{db.peak_lock_waits} ({db.peak_advisory_lock_waits})",
        ),
        (
            "CPU cores: this database's backends / whole server / all simulated devices",
            f"{cores(db.backend_cpu_cores)} / {cores(db.postgres_cpu_cores)} / {num(db.driver_cpu_cores, 2)}",
        ),
    ]
    if db.pgbouncer_cpu_cores is not None:
        rows.append(
            (
                "PgBouncer: CPU cores / peak clients / peak waiting / longest wait ms",
                f"{num(db.pgbouncer_cpu_cores, 2)} / {num(db.pgbouncer_peak_clients)} / "
                f"{num(db.pgbouncer_peak_waiting)} / {num(db.pgbouncer_max_wait_ms)}",
            )
        )
    if r.canary is not None:
        c = r.canary
        rows.append(
            (
                "canary devices (own process): push / pull / heartbeat p50 / p99 ms",
                f"{c.devices} devices: {_t(c.push)}; {_t(c.pull)}; {_t(c.heartbeat)}",
            )
        )
    rows.append(
        (
            "driver lag (late starts) p50 / p99 ms; schedule kept",
            f"{_t(r.lag)}; {100 * r.schedule_kept:.0f} %",
        )
    )
    return rows


def _table(runs: list[FleetRun]) -> str:
    header = ["", *(MODE_LABEL.get(r.mode, r.mode) for r in runs)]
    cells = [dict(_rows(r)) for r in runs]
    labels = list(dict.fromkeys(label for c in cells for label in c))  # PgBouncer rows only there
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    for label in labels:
        lines.append("| " + " | ".join([label, *(c.get(label, MISSING) for c in cells)]) + " |")
    return "\n".join(lines)


def capacity(f: FleetResult) -> list[str]:
    """Sentences read off the runs: what fitted, what broke first, what the fix measured."""
    out: list[str] = []
    s = f.server
    usable = s.max_connections - s.superuser_reserved_connections
    limit = s.database_connection_limit or usable
    direct = f.by_mode("direct")
    clean = [r for r in direct if not r.errors.count]
    if clean:
        big = clean[-1]
        per_device = big.db.peak_connections / big.devices
        out.append(
            f"Direct connections: {big.devices} devices ran clean with a peak of "
            f"{big.db.peak_connections} connections ({per_device:.2f} per device, the HR writer and the "
            f"newcomer included: each device keeps its own pool open); at max_connections "
            f"{s.max_connections} ({usable} usable) that is about {int(usable / per_device)} devices, "
            "fewer whatever the office server and tools hold."
        )
    broken = [r for r in direct if r.errors.count]
    if broken:
        r = broken[0]
        e = r.errors
        first = e.first.get("push") or next(iter(e.first.values()))
        out.append(
            f"The first limit hit is connections: at {r.devices} devices against a limit of {limit}, "
            f"{e.devices_never_pushed} devices never delivered an event in the window "
            f"(`{short_error(first)}`), {e.backoff_skips.get('push', 0):,} of their scheduled pushes "
            f"were backoff no-ops and {r.delivery.backlog_at_stop:,} events waited in outboxes at the "
            "stop. The devices that got in kept their connections, so the others, the HR writer "
            f"({e.count.get('hr', 0)} failed enrolments) and a new device's first pull stayed out "
            f"until the drain freed them; nothing was lost ({r.delivery.delivered:,} of "
            f"{r.delivery.recorded:,} delivered after it)."
        )
    bounced = f.by_mode("pgbouncer")
    if bounced:
        r = bounced[-1]
        push = r.canary.push if r.canary is not None else r.push
        out.append(
            f"Through PgBouncer (transaction pooling) {r.devices} devices shared "
            f"{r.db.peak_connections} server connections: push p50 / p99 {num(push.median_ms)} / "
            f"{num(push.p99_ms)} ms{' (canary devices)' if r.canary is not None else ''}, "
            f"{'no errors' if not r.errors.count else _errors(r)}; the database's backends used "
            f"{num(r.db.backend_cpu_cores, 2)} cores, PgBouncer {num(r.db.pgbouncer_cpu_cores, 2)}."
        )
    for r in sorted(f.runs.values(), key=lambda r: (r.devices, r.mode)):
        if r.lag.median_ms is not None and r.lag.median_ms > 1000:
            out.append(
                f"At {r.devices} devices ({r.mode}) the simulation itself saturated this machine: the "
                f"driver started runs {num(r.lag.median_ms / 1000, 1)} s late (p50) while the devices' "
                f"own sync work took {num(r.db.driver_cpu_cores, 2)} cores, so latencies there are the "
                "shared machine's CPU, not PostgreSQL's limit."
            )
            break
    worst = max(f.runs.values(), key=lambda r: (r.devices, not r.errors.count), default=None)
    if worst is not None:
        out.append(
            f"CPU and locks: at {worst.devices} devices ({worst.mode}) the database's backends used "
            f"{num(worst.db.backend_cpu_cores, 2)} cores, statements ran on "
            f"{num(worst.db.busy_backends, 3)} backends on average, and the peak of lock waits was "
            f"{worst.db.peak_lock_waits} (on the gallery advisory lock: "
            f"{worst.db.peak_advisory_lock_waits}; only enrolment takes it, "
            "device pushes and pulls never do)."
        )
    return out


def md_fleet(f: FleetResult) -> str:
    sc, s = f.schedule, f.server
    lo, hi = sc.events_per_push_interval
    scale = "real time" if sc.time_scale == 1 else f"time compressed x{1 / sc.time_scale:g}"
    limit = (
        f"each scratch database had CONNECTION LIMIT {s.database_connection_limit}, standing in for "
        "max_connections so that the runs that exhaust it do not lock the shared server's other users out"
        if s.database_connection_limit is not None
        else "the server's own limit applied"
    )
    parts = [
        "Every simulated device is the real `LocalStore` (its own SQLite file) and `CentralSync` (its own "
        f"`CentralStore`, {sc.device_pool}), scheduled like the daemon ({scale}): push every "
        f"{sc.push_s:g} s, gallery pull every {sc.pull_s:g} s, heartbeat every {sc.heartbeat_s:g} s, "
        f"first runs spread over one interval; each records {lo}-{hi} events per push interval "
        "(the 9:00 arrival burst). "
        f"{f.employees:,} employees with {f.templates_per_employee} template each of `{f.model_id}`; an HR "
        f"writer enrols one more every {sc.hr_change_every_s:g} s. Warm-up {sc.warmup_s:g} s, then "
        f"{sc.window_s:g} s measured per run; the devices run in {sc.driver_processes} processes of "
        f"{sc.driver_workers} threads each. "
        f"PostgreSQL {s.version}, max_connections {s.max_connections} "
        f"({s.superuser_reserved_connections} reserved); devices log in as a non-superuser role and {limit}. "
        f"PgBouncer: {f.pgbouncer}.",
        "",
    ]
    for n in sorted({r.devices for r in f.runs.values()}):
        runs = sorted((r for r in f.runs.values() if r.devices == n), key=lambda r: FLEET_MODES.index(r.mode))
        parts += [f"### {n} devices", "", _table(runs), ""]
    if f.skipped:
        parts += ["Not run: " + "; ".join(f"`{k}` ({v})" for k, v in f.skipped.items()) + ".", ""]
    parts += ["**Capacity.** " + " ".join(capacity(f)), ""]
    parts.append(
        "The driver's CPU is all devices' sync work on one machine (on site it is spread over the "
        "devices); its lag shows whether the driver itself kept the schedule. The database's backends' "
        "CPU is read from /proc for the backends connected to the bench database (PgBouncer's server "
        "connections in its runs); the whole server's includes other users of this shared machine and "
        "the backends forked only to be refused. pg_stat_database counts about three "
        "transactions per device operation (the pool's pre-ping among them)."
    )
    return "\n".join(parts)


def console_fleet(f: FleetResult) -> list[str]:
    lines = ["\nfleet (simulated devices against one PostgreSQL): p50 / p99 ms"]
    for key, r in f.runs.items():
        d = r.delivery
        lines.append(
            f"  {key:<14} push {ms_cells(r.push, P50_P99, sep='/')}, "
            f"pull {ms_cells(r.pull, P50_P99, sep='/')}, "
            f"heartbeat {ms_cells(r.heartbeat, P50_P99, sep='/')}; events {d.recorded}/{d.delivered} "
            f"{'ok' if d.ok else 'MISMATCH'}; errors {sum(r.errors.count.values())}; "
            f"peak conns {r.db.peak_connections}; db CPU {cores(r.db.backend_cpu_cores)}"
        )
    for key, why in f.skipped.items():
        lines.append(f"  {key:<14} skipped: {why}")
    return lines


def fleet_markdown(result: BenchResult, source: str) -> str:
    """docs/bench/fleet.md: the section alone, with the run it came from."""
    fleet = result.sections.fleet
    if fleet is None:
        raise ValueError("the result has no fleet section")
    m = result.machine
    return (
        "## Fleet: simulated devices against one PostgreSQL\n\n"
        f"Generated by `scripts/bench_report.py {source} --fleet-md ...` (`{result.command}` at "
        f"{result.generated_at}; machine: {m.cpu_model}, {m.logical_cores} cores, shared, load average "
        f"{m.loadavg_start} at start and {m.loadavg_end} at end). Reproduce (about 10 minutes; the "
        "database user needs CREATEDB and CREATEROLE, the PgBouncer runs need `pgbouncer` on PATH):\n\n"
        "```sh\nsputnik-edge bench --only fleet --database-url=URL --out DIR\n"
        f"python scripts/bench_report.py DIR/bench.json --fleet-md {source.replace('.json', '.md')}\n```\n\n"
        + md_fleet(fleet)
        + "\n"
    )
