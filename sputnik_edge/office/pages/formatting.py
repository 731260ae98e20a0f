"""Dates and numbers as the server-rendered pages show them: in the office's time zone, in the
page's language."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sputnik_edge.office.pages.context import fill


def local_time(value: datetime | None, timezone: str) -> str:
    if value is None:
        return ""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M:%S")


def ago(seconds: float | None, t: Mapping[str, str]) -> str:
    if seconds is None:
        return t["never"]
    s = max(0, int(seconds))
    if s < 120:
        return fill(t["ago_s"], n=s)
    if s < 7200:
        return fill(t["ago_min"], n=s // 60)
    if s < 2 * 86400:
        return fill(t["ago_h"], n=s // 3600)
    return fill(t["ago_d"], n=s // 86400)


def clock_offset(ms: float | None) -> str:
    if ms is None:
        return "–"
    sign = "+" if ms >= 0 else "−"
    size = abs(ms)
    return f"{sign}{size:.0f} ms" if size < 1000 else f"{sign}{size / 1000:.1f} s"


def today_in(timezone: str) -> date:
    return datetime.now(ZoneInfo(timezone)).date()


def parse_day(value: str | None) -> date | None:
    if not value or len(value) != 10:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def details_text(details: Mapping[str, Any] | None) -> str:
    """An audit row's details in one line, ``key: value`` with JSON values (lists, nested)."""
    if not details:
        return ""
    parts = []
    for key, value in details.items():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        parts.append(f"{key}: {shown}")
    return "; ".join(parts)
