"""Fixtures of the office server tests: real PostgreSQL, real HTTP over loopback, real models.

Each test module that runs a server gets a database of its own (created, migrated, dropped at the
end of the session), so modules never see each other's users or employees. The server runs in a
thread of the test process (uvicorn on a free loopback port), which shares one loaded recogniser
across modules; tests talk to it with httpx like any client would.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from sputnik_edge.central.migrate import upgrade
from sputnik_edge.central.store import CentralStore
from sputnik_edge.office.config import OfficeSettings
from sputnik_edge.tools.scratch_db import scratch_database
from tests.conftest import clear_config_env, require
from tests.support.daemon import free_port

SECRET_KEY = "office-test-secret-key-0123456789-abcdefghijkl"
PASSWORD = "correct horse battery"
CAMERA_TOKEN = "camera-token-entrance-0123456789"
EXIT_TOKEN_CAMERA = "camera-token-exit-9876543210abc"


PG_ADMIN_URL = os.environ.get("SPUTNIK_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(autouse=True)
def _no_config_from_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_config_env(monkeypatch)


@pytest.fixture(scope="session")
def pg_admin() -> str:
    engine = create_engine(PG_ADMIN_URL, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        ok, reason = True, ""
    except Exception as exc:
        ok, reason = False, f"PostgreSQL not reachable at {make_url(PG_ADMIN_URL)!r}: {type(exc).__name__}"
    finally:
        engine.dispose()
    require(ok, reason)
    return PG_ADMIN_URL


@pytest.fixture(scope="session")
def new_database(pg_admin: str) -> Iterator[Callable[[bool], str]]:
    """``new_database(migrated=True)``: the URL of a fresh database, dropped when the session ends."""
    with contextlib.ExitStack() as made:

        def make(migrated: bool = True) -> str:
            url = made.enter_context(scratch_database(pg_admin, prefix="sputnik_office_test"))
            if migrated:
                upgrade(url)
            return url

        yield make


@pytest.fixture(scope="module")
def db_url(new_database: Callable[[bool], str]) -> str:
    """A migrated database of this test module."""
    return new_database(True)


@pytest.fixture(scope="session")
def recognizer() -> Any:
    from tests.support.daemon import shared_recognizer

    return shared_recognizer()


def office_settings(db_url: str, port: int = 0, **sections: dict[str, Any] | list[Any]) -> OfficeSettings:
    data: dict[str, Any] = {
        "central": {"database_url": db_url, "connect_timeout_s": 2},
        "http": {"port": port, "secret_key": SECRET_KEY},
        "cameras": [
            {"id": "entrance", "direction": "in", "token": CAMERA_TOKEN},
            {"id": "exit", "direction": "out", "token": EXIT_TOKEN_CAMERA, "cooldown_s": 0},
        ],
        "logging": {"format": "json"},
    }
    for section, values in sections.items():
        if isinstance(values, dict):
            data.setdefault(section, {}).update(values)
        else:
            data[section] = values
    return OfficeSettings(**data)


@dataclass
class OfficeServer:
    """The office app under uvicorn in a thread, on 127.0.0.1."""

    settings: OfficeSettings
    recognizer: Any = None

    def start(self) -> OfficeServer:
        import uvicorn

        from sputnik_edge.office.app import create_office_app
        from sputnik_edge.office.context import build_state

        self.state = build_state(self.settings, recognizer=self.recognizer)
        self.port = self.settings.http.port or free_port()
        config = uvicorn.Config(
            create_office_app(self.state),
            host="127.0.0.1",
            port=self.port,
            proxy_headers=False,
            access_log=False,
            log_config=None,
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="office-server", daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise AssertionError("office server did not start")
            time.sleep(0.02)
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def central(self) -> CentralStore:
        return self.state.central

    def client(self, **kw: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kw)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.state.close()


@pytest.fixture(scope="module")
def server_factory(recognizer: Any) -> Iterator[Callable[[OfficeSettings], OfficeServer]]:
    started: list[OfficeServer] = []

    def start(settings: OfficeSettings) -> OfficeServer:
        s = OfficeServer(settings, recognizer).start()
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


@pytest.fixture(scope="module")
def server(db_url: str, server_factory: Callable[[OfficeSettings], OfficeServer]) -> OfficeServer:
    return server_factory(office_settings(db_url))


# ---- accounts ------------------------------------------------------------------------------------


def add_user(central: CentralStore, username: str, role: str, password: str = PASSWORD) -> None:
    from sputnik_edge.office.users import add_user as add

    add(central, username, password, role, actor="test")


def new_token(central: CentralStore, username: str, name: str = "test") -> str:
    from sputnik_edge.office.users import create_token

    return create_token(central, username, name, actor="test").issued.token


@dataclass
class Session:
    """A logged-in browser: the cookie jar of ``client`` and the CSRF token of the login answer."""

    client: httpx.Client
    csrf: str
    login: httpx.Response

    def unsafe(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"X-CSRF-Token": self.csrf, **kw.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kw)


def login(server: OfficeServer, username: str, password: str = PASSWORD) -> Session:
    client = server.client()
    r = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return Session(client, r.json()["csrf_token"], r)


def assert_error(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert set(err) == {"code", "message", "trace_id"}, err
    assert err["trace_id"] == r.headers["X-Trace-ID"]
    if code is not None:
        assert err["code"] == code, err
    return dict(err)


def photo(faces_dir: Path, relative: str) -> bytes:
    return (faces_dir / relative).read_bytes()


def audit_rows(central: CentralStore, action: str | None = None) -> list[Any]:
    from sputnik_edge.office.audit import list_audit

    return list_audit(central, action=action, limit=1000).entries
