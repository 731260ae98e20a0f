"""Enrolment and gallery pull: incremental deltas, model filter, erasure, conflicts, seq ordering."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.pool import NullPool

from sputnik_edge.attendance.types import AttendanceEvent
from sputnik_edge.central.errors import UnknownEmployeeError
from sputnik_edge.central.schema import (
    attendance_events,
    employees,
    erasures,
    face_photos,
    face_templates,
)
from sputnik_edge.central.store import CentralStore
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

MODEL = "sface-2021dec"


def unit_vectors(n: int, seed: int = 0, dim: int = 128) -> npt.NDArray[np.float32]:
    v = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_full_pull_returns_embeddings_bit_exact(central_store: CentralStore) -> None:
    central_store.upsert_employee("e1", "Ann Lee", "R&D")
    central_store.upsert_employee("e2", "Bob Ray")
    vecs = unit_vectors(3)
    ids1 = central_store.add_templates("e1", MODEL, vecs[:2], [0.9, 0.8])
    ids2 = central_store.add_templates("e2", MODEL, vecs[2:], [0.7])

    delta = central_store.pull_gallery(MODEL, 0)
    assert [(e.employee_id, e.full_name, e.department, e.is_active) for e in delta.employees] == [
        ("e1", "Ann Lee", "R&D", True),
        ("e2", "Bob Ray", None, True),
    ]
    by_id = {t.template_id: t for t in delta.templates}
    assert set(by_id) == set(ids1 + ids2)
    for tid, vec in zip(ids1 + ids2, vecs, strict=True):
        tpl = by_id[tid]
        assert tpl.embedding.dtype == np.float32 and tpl.embedding.shape == (128,)
        assert np.array_equal(tpl.embedding, vec)
        assert not tpl.deleted
    assert by_id[ids1[0]].quality == pytest.approx(0.9)
    assert by_id[ids2[0]].employee_id == "e2"
    assert delta.erased == []
    assert delta.max_seq == max(
        [e.change_seq for e in delta.employees] + [t.change_seq for t in delta.templates]
    )
    # Nothing changed since: an empty delta that keeps the position.
    again = central_store.pull_gallery(MODEL, delta.max_seq)
    assert again.empty and again.max_seq == delta.max_seq


def test_incremental_pull_sees_each_kind_of_change(central_store: CentralStore) -> None:
    vecs = unit_vectors(4)
    for i, emp in enumerate(["a", "b", "c"]):
        central_store.upsert_employee(emp, f"Person {emp}")
        central_store.add_templates(emp, MODEL, vecs[i : i + 1], [0.9])
    base = central_store.pull_gallery(MODEL, 0)
    assert len(base.employees) == 3
    tpl_of = {t.employee_id: t.template_id for t in base.templates}

    central_store.upsert_employee("d", "New Person")  # new employee
    assert central_store.deactivate_employee("a") is True  # deactivation
    assert central_store.delete_template(tpl_of["b"]) is True  # soft-deleted template
    assert central_store.delete_employee("c") is True  # erasure
    new_tpl = central_store.add_templates("d", MODEL, vecs[3:], [0.8])

    delta = central_store.pull_gallery(MODEL, base.max_seq)
    assert {e.employee_id: e.is_active for e in delta.employees} == {"a": False, "d": True}
    assert {t.template_id: t.deleted for t in delta.templates} == {tpl_of["b"]: True, new_tpl[0]: False}
    assert delta.erased == ["c"]
    assert delta.max_seq > base.max_seq
    assert central_store.pull_gallery(MODEL, delta.max_seq).empty

    # Repeating an unchanged upsert or deactivation does not produce a new change.
    central_store.upsert_employee("d", "New Person")
    assert central_store.deactivate_employee("a") is True
    assert central_store.delete_template(tpl_of["b"]) is False
    assert central_store.pull_gallery(MODEL, delta.max_seq).empty


def test_pull_only_returns_the_requested_model(central_store: CentralStore) -> None:
    central_store.upsert_employee("e1", "Ann")
    central_store.add_templates("e1", MODEL, unit_vectors(2), [0.9, 0.9])
    other = central_store.add_templates("e1", "arcface-r100", unit_vectors(1, seed=5, dim=512), [0.9])
    mine = central_store.pull_gallery(MODEL, 0)
    assert len(mine.templates) == 2 and all(t.embedding.shape == (128,) for t in mine.templates)
    theirs = central_store.pull_gallery("arcface-r100", 0)
    assert [t.template_id for t in theirs.templates] == other
    assert theirs.templates[0].embedding.shape == (512,)
    assert central_store.pull_gallery("no-such-model", 0).templates == []


def test_delete_employee_leaves_only_the_tombstone(central_store: CentralStore) -> None:
    central_store.upsert_employee("victim", "Eve Doe", "Sales")
    central_store.upsert_employee("other", "Other One")
    central_store.add_templates("victim", MODEL, unit_vectors(2), [0.9, 0.8], photos=[b"jpeg-1", b"jpeg-2"])
    central_store.add_templates("other", MODEL, unit_vectors(1, seed=3), [0.9], photos=[b"jpeg-3"])
    now = datetime.now(UTC)
    events = [
        AttendanceEvent(str(uuid.uuid4()), "door-1", "cam", "check_in", emp, None, 0.8, now)
        for emp in ("victim", "victim", "other")
    ]
    central_store.push_events(events)

    assert central_store.delete_employee("victim") is True
    with central_store.engine.connect() as conn:
        for table in (employees, face_templates, face_photos, attendance_events):
            left = conn.execute(select(table).where(table.c.employee_id == "victim")).all()
            assert left == [], table.name
        assert conn.execute(select(erasures.c.employee_id)).scalars().all() == ["victim"]
        # Nothing personal anywhere: search every text/bytea column of every table for the name.
        hits = conn.execute(
            text(
                "SELECT count(*) FROM (SELECT to_jsonb(t)::text AS j FROM employees t UNION ALL "
                "SELECT to_jsonb(t)::text FROM attendance_events t UNION ALL "
                "SELECT to_jsonb(t)::text FROM devices t UNION ALL "
                "SELECT to_jsonb(t)::text FROM face_templates t UNION ALL "
                "SELECT to_jsonb(t)::text FROM face_photos t) s "
                "WHERE j LIKE '%Eve Doe%' OR j LIKE '%victim%'"
            )
        ).scalar()
        assert hits == 0
        # The other person is untouched.
        assert conn.execute(select(face_photos).where(face_photos.c.employee_id == "other")).all()
    assert central_store.count_events() == 1
    assert [s.employee_id for s in central_store.list_employees()] == ["other"]
    assert central_store.delete_employee("victim") is False
    assert central_store.delete_employee("never-existed") is False


def test_reenrolment_after_erasure(central_store: CentralStore) -> None:
    central_store.upsert_employee("x", "X One")
    central_store.add_templates("x", MODEL, unit_vectors(1), [0.9])
    start = central_store.pull_gallery(MODEL, 0).max_seq
    central_store.delete_employee("x")
    central_store.upsert_employee("x", "X Two")
    delta = central_store.pull_gallery(MODEL, start)
    # Both appear; applying erased first and then employees leaves the new, template-less person.
    assert delta.erased == ["x"]
    assert [e.full_name for e in delta.employees] == ["X Two"]
    assert delta.templates == []


def test_add_templates_validation(central_store: CentralStore) -> None:
    with pytest.raises(UnknownEmployeeError, match="nobody"):
        central_store.add_templates("nobody", MODEL, unit_vectors(1), [0.9])
    central_store.upsert_employee("e1", "Ann")
    with pytest.raises(ValueError, match="shape"):
        central_store.add_templates("e1", MODEL, np.zeros(128, np.float32), [0.9])
    with pytest.raises(ValueError, match="qualities"):
        central_store.add_templates("e1", MODEL, unit_vectors(2), [0.9])
    with pytest.raises(ValueError, match="photos"):
        central_store.add_templates("e1", MODEL, unit_vectors(2), [0.9, 0.9], photos=[b"x"])
    bad = unit_vectors(1)
    bad[0, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        central_store.add_templates("e1", MODEL, bad, [0.9])
    central_store.add_templates("e1", MODEL, unit_vectors(1), [0.9])
    with pytest.raises(ValueError, match="128 dimensions"):
        central_store.add_templates("e1", MODEL, unit_vectors(1, dim=64), [0.9])
    with pytest.raises(ValueError, match="full_name"):
        central_store.upsert_employee("e2", "  ")
    assert len(central_store.pull_gallery(MODEL, 0).templates) == 1


def test_photos_are_stored_and_linked(central_store: CentralStore) -> None:
    central_store.upsert_employee("e1", "Ann")
    [tid] = central_store.add_templates("e1", MODEL, unit_vectors(1), [0.9], photos=[b"\xff\xd8jpeg"])
    with central_store.engine.connect() as conn:
        image = conn.execute(
            select(face_photos.c.image)
            .join(face_templates, face_templates.c.photo_id == face_photos.c.photo_id)
            .where(face_templates.c.template_id == tid)
        ).scalar_one()
    assert bytes(image) == b"\xff\xd8jpeg"


def test_find_conflicts(central_store: CentralStore) -> None:
    vecs = unit_vectors(4, seed=7)
    for emp in ["a", "b", "c"]:
        central_store.upsert_employee(emp, emp.upper())
    central_store.add_templates("a", MODEL, vecs[0:1], [0.9])
    # b has two templates; the best one counts.
    near = vecs[0] + 0.3 * vecs[1]
    central_store.add_templates("b", MODEL, np.stack([vecs[2], near]), [0.9, 0.9])
    central_store.add_templates("c", MODEL, vecs[0:1], [0.9])
    central_store.deactivate_employee("c")  # inactive people are not conflicts
    central_store.add_templates("a", "other-model", vecs[0:1], [0.9])

    hits = central_store.find_conflicts(MODEL, vecs[0] * 3.0, threshold=0.5)  # scale must not matter
    assert [h[0] for h in hits] == ["a", "b"]
    assert hits[0][1] == pytest.approx(1.0, abs=1e-5)
    expected_b = float(near @ vecs[0] / np.linalg.norm(near))
    assert hits[1][1] == pytest.approx(expected_b, abs=1e-5)
    assert central_store.find_conflicts(MODEL, vecs[0], threshold=0.5, exclude_employee_id="a") == [
        ("b", pytest.approx(expected_b, abs=1e-5))
    ]
    assert central_store.find_conflicts(MODEL, vecs[3], threshold=0.9) == []
    # A soft-deleted template no longer conflicts.
    a_tpl = next(t for t in central_store.pull_gallery(MODEL, 0).templates if t.employee_id == "a")
    central_store.delete_template(a_tpl.template_id)
    assert [h[0] for h in central_store.find_conflicts(MODEL, vecs[0], threshold=0.5)] == ["b"]
    with pytest.raises(ValueError, match="non-zero"):
        central_store.find_conflicts(MODEL, np.zeros(128, np.float32), threshold=0.5)


def test_late_committing_writer_is_not_skipped(central_store: CentralStore, central_url: str) -> None:
    """A sequence alone lets a device skip a change that drew a lower change_seq but committed
    later; the trigger's lock must prevent that."""
    raw = create_engine(central_url, poolclass=NullPool)
    seen: set[str] = set()
    try:
        with raw.connect() as slow:
            slow.begin()
            slow.execute(text("INSERT INTO employees (employee_id, full_name) VALUES ('slow', 'Slow')"))
            fast_done = threading.Event()

            def fast() -> None:
                with CentralStore(central_url) as other:
                    other.upsert_employee("fast", "Fast")
                fast_done.set()

            def fast_blocked_or_done() -> bool:
                """The fast writer committed, or waits on a lock (this session's own database)."""
                if fast_done.is_set():
                    return True
                with central_store.engine.connect() as conn:
                    waiting = conn.execute(
                        text(
                            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                        )
                    ).scalar_one()
                return waiting > 0

            thread = threading.Thread(target=fast)
            thread.start()
            # The fast writer goes as far as it can: commits first if it could, else waits behind
            # the slow one's lock.
            assert wait_until(fast_blocked_or_done, timeout=10)
            first = central_store.pull_gallery(MODEL, 0)
            seen |= {e.employee_id for e in first.employees}
            slow.commit()
        thread.join(timeout=30)
        assert fast_done.is_set()
        second = central_store.pull_gallery(MODEL, first.max_seq)
        seen |= {e.employee_id for e in second.employees}
    finally:
        raw.dispose()
    assert seen == {"slow", "fast"}
