"""Output cursors and the retention guard: nothing an enabled output has not delivered is pruned,
up to its cap; beyond it the oldest are skipped and counted."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sputnik_edge.attendance.types import AttendanceEvent, new_event_id
from sputnik_edge.store.local import LocalStore

OLD = datetime.now(UTC) - timedelta(days=400)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LocalStore]:
    s = LocalStore(tmp_path / "edge.db")
    yield s
    s.close()


def record(store: LocalStore, when: datetime = OLD) -> int:
    ev = AttendanceEvent(new_event_id(), "door-1", "cam", "unknown", None, None, None, when)
    return store.record_event(ev).seq


def test_cursor_starts_at_the_newest_event_and_only_moves_forward(store: LocalStore) -> None:
    record(store)
    record(store)
    assert store.outputs.ensure("a") == 2
    assert store.outputs.ensure("a") == 2  # kept
    s3 = record(store)
    store.outputs.advance("a", s3, delivered=1)
    store.outputs.advance("a", 1, delivered=0)  # a stale writer cannot move it back
    st = store.outputs.status("a")
    assert st is not None and (st.seq, st.backlog, st.delivered) == (3, 0, 1) and st.last_success_at
    assert store.outputs.status("missing") is None


def test_prune_keeps_undelivered_events(store: LocalStore) -> None:
    store.outputs.ensure("a")
    seqs = [record(store) for _ in range(4)]
    store.outputs.advance("a", seqs[1], delivered=2)
    n, _ = store.prune_events(datetime.now(UTC), standalone=True, keep_after_seq=store.outputs.floor(["a"]))
    assert n == 2
    assert [e.event.seq for e in store.list_events()] == seqs[2:]
    # The lowest cursor among the enabled outputs wins.
    store.outputs.ensure("b")  # starts at the newest: has nothing pending
    assert store.outputs.floor(["a", "b"]) == seqs[1]
    assert store.outputs.floor([]) is None


def test_cap_drops_the_oldest_undelivered_and_counts_them(store: LocalStore) -> None:
    store.outputs.ensure("a")
    seqs = [record(store) for _ in range(10)]
    assert store.outputs.enforce_cap("a", 4) == 6
    st = store.outputs.status("a")
    assert st is not None and st.seq == seqs[5] and st.backlog == 4 and st.dropped == 6
    assert store.outputs.enforce_cap("a", 4) == 0  # idempotent
    n, _ = store.prune_events(datetime.now(UTC), standalone=True, keep_after_seq=store.outputs.floor(["a"]))
    assert n == 6 and [e.event.seq for e in store.list_events()] == seqs[6:]


def test_failing_is_an_error_newer_than_the_last_success(store: LocalStore) -> None:
    store.outputs.ensure("a")
    store.outputs.failed("a", "HTTP 500")
    assert store.outputs.status("a").failing  # type: ignore[union-attr]
    store.outputs.advance("a", record(store), delivered=1)
    st = store.outputs.status("a")
    assert st is not None and not st.failing and st.last_error == "HTTP 500"
