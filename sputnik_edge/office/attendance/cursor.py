"""Opaque keyset cursors for the event listing.

A cursor is the key of the last row shown, ``(captured_at, event_id)``, plus a digest of the filters
it was made under and a checksum, base64url-encoded. The checksum is not a signature (the key is not
secret: a forged key only moves the page); it makes a damaged or edited cursor a clear error rather
than a silently different page, and the filter digest refuses a cursor replayed under other filters,
whose position would mean nothing there.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sputnik_edge.office.attendance.types import ParameterError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SEP = "|"


def _digest(text: str, size: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:size]


def filters_digest(filters: Sequence[object]) -> str:
    return _digest(repr(tuple(filters)), 12)


def _micros(at: datetime) -> int:
    # Integer microseconds: exactly what PostgreSQL stores, with no time zone to misread.
    return (at - _EPOCH) // timedelta(microseconds=1)


def encode_cursor(captured_at: datetime, event_id: str, filters: str) -> str:
    body = _SEP.join((str(_micros(captured_at)), str(uuid.UUID(event_id)), filters))
    raw = body + _SEP + _digest(body, 16)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, filters: str) -> tuple[datetime, str]:
    """The key a cursor stands for; ParameterError("cursor") when it is not one of ours or was
    made under other filters."""
    bad = ParameterError("cursor", "is not a cursor returned by this listing")
    if not isinstance(cursor, str) or not 0 < len(cursor) <= 200:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad from None
    parts = raw.split(_SEP)
    if len(parts) != 4:
        raise bad
    micros, event_id, cursor_filters, checksum = parts
    if _digest(_SEP.join(parts[:3]), 16) != checksum:
        raise bad
    if cursor_filters != filters:
        raise ParameterError("cursor", "was made for other filters; start again without a cursor")
    try:
        at = _EPOCH + timedelta(microseconds=int(micros))
        return at, str(uuid.UUID(event_id))
    except (ValueError, OverflowError):
        raise bad from None
