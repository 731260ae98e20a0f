"""The connection to the central PostgreSQL: engine, retried transactions, schema check."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Self, TypeVar

import structlog
from sqlalchemy import Connection, Engine, create_engine, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from sputnik_edge.central.errors import (
    UPGRADE_HINT,
    CentralError,
    SchemaError,
    describe_db_error,
    normalise_url,
    safe_url,
)
from sputnik_edge.central.migrate import current_revision, head_revision, known_revisions
from sputnik_edge.central.schema import (
    GALLERY_LOCK_KEY,
    settings,
)

log = structlog.get_logger(__name__)

T = TypeVar("T")

# SQLSTATEs after which the whole transaction can simply run again.
_RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure


def _is_retryable(exc: DBAPIError) -> bool:
    if exc.connection_invalidated:
        return True
    return getattr(exc.orig, "pgcode", None) in _RETRYABLE_SQLSTATES


def require_text(value: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    return value.strip()


def require_uuid(value: str, what: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise ValueError(f"{what} is not a UUID: {value!r}") from None


def as_utc(ts: datetime) -> datetime:
    # AttendanceEvent.captured_at is UTC by contract; a naive value would otherwise be read in the
    # server session's time zone.
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts


class CentralConnection:
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

    def __enter__(self) -> Self:
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

    def office_timezone(self) -> str:
        stmt = select(settings.c.value).where(settings.c.key == "office_timezone")
        value = self._transaction("reading settings", lambda conn: conn.execute(stmt).scalar())
        return value or "UTC"

    def set_office_timezone(self, name: str) -> None:
        """Set the zone ``attendance_daily`` counts days in (an IANA name such as Europe/Berlin)."""
        name = require_text(name, "time zone")

        def run(conn: Connection) -> None:
            known = conn.execute(
                text("SELECT 1 FROM pg_timezone_names WHERE name = :name"), {"name": name}
            ).first()
            if known is None:
                raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)")
            stmt = pg_insert(settings).values(key="office_timezone", value=name)
            conn.execute(stmt.on_conflict_do_update(index_elements=[settings.c.key], set_={"value": name}))

        self._transaction("saving settings", run)
