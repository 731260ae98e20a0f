"""Scratch PostgreSQL databases (central bench, integration tests): created empty, always dropped."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.pool import NullPool

from sputnik_edge.central import CentralError
from sputnik_edge.tools.scratch_db import scratch_database
from tests.conftest import require

pytestmark = pytest.mark.integration

ADMIN_URL = os.environ.get("SPUTNIK_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
PREFIX = "sputnik_scratchtest"
ROLE = "sputnik_scratch_nocreatedb"


@pytest.fixture(scope="module")
def admin() -> Iterator[Engine]:
    engine = create_engine(ADMIN_URL, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        reachable = True
    except Exception:
        reachable = False
    require(reachable, f"PostgreSQL not reachable at {make_url(ADMIN_URL)!r}")
    yield engine
    engine.dispose()


def _databases(admin: Engine) -> set[str]:
    with admin.connect() as conn:
        return set(conn.execute(text("SELECT datname FROM pg_database")).scalars())


def _scalar(url: str, sql: str) -> object:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(sql))
            return result.scalar() if result.returns_rows else None
    finally:
        engine.dispose()


def test_creates_an_empty_database_and_drops_it(admin: Engine) -> None:
    with scratch_database(ADMIN_URL, PREFIX) as url:
        name = make_url(url).database
        assert name is not None and name.startswith(PREFIX + "_") and name in _databases(admin)
        assert _scalar(url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == 0
        _scalar(url, "CREATE TABLE t (x int)")
    assert name not in _databases(admin)


def test_dropped_when_the_body_fails_even_with_connections_open(admin: Engine) -> None:
    with pytest.raises(RuntimeError, match="test body"), scratch_database(ADMIN_URL, PREFIX) as url:
        name = make_url(url).database
        held = create_engine(url).connect()  # left open: DROP ... WITH (FORCE) ends it
        held.execute(text("SELECT 1"))
        raise RuntimeError("test body")
    assert name not in _databases(admin)


def test_two_scratch_databases_have_different_names() -> None:
    with scratch_database(ADMIN_URL, PREFIX) as a, scratch_database(ADMIN_URL, PREFIX) as b:
        assert make_url(a).database != make_url(b).database


def test_without_createdb_falls_back_to_a_schema_or_fails_clearly(admin: Engine) -> None:
    with admin.connect() as conn:
        conn.execute(text(f"DROP ROLE IF EXISTS {ROLE}"))
        conn.execute(text(f"CREATE ROLE {ROLE} LOGIN NOCREATEDB"))
    try:
        with scratch_database(ADMIN_URL, PREFIX) as home:
            home_url = make_url(home)
            with admin.connect() as conn:
                conn.execute(text(f'GRANT CREATE ON DATABASE "{home_url.database}" TO {ROLE}'))
            url = home_url.set(username=ROLE, password=None).render_as_string(hide_password=False)
            with (
                pytest.raises(CentralError, match="cannot create a scratch database"),
                scratch_database(url, PREFIX),
            ):
                pass
            with scratch_database(url, PREFIX, schema_fallback=True) as schema_url:
                schema = _scalar(schema_url, "SELECT current_schema()")
                assert isinstance(schema, str) and schema.startswith(PREFIX + "_")
                _scalar(schema_url, "CREATE TABLE t (x int)")
            assert _scalar(home, f"SELECT count(*) FROM pg_namespace WHERE nspname = '{schema}'") == 0
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP ROLE IF EXISTS {ROLE}"))
