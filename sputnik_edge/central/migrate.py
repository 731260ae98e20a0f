"""Programmatic alembic: ``sputnik-edge db upgrade`` without an alembic.ini on disk."""

from __future__ import annotations

from pathlib import Path

import structlog
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.pool import NullPool

from sputnik_edge.central.errors import CentralError, describe_db_error, display_url, normalise_url, safe_url

log = structlog.get_logger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Keeps two devices that run `db upgrade` at the same moment from racing through the DDL.
_MIGRATION_LOCK_KEY = 0x5370_7574_6E69_6B02


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # only possible if the package was shipped without its versions folder
        raise CentralError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def known_revisions() -> set[str]:
    return {script.revision for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def current_revision(conn: Connection) -> str | None:
    """Revision recorded in the database, None when the schema was never created."""
    return MigrationContext.configure(conn).get_current_revision()


def upgrade(url: str, revision: str = "head") -> str:
    """Bring the central schema to ``revision`` (default: head) and return the resulting revision.

    Idempotent: on an up-to-date database this is a no-op.
    """
    sa_url = normalise_url(url)
    engine = create_engine(sa_url, poolclass=NullPool)
    cfg = alembic_config()
    try:
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
            before = current_revision(conn)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            after = current_revision(conn)
    except CentralError:
        raise
    except Exception as exc:
        raise CentralError(f"migration of {display_url(sa_url)} failed: {describe_db_error(exc)}") from None
    finally:
        engine.dispose()
    log.info("central_schema_upgraded", url=safe_url(url), before=before, after=after)
    return after or ""


def downgrade(url: str, revision: str) -> str:
    """Take the schema back to ``revision`` ("base" drops everything). For tests and rollbacks."""
    engine = create_engine(normalise_url(url), poolclass=NullPool)
    cfg = alembic_config()
    try:
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, revision)
            after = current_revision(conn)
    finally:
        engine.dispose()
    log.info("central_schema_downgraded", url=safe_url(url), after=after)
    return after or ""
