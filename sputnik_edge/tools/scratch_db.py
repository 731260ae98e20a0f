"""Throw-away PostgreSQL databases for the central bench and the integration tests.

``scratch_database(url)`` creates a uniquely named, empty database on the server that ``url``
names (connecting through the server's ``postgres`` maintenance database) and drops it on exit,
also when the body raised. Without the CREATEDB privilege it can fall back to a scratch schema
inside ``url``'s own database, selected through the connection's ``search_path``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import structlog
from sqlalchemy import URL, Engine, create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from sputnik_edge.central.errors import CentralError, describe_db_error, normalise_url

log = structlog.get_logger(__name__)

_INSUFFICIENT_PRIVILEGE = "42501"
MAINTENANCE_DB = "postgres"


def _autocommit(url: URL | str) -> Engine:
    # CREATE/DROP DATABASE cannot run inside a transaction block.
    return create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def _render(url: URL) -> str:
    return url.render_as_string(hide_password=False)


@contextmanager
def scratch_database(
    url: str, prefix: str = "sputnik_scratch", *, schema_fallback: bool = False
) -> Iterator[str]:
    """Yield the URL (password kept, for connecting) of a new empty database; drop it after.

    ``schema_fallback``: when the role may not create databases, yield a URL whose connections
    work in a new schema of ``url``'s database instead (dropped after, with everything in it).
    Other failures raise CentralError with a message that hides the password."""
    base = normalise_url(url)
    name = unique_name(prefix)
    admin = _autocommit(base.set(database=MAINTENANCE_DB))
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except DBAPIError as exc:
        admin.dispose()
        if not schema_fallback or getattr(exc.orig, "pgcode", None) != _INSUFFICIENT_PRIVILEGE:
            raise CentralError(f"cannot create a scratch database: {describe_db_error(exc)}") from None
        log.info("scratch_schema_fallback", reason="no CREATEDB privilege", schema=name)
    else:
        try:
            yield _render(base.set(database=name))
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
        return
    with _scratch_schema(base, name) as schema_url:
        yield schema_url


@contextmanager
def _scratch_schema(base: URL, name: str) -> Iterator[str]:
    engine = _autocommit(base)
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{name}"'))
        # libpq passes "options" to the server, so every connection made with this URL (alembic's
        # and the store's) resolves unqualified names in the scratch schema.
        yield _render(base.update_query_dict({"options": f"-csearch_path={name}"}))
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        engine.dispose()
