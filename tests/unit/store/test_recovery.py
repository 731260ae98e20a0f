"""Corrupt local SQLite files, made for real: garbage header, garbage pages, a truncated file.

Every test builds a real store with thousands of events (many pages), damages the file on disk the
way a failing SD card or a power cut does, then checks what the store, the recovery helpers and the
`store` CLI do with it.
"""

from __future__ import annotations

import os
import random
import stat
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import structlog
import tomli_w
from sqlalchemy import insert

from sputnik_edge.cli import main
from sputnik_edge.recognition.gallery import EMBEDDING_DIM, l2_normalise
from sputnik_edge.store.local import LocalStore, events
from sputnik_edge.store.recovery import (
    CorruptStoreError,
    discard,
    inspect_store,
    move_aside,
    open_store,
    salvage,
)
from sputnik_edge.store.tables import output_cursors

MODEL = "sface-test"


class Fixture:
    """A store on disk with known events: ``ids`` in seq order, ``unsent`` the ones not synced."""

    def __init__(self, path: Path, ids: list[str], unsent: set[str], template_ids: list[str]) -> None:
        self.path = path
        self.ids = ids
        self.unsent = unsent
        self.template_ids = template_ids

    def page_size(self) -> int:
        return int.from_bytes(self.path.read_bytes()[16:18], "big")

    def leaf_pages(self, needles: list[str]) -> dict[int, set[str]]:
        """Table leaf pages (type 0x0D) that hold any of ``needles``: page number -> needles in it."""
        data = self.path.read_bytes()
        size = self.page_size()
        found: dict[int, set[str]] = {}
        for n in range(1, len(data) // size):  # 0-based index; page 1 (index 0) holds the schema
            page = data[n * size : (n + 1) * size]
            if page[0] != 0x0D:
                continue
            hits = {x for x in needles if x.encode() in page}
            if hits:
                found[n] = hits
        return found

    def overwrite_pages(self, indexes: list[int], seed: int = 7) -> None:
        rng = random.Random(seed)
        size = self.page_size()
        with self.path.open("r+b") as fh:
            for n in indexes:
                fh.seek(n * size)
                fh.write(rng.randbytes(size))
            fh.flush()
            os.fsync(fh.fileno())


def build_store(path: Path, n_events: int = 3000, *, unsent_every: int = 3, n_templates: int = 20) -> Fixture:
    """Real events through the store's own tables; every ``unsent_every``-th one is still unsent."""
    store = LocalStore(path, device_id="door-1")
    rng = np.random.default_rng(0)
    vecs = l2_normalise(rng.standard_normal((n_templates, EMBEDDING_DIM)).astype(np.float32))
    template_ids = store.enroll("e1", "E One", None, MODEL, vecs, [0.9] * n_templates)
    ids: list[str] = []
    unsent: set[str] = set()
    rows = []
    now = datetime.now(UTC).isoformat()
    for i in range(n_events):
        eid = str(uuid.uuid4())
        ids.append(eid)
        synced = None if (unsent_every and i % unsent_every == 0) else now
        if synced is None:
            unsent.add(eid)
        rows.append(
            {
                "event_id": eid,
                "seq": i + 1,
                "device_id": "door-1",
                "camera_id": "entrance",
                "kind": "unknown",
                "captured_at": now,
                "details": "{}",
                "synced_at": synced,
                "attempts": 0,
            }
        )
    with store.engine.begin() as conn:
        conn.execute(insert(events), rows)
    store.set_state("gallery_seq", "42")
    store.close()  # the last connection checkpoints the WAL into the main file
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0
    return Fixture(path, ids, unsent, template_ids)


@pytest.fixture
def fx(tmp_path: Path) -> Fixture:
    return build_store(tmp_path / "state" / "edge.db")


def garbage_header(fx: Fixture) -> None:
    with fx.path.open("r+b") as fh:
        fh.write(random.Random(3).randbytes(100))


def test_healthy_store_is_ok_and_counts_unsent(fx: Fixture) -> None:
    health = inspect_store(fx.path)
    assert health.ok and health.problem is None
    assert health.unsent == len(fx.unsent) == 1000
    store = open_store(fx.path, device_id="door-1", central_configured=True)
    assert store.backlog() == 1000
    store.close()


def test_garbage_header_is_refused_with_a_message_that_says_what_to_do(fx: Fixture) -> None:
    garbage_header(fx)
    with pytest.raises(CorruptStoreError) as err:
        LocalStore(fx.path)
    msg = str(err.value)
    assert "\n" not in msg
    assert str(fx.path) in msg
    assert "not a database" in msg
    assert "cannot be read well enough to tell how many unsent events" in msg
    assert "sputnik-edge store salvage" in msg and "sputnik-edge store discard --yes" in msg
    assert err.value.health.unsent is None
    # Unknown unsent rows: even with central configured the daemon must not replace it.
    with pytest.raises(CorruptStoreError):
        open_store(fx.path, device_id="door-1", central_configured=True)
    assert fx.path.exists() and not list(fx.path.parent.glob("*.corrupt-*"))


def test_garbage_pages_refuse_and_salvage_keeps_every_readable_unsent_event(fx: Fixture) -> None:
    leaves = fx.leaf_pages(fx.ids)
    assert len(leaves) > 50  # thousands of events: many pages
    bad = random.Random(11).sample(sorted(leaves), 6)
    lost = set().union(*(leaves[b] for b in bad))
    fx.overwrite_pages(bad)

    with pytest.raises(CorruptStoreError) as err:
        open_store(fx.path, device_id="door-1", central_configured=True)
    msg = str(err.value)
    assert str(fx.path) in msg and "1000 unsent event(s)" in msg  # counted from the intact index
    mode_before = stat.S_IMODE(fx.path.stat().st_mode)

    report = salvage(fx.path, device_id="door-1")

    assert set(report.unsent_event_ids) == fx.unsent - lost
    by_table = {t.table: t for t in report.tables}
    assert by_table["events"].saved == len(fx.ids) - len(lost)
    assert by_table["events"].lost == len(lost)
    assert by_table["face_templates"].saved == len(fx.template_ids)
    assert not report.gallery_reset
    # The damaged file is kept, 0600, next to the new one.
    assert report.moved_to.exists() and report.moved_to.name.startswith("edge.db.corrupt-")
    assert stat.S_IMODE(report.moved_to.stat().st_mode) == 0o600 == mode_before
    store = LocalStore(fx.path)
    try:
        assert stat.S_IMODE(fx.path.stat().st_mode) == 0o600
        pending = {e.event_id for e in store.pending(limit=5000)}
        assert pending == fx.unsent - lost  # unsent stay unsent, synced stay synced
        assert store.count_events() == len(fx.ids) - len(lost)
        assert store.get_state("gallery_seq") == "42"
        assert store.template_count(MODEL) == len(fx.template_ids)
        assert store.next_seq() == len(fx.ids) + 1  # never reuses a seq, not even a lost one
    finally:
        store.close()


def test_truncated_file_salvages_the_events_before_the_cut(fx: Fixture) -> None:
    size = fx.page_size()
    leaves = fx.leaf_pages(fx.ids)
    total_pages = fx.path.stat().st_size // size
    keep_pages = total_pages * 6 // 10
    intact = set().union(*(ids for n, ids in leaves.items() if n < keep_pages))
    os.truncate(fx.path, keep_pages * size)

    health = inspect_store(fx.path)
    assert not health.ok and health.unsent is None
    with pytest.raises(CorruptStoreError):
        LocalStore(fx.path)

    report = salvage(fx.path, device_id="door-1")
    saved_unsent = set(report.unsent_event_ids)
    assert saved_unsent <= fx.unsent
    assert fx.unsent & intact <= saved_unsent  # every unsent event on a page before the cut
    assert len(saved_unsent) > 0
    store = LocalStore(fx.path)
    try:
        assert {e.event_id for e in store.pending(limit=5000)} == saved_unsent
    finally:
        store.close()


def test_salvage_of_an_unreadable_file_moves_it_aside_and_resets_the_gallery(fx: Fixture) -> None:
    garbage_header(fx)
    report = salvage(fx.path, device_id="door-1")
    assert report.unsent_saved == 0
    assert report.gallery_reset
    assert all(t.saved == 0 for t in report.tables)
    assert report.moved_to.read_bytes()[:100] == random.Random(3).randbytes(100)
    store = LocalStore(fx.path)
    assert store.get_state("gallery_seq") is None and store.count_events() == 0
    store.close()


def corrupt_template_pages(fx: Fixture) -> None:
    pages = fx.leaf_pages(fx.template_ids)
    assert pages
    fx.overwrite_pages(sorted(pages)[:3])


def test_no_unsent_rows_and_central_configured_moves_aside(tmp_path: Path) -> None:
    fx = build_store(tmp_path / "edge.db", 500, unsent_every=0)
    corrupt_template_pages(fx)
    health = inspect_store(fx.path)
    assert not health.ok and health.unsent == 0

    with structlog.testing.capture_logs() as logs:
        store = open_store(fx.path, device_id="door-1", central_configured=True)
    try:
        (moved,) = [e for e in logs if e["event"] == "local_db_moved_aside"]
        aside = Path(moved["path"])
        assert aside.parent == fx.path.parent and aside.name.startswith("edge.db.corrupt-")
        assert aside.name.endswith("Z")
        assert stat.S_IMODE(aside.stat().st_mode) == 0o600
        # A fresh store: no events, and the gallery is pulled again from the start.
        assert store.count_events() == 0
        assert store.get_state("gallery_seq", "0") == "0"
    finally:
        store.close()


def test_no_unsent_rows_but_standalone_refuses(tmp_path: Path) -> None:
    fx = build_store(tmp_path / "edge.db", 500, unsent_every=0)
    corrupt_template_pages(fx)
    with pytest.raises(CorruptStoreError) as err:
        open_store(fx.path, device_id="door-1", central_configured=False)
    msg = str(err.value)
    assert "holds 0 unsent event(s)" in msg and "gallery would be lost" in msg
    assert not list(tmp_path.glob("*.corrupt-*"))


def test_move_aside_takes_the_wal_and_shm_along(tmp_path: Path) -> None:
    db = tmp_path / "edge.db"
    for suffix, body in (("", b"main"), ("-wal", b"wal"), ("-shm", b"shm")):
        Path(f"{db}{suffix}").write_bytes(body)
        os.chmod(f"{db}{suffix}", 0o644)
    first = move_aside(db, datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC))
    assert first.name == "edge.db.corrupt-20240501T120000Z"
    for suffix, body in (("", b"main"), ("-wal", b"wal"), ("-shm", b"shm")):
        assert Path(f"{first}{suffix}").read_bytes() == body
        assert stat.S_IMODE(Path(f"{first}{suffix}").stat().st_mode) == 0o600
        assert not Path(f"{db}{suffix}").exists()
    db.write_bytes(b"again")  # same second: a new name, the first file is never overwritten
    second = move_aside(db, datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC))
    assert second != first and first.read_bytes() == b"main" and second.read_bytes() == b"again"


