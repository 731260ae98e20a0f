"""Event push: the device outbox into ``attendance_events``, idempotent on ``event_id``."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import structlog
from sqlalchemy import Connection, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from sputnik_edge.attendance.types import EVENT_KINDS, AttendanceEvent
from sputnik_edge.central.connection import CentralConnection, as_utc, require_text, require_uuid
from sputnik_edge.central.schema import attendance_events, employees, erasures, unknown_faces
from sputnik_edge.store.event_faces import EventFace

log = structlog.get_logger(__name__)

_PUSH_PAGE = 1000


def unknown_face_rows(events: Sequence[AttendanceEvent], faces: Sequence[EventFace]) -> list[dict[str, Any]]:
    """Rows for ``unknown_faces``: only for `unknown` events of the batch (never a named person)."""
    by_id = {ev.event_id: ev for ev in events if ev.kind == "unknown"}
    rows = []
    for face in faces:
        ev = by_id.get(face.event_id)
        if ev is None or not face.embedding or len(face.embedding) % 4:
            continue
        rows.append(
            {
                "event_id": ev.event_id,
                "device_id": ev.device_id,
                "camera_id": ev.camera_id,
                "captured_at": as_utc(ev.captured_at),
                "model_id": face.model_id,
                "embedding": face.embedding,
                "crop": face.crop,
            }
        )
    return rows


class PushOps(CentralConnection):
    # -- events -----------------------------------------------------------------------------------

    def push_events(self, events: Sequence[AttendanceEvent], faces: Sequence[EventFace] = ()) -> int:
        """Insert events in one transaction, in the given order; returns how many were new.

        ``faces``: crops and embeddings of this batch's `unknown` events (devices that opt in with
        ``central.upload_unknown_snapshots``), stored in ``unknown_faces`` in the same transaction.

        Idempotent on ``event_id``: events already present are skipped, so a retried batch is safe.
        Events of an erased employee captured before the erasure (or while they are not re-enrolled)
        are stored anonymised, so an offline device syncing late cannot bring the person back.
        """
        rows: list[dict[str, Any]] = []
        seen: set[str] = set()
        for ev in events:
            event_id = require_uuid(ev.event_id, "event_id")
            if ev.kind not in EVENT_KINDS:
                raise ValueError(f"event {event_id}: kind {ev.kind!r} is not one of {', '.join(EVENT_KINDS)}")
            if event_id in seen:
                continue
            seen.add(event_id)
            rows.append(
                {
                    "event_id": event_id,
                    "device_id": require_text(ev.device_id, f"event {event_id}: device_id"),
                    "camera_id": ev.camera_id,
                    "employee_id": ev.employee_id,
                    "kind": ev.kind,
                    "similarity": ev.similarity,
                    "captured_at": as_utc(ev.captured_at),
                    "device_seq": ev.seq,
                    "trace_id": ev.trace_id,
                    "details": ev.details or None,
                }
            )
        if not rows:
            return 0
        stmt = (
            pg_insert(attendance_events)
            .on_conflict_do_nothing(index_elements=[attendance_events.c.event_id])
            .returning(attendance_events.c.event_id)
        )

        face_rows = unknown_face_rows(events, faces)

        def run(conn: Connection) -> int:
            self._anonymise_erased(conn, rows)
            inserted = 0
            for start in range(0, len(rows), _PUSH_PAGE):
                # executemany + RETURNING: SQLAlchemy sends multi-row VALUES pages, in order.
                inserted += len(conn.execute(stmt, rows[start : start + _PUSH_PAGE]).all())
            if face_rows:
                conn.execute(
                    pg_insert(unknown_faces).on_conflict_do_nothing(
                        index_elements=[unknown_faces.c.event_id]
                    ),
                    face_rows,
                )
            return inserted

        inserted = self._transaction("pushing events", run)
        log.debug("central_events_pushed", offered=len(rows), inserted=inserted)
        return inserted

    @staticmethod
    def _anonymise_erased(conn: Connection, rows: list[dict[str, Any]]) -> None:
        ids = {r["employee_id"] for r in rows if r["employee_id"] is not None}
        if not ids:
            return
        found = conn.execute(
            select(
                erasures.c.employee_id,
                erasures.c.erased_at,
                employees.c.employee_id.is_not(None).label("re_enrolled"),
            )
            .select_from(erasures.outerjoin(employees, employees.c.employee_id == erasures.c.employee_id))
            .where(erasures.c.employee_id.in_(ids))
        ).all()
        if not found:
            return
        erased = {r.employee_id: (r.erased_at, r.re_enrolled) for r in found}
        for row in rows:
            info = erased.get(row["employee_id"])
            if info is None:
                continue
            erased_at, re_enrolled = info
            if not re_enrolled or row["captured_at"] <= erased_at:
                row["employee_id"] = None
                row["details"] = None

    def event_ids_present(self, ids: Iterable[str]) -> set[str]:
        wanted: set[str] = set()
        for raw in ids:
            try:
                wanted.add(str(uuid.UUID(str(raw))))
            except ValueError:
                continue  # not a UUID, so certainly not stored
        if not wanted:
            return set()

        def run(conn: Connection) -> set[str]:
            rows = conn.execute(
                select(attendance_events.c.event_id).where(attendance_events.c.event_id.in_(wanted))
            )
            return {str(r) for r in rows.scalars()}

        return self._transaction("looking up events", run)

    def count_events(self, device_id: str | None = None) -> int:
        stmt = select(func.count()).select_from(attendance_events)
        if device_id is not None:
            stmt = stmt.where(attendance_events.c.device_id == device_id)
        return self._transaction("counting events", lambda conn: int(conn.execute(stmt).scalar_one()))

    # -- enrolment --------------------------------------------------------------------------------
