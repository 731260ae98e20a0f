"""The audit log page (admin, as ``GET /api/v1/audit``): who changed what, filtered by day, actor
and action, newest first, older pages by the API's cursor (``before``)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from sputnik_edge.office import audit
from sputnik_edge.office.pages.access import Admin
from sputnik_edge.office.pages.context import office_state, page
from sputnik_edge.office.pages.formatting import details_text, local_time, parse_day

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
MAX_FILTER = 100
MAX_CURSOR = 2**63 - 1


def _name(value: str) -> str:
    return "".join(c for c in value if c.isprintable())[:MAX_FILTER].strip()


def _cursor(value: str) -> int | None:
    return int(value) if value.isdigit() and 0 < int(value) <= MAX_CURSOR else None


@router.get("/audit", response_class=HTMLResponse)
def audit_log(
    request: Request,
    user: Admin,
    day_from: str = "",
    day_to: str = "",
    actor: str = "",
    action: str = "",
    before: str = "",
) -> HTMLResponse:
    state = office_state(request)
    tz = ZoneInfo(state.settings.office.timezone)
    start, end = parse_day(day_from), parse_day(day_to)
    # Whole days in the office's time zone: "to" includes its day.
    since = datetime.combine(start, time(), tz) if start else None
    until = datetime.combine(end + timedelta(days=1), time(), tz) if end else None
    filters = {"day_from": day_from if start else "", "day_to": day_to if end else ""}
    filters |= {"actor": _name(actor), "action": _name(action)}
    found = audit.list_audit(
        state.central,
        since=since,
        until=until,
        actor=filters["actor"] or None,
        action=filters["action"] or None,
        before=_cursor(before),
        limit=PAGE_SIZE,
    )
    rows = [
        {"e": e, "at": local_time(e.at, state.settings.office.timezone), "details": details_text(e.details)}
        for e in found.entries
    ]
    kept = {k: v for k, v in filters.items() if v}
    return page(
        request,
        "office/audit.html",
        user,
        current="audit",
        rows=rows,
        filters=filters,
        older={**kept, "before": found.next_before} if found.next_before else None,
        paged=_cursor(before) is not None,
        newest=kept,
    )
