"""Integration fixtures.

PostgreSQL (keep these at the top): every test session creates its own database on the server
named by ``SPUTNIK_TEST_PG_URL`` (default: postgres on 127.0.0.1:5432, trust auth), migrates it
once and drops it at the end (``sputnik_edge.tools.scratch_db``, the central bench's helper too).
``central_url`` empties it before each test (TRUNCATE and a sequence restart take milliseconds; a
new database per test took 1.5 s), so tests never see each other's rows. ``empty_db_url`` is a
separate, schema-less database for migration tests.
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
from sputnik_edge.tools.scratch_db import scratch_database
from tests.conftest import require

PG_ADMIN_URL = os.environ.get("SPUTNIK_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    """URL of the server's maintenance database; skips (fails in CI) when PostgreSQL is down."""
    engine = create_engine(PG_ADMIN_URL, poolclass=NullPool)
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
def central_db_url(pg_admin_url: str) -> Iterator[str]:
    """A migrated database of this test session, dropped at its end."""
    with scratch_database(pg_admin_url, prefix="sputnik_test") as url:
        upgrade(url)
        yield url


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
        from sputnik_edge.central.schema import metadata

        # Every table of the schema, so a table added by a migration is emptied too.
        conn.execute(text("TRUNCATE " + ", ".join(t.name for t in metadata.sorted_tables)))
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
    with scratch_database(pg_admin_url, prefix="sputnik_test_empty") as url:
        yield url


@pytest.fixture
def central_store(central_url: str) -> Iterator[CentralStore]:
    store = CentralStore(central_url)
    try:
        yield store
    finally:
        store.close()


# ---- central sync fixtures (tests/integration/test_sync_*.py) ---------------------------------------


import contextlib  # noqa: E402
import socket  # noqa: E402
import threading  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from sputnik_edge.attendance.types import AttendanceEvent  # noqa: E402
from sputnik_edge.config import Settings  # noqa: E402


class TcpProxy:
    """A TCP relay on 127.0.0.1 in front of PostgreSQL that a test can cut and restore.

    ``cut()`` stops accepting (new connections are refused) and closes every relayed connection in
    both directions, which is what a dead link or a restarted server looks like to the client.
    ``restore()`` listens again on the same port.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.accepted = 0
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = int(probe.getsockname()[1])
        probe.close()

    def start(self) -> TcpProxy:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(64)
        sock.settimeout(0.05)
        self._listener = sock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, args=(sock, self._stop), daemon=True)
        self._thread.start()
        return self

    def _accept_loop(self, sock: socket.socket, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                client, _ = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            upstream.settimeout(None)
            with self._lock:
                if stop.is_set():
                    client.close()
                    upstream.close()
                    return
                self._conns += [client, upstream]
                self.accepted += 1
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(src, dst), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            conns, self._conns = self._conns, []
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def restore(self) -> None:
        self.start()

    def close(self) -> None:
        self.cut()


@pytest.fixture
def pg_proxy(central_url: str) -> Iterator[tuple[TcpProxy, str]]:
    """A cuttable TCP proxy to the test database, and the database URL through it."""
    url = make_url(central_url)
    proxy = TcpProxy(url.host or "127.0.0.1", int(url.port or 5432)).start()
    try:
        yield proxy, url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    finally:
        proxy.close()


def terminate_backends(engine: Engine, application_name: str = "sputnik-edge") -> int:
    """pg_terminate_backend on every connection of ``application_name`` to the engine's database."""
    with engine.connect() as conn:
        n = conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name = :app AND pid <> pg_backend_pid()"
            ),
            {"app": application_name},
        ).scalar_one()
        conn.commit()
    return int(n)


def sync_settings(tmp: Path, database_url: str, device_id: str = "door-1", **central: Any) -> Settings:
    """Settings for a CentralSync under test: its own SQLite file and snapshot folder in ``tmp``."""
    return Settings(
        device={"id": device_id},
        storage={"database": str(tmp / f"{device_id}.db"), "snapshots_dir": str(tmp / f"{device_id}-snaps")},
        central={"database_url": database_url, "connect_timeout_s": 2, **central},
    )


def new_event(
    device_id: str, i: int = 0, kind: str = "check_in", employee_id: str | None = "e1"
) -> AttendanceEvent:
    """A fresh event (new UUID, captured now) as the attendance policy would hand to the outbox."""
    return AttendanceEvent(
        event_id=str(uuid.uuid4()),
        device_id=device_id,
        camera_id="entrance",
        kind=kind,  # type: ignore[arg-type]
        employee_id=None if kind in ("unknown", "low_confidence") else employee_id,
        name=None,
        similarity=0.8,
        captured_at=datetime.now(UTC),
        details={"i": i},
    )
