"""Central PostgreSQL store: event push, gallery pull, enrolment, device heartbeat."""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import structlog
from sqlalchemy import Connection, Engine, create_engine, delete, func, literal, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from sputnik_edge.attendance.types import EVENT_KINDS, AttendanceEvent
from sputnik_edge.central.errors import (
    UPGRADE_HINT,
    CentralError,
    SchemaError,
    UnknownEmployeeError,
    describe_db_error,
    normalise_url,
    safe_url,
)
from sputnik_edge.central.migrate import current_revision, head_revision, known_revisions
from sputnik_edge.central.schema import (
    GALLERY_LOCK_KEY,
    attendance_events,
    devices,
    employees,
    erasures,
    face_photos,
    face_templates,
    settings,
)
from sputnik_edge.central.types import (
    DeviceHeartbeat,
    EmployeeRow,
    EmployeeSummary,
    GalleryDelta,
    TemplateRow,
)

log = structlog.get_logger(__name__)

T = TypeVar("T")

# SQLSTATEs after which the whole transaction can simply run again.
_RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure
_PUSH_PAGE = 1000
_CLOCK_SAMPLES = 3


def _is_retryable(exc: DBAPIError) -> bool:
    if exc.connection_invalidated:
        return True
    return getattr(exc.orig, "pgcode", None) in _RETRYABLE_SQLSTATES


