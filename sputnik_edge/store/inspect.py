"""Read-only inspection of a local database file: is it intact, how many unsent events may it hold.

Used by LocalStore when it opens a file (to refuse a damaged one with a useful message) and by the
recovery commands; it never writes to the file.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sputnik_edge.store.errors import CorruptStoreError, StoreHealth


def connect_readonly(path: Path) -> sqlite3.Connection:
    """Open an existing file (never create one), autocommit, for reading."""
    uri = path.resolve().as_uri() + "?mode=rw"
    conn = sqlite3.connect(uri, uri=True, timeout=5, isolation_level=None, check_same_thread=False)
    # A truncated file (header page count beyond its end) is refused outright as "malformed" unless
    # the schema is writable; with it, SQLite reads what is there. Nothing is written through it.
    conn.execute("PRAGMA writable_schema=ON")
    return conn


def one_line(text: str, limit: int = 160) -> str:
    line = " ".join(str(text).replace("*** in database main ***", "").split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def count_or_none(conn: sqlite3.Connection, sql: str) -> int | None:
    try:
        return int(conn.execute(sql).fetchone()[0])
    except sqlite3.DatabaseError:
        return None


def _has_table(conn: sqlite3.Connection, name: str) -> bool | None:
    try:
        sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
        row = conn.execute(sql, (name,)).fetchone()
    except sqlite3.DatabaseError:
        return None
    return row is not None


def inspect_store(path: Path) -> StoreHealth:
    """Run ``PRAGMA quick_check`` and count unsent events as far as the file can be read."""
    path = Path(path)
    if not path.exists():
        return StoreHealth(path, True, None, 0)
    try:
        conn = connect_readonly(path)
    except sqlite3.Error as exc:
        return StoreHealth(path, False, one_line(str(exc)), None)
    try:
        try:
            findings = [str(r[0]) for r in conn.execute("PRAGMA quick_check(5)").fetchall()]
            ok = findings == ["ok"]
            problem = None if ok else one_line("; ".join(findings[:3]))
        except sqlite3.DatabaseError as exc:
            ok, problem = False, one_line(str(exc))
        has_events = _has_table(conn, "events")
        if has_events is False:
            return StoreHealth(path, ok, problem, 0)
        if has_events is None:
            return StoreHealth(path, ok, problem, None)
        # A full scan of the table b-tree is the proof; an index only gives a hint.
        unsent = count_or_none(conn, "SELECT count(*) FROM events NOT INDEXED WHERE synced_at IS NULL")
        hint = None
        if unsent is None:
            hint = count_or_none(
                conn, "SELECT count(*) FROM events INDEXED BY ix_events_pending WHERE synced_at IS NULL"
            )
        elif not ok:
            # Cross-check with the index: a table page that reads as valid but is garbage must not
            # turn "some unsent rows" into "none".
            indexed = count_or_none(
                conn, "SELECT count(*) FROM events INDEXED BY ix_events_pending WHERE synced_at IS NULL"
            )
            if indexed is not None and indexed != unsent:
                hint = max(indexed, unsent)
                unsent = None
        return StoreHealth(path, ok, problem, unsent, hint)
    finally:
        conn.close()


def refusal_message(health: StoreHealth, *, central_configured: bool | None = None) -> str:
    """One line: the file, what is wrong, how many unsent events it may hold, and what to do."""
    why = ""
    if health.unsent == 0 and central_configured is False:
        why = " and no central database is configured, so its gallery would be lost"
    return (
        f"local database {health.path} is corrupt ({health.problem or 'integrity check failed'}); "
        f"{health.unsent_text()}{why}; recover with `sputnik-edge store salvage` (copies every readable "
        "row into a new file, unsent events stay unsent) or discard it with "
        "`sputnik-edge store discard --yes` (moves it aside)"
    )


def corrupt_error(path: Path, problem: str | None = None) -> CorruptStoreError:
    """Build the error LocalStore raises for a damaged file (after it closed its own connections)."""
    health = inspect_store(path)
    if health.ok and problem:
        health = StoreHealth(health.path, False, one_line(problem), health.unsent, health.unsent_hint)
    elif health.ok:
        health = StoreHealth(health.path, False, "integrity check failed", health.unsent, health.unsent_hint)
    return CorruptStoreError(refusal_message(health), health)
