"""Errors of the local store, and how a damaged file is recognised and described."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# SQLite primary result codes that mean "the bytes on disk are wrong", as opposed to busy/locked/IO.
SQLITE_CORRUPT = 11
SQLITE_NOTADB = 26
CORRUPT_CODES = frozenset({SQLITE_CORRUPT, SQLITE_NOTADB})


class StoreError(RuntimeError):
    """The local database cannot be used; the message says what to do."""


def is_corruption(exc: BaseException) -> bool:
    """True when a sqlite3 error (or a SQLAlchemy wrapper of one) says the file is damaged."""
    orig = getattr(exc, "orig", exc)
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        return (code & 0xFF) in CORRUPT_CODES
    text = str(orig).lower()
    return "malformed" in text or "not a database" in text


@dataclass(frozen=True, slots=True)
class StoreHealth:
    """What can be learned from a local database file without writing to it."""

    path: Path
    ok: bool
    problem: str | None  # one line: the quick_check finding or the error
    unsent: int | None  # unsent events, proven by a complete scan of the events table; None: unknown
    unsent_hint: int | None = None  # from an index when the table itself cannot be read completely

    def unsent_text(self) -> str:
        if self.unsent is not None:
            return f"it holds {self.unsent} unsent event(s)"
        if self.unsent_hint is not None:
            hint = self.unsent_hint
            return f"it may hold {hint} unsent event(s) (counted from an index; part is unreadable)"
        return "it cannot be read well enough to tell how many unsent events it holds"


class CorruptStoreError(StoreError):
    """The local database is damaged; ``health`` says what is known about its unsent events."""

    def __init__(self, message: str, health: StoreHealth) -> None:
        super().__init__(message)
        self.health = health
