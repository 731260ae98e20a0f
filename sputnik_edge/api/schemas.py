"""Response models of the HTTP API (the contract in DESIGN.md section 4)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class EventOut(BaseModel):
    event_id: str
    kind: str
    employee_id: str | None
    name: str | None
    camera_id: str
    similarity: float | None
    captured_at: str
    synced: bool
    seq: int | None = None


class EventsOut(BaseModel):
    events: list[EventOut]


class SnapshotResponse(BaseModel):
    trace_id: str
    status: str  # match | low_confidence | unknown | rejected | no_face
    faces: list[dict[str, Any]]
    events: list[EventOut]


class GatewayHealthOut(BaseModel):
    accepted: int
    rejected: int
    last_snapshot_at: str | None
