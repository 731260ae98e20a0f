"""``outbox``: durable local commits per second (``LocalStore.record_event``, fsync per commit)."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sputnik_edge.attendance.types import AttendanceEvent, new_event_id
from sputnik_edge.store.local import LocalStore
from sputnik_edge.tools.bench.context import BenchContext
from sputnik_edge.tools.bench.machine import fs_type
from sputnik_edge.tools.bench.results import OutboxResult
from sputnik_edge.tools.bench.stats import stats_ms


def bench_outbox(ctx: BenchContext) -> OutboxResult:
    n = ctx.iterations(300, 20)
    device = ctx.settings.device.id
    # Next to the configured database when writable: fsync cost is the filesystem's.
    parent = ctx.settings.storage.database.parent
    base = parent if parent.is_dir() and os.access(parent, os.W_OK) else None
    tmp = Path(tempfile.mkdtemp(prefix="sputnik-bench-outbox-", dir=base))
    try:
        store = LocalStore(tmp / "edge.db", device_id=device)
        times = []
        t_all = time.perf_counter()
        for i in range(n):
            ev = AttendanceEvent(
                new_event_id(),
                device,
                "bench",
                "check_in",
                f"emp-{i % 50}",
                "Someone",
                0.7,
                datetime.now(UTC),
                details={"frames": 3, "track_id": i},
            )
            t0 = time.perf_counter()
            store.record_event(ev)
            times.append(time.perf_counter() - t0)
        total = time.perf_counter() - t_all
        stored = store.count_events()
        store.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return OutboxResult(
        events=n,
        stored=stored,
        events_per_s=round(n / total, 1),
        commit=stats_ms(times),
        directory_fs=fs_type(tmp.parent),
        durability="SQLite WAL, synchronous=FULL (fsync per commit)",
    )
