"""``/api/v1/cameras``: placement hints and the live preview for the technician's status page.

The preview is rendered on request from the frame in memory; it is never written anywhere and
never logged, and it is sent with ``Cache-Control: no-store`` so no proxy or browser keeps it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic import BaseModel

from sputnik_edge.api.context import DeviceContext, device_context
from sputnik_edge.api.errors import ApiError
from sputnik_edge.api.schemas import ErrorOut
from sputnik_edge.pipeline.preview import LatestFrame, render_preview

router = APIRouter()
Ctx = Annotated[DeviceContext, Depends(device_context)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "No such camera, or no frame processed yet"},
}
PREVIEW_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/jpeg": {}}, "description": "The newest frame with its faces drawn"},
    **NOT_FOUND,
}


class CameraOut(BaseModel):
    id: str
    source: str
    direction: str
    min_face_px: float
    faces_seen: int
    median_face_px: float | None
    hints: list[str]  # faces_too_small | too_dark | too_bright | too_blurry


class CamerasOut(BaseModel):
    cameras: list[CameraOut]


class PreviewFaceOut(BaseModel):
    bbox: list[float]
    decision: str
    employee_id: str | None
    name: str | None
    face_size: float
    reasons: list[str]


class PreviewFacesOut(BaseModel):
    camera_id: str
    captured_at: str
    width: int
    height: int
    faces: list[PreviewFaceOut]


@router.get("/api/v1/cameras", response_model=CamerasOut)
def cameras(ctx: Ctx) -> CamerasOut:
    min_face = ctx.settings.recognition.min_face_px
    out = []
    for cam in ctx.camera_list():
        view = ctx.camera_view(cam.id)
        hints = view.hints if view else None
        out.append(
            CameraOut(
                id=cam.id,
                source=cam.source,
                direction=cam.direction,
                min_face_px=min_face,
                faces_seen=hints.faces_seen if hints else 0,
                median_face_px=hints.median_face_px if hints else None,
                hints=list(hints.hints) if hints else [],
            )
        )
    return CamerasOut(cameras=out)


def _view(ctx: DeviceContext, camera_id: str) -> LatestFrame:
    view = ctx.camera_view(camera_id)
    if view is None:
        raise ApiError(404, "not_found", f"no camera {camera_id!r}")
    if view.latest is None:
        raise ApiError(404, "no_frame", f"camera {camera_id!r} has not delivered a frame yet")
    return view.latest


@router.get("/api/v1/cameras/{camera_id}/faces", response_model=PreviewFacesOut, responses=NOT_FOUND)
def faces(camera_id: str, ctx: Ctx) -> PreviewFacesOut:
    """The faces of the frame the preview shows (coordinates of the full frame)."""
    latest = _view(ctx, camera_id)
    h, w = latest.image.shape[:2]
    return PreviewFacesOut(
        camera_id=camera_id,
        captured_at=latest.wall.isoformat(),
        width=w,
        height=h,
        faces=[
            PreviewFaceOut(
                bbox=[round(v, 1) for v in f.detection.bbox],
                decision=f.decision,
                employee_id=f.match.employee_id if f.match else None,
                name=f.match.name if f.match else None,
                face_size=round(f.quality.face_size, 1),
                reasons=list(f.quality.reasons),
            )
            for f in latest.faces
        ],
    )


@router.get(
    "/api/v1/cameras/{camera_id}/preview.jpg",
    response_class=Response,
    responses=PREVIEW_RESPONSES,
)
def preview(camera_id: str, ctx: Ctx) -> Response:
    latest = _view(ctx, camera_id)
    jpeg = render_preview(latest, ctx.settings.recognition.min_face_px)
    # The frame's time lets a client pair the picture with /faces of the same frame.
    headers = {"Cache-Control": "no-store", "X-Frame-Captured-At": latest.wall.isoformat()}
    return Response(jpeg, media_type="image/jpeg", headers=headers)
