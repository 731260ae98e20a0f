"""The device's own SQLite store: gallery cache, event log with outbox state, sync state.

SQLite runs in WAL mode with ``synchronous=FULL`` so that a commit has reached the disk when
``record_event`` returns: an event is durable before anything else happens to it. The file is
created with mode 0600 in a 0700 folder because it holds biometric templates.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import structlog
from sqlalchemy import (
    Engine,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import DatabaseError

from sputnik_edge.attendance.types import AttendanceEvent
from sputnik_edge.recognition.gallery import EMBEDDING_DIM, Gallery
from sputnik_edge.store.errors import StoreError, is_corruption
from sputnik_edge.store.event_faces import EventFaceStore
from sputnik_edge.store.inspect import corrupt_error
from sputnik_edge.store.output_cursors import OutputCursorStore
from sputnik_edge.store.tables import (
    EmployeeRecord,
    StoredEvent,
    employees,
    event_row,
    events,
    iso,
    metadata,
    row_to_event,
    state,
    template_rows,
    templates,
    utcnow,
)

log = structlog.get_logger(__name__)


def _secure_parent(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)


def _on_connect(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")  # fsync the WAL at each commit: durable events
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA secure_delete=ON")  # erased templates are overwritten, not left in free pages
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


class LocalStore:
    """Thread-safe access to the local SQLite file (one writer at a time)."""

    def __init__(self, path: Path, *, device_id: str = "door-1", check_integrity: bool = True) -> None:
        self.path = Path(path)
        self.device_id = device_id
        _secure_parent(self.path)
        old_umask = os.umask(0o077)  # the file and its -wal/-shm siblings are created 0600
        try:
            self.engine: Engine = create_engine(f"sqlite:///{self.path}", future=True)
            event.listen(self.engine, "connect", _on_connect)
            # A damaged file (quick_check, "file is not a database", "malformed") becomes a
            # CorruptStoreError whose one-line message says how many unsent events it may hold and
            # how to recover (see store/recovery.py); other failures (locked, I/O) stay StoreError.
            try:
                found = ["ok"]
                if check_integrity:
                    with self.engine.connect() as conn:
                        found = [str(r[0]) for r in conn.execute(text("PRAGMA quick_check(5)"))]
                if found != ["ok"]:
                    self.engine.dispose()  # closes the file before it is inspected or moved aside
                    raise corrupt_error(self.path, "; ".join(found[:3]))
                metadata.create_all(self.engine)
                with self.engine.begin() as conn:
                    # The device sequence only grows, even when pruning or erasure deletes the newest
                    # events: every delete raises a floor kept in sync_state.
                    conn.execute(
                        text(
                            "CREATE TRIGGER IF NOT EXISTS events_seq_floor AFTER DELETE ON events BEGIN "
                            "INSERT INTO sync_state (key, value) VALUES ('event_seq_floor', OLD.seq) "
                            "ON CONFLICT (key) DO UPDATE SET value = "
                            "max(CAST(value AS INTEGER), OLD.seq); END"
                        )
                    )
                    seq = conn.execute(select(func.coalesce(func.max(events.c.seq), 0))).scalar_one()
                    floor = conn.execute(
                        select(state.c.value).where(state.c.key == "event_seq_floor")
                    ).scalar()
            except DatabaseError as exc:
                self.engine.dispose()
                if is_corruption(exc):
                    raise corrupt_error(self.path, str(exc.orig)) from None
                raise StoreError(
                    f"local database {self.path} is not a usable SQLite file ({exc.orig})"
                ) from None
        finally:
            os.umask(old_umask)
        for suffix in ("", "-wal", "-shm"):
            p = Path(str(self.path) + suffix)
            if p.exists():
                p.chmod(0o600)
        self._write_lock = threading.Lock()
        self.faces = EventFaceStore(self.engine, self._write_lock)
        self.outputs = OutputCursorStore(self.engine, self._write_lock)
        self._seq = max(int(seq), int(floor) if floor and str(floor).isdigit() else 0)

    def close(self) -> None:
        self.engine.dispose()

    # ---- employees and templates -------------------------------------------------------------

    def upsert_employee(
        self,
        employee_id: str,
        full_name: str,
        department: str | None = None,
        *,
        is_active: bool = True,
        change_seq: int | None = None,
    ) -> None:
        now = iso(utcnow())
        with self._write_lock, self.engine.begin() as conn:
            self._upsert_employee(conn, employee_id, full_name, department, is_active, change_seq, now)

    @staticmethod
    def _upsert_employee(
        conn: Any,
        employee_id: str,
        full_name: str,
        department: str | None,
        is_active: bool,
        change_seq: int | None,
        now: str,
    ) -> None:
        exists = conn.execute(
            select(employees.c.employee_id).where(employees.c.employee_id == employee_id)
        ).first()
        values = {
            "full_name": full_name,
            "department": department,
            "is_active": is_active,
            "updated_at": now,
            "change_seq": change_seq,
        }
        if exists:
            conn.execute(update(employees).where(employees.c.employee_id == employee_id).values(**values))
        else:
            conn.execute(insert(employees).values(employee_id=employee_id, created_at=now, **values))

    def get_employee(self, employee_id: str) -> EmployeeRecord | None:
        return next((e for e in self.list_employees() if e.employee_id == employee_id), None)

    def list_employees(self) -> list[EmployeeRecord]:
        counts = (
            select(templates.c.employee_id, func.count().label("n"))
            .group_by(templates.c.employee_id)
            .subquery()
        )
        query = (
            select(employees, func.coalesce(counts.c.n, 0).label("n"))
            .outerjoin(counts, counts.c.employee_id == employees.c.employee_id)
            .order_by(employees.c.employee_id)
        )
        with self.engine.connect() as conn:
            return [
                EmployeeRecord(
                    r.employee_id, r.full_name, r.department, bool(r.is_active), int(r.n), r.created_at
                )
                for r in conn.execute(query)
            ]

    def set_active(self, employee_id: str, active: bool) -> bool:
        with self._write_lock, self.engine.begin() as conn:
            result = conn.execute(
                update(employees)
                .where(employees.c.employee_id == employee_id)
                .values(is_active=active, updated_at=iso(utcnow()))
            )
            return result.rowcount > 0

    def delete_employee(self, employee_id: str) -> tuple[bool, list[str]]:
        """Erase an employee: templates, and their events (right to erasure). Returns whether the
        employee existed and the snapshot files of the erased events, for the caller to remove."""
        with self._write_lock:
            with self.engine.begin() as conn:
                result = self._erase(conn, employee_id)
            # Copy the overwritten pages from the WAL into the main file and empty the WAL, so no
            # old page with the erased rows survives in either file.
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            return result

    @staticmethod
    def _erase(conn: Any, employee_id: str) -> tuple[bool, list[str]]:
        snaps = [
            r.snapshot
            for r in conn.execute(
                select(events.c.snapshot).where(
                    events.c.employee_id == employee_id, events.c.snapshot.is_not(None)
                )
            )
        ]
        conn.execute(delete(events).where(events.c.employee_id == employee_id))
        conn.execute(delete(templates).where(templates.c.employee_id == employee_id))
        result = conn.execute(delete(employees).where(employees.c.employee_id == employee_id))
        return result.rowcount > 0, snaps

    def add_templates(
        self,
        employee_id: str,
        model_id: str,
        embeddings: np.ndarray,
        qualities: Sequence[float],
        template_ids: Sequence[str] | None = None,
    ) -> list[str]:
        ids, rows = template_rows(employee_id, model_id, embeddings, qualities, template_ids)
        if rows:
            with self._write_lock, self.engine.begin() as conn:
                conn.execute(insert(templates), rows)
        return ids

    def enroll(
        self,
        employee_id: str,
        full_name: str,
        department: str | None,
        model_id: str,
        embeddings: np.ndarray,
        qualities: Sequence[float],
        template_ids: Sequence[str] | None = None,
    ) -> list[str]:
        """Employee row and templates in one transaction: all or nothing."""
        ids, rows = template_rows(employee_id, model_id, embeddings, qualities, template_ids)
        with self._write_lock, self.engine.begin() as conn:
            existing = conn.execute(
                select(employees.c.change_seq, employees.c.is_active).where(
                    employees.c.employee_id == employee_id
                )
            ).first()
            seq = existing.change_seq if existing else None
            # More photos for a deactivated employee do not reactivate them (`employees activate` does).
            active = bool(existing.is_active) if existing else True
            self._upsert_employee(conn, employee_id, full_name, department, active, seq, iso(utcnow()))
            if rows:
                conn.execute(insert(templates), rows)
        return ids

    def load_gallery(self, model_id: str, version: int = 0) -> Gallery:
        """Active employees' templates for ``model_id`` as one matrix.

        Rows stream in employee order straight into a preallocated matrix: the start-up peak stays
        near the size of the gallery itself instead of several copies of it.
        """
        cond = (templates.c.model_id == model_id) & employees.c.is_active.is_(True)
        joined = templates.join(employees, employees.c.employee_id == templates.c.employee_id)
        with self.engine.connect() as conn:
            n = int(conn.execute(select(func.count()).select_from(joined).where(cond)).scalar_one())
            matrix = np.empty((n, EMBEDDING_DIM), np.float32)
            owners: list[str] = []
            names: dict[str, str] = {}
            result = conn.execution_options(yield_per=2000).execute(
                select(templates.c.employee_id, templates.c.embedding, employees.c.full_name)
                .select_from(joined)
                .where(cond)
                .order_by(templates.c.employee_id)
            )
            for r in result:
                if len(owners) == n:  # rows added since the count: the next reload takes them
                    break
                matrix[len(owners)] = np.frombuffer(r.embedding, dtype="<f4")
                owners.append(r.employee_id)
                names[r.employee_id] = r.full_name
        if not owners:
            return Gallery.empty(version)
        return Gallery.build(owners, matrix[: len(owners)], names, version, copy=False)

    def apply_gallery_delta(self, delta: Any, model_id: str) -> tuple[int, list[str]]:
        """Apply a central pull in one transaction: erasures, then employees, then templates.
        Returns the number of changed rows and snapshot files of erased people to remove."""
        now = iso(utcnow())
        changed = 0
        snaps: list[str] = []
        with self._write_lock, self.engine.begin() as conn:
            for employee_id in delta.erased:
                existed, erased_snaps = self._erase(conn, employee_id)
                changed += int(existed)
                snaps += erased_snaps
            for e in delta.employees:
                self._upsert_employee(
                    conn, e.employee_id, e.full_name, e.department, e.is_active, e.change_seq, now
                )
                changed += 1
            dead = [t.template_id for t in delta.templates if t.deleted]
            if dead:
                changed += conn.execute(delete(templates).where(templates.c.template_id.in_(dead))).rowcount
            present = set(conn.execute(select(employees.c.employee_id)).scalars())
            live = [t for t in delta.templates if not t.deleted and t.employee_id in present]
            if live:
                known = set(
                    conn.execute(
                        select(templates.c.template_id).where(
                            templates.c.template_id.in_([t.template_id for t in live])
                        )
                    ).scalars()
                )
                rows = [
                    {
                        "template_id": t.template_id,
                        "employee_id": t.employee_id,
                        "model_id": model_id,
                        "embedding": np.asarray(t.embedding, dtype="<f4").tobytes(),
                        "quality": t.quality,
                        "created_at": now,
                    }
                    for t in live
                    if t.template_id not in known
                ]
                if rows:
                    conn.execute(insert(templates), rows)
                    changed += len(rows)
        return changed, snaps

    def gallery_signature(self, model_id: str) -> tuple[int, str]:
        """Cheap change detector for the gallery: template count and latest change time."""
        with self.engine.connect() as conn:
            n = conn.execute(
                select(func.count()).select_from(templates).where(templates.c.model_id == model_id)
            ).scalar_one()
            t1 = conn.execute(select(func.max(templates.c.created_at))).scalar() or ""
            t2 = conn.execute(select(func.max(employees.c.updated_at))).scalar() or ""
            n_emp = conn.execute(select(func.count()).select_from(employees)).scalar_one()
        return int(n) * 1_000_003 + int(n_emp), f"{t1}|{t2}"

    def template_count(self, model_id: str | None = None) -> int:
        query = select(func.count()).select_from(templates)
        if model_id is not None:
            query = query.where(templates.c.model_id == model_id)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    # ---- events and outbox ---------------------------------------------------------------------

    def next_seq(self) -> int:
        with self._write_lock:
            self._seq += 1
            return self._seq

    def record_event(self, ev: AttendanceEvent, snapshot: str | None = None) -> AttendanceEvent:
        """Commit the event durably; returns it with its device sequence number set."""
        with self._write_lock:
            seq = ev.seq if ev.seq > self._seq else self._seq + 1
            self._seq = seq
            row = event_row(ev, seq, snapshot)
            with self.engine.begin() as conn:
                conn.execute(insert(events).values(**row))
        return dataclasses.replace(ev, seq=seq)

    def set_snapshot(self, event_id: str, rel_path: str) -> None:
        with self._write_lock, self.engine.begin() as conn:
            conn.execute(update(events).where(events.c.event_id == event_id).values(snapshot=rel_path))

    def list_events(self, since: datetime | None = None, limit: int = 100) -> list[StoredEvent]:
        """Most recent ``limit`` events (after ``since``), returned oldest first."""
        query = select(events).order_by(events.c.seq.desc()).limit(limit)
        if since is not None:
            query = query.where(events.c.captured_at >= iso(since))
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [StoredEvent(row_to_event(r), r.synced_at, r.snapshot) for r in reversed(rows)]

    def pending(self, limit: int = 500) -> list[AttendanceEvent]:
        query = select(events).where(events.c.synced_at.is_(None)).order_by(events.c.seq).limit(limit)
        with self.engine.connect() as conn:
            return [row_to_event(r) for r in conn.execute(query)]

    def mark_synced(self, event_ids: Iterable[str]) -> int:
        ids = list(event_ids)
        if not ids:
            return 0
        with self._write_lock, self.engine.begin() as conn:
            result = conn.execute(
                update(events)
                .where(events.c.event_id.in_(ids), events.c.synced_at.is_(None))
                .values(synced_at=iso(utcnow()))
            )
            return int(result.rowcount)

    def mark_failed(self, event_ids: Iterable[str], error: str) -> None:
        ids = list(event_ids)
        if not ids:
            return
        with self._write_lock, self.engine.begin() as conn:
            conn.execute(
                update(events)
                .where(events.c.event_id.in_(ids))
                .values(attempts=events.c.attempts + 1, last_error=error[:500])
            )

    def backlog(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count()).select_from(events).where(events.c.synced_at.is_(None))
                ).scalar_one()
            )

    def count_events(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(events)).scalar_one())

    def prune_events(
        self, older_than: datetime, *, standalone: bool, keep_after_seq: int | None = None
    ) -> tuple[int, list[str]]:
        """Delete events captured before ``older_than``. With a central database only synced ones
        go (unsent rows are never dropped); standalone, the local log *is* the record, so all old
        rows go. Events after ``keep_after_seq`` (not yet delivered by an event output) stay.
        Returns the count and the snapshot paths the caller should remove."""
        cond = events.c.captured_at < iso(older_than)
        if not standalone:
            cond = cond & events.c.synced_at.is_not(None)
        if keep_after_seq is not None:
            cond = cond & (events.c.seq <= keep_after_seq)
        with self._write_lock, self.engine.begin() as conn:
            snaps = [
                r.snapshot
                for r in conn.execute(select(events.c.snapshot).where(cond, events.c.snapshot.is_not(None)))
            ]
            result = conn.execute(delete(events).where(cond))
            return int(result.rowcount), snaps

    # ---- key/value sync state ------------------------------------------------------------------

    def get_state(self, key: str, default: str | None = None) -> str | None:
        with self.engine.connect() as conn:
            value = conn.execute(select(state.c.value).where(state.c.key == key)).scalar()
            return default if value is None else str(value)

    def set_state(self, key: str, value: str) -> None:
        with self._write_lock, self.engine.begin() as conn:
            if conn.execute(select(state.c.key).where(state.c.key == key)).first():
                conn.execute(update(state).where(state.c.key == key).values(value=value))
            else:
                conn.execute(insert(state).values(key=key, value=value))
