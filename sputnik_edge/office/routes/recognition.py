"""``POST /api/v1/recognition/identify`` (hr, admin): who is in this photo, against the central
gallery. Read-only: no event, no snapshot, no log line with a face in it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile
from pydantic import BaseModel

from sputnik_edge.api.uploads import UPLOAD_ERROR_RESPONSES, read_image_upload
from sputnik_edge.office.deps import Staff, State
from sputnik_edge.office.routes.common import errors
from sputnik_edge.office.routes.photos import QualityOut
from sputnik_edge.recognition.types import FaceResult

router = APIRouter(prefix="/api/v1/recognition", tags=["recognition"])


class FaceOut(BaseModel):
    bbox: list[float]
    landmarks: list[list[float]]
    det_score: float
    quality: QualityOut
    decision: str  # match | low_confidence | unknown | rejected (stopped by the quality gate)
    employee_id: str | None
    name: str | None
    similarity: float | None
    margin: float | None


class IdentifyOut(BaseModel):
    trace_id: str
    model_id: str
    gallery_seq: int
    faces: list[FaceOut]


def face_out(face: FaceResult) -> FaceOut:
    return FaceOut.model_validate(face.as_dict())


@router.post("/identify", response_model=IdentifyOut, responses={**UPLOAD_ERROR_RESPONSES, **errors()})
def identify(
    request: Request,
    state: State,
    _user: Staff,
    file: Annotated[UploadFile, File(description="JPEG, PNG or WEBP, at most 10 MB, at least 100x100")],
) -> IdentifyOut:
    http = state.settings.http
    decoded = read_image_upload(file, max_upload=http.max_upload_bytes, max_pixels=http.max_pixels)
    faces = state.recognition.identify(decoded.image)
    info = state.recognition.info()
    return IdentifyOut(
        trace_id=request.state.trace_id,
        model_id=state.recognition.model_id,
        gallery_seq=info.change_seq,
        faces=[face_out(f) for f in faces],
    )
