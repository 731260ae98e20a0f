"""What the office routers share: documented error answers and small helpers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sputnik_edge.api.errors import ApiError
from sputnik_edge.api.schemas import ErrorOut

AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "No credentials, or an invalid / revoked token or session"},
    403: {
        "model": ErrorOut,
        "description": "The account's role may not do this, or the CSRF token is missing",
    },
    503: {"model": ErrorOut, "description": "The central database is unavailable"},
}


MALFORMED_BODY = (400, "Malformed request body (not JSON, or not UTF-8)")


def errors(*extra: tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    """AUTH_ERRORS plus route-specific ones, each documented with the error shape."""
    return {**AUTH_ERRORS, **{status: {"model": ErrorOut, "description": text} for status, text in extra}}


def utc_bound(value: datetime | None, name: str) -> datetime | None:
    """A query's time bound in UTC (naive means UTC). Converted here, not by PostgreSQL, which
    refuses offsets beyond +-15:59 that ISO 8601 (and Python) accept."""
    if value is None:
        return None
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        raise ApiError(422, "invalid_request", f"{name}: out of range") from None
