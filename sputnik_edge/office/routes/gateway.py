"""The office's snapshot gateway: cameras that push photos straight to the office.

A camera authenticates with its own token (``cameras[].token``); the photo goes through the same
validation as the device gateway (``api.uploads``), is recognised against the central gallery, and
every match becomes a ``check_in`` / ``check_out`` / ``pass`` event (the camera's direction) of the
virtual device ``office:<camera id>`` in ``attendance_events``. The same employee on the same
camera gets no second event within the camera's ``cooldown_s``, read back from the table.

A pushed photo is a single frame: it cannot show liveness (no blink, no head motion over time),
so the response and every event say ``liveness: {"verdict": "not_checked", ...}``; a site that
needs presentation-attack detection uses door devices with ``liveness.mode = "enforce"``.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from sqlalchemy import Connection, select

from sputnik_edge.api.errors import ApiError
from sputnik_edge.api.routes.gateway import snapshot_status
from sputnik_edge.api.schemas import EventOut, GatewayHealthOut, SnapshotResponse
from sputnik_edge.api.uploads import UPLOAD_ERROR_RESPONSES, read_image_upload
from sputnik_edge.attendance.types import AttendanceEvent, EventKind
from sputnik_edge.central.errors import CentralError
from sputnik_edge.central.schema import attendance_events
from sputnik_edge.central.types import DeviceHeartbeat
from sputnik_edge.liveness.types import SINGLE_PHOTO
from sputnik_edge.office.config import OfficeCameraSection
from sputnik_edge.office.context import OfficeState
from sputnik_edge.office.deps import CameraPrincipal, State, require_camera
from sputnik_edge.office.routes.common import errors
from sputnik_edge.recognition.types import FaceResult

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/v1/gateway", tags=["gateway"])

KIND_OF_DIRECTION: dict[str, EventKind] = {"in": "check_in", "out": "check_out", "pass": "pass"}
HEARTBEAT_EVERY_S = 30.0
NOT_CHECKED = {"verdict": SINGLE_PHOTO.verdict, "reason": SINGLE_PHOTO.reason}


def _cooling_down(conn: Connection, device_id: str, employee_ids: list[str], since: datetime) -> set[str]:
    rows = conn.execute(
        select(attendance_events.c.employee_id)
        .where(
            attendance_events.c.device_id == device_id,
            attendance_events.c.employee_id.in_(employee_ids),
            attendance_events.c.captured_at > since,
        )
        .distinct()
    )
    return {r.employee_id for r in rows}


def record_matches(
    state: OfficeState, camera: OfficeCameraSection, faces: list[FaceResult], trace_id: str
) -> list[AttendanceEvent]:
    """One event per matched employee outside the cooldown. The per-camera lock keeps two
    snapshots of the same person arriving together from both passing the check (one server
    process serves the gateway)."""
    best: dict[str, FaceResult] = {}
    for face in faces:
        m = face.match
        if m is None or m.decision != "match" or m.employee_id is None:
            continue
        held = best.get(m.employee_id)
        if held is None or (held.match is not None and m.similarity > held.match.similarity):
            best[m.employee_id] = face
    if not best:
        return []
    now = datetime.now(UTC)
    since = now - timedelta(seconds=camera.cooldown_s)
    with state.camera_locks[camera.id]:
        cooling = state.central._transaction(
            "reading recent events", lambda conn: _cooling_down(conn, camera.device_id, sorted(best), since)
        )
        events = []
        for employee_id, face in sorted(best.items()):
            if employee_id in cooling or face.match is None:
                continue
            events.append(
                AttendanceEvent(
                    event_id=str(uuid.uuid4()),
                    device_id=camera.device_id,
                    camera_id=camera.id,
                    kind=KIND_OF_DIRECTION[camera.direction],
                    employee_id=employee_id,
                    name=face.match.name,
                    similarity=round(face.match.similarity, 4),
                    captured_at=now,
                    seq=time.time_ns() // 1000,  # grows like a device's counter
                    trace_id=trace_id,
                    details={
                        "source": "office_gateway",
                        "margin": round(face.match.margin, 4),
                        "liveness": NOT_CHECKED,
                    },
                )
            )
        if events:
            state.central.push_events(events)
    for ev in events:
        state.metrics.gateway_events.labels(ev.kind).inc()
        log.info(
            "attendance_event",
            event_id=ev.event_id,
            kind=ev.kind,
            employee_id=ev.employee_id,
            camera_id=ev.camera_id,
            similarity=ev.similarity,
        )
    return events


def _heartbeat(state: OfficeState, camera: OfficeCameraSection) -> None:
    """The virtual device shows up in /api/v1/devices like a door device, stale when it goes quiet."""
    now = time.monotonic()
    last = state.camera_heartbeats.get(camera.id)
    if last is not None and now - last < HEARTBEAT_EVERY_S:
        return
    state.camera_heartbeats[camera.id] = now
    try:
        state.central.heartbeat(
            DeviceHeartbeat(
                device_id=camera.device_id,
                name=f"office gateway camera {camera.id}",
                location="office",
                software_version=state.version,
                model_id=state.recognition.model_id,
                gallery_seq=state.recognition.info().change_seq,
                outbox_backlog=0,
            )
        )
    except CentralError as exc:  # the events are in; a missed heartbeat only delays "last seen"
        log.warning("office_camera_heartbeat_failed", camera_id=camera.id, error=str(exc))


@router.post(
    "/snapshot",
    response_model=SnapshotResponse,
    responses={
        **UPLOAD_ERROR_RESPONSES,
        **errors(
            (401, "Missing or wrong camera token"), (403, "camera_id names another camera than the token")
        ),
    },
)
def snapshot(
    request: Request,
    state: State,
    who: Annotated[CameraPrincipal, Depends(require_camera)],
    file: Annotated[UploadFile, File(description="JPEG, PNG or WEBP, at most 10 MB, at least 100x100")],
    camera_id: Annotated[str | None, Form(max_length=64, description="must be the token's camera")] = None,
) -> SnapshotResponse:
    camera = who.camera
    stats = state.gateway_stats
    http = state.settings.http
    try:
        if camera_id is not None and camera_id != camera.id:
            raise ApiError(403, "wrong_camera", "this token belongs to another camera")
        if not state.gateway_limiter.allow(camera.id):
            raise ApiError(429, "rate_limited", "too many snapshots from this camera", {"Retry-After": "60"})
        decoded = read_image_upload(file, max_upload=http.max_upload_bytes, max_pixels=http.max_pixels)
    except ApiError as exc:
        stats.record(False)
        state.metrics.snapshots.labels(exc.code).inc()
        raise
    trace_id = request.state.trace_id
    faces = state.recognition.identify(decoded.image)
    events = record_matches(state, camera, faces, trace_id)
    _heartbeat(state, camera)
    stats.record(True)
    state.metrics.snapshots.labels("accepted").inc()
    return SnapshotResponse(
        trace_id=trace_id,
        status=snapshot_status({f.decision for f in faces}),
        faces=[f.as_dict() for f in faces],
        events=[EventOut.of(e, synced=True) for e in events],
        liveness=NOT_CHECKED,
    )


@router.get("/health", response_model=GatewayHealthOut, responses=errors())
def gateway_health(request: Request, state: State) -> GatewayHealthOut:
    """For a camera token or any account."""
    if getattr(request.state, "camera", None) is None and getattr(request.state, "principal", None) is None:
        raise ApiError(401, "unauthorized", "send a camera token or an account's credentials")
    g = state.gateway_stats
    return GatewayHealthOut(
        accepted=g.accepted,
        rejected=g.rejected,
        last_snapshot_at=g.last_snapshot_at.isoformat() if g.last_snapshot_at else None,
    )
