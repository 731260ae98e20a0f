"""The device's SQLite store on real files: permissions, durability settings, gallery, outbox."""

from __future__ import annotations

import sqlite3
import stat
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from sputnik_edge.attendance.types import AttendanceEvent
from sputnik_edge.recognition.gallery import EMBEDDING_DIM, l2_normalise
from sputnik_edge.store.local import LocalStore, StoreError

MODEL = "sface-test"


def vecs(n: int, seed: int = 0) -> np.ndarray:
    return l2_normalise(np.random.default_rng(seed).standard_normal((n, EMBEDDING_DIM)).astype(np.float32))


def make_event(employee_id: str | None = "e1", *, age: timedelta = timedelta(0)) -> AttendanceEvent:
    return AttendanceEvent(
        event_id=str(uuid.uuid4()),
        device_id="door-1",
        camera_id="entrance",
        kind="check_in" if employee_id else "unknown",
        employee_id=employee_id,
        name=None,
        similarity=0.8 if employee_id else None,
        captured_at=datetime.now(UTC) - age,
        details={"frames": 3},
    )


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    s = LocalStore(tmp_path / "state" / "edge.db")
    yield s
    s.close()


def test_file_and_folder_permissions(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "edge.db"
    s = LocalStore(path)
    s.enroll("e1", "E One", None, MODEL, vecs(1), [0.9])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    for sibling in (Path(f"{path}-wal"), Path(f"{path}-shm")):
        if sibling.exists():
            assert stat.S_IMODE(sibling.stat().st_mode) & 0o077 == 0
    s.close()


def test_wal_and_synchronous_full(store: LocalStore) -> None:
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar().lower() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    # WAL is persistent in the file itself: a plain sqlite3 connection sees it too.
    raw = sqlite3.connect(store.path)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
    finally:
        raw.close()


def test_enroll_writes_employee_and_templates(store: LocalStore) -> None:
    ids = store.enroll("e1", "E One", "R&D", MODEL, vecs(3), [0.9, 0.8, 0.7])
    assert len(set(ids)) == 3
    (emp,) = store.list_employees()
    assert (emp.employee_id, emp.full_name, emp.department, emp.is_active, emp.templates) == (
        "e1",
        "E One",
        "R&D",
        True,
        3,
    )
    assert store.template_count(MODEL) == 3


def test_enroll_is_all_or_nothing(store: LocalStore) -> None:
    # The template rows fail (fewer qualities than embeddings) after the employee row was written
    # inside the same transaction: nothing may remain.
    with pytest.raises(ValueError):
        store.enroll("e1", "E One", None, MODEL, vecs(3), [0.9, 0.8])
    assert store.list_employees() == []
    assert store.template_count() == 0
    # Re-enrolling an existing employee that fails leaves the earlier state untouched.
    store.enroll("e2", "E Two", None, MODEL, vecs(1), [0.9])
    with pytest.raises(ValueError):
        store.enroll("e2", "Renamed", None, MODEL, vecs(2), ["bad", 0.9])
    assert [(e.full_name, e.templates) for e in store.list_employees()] == [("E Two", 1)]


def test_load_gallery_filters_inactive_and_other_models(store: LocalStore) -> None:
    a, b, c = vecs(3, seed=1)
    store.enroll("alice", "Alice", None, MODEL, a[None], [0.9])
    store.enroll("bob", "Bob", None, MODEL, b[None], [0.9])
    store.enroll("carol", "Carol", None, "other-model", c[None], [0.9])
    store.add_templates("alice", "other-model", c[None], [0.5])
    g = store.load_gallery(MODEL)
    assert set(g.employee_ids) == {"alice", "bob"}
    assert g.n_templates == 2
    assert dict(zip(g.employee_ids, g.names, strict=True)) == {"alice": "Alice", "bob": "Bob"}
    row = g.employee_ids.index("alice")
    assert np.allclose(g.matrix[g.starts[row]], a, atol=1e-6)

    assert store.set_active("bob", False)
    assert store.load_gallery(MODEL).employee_ids == ("alice",)
    assert not store.set_active("nobody", False)
    store.set_active("bob", True)
    assert set(store.load_gallery(MODEL).employee_ids) == {"alice", "bob"}
    assert store.load_gallery("unknown-model").n_employees == 0


def test_record_event_assigns_increasing_seq(store: LocalStore) -> None:
    seqs = [store.record_event(make_event()).seq for _ in range(5)]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 5
    assert seqs[0] >= 1
    assert store.count_events() == 5


def test_pending_mark_synced_backlog(store: LocalStore) -> None:
    evs = [store.record_event(make_event()) for _ in range(4)]
    assert store.backlog() == 4
    pending = store.pending()
    assert [e.event_id for e in pending] == [e.event_id for e in evs]
    assert [e.seq for e in pending] == sorted(e.seq for e in pending)
    assert pending[0].details == {"frames": 3}
    assert [e.event_id for e in store.pending(limit=2)] == [evs[0].event_id, evs[1].event_id]

    assert store.mark_synced([evs[0].event_id, evs[2].event_id]) == 2
    assert store.mark_synced([evs[0].event_id]) == 0  # already synced
    assert store.mark_synced([]) == 0
    assert store.backlog() == 2
    assert [e.event_id for e in store.pending()] == [evs[1].event_id, evs[3].event_id]
    synced = {r.event.event_id: r.as_dict()["synced"] for r in store.list_events()}
    assert synced == {
        evs[0].event_id: True,
        evs[1].event_id: False,
        evs[2].event_id: True,
        evs[3].event_id: False,
    }


def test_prune_never_drops_unsynced_with_central(store: LocalStore) -> None:
    old_synced = store.record_event(make_event(age=timedelta(days=100)), snapshot="20240101/a.jpg")
    old_pending = store.record_event(make_event(age=timedelta(days=100)))
    new_synced = store.record_event(make_event())
    store.mark_synced([old_synced.event_id, new_synced.event_id])
    cutoff = datetime.now(UTC) - timedelta(days=90)

    n, snaps = store.prune_events(cutoff, standalone=False)
    assert n == 1
    assert snaps == ["20240101/a.jpg"]
    left = {r.event.event_id for r in store.list_events()}
    assert left == {old_pending.event_id, new_synced.event_id}

    n, _ = store.prune_events(cutoff, standalone=True)  # standalone: old rows go, synced or not
    assert n == 1
    assert {r.event.event_id for r in store.list_events()} == {new_synced.event_id}


def test_delete_employee_erases_templates_and_events(store: LocalStore) -> None:
    store.enroll("e1", "E One", None, MODEL, vecs(2), [0.9, 0.9])
    store.enroll("e2", "E Two", None, MODEL, vecs(1, seed=3), [0.9])
    store.record_event(make_event("e1"), snapshot="20240101/e1.jpg")
    store.record_event(make_event("e1"))
    kept = store.record_event(make_event("e2"))
    unknown = store.record_event(make_event(None))

    existed, snaps = store.delete_employee("e1")
    assert existed
    assert snaps == ["20240101/e1.jpg"]
    assert store.get_employee("e1") is None
    assert store.template_count() == 1
    assert {r.event.event_id for r in store.list_events()} == {kept.event_id, unknown.event_id}
    assert store.delete_employee("e1") == (False, [])


def test_garbage_file_raises_store_error_naming_path(tmp_path: Path) -> None:
    path = tmp_path / "edge.db"
    path.write_bytes(np.random.default_rng(0).bytes(8192))
    with pytest.raises(StoreError) as info:
        LocalStore(path)
    assert str(path) in str(info.value)


def test_events_and_gallery_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "edge.db"
    s = LocalStore(path)
    s.enroll("e1", "E One", None, MODEL, vecs(1), [0.9])
    first = [s.record_event(make_event("e1")) for _ in range(3)]
    s.close()

    s2 = LocalStore(path)
    assert [e.event_id for e in s2.pending()] == [e.event_id for e in first]
    assert s2.load_gallery(MODEL).employee_ids == ("e1",)
    nxt = s2.record_event(make_event("e1"))
    assert nxt.seq > max(e.seq for e in first)  # the sequence continues after a restart
    s2.close()


def test_sync_state_roundtrip(store: LocalStore) -> None:
    assert store.get_state("gallery_seq") is None
    assert store.get_state("gallery_seq", "0") == "0"
    store.set_state("gallery_seq", "12")
    store.set_state("gallery_seq", "13")
    assert store.get_state("gallery_seq") == "13"
