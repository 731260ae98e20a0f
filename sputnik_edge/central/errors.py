"""Errors of the central store, with one-line messages that never carry a password."""

from __future__ import annotations

import re

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from sputnik_edge.redaction import redact_text, redact_url


class CentralError(Exception):
    """The central database cannot be used; the message names the problem in one line."""


class SchemaError(CentralError):
    """The database is reachable but its schema is missing or at another revision."""


class UnknownEmployeeError(CentralError, LookupError):
    """An operation referred to an employee id the central database does not have."""


UPGRADE_HINT = "run `sputnik-edge db upgrade`"

# psycopg2 reports connection failures as OperationalError without a SQLSTATE, so the kind of
# failure can only be told from libpq's message text.
_CONNECT_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"password authentication failed|no password supplied|authentication failed", re.I),
        "authentication failed (wrong user or password)",
    ),
    (re.compile(r'database "[^"]*" does not exist', re.I), "database does not exist"),
    (re.compile(r'role "[^"]*" does not exist', re.I), "user (role) does not exist"),
    (
        re.compile(r"could not translate host name|Name or service not known|nodename nor servname", re.I),
        "host name not found",
    ),
    (re.compile(r"Connection refused", re.I), "host unreachable (connection refused)"),
    (re.compile(r"timeout expired|timed out", re.I), "host unreachable (connection timed out)"),
    (re.compile(r"No route to host|Network is unreachable", re.I), "host unreachable (no route)"),
    (
        re.compile(r"server closed the connection unexpectedly|terminating connection", re.I),
        "connection lost",
    ),
)


def normalise_url(url: str) -> URL:
    """Parse a database URL, accepting only PostgreSQL; the error message hides credentials."""
    if not url or not url.strip():
        raise CentralError("central database URL is empty")
    raw = url.strip()
    # Heroku-style postgres:// URLs are common in the wild; SQLAlchemy 2 no longer accepts them.
    if raw.startswith("postgres://"):
        raw = "postgresql://" + raw[len("postgres://") :]
    try:
        parsed = make_url(raw)
    except (ArgumentError, ValueError):
        raise CentralError(f"central database URL is not a valid URL: {safe_url(raw)}") from None
    if parsed.get_backend_name() != "postgresql":
        raise CentralError(
            f"central database URL must be a postgresql:// URL, got {parsed.get_backend_name()}:// "
            f"({safe_url(raw)})"
        )
    if parsed.drivername == "postgresql":
        # SQLAlchemy 2.1 picks psycopg 3 for a bare postgresql:// URL; the project ships psycopg2.
        parsed = parsed.set(drivername="postgresql+psycopg2")
    if not parsed.database:
        raise CentralError(f"central database URL names no database: {safe_url(raw)}")
    return parsed


def safe_url(url: str) -> str:
    """URL for messages and logs: no user:password part and no ``?password=`` query parameter
    (libpq accepts both; redact_url alone only handles the first)."""
    return redact_text(redact_url(url))


def display_url(url: URL) -> str:
    return safe_url(url.render_as_string(hide_password=False))


def _first_line(message: str) -> str:
    for line in message.splitlines():
        if line.strip():
            return " ".join(line.split())
    return message.strip()


def driver_message(exc: BaseException) -> str:
    """The driver's own message (not SQLAlchemy's, which appends SQL and parameters), redacted."""
    orig = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    return redact_text(_first_line(str(orig)) or type(orig).__name__)


def classify_connect_error(exc: BaseException) -> str | None:
    """A short phrase for a failed connection, or None when the message is not recognised."""
    text = str(exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc)
    for pattern, phrase in _CONNECT_PATTERNS:
        if pattern.search(text):
            return phrase
    return None


def describe_db_error(exc: BaseException) -> str:
    phrase = classify_connect_error(exc)
    detail = driver_message(exc)
    return f"{phrase}: {detail}" if phrase else detail
