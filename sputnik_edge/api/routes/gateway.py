"""The snapshot gateway: cameras that push JPEGs instead of streaming."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile

from sputnik_edge.api.context import DeviceContext, device_context
from sputnik_edge.api.errors import ApiError
from sputnik_edge.api.ratelimit import RateLimiter
from sputnik_edge.api.schemas import EventOut, GatewayHealthOut, SnapshotResponse
from sputnik_edge.api.uploads import UPLOAD_ERROR_RESPONSES, read_image_upload

router = APIRouter()
Ctx = Annotated[DeviceContext, Depends(device_context)]

# The most telling decision among a snapshot's faces names the answer.
STATUS_ORDER = ("match", "low_confidence", "unknown", "rejected")


@dataclass
class GatewayStats:
    accepted: int = 0
    rejected: int = 0
    last_snapshot_at: datetime | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, ok: bool) -> None:
        with self.lock:
            if ok:
                self.accepted += 1
                self.last_snapshot_at = datetime.now(UTC)
            else:
                self.rejected += 1


def snapshot_status(decisions: set[str]) -> str:
    return next((d for d in STATUS_ORDER if d in decisions), "no_face")


@router.post("/api/v1/gateway/snapshot", response_model=SnapshotResponse, responses=UPLOAD_ERROR_RESPONSES)
def snapshot(
    request: Request,
    ctx: Ctx,
    file: Annotated[UploadFile, File(description="JPEG, PNG or WEBP, at most 10 MB, at least 100x100")],
    camera_id: Annotated[str | None, Form(max_length=64)] = None,
) -> SnapshotResponse:
    stats: GatewayStats = request.app.state.gateway_stats
    limiter: RateLimiter = request.app.state.gateway_limiter
    http = ctx.settings.http
    trace_id = request.state.trace_id
    client = request.client.host if request.client else "unknown"
    try:
        if not limiter.allow(client):
            raise ApiError(429, "rate_limited", "too many snapshots from this client", {"Retry-After": "60"})
        decoded = read_image_upload(file, max_upload=http.max_upload_bytes, max_pixels=http.max_pixels)
    except ApiError as exc:
        stats.record(False)
        ctx.metrics.snapshot_requests.labels(exc.code).inc()
        raise
    outcome = ctx.process_snapshot(camera_id or "gateway", decoded.image, trace_id)
    stats.record(True)
    ctx.metrics.snapshot_requests.labels("accepted").inc()
    faces = [f.as_dict() for f in outcome.faces]
    events = [EventOut.of(e, synced=False) for e in outcome.events]
    status = snapshot_status({f.decision for f in outcome.faces})
    return SnapshotResponse(
        trace_id=trace_id, status=status, faces=faces, events=events, liveness=outcome.liveness
    )


@router.get("/api/v1/gateway/health", response_model=GatewayHealthOut)
def gateway_health(request: Request) -> GatewayHealthOut:
    g: GatewayStats = request.app.state.gateway_stats
    return GatewayHealthOut(
        accepted=g.accepted,
        rejected=g.rejected,
        last_snapshot_at=g.last_snapshot_at.isoformat() if g.last_snapshot_at else None,
    )
