"""Input checks shared by the service's operations; each failure names its parameter."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sputnik_edge.office.attendance.types import ParameterError

MAX_ID_LENGTH = 200


def aware(value: object, field: str, error: type[ParameterError] = ParameterError) -> datetime:
    if not isinstance(value, datetime):
        raise error(field, f"must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise error(field, "must be timezone-aware (a bare local time is ambiguous)")
    return value


def optional_aware(value: object, field: str) -> datetime | None:
    return None if value is None else aware(value, field)


def text(
    value: object,
    field: str,
    *,
    max_length: int = MAX_ID_LENGTH,
    error: type[ParameterError] = ParameterError,
) -> str:
    """A non-blank string without NUL (PostgreSQL text cannot hold one), stripped."""
    if not isinstance(value, str):
        raise error(field, f"must be a string, got {type(value).__name__}")
    stripped = value.strip()
    if not stripped:
        raise error(field, "must not be empty")
    if len(stripped) > max_length:
        raise error(field, f"must be at most {max_length} characters, got {len(stripped)}")
    if "\x00" in stripped:
        raise error(field, "must not contain NUL characters")
    return stripped


def optional_text(value: object, field: str) -> str | None:
    return None if value is None else text(value, field)


def day(value: object, field: str) -> date:
    # datetime is a date subclass; a datetime here is a caller mixing up instants and days.
    if not isinstance(value, date) or isinstance(value, datetime):
        raise ParameterError(field, f"must be a date, got {type(value).__name__}")
    return value


def integer(value: object, field: str, low: int, high: int) -> int:
    # bool is an int subclass; True as a limit is a bug, not 1.
    if not isinstance(value, int) or isinstance(value, bool):
        raise ParameterError(field, f"must be an integer, got {type(value).__name__}")
    if not low <= value <= high:
        raise ParameterError(field, f"must be between {low} and {high}, got {value}")
    return value


def zone(name: object, field: str = "timezone") -> ZoneInfo:
    if not isinstance(name, str) or not name.strip():
        raise ParameterError(field, f"must be an IANA time zone name, got {name!r}")
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ParameterError(
            field, f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)"
        ) from None