def _require_text(value: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    return value.strip()


def _require_uuid(value: str, what: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise ValueError(f"{what} is not a UUID: {value!r}") from None


def _as_utc(ts: datetime) -> datetime:
    # AttendanceEvent.captured_at is UTC by contract; a naive value would otherwise be read in the
    # server session's time zone.
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts


class CentralStore:
    """Access to the central PostgreSQL database.

    Construction never fails: a bad URL is reported by ``check()`` (and by every other call) as a
    ``CentralError``, so a device can start standalone and report the problem in ``doctor``.
    Database failures of any call surface as ``CentralError`` with a one-line, password-free
    message; transactions that hit a dropped connection, a deadlock or a serialisation failure are
    retried (every operation here is a single idempotent or all-or-nothing transaction).
    """

    def __init__(self, url: str, *, connect_timeout_s: float = 5, retries: int = 2) -> None:
        self._retries = retries
        self._engine: Engine | None = None
        self._url_error: CentralError | None = None
        self._display = "<invalid url>"
        try:
            sa_url = normalise_url(url)
            self._display = safe_url(url.strip())
            self._engine = create_engine(
                sa_url,
                pool_pre_ping=True,
                pool_size=2,
                max_overflow=4,
                connect_args={
                    # libpq treats values below 2 as 2 and wants an integer.
                    "connect_timeout": max(2, math.ceil(connect_timeout_s)),
                    "application_name": "sputnik-edge",
                },
            )
        except CentralError as exc:
            self._url_error = exc
        except ImportError as exc:  # e.g. postgresql+psycopg without psycopg installed
            self._url_error = CentralError(f"database driver for {self._display} is not installed: {exc}")
        except SQLAlchemyError as exc:
            self._url_error = CentralError(f"cannot use central database {self._display}: {exc}")

    # -- plumbing ---------------------------------------------------------------------------------

    @property
    def display_url(self) -> str:
        return self._display

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise self._url_error or CentralError("central store is not configured")
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()

    def __enter__(self) -> CentralStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _transaction(self, action: str, fn: Callable[[Connection], T], *, isolation: str | None = None) -> T:
        engine = self.engine
        attempt = 0
        while True:
            try:
                with engine.connect() as conn:
                    if isolation is not None:
                        conn = conn.execution_options(isolation_level=isolation)
                    with conn.begin():
                        return fn(conn)
            except DBAPIError as exc:
                if getattr(exc.orig, "pgcode", None) == "42P01":  # undefined_table: not migrated
                    raise SchemaError(
                        f"{action} failed on {self._display}: the Sputnik schema is missing "
                        f"({describe_db_error(exc)}); run `sputnik-edge db upgrade`"
                    ) from None
                if attempt < self._retries and _is_retryable(exc):
                    attempt += 1
                    log.warning("central_retry", action=action, attempt=attempt, error=describe_db_error(exc))
                    continue
                raise CentralError(f"{action} failed on {self._display}: {describe_db_error(exc)}") from None
            except SQLAlchemyError as exc:
                raise CentralError(f"{action} failed on {self._display}: {describe_db_error(exc)}") from None

    @staticmethod
    def _lock_gallery(conn: Connection) -> None:
        # Same lock the change_seq trigger takes; taking it first keeps our own multi-table writes
        # from deadlocking against each other on row locks taken before the trigger fires.
        conn.execute(select(func.pg_advisory_xact_lock(GALLERY_LOCK_KEY)))

    # -- health -----------------------------------------------------------------------------------

    def check(self) -> None:
        """Raise ``CentralError`` naming the problem unless the database is usable by this version."""
        engine = self.engine
        try:
            with engine.connect() as conn:
                revision = current_revision(conn)
        except SQLAlchemyError as exc:
            raise CentralError(
                f"cannot connect to central database {self._display}: {describe_db_error(exc)}"
            ) from None
        head = head_revision()
        if revision is None:
            raise SchemaError(f"central database {self._display} has no Sputnik schema: {UPGRADE_HINT}")
        if revision != head:
            if revision in known_revisions():
                raise SchemaError(
                    f"central database {self._display} schema is out of date "
                    f"(at {revision}, this version needs {head}): {UPGRADE_HINT}"
                )
            raise SchemaError(
                f"central database {self._display} schema revision {revision} is unknown to this "
                f"version (needs {head}): upgrade sputnik-edge"
            )

    # -- events -----------------------------------------------------------------------------------

    def push_events(self, events: Sequence[AttendanceEvent]) -> int:
        """Insert events in one transaction, in the given order; returns how many were new.

        Idempotent on ``event_id``: events already present are skipped, so a retried batch is safe.
        Events of an erased employee captured before the erasure (or while they are not re-enrolled)
        are stored anonymised, so an offline device syncing late cannot bring the person back.
        """
        rows: list[dict[str, Any]] = []
        seen: set[str] = set()
        for ev in events:
            event_id = _require_uuid(ev.event_id, "event_id")
            if ev.kind not in EVENT_KINDS:
                raise ValueError(f"event {event_id}: kind {ev.kind!r} is not one of {', '.join(EVENT_KINDS)}")
            if event_id in seen:
                continue
            seen.add(event_id)
            rows.append(
                {
                    "event_id": event_id,
                    "device_id": _require_text(ev.device_id, f"event {event_id}: device_id"),
                    "camera_id": ev.camera_id,
                    "employee_id": ev.employee_id,
                    "kind": ev.kind,
                    "similarity": ev.similarity,
                    "captured_at": _as_utc(ev.captured_at),
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

        def run(conn: Connection) -> int:
            self._anonymise_erased(conn, rows)
            inserted = 0
            for start in range(0, len(rows), _PUSH_PAGE):
                # executemany + RETURNING: SQLAlchemy sends multi-row VALUES pages, in order.
                inserted += len(conn.execute(stmt, rows[start : start + _PUSH_PAGE]).all())
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

    def upsert_employee(
        self, employee_id: str, full_name: str, department: str | None = None, is_active: bool = True
    ) -> None:
        employee_id = _require_text(employee_id, "employee_id")
        full_name = _require_text(full_name, "full_name")
        stmt = pg_insert(employees).values(
            employee_id=employee_id, full_name=full_name, department=department, is_active=is_active
        )
        excluded = stmt.excluded
        stmt = stmt.on_conflict_do_update(
            index_elements=[employees.c.employee_id],
            set_={
                "full_name": excluded.full_name,
                "department": excluded.department,
                "is_active": excluded.is_active,
            },
            # An unchanged row must not get a new change_seq, or every device re-pulls it.
            where=(
                employees.c.full_name.is_distinct_from(excluded.full_name)
                | employees.c.department.is_distinct_from(excluded.department)
                | employees.c.is_active.is_distinct_from(excluded.is_active)
            ),
        )

        def run(conn: Connection) -> None:
            self._lock_gallery(conn)
            conn.execute(stmt)

        self._transaction("saving employee", run)
        log.info("central_employee_saved", employee_id=employee_id, is_active=is_active)

    def add_templates(
        self,
        employee_id: str,
        model_id: str,
        embeddings: npt.ArrayLike,
        qualities: Sequence[float],
        photos: Sequence[bytes] | None = None,
    ) -> list[str]:
        """Store N templates (``embeddings`` of shape (N, D)) and optional source photos; returns ids."""
        employee_id = _require_text(employee_id, "employee_id")
        model_id = _require_text(model_id, "model_id")
        matrix = np.ascontiguousarray(np.asarray(embeddings), dtype="<f4")
        if matrix.ndim != 2 or matrix.shape[0] == 0 or matrix.shape[1] == 0:
            raise ValueError(f"embeddings must have shape (N, D) with N, D > 0, got {matrix.shape}")
        n, dim = matrix.shape
        if not np.isfinite(matrix).all():
            raise ValueError("embeddings contain NaN or infinite values")
        if len(qualities) != n:
            raise ValueError(f"got {n} embeddings but {len(qualities)} qualities")
        if photos is not None and len(photos) != n:
            raise ValueError(f"got {n} embeddings but {len(photos)} photos")
        template_ids = [str(uuid.uuid4()) for _ in range(n)]
        photo_ids = [str(uuid.uuid4()) for _ in range(n)] if photos is not None else [None] * n

        def run(conn: Connection) -> None:
            self._lock_gallery(conn)
            exists = conn.execute(select(literal(1)).where(employees.c.employee_id == employee_id)).first()
            if exists is None:
                raise UnknownEmployeeError(f"unknown employee {employee_id!r}: create it first")
            stored_len = conn.execute(
                select(func.octet_length(face_templates.c.embedding))
                .where(face_templates.c.model_id == model_id)
                .limit(1)
            ).scalar()
            if stored_len is not None and stored_len != dim * 4:
                raise ValueError(f"model {model_id!r} templates have {stored_len // 4} dimensions, got {dim}")
            if photos is not None:
                conn.execute(
                    face_photos.insert(),
                    [
                        {"photo_id": pid, "employee_id": employee_id, "image": bytes(img)}
                        for pid, img in zip(photo_ids, photos, strict=True)
                    ],
                )
            conn.execute(
                face_templates.insert(),
                [
                    {
                        "template_id": tid,
                        "employee_id": employee_id,
                        "model_id": model_id,
                        "embedding": matrix[i].tobytes(),
                        "quality": float(qualities[i]),
                        "photo_id": photo_ids[i],
                    }
                    for i, tid in enumerate(template_ids)
                ],
            )

        self._transaction("adding templates", run)
        log.info("central_templates_added", employee_id=employee_id, model_id=model_id, count=n)
        return template_ids

    def delete_template(self, template_id: str) -> bool:
        """Soft-delete one template (devices learn it through the pull); False if none was live."""
        template_id = _require_uuid(template_id, "template_id")

        def run(conn: Connection) -> bool:
            self._lock_gallery(conn)
            result = conn.execute(
                update(face_templates)
                .where(face_templates.c.template_id == template_id, face_templates.c.deleted_at.is_(None))
                .values(deleted_at=func.now())
            )
            return result.rowcount > 0

        return self._transaction("deleting template", run)

    def deactivate_employee(self, employee_id: str) -> bool:
        """Mark an employee inactive (templates stay); False when no such employee exists."""
        employee_id = _require_text(employee_id, "employee_id")

        def run(conn: Connection) -> bool:
            self._lock_gallery(conn)
            found = conn.execute(
                select(employees.c.is_active).where(employees.c.employee_id == employee_id)
            ).first()
            if found is None:
                return False
            if found.is_active:
                conn.execute(
                    update(employees).where(employees.c.employee_id == employee_id).values(is_active=False)
                )
            return True

        found = self._transaction("deactivating employee", run)
        log.info("central_employee_deactivated", employee_id=employee_id, found=found)
        return found

    def delete_employee(self, employee_id: str) -> bool:
        """Right to erasure: delete the employee, their templates, photos and attendance events.

        Only a tombstone with the id remains so devices drop their cached copy on the next pull.
        Returns False when nothing of that id was stored.
        """
        employee_id = _require_text(employee_id, "employee_id")

        def run(conn: Connection) -> bool:
            self._lock_gallery(conn)
            events = conn.execute(
                delete(attendance_events).where(attendance_events.c.employee_id == employee_id)
            ).rowcount
            # Explicit deletes rather than relying on ON DELETE CASCADE alone: erasure must not
            # depend on how a future migration declares the foreign keys.
            conn.execute(delete(face_templates).where(face_templates.c.employee_id == employee_id))
            conn.execute(delete(face_photos).where(face_photos.c.employee_id == employee_id))
            gone = conn.execute(delete(employees).where(employees.c.employee_id == employee_id)).rowcount
            if not gone and not events:
                return False
            tomb = pg_insert(erasures).values(employee_id=employee_id)
            conn.execute(
                tomb.on_conflict_do_update(
                    index_elements=[erasures.c.employee_id], set_={"erased_at": func.now()}
                )
            )
            return True

        found = self._transaction("erasing employee", run)
        log.info("central_employee_erased", employee_id=employee_id, found=found)
        return found

    def list_employees(self) -> list[EmployeeSummary]:
        live = face_templates.c.deleted_at.is_(None)
        count = func.count(face_templates.c.template_id).filter(live)
        stmt = (
            select(
                employees.c.employee_id,
                employees.c.full_name,
                employees.c.department,
                employees.c.is_active,
                count.label("templates"),
            )
            .select_from(
                employees.outerjoin(face_templates, face_templates.c.employee_id == employees.c.employee_id)
            )
            .group_by(employees.c.employee_id)
            .order_by(employees.c.employee_id)
        )

        def run(conn: Connection) -> list[EmployeeSummary]:
            return [
                EmployeeSummary(r.employee_id, r.full_name, r.department, r.is_active, int(r.templates))
                for r in conn.execute(stmt)
            ]

        return self._transaction("listing employees", run)

    def find_conflicts(
        self,
        model_id: str,
        embedding: npt.ArrayLike,
        threshold: float,
        *,
        exclude_employee_id: str | None = None,
    ) -> list[tuple[str, float]]:
        """Active employees with a live template of ``model_id`` at cosine >= ``threshold``.

        Returns (employee_id, best cosine) pairs, most similar first. Used at enrolment to catch a
        face that is already enrolled under another id.
        """
        query = np.asarray(embedding, dtype=np.float32).reshape(-1)
        norm = float(np.linalg.norm(query))
        if query.size == 0 or not math.isfinite(norm) or norm == 0.0:
            raise ValueError("embedding must be a non-zero finite vector")
        query = query / norm
        stmt = (
            select(face_templates.c.employee_id, face_templates.c.embedding)
            .join(employees, employees.c.employee_id == face_templates.c.employee_id)
            .where(
                face_templates.c.model_id == model_id,
                face_templates.c.deleted_at.is_(None),
                employees.c.is_active.is_(True),
            )
            .order_by(face_templates.c.employee_id)
        )
        if exclude_employee_id is not None:
            stmt = stmt.where(face_templates.c.employee_id != exclude_employee_id)
        rows = self._transaction("searching templates", lambda conn: conn.execute(stmt).all())
        if not rows:
            return []
        owners = np.array([r.employee_id for r in rows], dtype=object)
        matrix = _stack_embeddings([r.embedding for r in rows], model_id)
        if matrix.shape[1] != query.size:
            raise ValueError(
                f"model {model_id!r} templates have {matrix.shape[1]} dimensions, got {query.size}"
            )
        norms = np.linalg.norm(matrix, axis=1)
        norms[norms == 0] = 1.0
        sims = (matrix @ query) / norms
        # Rows are ordered by employee, so each employee's best score is one reduceat segment.
        starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
        best = np.maximum.reduceat(sims, starts)
        hits = [(str(owners[s]), float(b)) for s, b in zip(starts, best, strict=True) if b >= threshold]
        hits.sort(key=lambda h: h[1], reverse=True)
        return hits

    # -- gallery pull -----------------------------------------------------------------------------

    def pull_gallery(self, model_id: str, since_seq: int) -> GalleryDelta:
        """Everything with ``change_seq > since_seq``: employees, templates of ``model_id`` (soft
        deletions included) and erasures, read from one snapshot."""
        model_id = _require_text(model_id, "model_id")
        if since_seq < 0:
            raise ValueError(f"since_seq must be >= 0, got {since_seq}")
        emp_stmt = (
            select(
                employees.c.employee_id,
                employees.c.full_name,
                employees.c.department,
                employees.c.is_active,
                employees.c.change_seq,
            )
            .where(employees.c.change_seq > since_seq)
            .order_by(employees.c.change_seq)
        )
        tpl_stmt = (
            select(
                face_templates.c.template_id,
                face_templates.c.employee_id,
                face_templates.c.embedding,
                face_templates.c.quality,
                face_templates.c.deleted_at.is_not(None).label("deleted"),
                face_templates.c.change_seq,
            )
            .where(face_templates.c.model_id == model_id, face_templates.c.change_seq > since_seq)
            .order_by(face_templates.c.change_seq)
        )
        era_stmt = (
            select(erasures.c.employee_id, erasures.c.change_seq)
            .where(erasures.c.change_seq > since_seq)
            .order_by(erasures.c.change_seq)
        )

        def run(conn: Connection) -> tuple[Sequence[Any], Sequence[Any], Sequence[Any]]:
            return (
                conn.execute(emp_stmt).all(),
                conn.execute(tpl_stmt).all(),
                conn.execute(era_stmt).all(),
            )

        # REPEATABLE READ: the three queries see one snapshot, so max_seq is consistent across them.
        emp_rows, tpl_rows, era_rows = self._transaction("pulling gallery", run, isolation="REPEATABLE READ")

        emps = [EmployeeRow(r[0], r[1], r[2], r[3], r[4]) for r in emp_rows]
        templates: list[TemplateRow] = []
        if tpl_rows:
            matrix = _stack_embeddings([r[2] for r in tpl_rows], model_id)
            matrix.flags.writeable = False
            templates = [
                TemplateRow(str(r[0]), r[1], matrix[i], r[3], r[4], r[5]) for i, r in enumerate(tpl_rows)
            ]
        erased = [r[0] for r in era_rows]
        max_seq = max(
            since_seq,
            emp_rows[-1][4] if emp_rows else 0,
            tpl_rows[-1][5] if tpl_rows else 0,
            era_rows[-1][1] if era_rows else 0,
        )
        delta = GalleryDelta(
            since_seq=since_seq, max_seq=max_seq, employees=emps, templates=templates, erased=erased
        )
        log.debug(
            "central_gallery_pulled",
            model_id=model_id,
            since_seq=since_seq,
            max_seq=max_seq,
            employees=len(emps),
            templates=len(templates),
            erased=len(erased),
        )
        return delta

    # -- devices and settings ---------------------------------------------------------------------

    def heartbeat(self, status: DeviceHeartbeat) -> float:
        """Record the device's state and return its clock offset in ms (database clock minus local
        clock, positive when the device is behind), measured as NTP does: the database time is
        compared to the midpoint of the local times around the query; the fastest of a few samples
        wins because its midpoint is the least uncertain."""
        device_id = _require_text(status.device_id, "device_id")
        clock_stmt = select(func.clock_timestamp())

        def run(conn: Connection) -> float:
            best_rtt = math.inf
            offset_ms = 0.0
            for _ in range(_CLOCK_SAMPLES):
                t0 = time.time()
                db_now = conn.execute(clock_stmt).scalar_one()
                t1 = time.time()
                if t1 - t0 < best_rtt:
                    best_rtt = t1 - t0
                    offset_ms = (db_now.timestamp() - (t0 + t1) / 2) * 1000.0
            values = {
                "name": status.name,
                "location": status.location,
                "software_version": status.software_version,
                "model_id": status.model_id,
                "gallery_seq": status.gallery_seq,
                "outbox_backlog": status.outbox_backlog,
                "clock_offset_ms": offset_ms,
                "last_seen_at": func.now(),
            }
            stmt = pg_insert(devices).values(device_id=device_id, **values)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[devices.c.device_id],
                    set_={k: getattr(stmt.excluded, k) for k in values},
                )
            )
            return offset_ms

        offset = self._transaction("recording heartbeat", run)
        log.debug("central_heartbeat", device_id=device_id, clock_offset_ms=round(offset, 1))
        return offset

    def office_timezone(self) -> str:
        stmt = select(settings.c.value).where(settings.c.key == "office_timezone")
        value = self._transaction("reading settings", lambda conn: conn.execute(stmt).scalar())
        return value or "UTC"

    def set_office_timezone(self, name: str) -> None:
        """Set the zone ``attendance_daily`` counts days in (an IANA name such as Europe/Berlin)."""
        name = _require_text(name, "time zone")

        def run(conn: Connection) -> None:
            known = conn.execute(
                text("SELECT 1 FROM pg_timezone_names WHERE name = :name"), {"name": name}
            ).first()
            if known is None:
                raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)")
            stmt = pg_insert(settings).values(key="office_timezone", value=name)
            conn.execute(stmt.on_conflict_do_update(index_elements=[settings.c.key], set_={"value": name}))

        self._transaction("saving settings", run)


def _stack_embeddings(blobs: Sequence[bytes | memoryview], model_id: str) -> npt.NDArray[np.float32]:
    """One (N, D) float32 matrix from N bytea values, with a single copy: join, then frombuffer."""
    size = len(blobs[0])
    if any(len(b) != size for b in blobs):
        raise CentralError(f"templates of model {model_id!r} have different embedding sizes")
    joined = b"".join(blobs)
    return np.frombuffer(joined, dtype="<f4").reshape(len(blobs), size // 4).astype(np.float32, copy=False)
