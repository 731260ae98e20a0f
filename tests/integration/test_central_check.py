"""check() diagnostics, connection loss and retry, device heartbeat, benchmark smoke run."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, create_engine, make_url, select, text
from sqlalchemy.pool import NullPool

from sputnik_edge.central.errors import CentralError, SchemaError
from sputnik_edge.central.migrate import upgrade
from sputnik_edge.central.schema import devices
from sputnik_edge.central.store import CentralStore
from sputnik_edge.central.types import DeviceHeartbeat
from sputnik_edge.tools import central_bench as bench

pytestmark = pytest.mark.integration

SECRET = "S3cret-Pa55word"


def with_password(url: str, database: str | None = None, port: int | None = None) -> str:
    u = make_url(url).set(password=SECRET)
    if database is not None:
        u = u.set(database=database)
    if port is not None:
        u = u.set(port=port)
    return u.render_as_string(hide_password=False)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the with block ends


def check_message(url: str) -> str:
    store = CentralStore(url, connect_timeout_s=2)
    try:
        with pytest.raises(CentralError) as info:
            store.check()
    finally:
        store.close()
    message = str(info.value)
    assert SECRET not in message
    assert "\n" not in message
    return message


def test_check_passes_on_migrated_database(central_url: str) -> None:
    with CentralStore(with_password(central_url)) as store:
        store.check()


def test_check_names_each_problem_without_the_password(central_url: str, empty_db_url: str) -> None:
    assert "postgresql://" in check_message(f"mysql://app:{SECRET}@127.0.0.1/attendance")
    assert "not a valid URL" in check_message("definitely not a url")
    assert "empty" in check_message("")
    assert "connection refused" in check_message(with_password(central_url, port=closed_port()))
    missing = check_message(with_password(central_url, database="sputnik_no_such_db"))
    assert "database does not exist" in missing
    unknown_host = check_message(f"postgresql://app:{SECRET}@no-such-host.invalid/x")
    assert "host name not found" in unknown_host
    no_schema = check_message(with_password(empty_db_url))
    assert "sputnik-edge db upgrade" in no_schema
    assert "no Sputnik schema" in no_schema


def test_check_reports_role_failure(central_url: str) -> None:
    # Trust auth accepts any password here, so an unknown role stands in for failed authentication.
    url = make_url(with_password(central_url)).set(username="sputnik_no_such_role")
    assert "does not exist" in check_message(url.render_as_string(hide_password=False))


def test_check_reports_outdated_and_unknown_schema(central_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import sputnik_edge.central.connection as connection_mod
    from sputnik_edge.central.migrate import head_revision

    at = head_revision()  # where the fixture's database is; pretend this version needs a later one
    monkeypatch.setattr(connection_mod, "head_revision", lambda: "9999")
    monkeypatch.setattr(connection_mod, "known_revisions", lambda: {at, "9999"})
    message = check_message(with_password(central_url))
    assert "out of date" in message and at in message and "sputnik-edge db upgrade" in message
    monkeypatch.setattr(connection_mod, "known_revisions", lambda: {"9999"})
    assert "unknown to this version" in check_message(with_password(central_url))


def test_schema_error_is_a_central_error(empty_db_url: str) -> None:
    with CentralStore(empty_db_url) as store, pytest.raises(SchemaError):
        store.check()


def test_operations_on_bad_url_raise_central_error() -> None:
    store = CentralStore(f"sqlite:///tmp/x.db?password={SECRET}")
    with pytest.raises(CentralError) as info:
        store.count_events()
    assert SECRET not in str(info.value)


def test_upgrade_failure_hides_password(central_url: str) -> None:
    with pytest.raises(CentralError) as info:
        upgrade(with_password(central_url, port=closed_port()))
    assert SECRET not in str(info.value)
    assert "connection refused" in str(info.value)


@pytest.fixture
def admin(central_url: str) -> Iterator[Connection]:
    engine = create_engine(central_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        yield conn
    engine.dispose()


def kill_store_connections(admin: Connection, database: str) -> int:
    return len(
        admin.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :db AND application_name = 'sputnik-edge' AND pid <> pg_backend_pid()"
            ),
            {"db": database},
        ).all()
    )


def test_pool_recovers_after_backends_are_killed(central_store: CentralStore, admin: Connection) -> None:
    database = central_store.engine.url.database or ""
    assert central_store.count_events() == 0
    assert kill_store_connections(admin, database) >= 1
    # The pooled connection is dead now; pre-ping notices and reconnects transparently.
    assert central_store.count_events() == 0
    central_store.upsert_employee("e1", "Ann")
    assert [e.employee_id for e in central_store.pull_gallery("m", 0).employees] == ["e1"]


def test_connection_killed_mid_transaction_is_retried(central_url: str, admin: Connection) -> None:
    database = make_url(central_url).database or ""
    calls = 0

    def work(conn: Connection) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            kill_store_connections(admin, database)
        return int(conn.execute(text("SELECT 42")).scalar_one())

    with CentralStore(central_url) as store:
        assert store._transaction("test", work) == 42
        assert calls == 2
    # Without retries the loss surfaces as a clean CentralError, and the next call works again.
    calls = 0
    with CentralStore(with_password(central_url), retries=0) as store:
        with pytest.raises(CentralError) as info:
            store._transaction("test", work)
        assert SECRET not in str(info.value)
        assert "test failed" in str(info.value)
        assert store.count_events() == 0


def test_heartbeat_upserts_device_and_measures_offset(central_store: CentralStore) -> None:
    offset = central_store.heartbeat(
        DeviceHeartbeat(
            device_id="door-1",
            name="Front door",
            location="Lobby",
            software_version="0.1.0",
            model_id="sface",
            gallery_seq=7,
            outbox_backlog=3,
        )
    )
    # Same host, same clock: the measured offset is the measurement error, well under a second.
    assert abs(offset) < 1000
    with central_store.engine.connect() as conn:
        row = conn.execute(select(devices)).one()
    assert (row.device_id, row.name, row.location, row.software_version, row.model_id) == (
        "door-1",
        "Front door",
        "Lobby",
        "0.1.0",
        "sface",
    )
    assert (row.gallery_seq, row.outbox_backlog) == (7, 3)
    assert row.clock_offset_ms == pytest.approx(offset)
    first_seen = row.last_seen_at

    central_store.heartbeat(
        DeviceHeartbeat(device_id="door-1", name="Front door", gallery_seq=9, outbox_backlog=0)
    )
    with central_store.engine.connect() as conn:
        rows = conn.execute(select(devices)).all()
    assert len(rows) == 1
    assert (rows[0].gallery_seq, rows[0].outbox_backlog) == (9, 0)
    assert rows[0].last_seen_at > first_seen


def test_bench_functions_run_and_clean_up(central_url: str, admin: Connection) -> None:
    before = set(admin.execute(text("SELECT datname FROM pg_database")).scalars())
    push = bench.bench_push(central_url, n=600, batch=200)
    assert push["inserted"] == 600 and push["stored"] == 600
    assert push["duplicate_batch_inserted"] == 0
    assert push["events_per_s"] > 0
    pull = bench.bench_pull(central_url, n_employees=300)
    assert pull["employees"] == 300 and pull["seconds"] > 0
    after = set(admin.execute(text("SELECT datname FROM pg_database")).scalars())
    assert not {d for d in after - before if d.startswith("sputnik_bench_")}
