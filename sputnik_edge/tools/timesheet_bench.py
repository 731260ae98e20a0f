"""Attendance read paths of the office server at fleet size: timesheet, event pages, daily view.

``bench_timesheet(url)`` creates a scratch database on ``url``'s server (``tools.scratch_db``),
migrates it, fills it with a synthetic office and times the
``AttendanceService`` calls the HTTP app makes; the database is dropped afterwards.

The office: ``employees`` people in 10 departments (nine day departments, one night shift 22:00-06:00
that crosses midnight, a few personal schedules, 3% inactive), ``days`` days from Monday 2024-03-04
in Europe/Berlin, so the default month crosses the spring DST change. Per person and workday (5%
absent): a check-in near the shift start, a lunch out/in on most days, a check-out near the end.
The rest of ``events`` are re-entries (check-in/check-out, 40%), passes (25%), unknown faces (25%)
and low-confidence sightings (10%), 90% inside working hours and 10% at any hour. HR corrections:
voids and added check-outs, a few hundred of each at full size, through the service.

Timings are wall-clock ``perf_counter`` on a possibly shared machine (p99 of a handful of runs is
close to the maximum), with the client's own CPU time beside them, which load disturbs less.
Run: ``python -m sputnik_edge.tools.timesheet_bench [--quick]``.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import Engine, create_engine, func, select, text

from sputnik_edge.central.migrate import upgrade
from sputnik_edge.central.schema import attendance_events, employees
from sputnik_edge.logging import configure_logging
from sputnik_edge.office.attendance.cursor import encode_cursor
from sputnik_edge.office.attendance.events import EventFilters
from sputnik_edge.office.attendance.service import AttendanceService
from sputnik_edge.tools.scratch_db import scratch_database

log = structlog.get_logger(__name__)

DEFAULT_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
OFFICE_TZ = "Europe/Berlin"
FIRST_DAY = date(2024, 3, 4)  # a Monday; 30 days reach past the 2024-03-31 DST change
DEPARTMENTS = 10
NIGHT_DEPARTMENT = "dept-09"
QUICK = {"employees": 20, "days": 7, "events": 3000}
_COPY_BATCH = 100_000
_COPY_COLUMNS = (
    "event_id, device_id, camera_id, employee_id, kind, similarity, captured_at, device_seq, received_at"
)
_DAY_SHIFT = ["09:00", "18:00"]
_NIGHT_SHIFT = ["22:00", "06:00"]


@dataclass(frozen=True, slots=True)
class _Person:
    employee_id: str
    department: str
    start_h: float  # local shift start, hours after midnight
    hours: float  # shift length


def _people(n: int, rng: random.Random) -> list[_Person]:
    people = []
    for i in range(n):
        department = f"dept-{i % DEPARTMENTS:02d}"
        if department == NIGHT_DEPARTMENT:
            people.append(_Person(f"emp-{i:05d}", department, 22.0, 8.0))
        elif i % 50 == 7:  # personal schedule, see _fill_schedules
            people.append(_Person(f"emp-{i:05d}", department, 10.0, 9.0))
        else:
            people.append(_Person(f"emp-{i:05d}", department, 9.0, 9.0))
    return people


def _fill_people(engine: Engine, people: Sequence[_Person], rng: random.Random) -> None:
    rows = [
        {
            "employee_id": p.employee_id,
            "full_name": f"Сотрудник {p.employee_id}",
            "department": p.department,
            "is_active": rng.random() >= 0.03,
        }
        for p in people
    ]
    with engine.begin() as conn:
        conn.execute(employees.insert(), rows)


def _fill_schedules(service: AttendanceService, people: Sequence[_Person]) -> None:
    weekdays = 5
    for d in range(DEPARTMENTS):
        department = f"dept-{d:02d}"
        shift = _NIGHT_SHIFT if department == NIGHT_DEPARTMENT else _DAY_SHIFT
        service.set_schedule("department", department, [shift] * weekdays + [None, None], 10)
    for p in people:
        if p.start_h == 10.0:
            service.set_schedule("employee", p.employee_id, [["10:00", "19:00"]] * weekdays + [None] * 2, 5)


def _local(day: date, hours: float, tz: ZoneInfo) -> datetime:
    return (datetime.combine(day, datetime.min.time(), tzinfo=tz) + timedelta(hours=hours)).astimezone(UTC)


def _events(
    people: Sequence[_Person], days: int, total: int, rng: random.Random, tz: ZoneInfo
) -> Iterator[tuple[str | None, str, datetime]]:
    """(employee_id, kind, captured_at) rows, ``total`` of them."""
    workdays = [
        FIRST_DAY + timedelta(days=i) for i in range(days) if (FIRST_DAY + timedelta(days=i)).weekday() < 5
    ]
    emitted = 0
    for p in people:
        for day in workdays:
            if emitted >= total:
                return
            if rng.random() < 0.05:
                continue  # absent
            base = [
                ("check_in", p.start_h + rng.gauss(-0.15, 0.25)),
                ("check_out", p.start_h + p.hours + rng.gauss(0.15, 0.3)),
            ]
            if rng.random() < 0.6:
                lunch = p.start_h + 4 + rng.random()
                base += [("check_out", lunch), ("check_in", lunch + 0.5 + rng.random() / 2)]
            for kind, hours in base[: total - emitted]:
                emitted += 1
                yield p.employee_id, kind, _local(day, hours, tz)
    kinds = ("check_in", "check_out", "pass", "unknown", "low_confidence")
    weights = (20, 20, 25, 25, 10)
    while emitted < total:
        kind = rng.choices(kinds, weights)[0]
        p = rng.choice(people)
        day = FIRST_DAY + timedelta(days=rng.randrange(days))
        hours = p.start_h - 1 + rng.random() * (p.hours + 3) if rng.random() < 0.9 else rng.random() * 24
        who = None if kind in ("unknown", "low_confidence") else p.employee_id
        emitted += 1
        yield who, kind, _local(day, hours, tz)


def _copy_events(engine: Engine, rows: Iterator[tuple[str | None, str, datetime]], rng: random.Random) -> int:
    """COPY in batches: a million rows take seconds this way, minutes as INSERTs."""
    raw = engine.raw_connection()
    count = 0
    try:
        cur = raw.cursor()
        buf = io.StringIO()
        for employee_id, kind, at in rows:
            event_id = uuid.UUID(int=rng.getrandbits(128), version=4)
            device = f"door-{count % 8}"
            received = at + timedelta(seconds=rng.randrange(1, 30))
            buf.write(
                f"{event_id},{device},entrance,{employee_id or ''},{kind},0.8,{at.isoformat()},{count},"
                f"{received.isoformat()}\n"
            )
            count += 1
            if count % _COPY_BATCH == 0:
                buf.seek(0)
                cur.copy_expert(f"COPY attendance_events ({_COPY_COLUMNS}) FROM STDIN WITH (FORMAT csv)", buf)
                buf = io.StringIO()
        buf.seek(0)
        cur.copy_expert(f"COPY attendance_events ({_COPY_COLUMNS}) FROM STDIN WITH (FORMAT csv)", buf)
        raw.commit()
    finally:
        raw.close()
    return count


def _fill_corrections(engine: Engine, service: AttendanceService, n: int, rng: random.Random) -> None:
    with engine.connect() as conn:
        sample = conn.execute(
            select(
                attendance_events.c.event_id, attendance_events.c.employee_id, attendance_events.c.captured_at
            )
            .where(attendance_events.c.kind == "check_in")
            .order_by(func.random())
            .limit(2 * n)
        ).all()
    for i, row in enumerate(sample):
        if i % 2:
            service.add_correction(
                actor="bench", reason="missed by the camera", action="void", event_id=str(row.event_id)
            )
        else:
            service.add_correction(
                actor="bench",
                reason="forgot to check out",
                action="add",
                employee_id=row.employee_id,
                punch_kind="check_out",
                at=row.captured_at + timedelta(hours=8, minutes=rng.randrange(60)),
            )


def _time(fn: Callable[[], Any], runs: int) -> dict[str, Any]:
    """Wall-clock p50/p99 of ``runs`` calls after a warm-up, and the median CPU time of this process
    (the Python side of the call; PostgreSQL's share is the difference, load permitting)."""
    fn()  # warm-up: plans cached, pages in shared buffers, zoneinfo loaded
    samples, cpu = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        samples.append(1000 * (time.perf_counter() - t0))
        cpu.append(1000 * (time.process_time() - c0))
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {
        "p50_ms": round(statistics.median(ordered), 1),
        "p99_ms": round(p99, 1),
        "client_cpu_p50_ms": round(statistics.median(cpu), 1),
        "runs_ms": [round(s, 1) for s in samples],
    }


def bench_timesheet(
    database_url: str = DEFAULT_URL,
    *,
    employees: int = 1000,
    days: int = 30,
    events: int = 1_000_000,
    seed: int = 0,
    runs: int = 5,
    revision: str = "head",
) -> dict[str, Any]:
    """Fill a scratch database and time the attendance read paths; ``revision`` picks the schema
    (e.g. "0002" to measure without the attendance indexes of 0003)."""
    if employees < DEPARTMENTS or days < 7 or events < 1 or runs < 1:
        raise ValueError(f"need employees >= {DEPARTMENTS}, days >= 7, events >= 1, runs >= 1")
    rng = random.Random(seed)
    tz = ZoneInfo(OFFICE_TZ)
    last_day = FIRST_DAY + timedelta(days=days - 1)
    with scratch_database(database_url, prefix="sputnik_tsbench") as url:
        upgrade(url, revision)
        engine = create_engine(url, pool_size=2)
        try:
            with engine.begin() as conn:
                conn.execute(
                    text("UPDATE settings SET value = :tz WHERE key = 'office_timezone'"), {"tz": OFFICE_TZ}
                )
            service = AttendanceService(engine)
            t0 = time.perf_counter()
            people = _people(employees, rng)
            _fill_people(engine, people, rng)
            _fill_schedules(service, people)
            stored = _copy_events(engine, _events(people, days, events, rng, tz), rng)
            _fill_corrections(engine, service, max(2, events // 3000), rng)
            with engine.begin() as conn:  # committed: statistics of a rolled-back ANALYZE are lost
                conn.execute(text("ANALYZE"))
            fill_s = time.perf_counter() - t0

            with engine.connect() as conn:
                middle = conn.execute(
                    select(attendance_events.c.captured_at, attendance_events.c.event_id)
                    .order_by(attendance_events.c.captured_at.desc(), attendance_events.c.event_id.desc())
                    .offset(stored // 2)
                    .limit(1)
                ).one()
            no_filters = EventFilters.checked(
                since=None, until=None, employee_id=None, department=None, device_id=None, kind=None
            )
            deep = encode_cursor(middle.captured_at, str(middle.event_id), no_filters.digest())
            mid_day = FIRST_DAY + timedelta(days=min(days - 1, 10))  # a Thursday
            sheet = service.timesheet(FIRST_DAY, last_day)
            timings = {
                "timesheet_all": _time(lambda: service.timesheet(FIRST_DAY, last_day), runs),
                "timesheet_department": _time(
                    lambda: service.timesheet(FIRST_DAY, last_day, department="dept-03"), runs
                ),
                "timesheet_employee": _time(
                    lambda: service.timesheet(FIRST_DAY, last_day, employee_id="emp-00003"), runs
                ),
                "events_first_page": _time(lambda: service.events(limit=100), runs),
                "events_deep_page": _time(lambda: service.events(limit=100, cursor=deep), runs),
                "events_employee_page": _time(
                    lambda: service.events(employee_id="emp-00003", limit=100), runs
                ),
                "events_department_page": _time(
                    lambda: service.events(department="dept-03", limit=100), runs
                ),
                "events_kind_page": _time(lambda: service.events(kind="low_confidence", limit=100), runs),
                "daily": _time(lambda: service.daily(mid_day), runs),
            }
        finally:
            engine.dispose()
    result = {
        "employees": employees,
        "days": days,
        "events": stored,
        "seed": seed,
        "revision": revision,
        "timezone": OFFICE_TZ,
        "fill_s": round(fill_s, 1),
        "timesheet_rows": len(sheet.rows),
        "timesheet_employees": len(sheet.totals),
        "timings": timings,
    }
    log.info("bench_timesheet", employees=employees, days=days, events=stored, fill_s=result["fill_s"])
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database-url", default=DEFAULT_URL, help="any database on the server to use")
    parser.add_argument("--quick", action="store_true", help=f"small size ({QUICK}), for smoke tests")
    parser.add_argument("--employees", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--revision", default="head", help="schema revision to measure (0002: no 0003 indexes)"
    )
    args = parser.parse_args(argv)
    configure_logging("WARNING")  # stdout carries the JSON result only
    sizes = QUICK if args.quick else {"employees": args.employees, "days": args.days, "events": args.events}
    result = bench_timesheet(
        args.database_url, **sizes, seed=args.seed, runs=args.runs, revision=args.revision
    )
    json.dump(result, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
