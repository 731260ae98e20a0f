"""Response models of the HTTP API (the contract in DESIGN.md section 4)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from sputnik_edge.attendance.types import AttendanceEvent


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

    @classmethod
    def of(cls, e: AttendanceEvent, *, synced: bool) -> EventOut:
        """An event as a gateway answers with it (device and office alike)."""
        return cls(
            event_id=e.event_id,
            kind=e.kind,
            employee_id=e.employee_id,
            name=e.name,
            camera_id=e.camera_id,
            similarity=e.similarity,
            captured_at=e.captured_at.isoformat(),
            synced=synced,
            seq=e.seq,
        )


class EventsOut(BaseModel):
    events: list[EventOut]


class SnapshotResponse(BaseModel):
    trace_id: str
    status: str  # match | low_confidence | unknown | rejected | no_face
    faces: list[dict[str, Any]]
    events: list[EventOut]
    # liveness.mode != "off": {"verdict": "not_checked", "reason": ...}; a photo proves no liveness.
    liveness: dict[str, Any] | None = None


class GatewayHealthOut(BaseModel):
    accepted: int
    rejected: int
    last_snapshot_at: str | None


class ErrorDetail(BaseModel):
    code: str
    message: str
    trace_id: str


class ErrorOut(BaseModel):
    """Every error answer: ``{"error": {"code", "message", "trace_id"}}``."""

    error: ErrorDetail


class HealthOut(BaseModel):
    """``GET /health``; components may add keys, these are always present."""

    model_config = ConfigDict(extra="allow")

    status: Literal["ok", "degraded", "down"]
    ready: bool
    cameras: dict[str, dict[str, Any]]
    pipeline: dict[str, Any]
    gallery: dict[str, Any]
    outbox: dict[str, Any]
    central: dict[str, Any]
    disk_free_mb: int
    degraded: list[str]
    uptime_s: float
    outputs: dict[str, dict[str, Any]] = {}  # event outputs: backlog, last success, last error


class InfoOut(BaseModel):
    """``GET /api/v1/info``; camera sources have their credentials replaced by ``***``."""

    model_config = ConfigDict(extra="allow")

    app: str
    version: str
    device_id: str
    device_name: str | None
    models: dict[str, dict[str, Any]]
    detector: str
    gallery: dict[str, Any]
    thresholds: dict[str, float]
    cameras: list[dict[str, Any]]
    central: dict[str, Any]
    uptime_s: float
