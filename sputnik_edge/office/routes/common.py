"""What the office routers share: documented error answers and small helpers."""

from __future__ import annotations

from typing import Any

from sputnik_edge.api.schemas import ErrorOut

AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "No credentials, or an invalid / revoked token or session"},
    403: {
        "model": ErrorOut,
        "description": "The account's role may not do this, or the CSRF token is missing",
    },
    503: {"model": ErrorOut, "description": "The central database is unavailable"},
}


def errors(*extra: tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    """AUTH_ERRORS plus route-specific ones, each documented with the error shape."""
    return {**AUTH_ERRORS, **{status: {"model": ErrorOut, "description": text} for status, text in extra}}
