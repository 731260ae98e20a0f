"""Central database benchmarks behind ``sputnik-edge bench``: event push rate and gallery pull time.

Each benchmark works in a throw-away database next to the one named by ``url`` (or, without the
CREATEDB privilege, a scratch schema inside it): ``sputnik_edge.tools.scratch_db``. The results are
the JSON records of bench.json's ``central`` section (``bench.results.CentralPush`` / ``CentralPull``
type them).
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import structlog
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from sputnik_edge.attendance.types import EVENT_KINDS, AttendanceEvent
from sputnik_edge.central import CentralError, CentralStore, upgrade
from sputnik_edge.central.schema import employees, face_templates
from sputnik_edge.tools.scratch_db import scratch_database

log = structlog.get_logger(__name__)

BENCH_MODEL_ID = "bench-model"
# Scratch databases are named sputnik_bench_<hex>: easy to spot (and drop) if a run is killed.
SCRATCH_PREFIX = "sputnik_bench"


def _events(n: int, device_id: str) -> list[AttendanceEvent]:
    start = datetime.now(UTC) - timedelta(days=1)
    kinds = EVENT_KINDS
    return [
        AttendanceEvent(
            event_id=str(uuid.uuid4()),
            device_id=device_id,
            camera_id="entrance",
            kind=kinds[i % len(kinds)],
            employee_id=None if kinds[i % len(kinds)] == "unknown" else f"emp-{i % 500:05d}",
            name=None,
            similarity=0.7,
            captured_at=start + timedelta(milliseconds=100 * i),
            seq=i,
            trace_id=uuid.uuid4().hex,
            details={"track_id": i},
        )
        for i in range(n)
    ]


def bench_push(url: str, n: int = 20000, batch: int = 500) -> dict[str, Any]:
    """Push ``n`` events in batches of ``batch`` (one transaction each), then re-push one batch."""
    if n <= 0 or batch <= 0:
        raise ValueError(f"n and batch must be positive, got n={n}, batch={batch}")
    events = _events(n, device_id="bench-device")
    with scratch_database(url, SCRATCH_PREFIX, schema_fallback=True) as db_url:
        upgrade(db_url)
        with CentralStore(db_url) as store:
            store.check()  # opens the pooled connection so connecting is not timed
            inserted = 0
            t0 = time.perf_counter()
            for start in range(0, n, batch):
                inserted += store.push_events(events[start : start + batch])
            seconds = time.perf_counter() - t0
            t1 = time.perf_counter()
            duplicates = store.push_events(events[:batch])
            dup_seconds = time.perf_counter() - t1
            stored = store.count_events()
    result = {
        "events": n,
        "batch": batch,
        "inserted": inserted,
        "stored": stored,
        "seconds": round(seconds, 4),
        "events_per_s": round(n / seconds, 1),
        "ms_per_batch": round(1000 * seconds / -(-n // batch), 2),
        "duplicate_batch_inserted": duplicates,
        "duplicate_batch_ms": round(1000 * dup_seconds, 2),
    }
    log.info("bench_push", **result)
    return result


def bench_pull(url: str, n_employees: int = 10000) -> dict[str, Any]:
    """Seed ``n_employees`` employees with one 128-d template each and time full and empty pulls."""
    if n_employees <= 0:
        raise ValueError(f"n_employees must be positive, got {n_employees}")
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((n_employees, 128)).astype("<f4")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with scratch_database(url, SCRATCH_PREFIX, schema_fallback=True) as db_url:
        upgrade(db_url)
        t0 = time.perf_counter()
        seed = create_engine(db_url, poolclass=NullPool)
        try:
            with seed.begin() as conn:
                conn.execute(
                    employees.insert(),
                    [
                        {"employee_id": f"emp-{i:06d}", "full_name": f"Employee {i}"}
                        for i in range(n_employees)
                    ],
                )
                conn.execute(
                    face_templates.insert(),
                    [
                        {
                            "template_id": str(uuid.uuid4()),
                            "employee_id": f"emp-{i:06d}",
                            "model_id": BENCH_MODEL_ID,
                            "embedding": vectors[i].tobytes(),
                            "quality": 0.9,
                        }
                        for i in range(n_employees)
                    ],
                )
        finally:
            seed.dispose()
        seed_seconds = time.perf_counter() - t0
        with CentralStore(db_url) as store:
            store.check()
            timings = []
            for _ in range(3):
                t1 = time.perf_counter()
                delta = store.pull_gallery(BENCH_MODEL_ID, 0)
                timings.append(time.perf_counter() - t1)
            if len(delta.templates) != n_employees or len(delta.employees) != n_employees:
                raise CentralError(
                    f"pull returned {len(delta.employees)} employees / {len(delta.templates)} templates, "
                    f"expected {n_employees}"
                )
            t2 = time.perf_counter()
            store.pull_gallery(BENCH_MODEL_ID, delta.max_seq)
            empty_seconds = time.perf_counter() - t2
    result = {
        "employees": n_employees,
        "templates": n_employees,
        "seed_seconds": round(seed_seconds, 3),
        "seconds": round(timings[0], 4),
        "best_seconds": round(min(timings), 4),
        "templates_per_s": round(n_employees / min(timings), 1),
        "empty_pull_ms": round(1000 * empty_seconds, 2),
    }
    log.info("bench_pull", **result)
    return result
