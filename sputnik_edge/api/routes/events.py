"""``/api/v1/events``: the local event log, newest last."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from sputnik_edge.api.context import DeviceContext, device_context
from sputnik_edge.api.schemas import EventOut, EventsOut

router = APIRouter()


@router.get("/api/v1/events", response_model=EventsOut)
def list_events(
    ctx: Annotated[DeviceContext, Depends(device_context)],
    since: Annotated[datetime | None, Query(description="ISO 8601; events captured at or after")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EventsOut:
    if since is not None and since.tzinfo is None:
        since = since.astimezone()
    rows = ctx.recent_events(since, limit)
    return EventsOut(events=[EventOut(**r.as_dict()) for r in rows])
