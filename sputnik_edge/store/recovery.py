"""A corrupt local SQLite file: detect it, decide whether it is safe to replace, salvage or discard it.

The local file holds the outbox, so losing it silently could lose attendance events that never
reached the central database. At start the daemon therefore only moves a corrupt file aside by
itself when it can *prove* that no unsent event is in it and a central database is configured (the
gallery is then rebuilt by the normal pull). Otherwise it refuses to start, and a technician picks:
``sputnik-edge store salvage`` copies every readable row into a new file (unsent events stay
unsent), ``sputnik-edge store discard --yes`` moves the file aside. Nothing is ever deleted: a
file moved aside is kept as ``edge.db.corrupt-<UTC timestamp>`` (0600, with its -wal/-shm).
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from sputnik_edge.recognition.gallery import EMBEDDING_DIM
from sputnik_edge.store.errors import CorruptStoreError, StoreError, StoreHealth
from sputnik_edge.store.inspect import (
    connect_readonly,
    count_or_none,
    inspect_store,
    one_line,
    refusal_message,
)
from sputnik_edge.store.local import LocalStore
from sputnik_edge.store.tables import metadata

log = structlog.get_logger(__name__)

# Copied by salvage, parents first (face_templates references employees).
# output_cursors: without them, every output would restart at the newest event and never send
# what it had not yet delivered when the file was damaged.
SALVAGE_TABLES = ("employees", "face_templates", "events", "sync_state", "output_cursors")
SEQ_FLOOR_KEY = "event_seq_floor"
GALLERY_SEQ_KEY = "gallery_seq"

_MIN_ROWID = -(2**63)
_MAX_ROWID = 2**63 - 1
_BATCH = 256
_LINEAR_PROBES = 1024  # rowids tried one by one past a damaged spot before probing exponentially
_SIDE_SUFFIXES = ("-wal", "-shm")


# ---- moving aside ----------------------------------------------------------------------------------


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _timestamp(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _rename_with_sides(src: Path, dest: Path) -> None:
    os.replace(src, dest)
    os.chmod(dest, 0o600)
    for suffix in _SIDE_SUFFIXES:
        side = Path(str(src) + suffix)
        if side.exists():
            target = Path(str(dest) + suffix)
            os.replace(side, target)
            os.chmod(target, 0o600)


def move_aside(path: Path, now: datetime | None = None) -> Path:
    """Rename the file (and its -wal/-shm) to ``<name>.corrupt-<UTC timestamp>``; returns the new path."""
    path = Path(path)
    base = path.with_name(f"{path.name}.corrupt-{_timestamp(now)}")
    dest = base
    for n in range(1, 1000):
        if not dest.exists():
            break
        dest = base.with_name(f"{base.name}-{n}")
    else:
        raise StoreError(f"cannot move {path} aside: too many files named {base.name}-N")
    _rename_with_sides(path, dest)
    _fsync_dir(path.parent)
    return dest


def open_store(path: Path, *, device_id: str, central_configured: bool) -> LocalStore:
    """Open the local store for the daemon. A corrupt file is moved aside and replaced by a fresh one
    only when it provably holds no unsent event and a central database will refill the gallery;
    otherwise CorruptStoreError (a StoreError) with the one-line refusal."""
    try:
        return LocalStore(path, device_id=device_id)
    except CorruptStoreError as exc:
        health = exc.health
        if not (central_configured and health.unsent == 0):
            raise CorruptStoreError(
                refusal_message(health, central_configured=central_configured), health
            ) from None
        aside = move_aside(Path(path))
        log.warning("local_db_moved_aside", path=str(aside), problem=health.problem, database=str(path))
        return LocalStore(path, device_id=device_id)


# ---- salvage ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TableSalvage:
    table: str
    saved: int
    lost: int | None  # None: the original count is unknown


@dataclass(frozen=True, slots=True)
class SalvageReport:
    path: Path
    moved_to: Path
    tables: list[TableSalvage]
    unsent_saved: int
    unsent_event_ids: list[str] = field(repr=False)
    gallery_reset: bool

    def lines(self) -> list[str]:
        out = [f"salvaged {self.path}; the damaged file is kept as {self.moved_to}"]
        for t in self.tables:
            lost = "unknown" if t.lost is None else str(t.lost)
            out.append(f"  {t.table}: {t.saved} row(s) saved, {lost} lost")
        out.append(f"  unsent events saved (still unsent): {self.unsent_saved}")
        if self.gallery_reset:
            out.append("  gallery rows were lost: gallery_seq reset, the next pull rebuilds it from central")
        return out


def _read_rows(
    conn: sqlite3.Connection, table: str, columns: Sequence[str]
) -> tuple[list[tuple[Any, ...]], bool]:
    """Every row of ``table`` that can be read, in rowid order, skipping damaged pages.

    Returns the rows (rowid first) and whether anything had to be skipped. Reads go through the
    table b-tree by rowid ranges; at a damaged spot the next readable rowid is found by probing.
    """
    cols = ", ".join(f'"{c}"' for c in columns)
    sql = f'SELECT rowid, {cols} FROM "{table}" NOT INDEXED WHERE rowid >= ? ORDER BY rowid LIMIT ?'

    def fetch(start: int, limit: int) -> list[tuple[Any, ...]]:
        return list(conn.execute(sql, (start, limit)).fetchall())

    def readable(start: int) -> bool:
        try:
            fetch(start, 1)
        except sqlite3.DatabaseError:
            return False
        return True

    def next_readable(start: int) -> int | None:
        for k in range(1, _LINEAR_PROBES + 1):
            if start + k > _MAX_ROWID:
                return None
            if readable(start + k):
                return start + k
        lo, hi = _LINEAR_PROBES, _LINEAR_PROBES * 2
        while True:  # at most 64 doublings
            if start + hi > _MAX_ROWID:
                hi = _MAX_ROWID - start
                if not readable(start + hi):
                    return None
                break
            if readable(start + hi):
                break
            lo, hi = hi, hi * 2
        while hi - lo > 1:  # at most 64 halvings
            mid = (lo + hi) // 2
            if readable(start + mid):
                hi = mid
            else:
                lo = mid
        return start + hi

    rows: list[tuple[Any, ...]] = []
    damaged = False
    start, limit = _MIN_ROWID, _BATCH
    # Each turn reads at least one row, shrinks the batch, or skips past a damaged spot.
    for _ in range(100_000_000):
        try:
            batch = fetch(start, limit)
        except sqlite3.DatabaseError:
            damaged = True
            if limit > 1:
                limit = 1
                continue
            nxt = next_readable(start)
            if nxt is None:
                break
            start, limit = nxt, _BATCH
            continue
        if not batch:
            break
        rows.extend(batch)
        last = int(batch[-1][0])
        if last >= _MAX_ROWID:
            break
        start = last + 1
    return rows, damaged


def _valid(table: str, row: dict[str, Any]) -> bool:
    """Reject rows that a damaged page turned into nonsense (they would poison the new file)."""
    try:
        if table == "events":
            uuid.UUID(str(row["event_id"]))
            datetime.fromisoformat(str(row["captured_at"]))
            return isinstance(row["seq"], int) and row["seq"] > 0
        if table == "face_templates":
            emb = row["embedding"]
            return isinstance(emb, bytes) and len(emb) == EMBEDDING_DIM * 4
        if table == "employees":
            return isinstance(row["employee_id"], str) and bool(row["employee_id"])
        if table == "output_cursors":
            return isinstance(row["output_id"], str) and isinstance(row["seq"], int) and row["seq"] >= 0
        return isinstance(row["key"], str)
    except (ValueError, TypeError, KeyError):
        return False


def salvage(path: Path, *, device_id: str, progress: Callable[[str], None] | None = None) -> SalvageReport:
    """Copy every readable row of a damaged store into a new file that takes its place.

    The damaged file is moved aside, never deleted. Sync state is kept (unsent events stay unsent);
    when gallery rows were lost, ``gallery_seq`` is dropped so the next central pull starts over.
    """
    path = Path(path)
    if not path.exists():
        raise StoreError(f"local database {path} does not exist: nothing to salvage")
    say = progress or (lambda _msg: None)
    read: dict[str, list[dict[str, Any]]] = {}
    totals: dict[str, int | None] = {}
    damaged: dict[str, bool] = {}
    max_seq_hint: int | None = None
    try:
        src = connect_readonly(path)
    except sqlite3.Error as exc:
        why = one_line(str(exc))
        raise StoreError(f"local database {path} cannot be opened for salvage: {why}") from None
    try:
        for table in SALVAGE_TABLES:
            columns = [c.name for c in metadata.tables[table].columns]
            try:
                raw, was_damaged = _read_rows(src, table, columns)
            except sqlite3.DatabaseError:  # e.g. the schema itself is unreadable
                raw, was_damaged = [], True
            read[table] = [dict(zip(columns, r[1:], strict=True)) for r in raw]
            damaged[table] = was_damaged
            totals[table] = count_or_none(src, f'SELECT count(*) FROM "{table}"')
            say(f"{table}: {len(raw)} row(s) read")
        max_seq_hint = count_or_none(src, "SELECT max(seq) FROM events")
    finally:
        src.close()

    tmp = path.with_name(f"{path.name}.salvage-{_timestamp()}")
    for p in (tmp, *(Path(str(tmp) + s) for s in _SIDE_SUFFIXES)):
        p.unlink(missing_ok=True)
    LocalStore(tmp, device_id=device_id, check_integrity=False).close()  # schema, 0600
    saved: dict[str, int] = {}
    unsent_ids: list[str] = []
    dst = sqlite3.connect(tmp, isolation_level=None)
    try:
        dst.execute("PRAGMA foreign_keys=ON")
        dst.execute("PRAGMA synchronous=FULL")
        dst.execute("BEGIN")
        for table in SALVAGE_TABLES:
            columns = [c.name for c in metadata.tables[table].columns]
            insert = (
                f'INSERT INTO "{table}" ({", ".join(columns)}) VALUES ({", ".join("?" for _ in columns)})'
            )
            n = 0
            for row in read[table]:
                if table == "sync_state" and row.get("key") == SEQ_FLOOR_KEY:
                    continue  # recomputed below
                if not _valid(table, row):
                    continue
                try:
                    dst.execute(insert, [row[c] for c in columns])
                except sqlite3.DatabaseError:  # duplicate or dangling row from a damaged page
                    continue
                n += 1
                if table == "events" and row["synced_at"] is None:
                    unsent_ids.append(str(row["event_id"]))
            saved[table] = n
        # The device sequence never goes back, even over events that could not be saved.
        seqs = [int(r["seq"]) for r in read["events"] if isinstance(r.get("seq"), int)]
        floor_candidates = [*seqs, max_seq_hint or 0]
        for r in read["sync_state"]:
            if r.get("key") == SEQ_FLOOR_KEY and str(r.get("value", "")).isdigit():
                floor_candidates.append(int(r["value"]))
        dst.execute(
            "INSERT OR REPLACE INTO sync_state (key, value) VALUES (?, ?)",
            (SEQ_FLOOR_KEY, str(max(floor_candidates))),
        )
        gallery_lost = any(
            damaged[t] or (totals[t] is not None and (totals[t] or 0) > saved[t])
            for t in ("employees", "face_templates")
        )
        if gallery_lost:
            dst.execute("DELETE FROM sync_state WHERE key = ?", (GALLERY_SEQ_KEY,))
        dst.execute("COMMIT")
        dst.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        dst.close()

    tables = []
    for table in SALVAGE_TABLES:
        total = totals[table]
        lost: int | None
        if total is not None:
            lost = max(total - saved[table], 0)
        elif not damaged[table]:
            lost = len(read[table]) - saved[table]
        else:
            lost = None
        tables.append(TableSalvage(table, saved[table], lost))
    moved_to = move_aside(path)
    _rename_with_sides(tmp, path)
    _fsync_dir(path.parent)
    report = SalvageReport(path, moved_to, tables, len(unsent_ids), unsent_ids, gallery_lost)
    log.warning(
        "local_db_salvaged",
        path=str(path),
        moved_to=str(moved_to),
        saved={t.table: t.saved for t in tables},
        lost={t.table: t.lost for t in tables},
        unsent_saved=len(unsent_ids),
    )
    return report


def discard(path: Path) -> tuple[Path, StoreHealth]:
    """Move the file aside (kept, not deleted); returns where it went and what was known about it."""
    path = Path(path)
    if not path.exists():
        raise StoreError(f"local database {path} does not exist: nothing to discard")
    health = inspect_store(path)
    moved = move_aside(path)
    log.warning("local_db_discarded", path=str(moved), unsent=health.unsent, unsent_hint=health.unsent_hint)
    return moved, health
