"""Integration fixtures.

PostgreSQL (keep these at the top): every test session creates its own database on the server
named by ``SPUTNIK_TEST_PG_URL`` (default: postgres on 127.0.0.1:5432, trust auth), migrates it
once and drops it at the end. ``central_url`` empties it before each test (TRUNCATE and a sequence
restart take milliseconds; a new database per test took 1.5 s), so tests never see each other's
rows. ``empty_db_url`` is a separate, schema-less database for migration tests.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.pool import NullPool

from sputnik_edge.central.migrate import upgrade
from sputnik_edge.central.store import CentralStore
from tests.conftest import require

PG_ADMIN_URL = os.environ.get("SPUTNIK_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


def _admin_engine(admin_url: str) -> Engine:
    # CREATE/DROP DATABASE cannot run inside a transaction block.
    return create_engine(admin_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")


def database_url(admin_url: str, name: str) -> str:
    """URL of database ``name`` on the admin URL's server, password kept (for connecting)."""
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def create_database(admin_url: str, name: str) -> str:
    engine = _admin_engine(admin_url)
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return database_url(admin_url, name)


def drop_database(admin_url: str, name: str) -> None:
    engine = _admin_engine(admin_url)
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    """URL of the server's maintenance database; skips (fails in CI) when PostgreSQL is down."""
    engine = _admin_engine(PG_ADMIN_URL)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        reachable, reason = True, ""
    except Exception as exc:
        where = make_url(PG_ADMIN_URL)  # repr hides the password
        reachable, reason = False, f"PostgreSQL not reachable at {where!r}: {type(exc).__name__}"
    finally:
        engine.dispose()
    require(reachable, reason)
    return PG_ADMIN_URL


@pytest.fixture(scope="session")
def pg_run_id() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def central_db_url(pg_admin_url: str, pg_run_id: str) -> Iterator[str]:
    """A migrated database of this test session, dropped at its end."""
    name = f"sputnik_test_{pg_run_id}"
    url = create_database(pg_admin_url, name)
    try:
        upgrade(url)
        yield url
    finally:
        drop_database(pg_admin_url, name)


@pytest.fixture(scope="session")
def central_engine(central_db_url: str) -> Iterator[Engine]:
    engine = create_engine(central_db_url)
    try:
        yield engine
    finally:
        engine.dispose()


def reset_central(engine: Engine) -> None:
    """Empty every central table and restart change_seq: cheaper than a new database per test."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "TRUNCATE employees, face_templates, face_photos, erasures, devices, attendance_events, "
                "settings"
            )
        )
        conn.execute(text("INSERT INTO settings (key, value) VALUES ('office_timezone', 'UTC')"))
        conn.execute(text("ALTER SEQUENCE change_seq_seq RESTART"))


@pytest.fixture
def central_url(central_db_url: str, central_engine: Engine) -> str:
    """The session database, emptied for this test."""
    reset_central(central_engine)
    return central_db_url


@pytest.fixture
def empty_db_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh database without any schema."""
    name = f"sputnik_test_{uuid.uuid4().hex[:12]}_empty"
    url = create_database(pg_admin_url, name)
    try:
        yield url
    finally:
        drop_database(pg_admin_url, name)


@pytest.fixture
def central_store(central_url: str) -> Iterator[CentralStore]:
    store = CentralStore(central_url)
    try:
        yield store
    finally:
        store.close()