def test_discard_moves_aside(fx: Fixture) -> None:
    garbage_header(fx)
    moved, health = discard(fx.path)
    assert not fx.path.exists() and moved.exists() and health.unsent is None
    store = LocalStore(fx.path)  # a new, empty store
    assert store.count_events() == 0
    store.close()


# ---- the `store` CLI and the other commands ----------------------------------------------------------


def cli_config(tmp_path: Path, db: Path) -> str:
    path = tmp_path / "config.toml"
    path.write_bytes(
        tomli_w.dumps({"storage": {"database": str(db), "snapshots_dir": str(tmp_path)}}).encode()
    )
    return str(path)


def test_cli_commands_refuse_a_corrupt_store_and_store_salvage_recovers(
    fx: Fixture, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = cli_config(tmp_path, fx.path)
    bad = sorted(fx.leaf_pages(fx.ids))[10:12]
    fx.overwrite_pages(bad)

    assert main(["events", "--config", cfg, "--json"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(fx.path) in err and "store salvage" in err

    assert main(["store", "check", "--config", cfg]) == 1
    assert "CORRUPT" in capsys.readouterr().out

    assert main(["store", "discard", "--config", cfg]) == 2  # needs --yes
    assert "--yes" in capsys.readouterr().err and fx.path.exists()

    assert main(["store", "salvage", "--config", cfg]) == 0
    out = capsys.readouterr().out
    assert "events:" in out and "row(s) saved" in out and "unsent events saved" in out

    assert main(["store", "check", "--config", cfg]) == 0
    assert main(["events", "--config", cfg, "--json", "--limit", "5"]) == 0


def test_cli_store_discard_yes(fx: Fixture, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = cli_config(tmp_path, fx.path)
    garbage_header(fx)
    assert main(["store", "discard", "--yes", "--config", cfg]) == 0
    assert "cannot be read well enough" in capsys.readouterr().out
    assert len(list(fx.path.parent.glob("edge.db.corrupt-*"))) == 1
    assert main(["store", "check", "--config", cfg]) == 0


def test_salvage_keeps_each_outputs_cursor(tmp_path: Path) -> None:
    path = tmp_path / "state" / "edge.db"
    build_store(path, n_events=50)
    store = LocalStore(path, device_id="door-1")
    with store.engine.begin() as conn:  # an output that has delivered up to event 17
        conn.execute(insert(output_cursors).values(output_id="hooks", seq=17, delivered=17))
    store.close()

    salvage(path, device_id="door-1")
    store = LocalStore(path, device_id="door-1")
    try:
        # Without the cursor the output would start again after the newest event (seq 50) and
        # never deliver events 18..50.
        assert store.outputs.ensure("hooks") == 17
        assert [e.event.seq for e in store.outputs.after(17, 100)][:2] == [18, 19]
    finally:
        store.close()
