"""Right to erasure: after `employees delete`, nothing of that person remains on the device (not
even in SQLite's free pages or WAL) nor in the central database, except the erasure tombstone."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import create_engine, text

from sputnik_edge.cli import main
from sputnik_edge.store.local import LocalStore
from tests.support.daemon import base_config, free_port, write_config

pytestmark = pytest.mark.integration

PERSON = "erase_me_7c1e"  # an id that cannot occur by chance in the files


def test_delete_leaves_nothing_of_the_person(
    tmp_path: Path, faces_dir: Path, central_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = base_config(tmp_path, free_port(), central={"database_url": central_url, "store_photos": True})
    config = str(write_config(tmp_path / "config.toml", cfg))
    photo = faces_dir / "images/barack_obama/obama.jpg"
    keep = faces_dir / "images/joe_biden/biden.jpg"
    assert (
        main(["enroll", "--config", config, "--employee-id", PERSON, "--name", "Erase Me", str(photo)]) == 0
    )
    assert main(["enroll", "--config", config, "--employee-id", "keeper", "--name", "Keep", str(keep)]) == 0

    # Their events on the device (one with a snapshot) and centrally.
    store = LocalStore(tmp_path / "edge.db")
    with store.engine.connect() as conn:
        stored = conn.execute(
            text("SELECT embedding FROM face_templates WHERE employee_id = :p"), {"p": PERSON}
        ).all()
    (person_template,) = [bytes(r[0]) for r in stored]  # the bytes as written to the file
    from sputnik_edge.attendance.types import AttendanceEvent, new_event_id
    from sputnik_edge.store.local import utcnow
    from sputnik_edge.store.snapshots import save_snapshot

    snapshots = tmp_path / "snapshots"
    for kind in ("check_in", "check_out"):
        ev = AttendanceEvent(new_event_id(), "door-test", "cam", kind, PERSON, "Erase Me", 0.8, utcnow())
        rel = (
            save_snapshot(snapshots, ev.event_id, np.zeros((64, 64, 3), np.uint8))
            if kind == "check_in"
            else None
        )
        store.record_event(ev, snapshot=rel)
    store.close()
    assert len(list(snapshots.rglob("*.jpg"))) == 1
    db_files = sorted(tmp_path.glob("edge.db*"))
    assert tmp_path / "edge.db" in db_files
    assert person_template in b"".join(
        f.read_bytes() for f in db_files
    )  # so its absence below means something
    assert main(["sync", "--once", "--config", config]) == 0
    capsys.readouterr()
    engine = create_engine(central_url.replace("postgresql://", "postgresql+psycopg2://", 1))
    assert count_person(engine) > 0

    assert main(["employees", "delete", PERSON, "--config", config]) == 0
    assert "locally and centrally" in capsys.readouterr().out

    # Device: no row, and not a byte of the id or of the template in the database files.
    store = LocalStore(tmp_path / "edge.db")
    assert [e.employee_id for e in store.list_employees()] == ["keeper"]
    assert all(e.event.employee_id != PERSON for e in store.list_events(limit=1000))
    store.close()
    db_files = sorted(tmp_path.glob("edge.db*"))
    assert tmp_path / "edge.db" in db_files
    for f in db_files:
        raw = f.read_bytes()
        assert PERSON.encode() not in raw, f
        assert person_template not in raw, f
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o600
    assert list(snapshots.rglob("*.jpg")) == []

    # Central: nothing in any table but the tombstone that tells other devices to drop them.
    assert count_person(engine, exclude={"erasures"}) == 0
    with engine.connect() as conn:
        assert (
            conn.execute(text("SELECT count(*) FROM erasures WHERE employee_id = :p"), {"p": PERSON}).scalar()
            == 1
        )
        keeper = conn.execute(
            text("SELECT count(*) FROM face_templates WHERE employee_id = 'keeper'")
        ).scalar()
    assert keeper == 1
    engine.dispose()
    # The CLI output of the remaining gallery does not name them either.
    assert main(["employees", "list", "--json", "--config", config]) == 0
    assert PERSON not in json.dumps(json.loads(capsys.readouterr().out))


def count_person(engine: object, exclude: set[str] = frozenset()) -> int:  # type: ignore[assignment]
    """Rows anywhere in the central schema whose text mentions the person."""
    total = 0
    with engine.connect() as conn:  # type: ignore[attr-defined]
        tables = [
            r[0]
            for r in conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
            if r[0] not in exclude
        ]
        for table in tables:
            total += conn.execute(
                text(f"SELECT count(*) FROM {table} t WHERE t::text LIKE :p"), {"p": f"%{PERSON}%"}
            ).scalar_one()
    return total


def test_template_bytes_are_really_gone_not_just_unlinked(tmp_path: Path) -> None:
    """secure_delete + WAL checkpoint: the raw bytes of an erased template leave the files."""
    store = LocalStore(tmp_path / "edge.db")
    rng = np.random.default_rng(7)
    vec = rng.standard_normal((1, 128)).astype(np.float32)
    other = rng.standard_normal((1, 128)).astype(np.float32)
    store.enroll(PERSON, "Erase Me", None, "m", vec, [0.9])
    store.enroll("keeper", "Keep", None, "m", other, [0.9])
    raw_before = b"".join(f.read_bytes() for f in tmp_path.glob("edge.db*"))
    assert vec.astype("<f4").tobytes() in raw_before
    existed, _ = store.delete_employee(PERSON)
    assert existed
    raw_after = b"".join(f.read_bytes() for f in tmp_path.glob("edge.db*"))
    assert vec.astype("<f4").tobytes() not in raw_after
    assert other.astype("<f4").tobytes() in raw_after
    store.close()
