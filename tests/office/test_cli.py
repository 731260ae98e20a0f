"""``sputnik-office`` commands: users, tokens, check-config, db upgrade, report, serve."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from sputnik_edge.central.migrate import head_revision
from sputnik_edge.central.store import CentralStore
from sputnik_edge.office.cli import main
from tests.conftest import REPO_ROOT
from tests.office.conftest import PASSWORD, SECRET_KEY, OfficeServer, add_user, new_token
from tests.support.daemon import free_port

pytestmark = pytest.mark.integration

HAS_ATTENDANCE = importlib.util.find_spec("sputnik_edge.office.attendance") is not None


@pytest.fixture(autouse=True)
def _keep_logging() -> Iterator[None]:
    """main() points the root logger at the (captured) stderr of the moment; the servers' threads
    of this module must not log into a closed capture afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def config(tmp_path: Path, db_url: str, extra: str = "") -> Path:
    path = tmp_path / "office.toml"
    path.write_text(f'[central]\ndatabase_url = "{db_url}"\nconnect_timeout_s = 2\n{extra}')
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def password_file(tmp_path: Path, password: str = PASSWORD) -> str:
    path = tmp_path / "pw"
    path.write_text(password + "\n")
    return str(path)


def test_users_add_list_disable_and_tokens(
    tmp_path: Path, db_url: str, server: OfficeServer, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = str(config(tmp_path, db_url))
    pw = password_file(tmp_path)
    code, out, _ = run(
        capsys,
        "users",
        "add",
        "--config",
        cfg,
        "--username",
        "Anna",
        "--role",
        "admin",
        "--password-file",
        pw,
    )
    assert (code, out.strip()) == (0, "added admin anna")
    code, _, err = run(
        capsys, "users", "add", "--config", cfg, "--username", "anna", "--role", "hr", "--password-file", pw
    )
    assert code == 2 and err.strip() == "error: office user 'anna' exists already"
    short = password_file(tmp_path, "short")
    code, _, err = run(
        capsys, "users", "add", "--config", cfg, "--username", "bob", "--role", "hr", "--password-file", short
    )
    assert code == 2 and "at least 10 characters" in err and "short" not in err.replace("short", "", 0)
    code, _, err = run(
        capsys,
        "users",
        "add",
        "--config",
        cfg,
        "--username",
        "bob",
        "--role",
        "hr",
        "--password-file",
        "/nope",
    )
    assert code == 2 and "--password-file /nope" in err
    code, _, err = run(
        capsys,
        "users",
        "add",
        "--config",
        cfg,
        "--username",
        "bad name",
        "--role",
        "hr",
        "--password-file",
        pw,
    )
    assert code == 2 and "username 'bad name'" in err

    code, out, _ = run(capsys, "users", "list", "--config", cfg, "--json")
    (anna,) = json.loads(out)
    assert (code, anna["username"], anna["role"], anna["is_active"], anna["tokens"]) == (
        0,
        "anna",
        "admin",
        True,
        0,
    )
    assert "password" not in out

    code, out, err = run(
        capsys, "tokens", "create", "--config", cfg, "--username", "anna", "--name", "backup script"
    )
    token = out.strip()
    assert code == 0 and token.startswith("spo_") and "\n" not in token and "shown only now" in err
    me = server.client(headers={"Authorization": f"Bearer {token}"}).get("/api/v1/auth/me")
    assert me.status_code == 200 and me.json()["username"] == "anna"
    code, out, _ = run(capsys, "users", "list", "--config", cfg)
    assert code == 0 and "anna" in out and token not in out

    code, out, err = run(
        capsys, "tokens", "create", "--config", cfg, "--username", "anna", "--name", "to revoke"
    )
    revoked = out.strip()
    token_id = err.split("(id ")[1].split(")")[0]
    assert (
        run(capsys, "tokens", "revoke", "--config", cfg, token_id)[1].strip() == f"revoked token {token_id}"
    )
    assert (
        server.client(headers={"Authorization": f"Bearer {revoked}"}).get("/api/v1/auth/me").status_code
        == 401
    )
    code, _, err = run(capsys, "tokens", "revoke", "--config", cfg, token_id)
    assert code == 2 and "no live token" in err
    assert run(capsys, "tokens", "revoke", "--config", cfg, "not-a-uuid")[0] == 2

    code, out, _ = run(capsys, "users", "disable", "--config", cfg, "anna")
    assert (code, out.strip()) == (0, "anna disabled")
    assert (
        server.client(headers={"Authorization": f"Bearer {token}"}).get("/api/v1/auth/me").status_code == 401
    )
    r = server.client().post("/api/v1/auth/login", json={"username": "anna", "password": PASSWORD})
    assert r.status_code == 401
    assert (
        run(capsys, "users", "disable", "--config", cfg, "anna")[1].strip()
        == "anna disabled (was already disabled)"
    )
    code, _, err = run(capsys, "users", "disable", "--config", cfg, "nobody")
    assert code == 2 and "no office user 'nobody'" in err
    code, _, err = run(capsys, "tokens", "create", "--config", cfg, "--username", "nobody", "--name", "x")
    assert code == 2 and "no office user 'nobody'" in err
    with server.central.engine.connect() as conn:
        actors = {
            r.actor
            for r in conn.execute(text("SELECT actor FROM office_audit WHERE action = 'user_created'"))
        }
    assert all(a.startswith("cli") for a in actors)


def test_users_add_prompts_for_the_password_twice(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = str(config(tmp_path, db_url))
    answers = iter([PASSWORD, PASSWORD + "x"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    code, _, err = run(capsys, "users", "add", "--config", cfg, "--username", "pat", "--role", "viewer")
    assert code == 2 and err.strip() == "error: the two passwords differ"
    answers = iter([PASSWORD, PASSWORD])
    assert run(capsys, "users", "add", "--config", cfg, "--username", "pat", "--role", "viewer")[0] == 0


def test_check_config_prints_masked_json_and_names_bad_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = config(tmp_path, "postgresql://u:db-password@h/x", f'[http]\nsecret_key = "{SECRET_KEY}"\n')
    code, out, _ = run(capsys, "check-config", "--config", str(cfg))
    data = json.loads(out)
    assert code == 0 and data["central"]["database_url"] == "postgresql://***@h/x"
    assert "db-password" not in out and SECRET_KEY not in out and data["http"]["secret_key"] == "***"
    bad = tmp_path / "bad.toml"
    bad.write_text("[http]\nport = 'eighty'\nsecret_key = 'tooshort'\n[office]\nzone = 1\n")
    code, _, err = run(capsys, "check-config", "--config", str(bad))
    assert code == 2 and err.count("\n") == 1
    assert "http.port" in err and "http.secret_key" in err and "office.zone: unknown key" in err
    assert "tooshort" not in err


def test_console_script_module_exits_2_on_bad_config(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[cameras]\nid = 1\n")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "sputnik_edge.office.cli", "check-config", "--config", str(bad)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 2 and proc.stderr.startswith("error: invalid configuration in ")
    assert "Traceback" not in proc.stderr


def test_db_upgrade_is_idempotent_and_sets_the_office_timezone(
    tmp_path: Path, new_database: Callable[[bool], str], capsys: pytest.CaptureFixture[str]
) -> None:
    url = new_database(False)
    cfg = str(config(tmp_path, url, '[office]\ntimezone = "Europe/Berlin"\n'))
    code, _, err = run(capsys, "users", "list", "--config", cfg)
    assert code == 2 and "sputnik-office db upgrade" in err
    for _ in range(2):
        code, out, _ = run(capsys, "db", "upgrade", "--config", cfg)
        assert (
            code == 0 and f"at revision {head_revision()}" in out and "office time zone Europe/Berlin" in out
        )
    engine = create_engine(url)
    with engine.connect() as conn:
        assert (
            conn.execute(text("SELECT value FROM settings WHERE key = 'office_timezone'")).scalar()
            == "Europe/Berlin"
        )
    engine.dispose()
    assert run(capsys, "users", "list", "--config", cfg)[0] == 0


def test_database_problems_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "db", "upgrade", "--config", str(tmp_path / "none.toml"))
    assert code == 2 and "config file not found" in err
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    code, _, err = run(capsys, "users", "list", "--config", str(empty))
    assert code == 2 and "central.database_url is not set" in err
    down = str(config(tmp_path, f"postgresql://postgres:pw-123@127.0.0.1:{free_port()}/x"))
    code, _, err = run(capsys, "users", "list", "--config", down)
    assert code == 1 and err.count("\n") == 1 and "pw-123" not in err and "refused" in err


def test_report_timesheet_arguments(tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = str(config(tmp_path, db_url))
    base = ["report", "timesheet", "--config", cfg, "--format", "csv", "--out", str(tmp_path / "t.csv")]
    code, _, err = run(capsys, *base, "--from", "2026-13-01", "--to", "2026-01-31")
    assert code == 2 and "--from '2026-13-01' is not a day" in err
    code, _, err = run(capsys, *base, "--from", "2026-02-01", "--to", "2026-01-31")
    assert code == 2 and "before --from" in err
    nowhere = ["--from", "2026-01-01", "--to", "2026-01-31", "--out", str(tmp_path / "no" / "t.csv")]
    code, _, err = run(capsys, "report", "timesheet", "--config", cfg, "--format", "csv", *nowhere)
    assert code == 2 and "does not exist" in err
    if not HAS_ATTENDANCE:
        code, _, err = run(capsys, *base, "--from", "2026-01-01", "--to", "2026-01-31")
        assert code == 1 and "no attendance service" in err


@pytest.mark.skipif(not HAS_ATTENDANCE, reason="sputnik_edge.office.attendance is not in this branch yet")
def test_report_timesheet_writes_csv_and_xlsx(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from openpyxl import load_workbook

    from sputnik_edge.attendance.types import AttendanceEvent

    with CentralStore(db_url) as central:
        central.upsert_employee("rep-1", "Отчёт =Тестов", "Склад")
        central.push_events(
            [
                AttendanceEvent(
                    str(uuid.uuid4()), "door-1", "entrance", "check_in", "rep-1", None, 0.9,
                    datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
                )
            ]
        )  # fmt: skip
    cfg = str(config(tmp_path, db_url))
    for fmt in ("csv", "xlsx"):
        out = tmp_path / f"t.{fmt}"
        argv = ["report", "timesheet", "--config", cfg, "--from", "2026-01-01", "--to", "2026-01-07"]
        code, printed, err = run(capsys, *argv, "--department", "Склад", "--format", fmt, "--out", str(out))
        assert code == 0, err
        assert str(out) in printed
    csv_text = (tmp_path / "t.csv").read_bytes()
    assert csv_text.startswith(b"\xef\xbb\xbf") and "Отчёт =Тестов".encode() in csv_text
    cells = [c.value for row in load_workbook(tmp_path / "t.xlsx").worksheets[0].iter_rows() for c in row]
    assert "Отчёт =Тестов" in cells


def test_serve_refuses_to_expose_itself_without_a_secret_key(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = str(config(tmp_path, db_url, '[http]\nhost = "0.0.0.0"\n'))
    code, _, err = run(capsys, "serve", "--config", cfg)
    assert code == 2 and "http.host '0.0.0.0' is not loopback: set http.secret_key" in err


def test_serve_runs_until_sigterm_with_json_logs(tmp_path: Path, db_url: str) -> None:
    port = free_port()
    cfg = config(tmp_path, db_url, f'[http]\nport = {port}\n[logging]\nformat = "json"\n')
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "SPUTNIK_OFFICE_HTTP__SECRET_KEY": SECRET_KEY}
    log = tmp_path / "serve.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sputnik_edge.office.cli", "serve", "--config", str(cfg)],
            stdout=fh, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        assert r.status_code == 200 and r.json()["status"] == "ok"
        assert "server" not in r.headers
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/info").status_code == 401
        with CentralStore(db_url) as central:
            add_user(central, "logged", "viewer")
            token = new_token(central, "logged")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:
            login = c.post("/api/v1/auth/login", json={"username": "logged", "password": PASSWORD})
            assert login.status_code == 200
            secrets_ = [PASSWORD, login.json()["csrf_token"], c.cookies["sputnik_office_session"], token]
            assert c.get("/api/v1/info", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    text_ = log.read_text()
    assert code == 0, text_
    lines = [json.loads(line) for line in text_.splitlines() if line.startswith("{")]
    events = {line["event"] for line in lines}
    assert {"office_models_loaded", "http_listening", "http_request", "http_stopped"} <= events
    assert SECRET_KEY not in text_ and "Traceback" not in text_
    for secret in secrets_:  # password, CSRF token, session cookie, API token
        assert secret not in text_
