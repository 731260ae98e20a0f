"""Central commands of the real CLI (`sputnik-edge` subprocesses): db upgrade, sync --once, enroll
with central conflicts, employees delete, and one-line errors for bad database URLs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, make_url, text

from sputnik_edge.central.store import CentralStore
from sputnik_edge.store.local import LocalStore
from tests.integration.conftest import new_event
from tests.support.daemon import free_port

pytestmark = pytest.mark.integration

PASSWORD = "pw-K3x9-never-shown"


def cli_env(tmp: Path, url: str, db_name: str = "edge.db") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPUTNIK_") and k != "DATABASE_URL"}
    config = tmp / "empty.toml"  # everything comes from the environment
    config.touch()
    return {
        **env,
        "SPUTNIK_CONFIG": str(config),
        "DATABASE_URL": url,
        "SPUTNIK_STORAGE__DATABASE": str(tmp / db_name),
        "SPUTNIK_STORAGE__SNAPSHOTS_DIR": str(tmp / "snaps"),
        "SPUTNIK_DEVICE__ID": "door-cli",
        "SPUTNIK_CENTRAL__CONNECT_TIMEOUT_S": "2",
    }


def start_cli(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "sputnik_edge", *args, "-q"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    proc = start_cli(env, *args)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def with_password(url: str) -> str:
    return make_url(url).set(password=PASSWORD).render_as_string(hide_password=False)


def test_bad_database_urls_give_one_line_errors_without_the_password(
    tmp_path: Path, central_url: str, empty_db_url: str
) -> None:
    good = make_url(central_url)
    cases = {
        "closed_port": (
            f"postgresql://postgres:{PASSWORD}@127.0.0.1:{free_port()}/sputnik",
            ["sync", "db"],
            "connection refused",
        ),
        "wrong_database": (
            with_password(central_url.replace(str(good.database), "sputnik_no_such_db")),
            ["sync", "db"],
            'database does not exist: connection to server at "127.0.0.1"',
        ),
        "not_postgres": (
            f"mysql://root:{PASSWORD}@127.0.0.1:3306/sputnik",
            ["sync", "db"],
            "must be a postgresql:// URL, got mysql://",
        ),
        # `db upgrade` on it would (rightly) create the schema: see the idempotency test.
        "no_schema": (
            with_password(empty_db_url),
            ["sync"],
            "has no Sputnik schema: run `sputnik-edge db upgrade`",
        ),
    }
    procs = {}
    for name, (url, commands, _) in cases.items():
        for cmd in commands:
            args = ["sync", "--once"] if cmd == "sync" else ["db", "upgrade"]
            procs[name, cmd] = start_cli(cli_env(tmp_path, url, f"{name}-{cmd}.db"), *args)
    for (name, cmd), proc in procs.items():
        out, err = proc.communicate(timeout=120)
        url, _, expected = cases[name]
        where = f"{name} / {cmd}: rc={proc.returncode} stderr={err!r}"
        assert proc.returncode in (1, 2), where
        assert PASSWORD not in out + err, where
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), where
        assert expected in lines[0], where
        assert "Traceback" not in err
        if name != "not_postgres":  # the message names the database it could not use
            assert make_url(url).database in lines[0], where


def test_db_upgrade_twice_is_idempotent(tmp_path: Path, empty_db_url: str) -> None:
    env = cli_env(tmp_path, with_password(empty_db_url))
    first = run_cli(env, "db", "upgrade")
    assert first.returncode == 0, first.stderr
    assert "at revision" in first.stdout and PASSWORD not in first.stdout + first.stderr
    second = run_cli(env, "db", "upgrade")
    assert second.returncode == 0, second.stderr
    assert second.stdout == first.stdout
    with CentralStore(empty_db_url) as central:
        central.check()  # reachable, migrated, at head


def central_rows(engine: Engine, employee_id: str) -> dict[str, int]:
    counts = {}
    with engine.connect() as conn:
        for table in ("employees", "face_templates", "face_photos", "attendance_events"):
            counts[table] = conn.execute(
                text(f"SELECT count(*) FROM {table} WHERE employee_id = :e"), {"e": employee_id}
            ).scalar_one()
    return counts


def test_enroll_conflict_force_delete_and_sync_once(
    tmp_path: Path, faces_dir: Path, central_url: str, central_engine: Engine
) -> None:
    obama = faces_dir / "images/barack_obama/obama.jpg"
    obama_again = faces_dir / "images/barack_obama/obama2.jpg"
    env = cli_env(tmp_path, central_url)

    r = run_cli(env, "enroll", "--employee-id", "obama", "--name", "Barack Obama", str(obama))
    assert r.returncode == 0, r.stderr
    assert "local and central" in r.stdout
    with CentralStore(central_url) as central:
        [emp] = central.list_employees()
        assert (emp.employee_id, emp.full_name, emp.templates) == ("obama", "Barack Obama", 1)
    with central_engine.connect() as conn:
        central_tids = set(conn.execute(text("SELECT template_id::text FROM face_templates")).scalars())
    local = LocalStore(tmp_path / "edge.db", device_id="door-cli")
    try:
        with local.engine.connect() as conn:
            local_tids = set(conn.execute(text("SELECT template_id FROM face_templates")).scalars())
    finally:
        local.close()
    assert local_tids == central_tids and len(central_tids) == 1

    # Another device (its own, empty local store) enrolls Obama's other photo under a new id: the
    # central gallery knows the face, so it is refused and names the first employee.
    other = cli_env(tmp_path, central_url, "other-device.db")
    refused = run_cli(other, "enroll", "--employee-id", "obama2", "--name", "Someone Else", str(obama_again))
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "'obama'" in refused.stderr and "--force" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert central_rows(central_engine, "obama2")["employees"] == 0

    forced = run_cli(
        other, "enroll", "--force", "--employee-id", "obama2", "--name", "Someone Else", str(obama_again)
    )
    assert forced.returncode == 0, forced.stderr
    assert central_rows(central_engine, "obama2") == {
        "employees": 1,
        "face_templates": 1,
        "face_photos": 0,
        "attendance_events": 0,
    }

    # An event of obama2 reaches central through `sync --once`, which also pulls and heartbeats.
    local = LocalStore(tmp_path / "other-device.db", device_id="door-cli")
    try:
        local.record_event(new_event("door-cli", employee_id="obama2"))
    finally:
        local.close()
    synced = run_cli(other, "sync", "--once")
    assert synced.returncode == 0, synced.stderr
    report = json.loads(synced.stdout)
    assert report["pushed"] == 1 and report["backlog"] == 0 and report["last_error"] is None
    assert report["gallery_changes"] >= 1  # obama, created by the first device
    with central_engine.connect() as conn:
        dev = conn.execute(
            text(
                "SELECT software_version, outbox_backlog, model_id FROM devices WHERE device_id = 'door-cli'"
            )
        ).one()
    assert dev.software_version and dev.outbox_backlog == 0 and dev.model_id
    assert central_rows(central_engine, "obama2")["attendance_events"] == 1

    # Right to erasure: nothing of them remains centrally (a tombstone tells devices to drop them).
    deleted = run_cli(other, "employees", "delete", "obama2")
    assert deleted.returncode == 0, deleted.stderr
    assert "locally and centrally" in deleted.stdout
    assert central_rows(central_engine, "obama2") == {
        "employees": 0,
        "face_templates": 0,
        "face_photos": 0,
        "attendance_events": 0,
    }
    with central_engine.connect() as conn:
        assert (
            conn.execute(text("SELECT count(*) FROM erasures WHERE employee_id = 'obama2'")).scalar_one() == 1
        )
    assert central_rows(central_engine, "obama")["face_templates"] == 1


def test_sync_once_exits_1_when_the_push_fails_after_the_check(tmp_path: Path, central_url: str) -> None:
    """A database reachable at the check but failing the push reports the error and exits 1."""
    engine = create_engine(central_url)
    try:
        with engine.begin() as conn:
            # Reject the push only: a CHECK that no existing row violates, but every new row does.
            conn.execute(
                text(
                    "ALTER TABLE attendance_events ADD CONSTRAINT test_reject_push "
                    "CHECK (camera_id <> 'entrance') NOT VALID"
                )
            )
        local = LocalStore(tmp_path / "edge.db", device_id="door-cli")
        try:
            local.record_event(new_event("door-cli"))
        finally:
            local.close()
        r = run_cli(cli_env(tmp_path, central_url), "sync", "--once")
        assert r.returncode == 1, r.stdout + r.stderr
        report = json.loads(r.stdout)
        assert "test_reject_push" in report["last_error"] and report["backlog"] == 1
    finally:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE attendance_events DROP CONSTRAINT IF EXISTS test_reject_push"))
        engine.dispose()
