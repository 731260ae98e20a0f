"""``POST /api/v1/employees/{id}/photos`` (hr, admin): server-side enrolment of one photo; and
``POST /api/v1/employees/{id}/clips``: of a short clip, as ``sputnik-edge enroll --video``.

The same gate as ``sputnik-edge enroll``: the gateway's image validation, exactly one good face
through the device's models and quality limits, and a face that already matches another active
employee above the match threshold is refused (409 naming them) unless ``force=true``.
The template is stored with the embedder's model id; the photo itself only with
``central.store_photos``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import numpy as np
from fastapi import APIRouter, File, Form, Request, UploadFile
from pydantic import BaseModel

from sputnik_edge.api.errors import ApiError
from sputnik_edge.api.uploads import UPLOAD_ERROR_RESPONSES, read_image_upload
from sputnik_edge.central.errors import UnknownEmployeeError
from sputnik_edge.office import audit
from sputnik_edge.office.deps import Staff, State, actor_of, trace_id
from sputnik_edge.office.routes import employee_queries as queries
from sputnik_edge.office.routes.common import errors
from sputnik_edge.office.routes.employees import EmployeeId
from sputnik_edge.recognition.enrol_select import ClipRefused, SelectionRules
from sputnik_edge.recognition.recognizer import EnrollmentError
from sputnik_edge.vision.videoio import VideoError, sampled_frames, sniff_container

router = APIRouter(prefix="/api/v1/employees", tags=["employees"])


class QualityOut(BaseModel):
    ok: bool
    reasons: list[str]
    face_size: float
    blur: float
    yaw: float
    pitch: float
    roll: float
    brightness: float
    score: float


class SimilarOut(BaseModel):
    employee_id: str
    similarity: float


class PhotoOut(BaseModel):
    employee_id: str
    template_id: str
    model_id: str
    quality: QualityOut
    photo_stored: bool
    similar_to: list[SimilarOut]  # other employees this face matches (only when forced)


PHOTO_ERRORS = {
    **UPLOAD_ERROR_RESPONSES,
    **errors(
        (404, "No such employee"),
        (409, "The face already matches another employee (send force=true to enrol anyway)"),
        (
            422,
            "Invalid request or image, or no usable face: code no_face, several_faces or the quality "
            "reason (face_too_small, blurry, pose_yaw, pose_pitch, too_dark, too_bright, low_det_score, "
            "partial_face)",
        ),
    ),
}


def duplicate_face(state: State, other: str, similarity: float, threshold: float) -> ApiError:
    """The 409 for a face that already matches another employee (photo and clip alike)."""
    state.metrics.enrolments.labels("duplicate_face").inc()
    return ApiError(
        409,
        "duplicate_face",
        f"this face already matches employee {other!r} (similarity {similarity:.3f} >= {threshold}); "
        "send force=true to enrol anyway",
    )


@router.post("/{employee_id}/photos", status_code=201, response_model=PhotoOut, responses=PHOTO_ERRORS)
def enrol_photo(
    employee_id: EmployeeId,
    request: Request,
    state: State,
    user: Staff,
    file: Annotated[UploadFile, File(description="JPEG, PNG or WEBP with exactly one face")],
    force: Annotated[bool, Form(description="enrol even if the face matches another employee")] = False,
) -> PhotoOut:
    if queries.get(state.central, employee_id) is None:
        raise ApiError(404, "not_found", f"no employee {employee_id!r}")
    http = state.settings.http
    decoded = read_image_upload(file, max_upload=http.max_upload_bytes, max_pixels=http.max_pixels)
    recognition = state.recognition
    try:
        vec, quality = recognition.enrollment_template(decoded.image, file.filename or "file")
    except EnrollmentError as exc:
        state.metrics.enrolments.labels(exc.code).inc()
        raise ApiError(422, exc.code, str(exc)) from None
    model_id = recognition.model_id
    threshold = state.settings.recognition.match_threshold
    similar = state.central.find_conflicts(model_id, vec, threshold, exclude_employee_id=employee_id)
    if similar and not force:
        raise duplicate_face(state, *similar[0], threshold)
    photos = None
    if state.settings.central.store_photos:
        file.file.seek(0)
        photos = [file.file.read(http.max_upload_bytes + 1)]
    try:
        (template_id,) = state.central.add_templates(
            employee_id, model_id, np.asarray(vec)[None], [quality.score], photos=photos
        )
    except UnknownEmployeeError:  # erased between the check above and now
        raise ApiError(404, "not_found", f"no employee {employee_id!r}") from None
    audit.record_now(
        state.central,
        actor=actor_of(user),
        action="employee_photo_enrolled",
        target_type="employee",
        target_id=employee_id,
        details={
            "template_id": template_id,
            "model_id": model_id,
            "quality": round(quality.score, 3),
            "photo_stored": photos is not None,
            "forced_over": [other for other, _ in similar],
        },
        trace_id=trace_id(request),
    )
    state.metrics.enrolments.labels("accepted").inc()
    q = quality.as_dict()
    return PhotoOut(
        employee_id=employee_id,
        template_id=template_id,
        model_id=model_id,
        quality=QualityOut.model_validate(q),
        photo_stored=photos is not None,
        similar_to=[SimilarOut(employee_id=o, similarity=round(s, 4)) for o, s in similar],
    )


# ---- clips -------------------------------------------------------------------------------------------

# A clip of a few seconds is enough (the CLI takes 5 s from a camera); reading stops after this
# many frames, so a long or hostile upload costs a bounded amount of decoding.
MAX_CLIP_FRAMES = 30 * 30


class ChosenOut(BaseModel):
    frame: int
    pose: str
    yaw: float
    quality: float


class ClipOut(BaseModel):
    employee_id: str
    template_ids: list[str]
    model_id: str
    chosen: list[ChosenOut]
    refused: dict[str, int]  # reason -> frames
    similar_to: list[SimilarOut]  # other employees these faces match (only when forced)


CLIP_ERRORS = {
    **UPLOAD_ERROR_RESPONSES,
    **errors(
        (404, "No such employee"),
        (409, "A chosen face already matches another employee (send force=true to enrol anyway)"),
        (413, "Body too large, or frames larger than http.max_pixels"),
        (415, "Not a WebM, MP4/MOV or AVI clip"),
        (
            422,
            "Invalid request, unreadable clip, or refused: code several_faces (two people in the "
            "picture), not_same_person (two people one after the other) or no_usable_face",
        ),
    ),
}


@router.post("/{employee_id}/clips", status_code=201, response_model=ClipOut, responses=CLIP_ERRORS)
def enrol_clip(
    employee_id: EmployeeId,
    request: Request,
    state: State,
    user: Staff,
    file: Annotated[UploadFile, File(description="a short WebM, MP4/MOV or AVI clip of the person alone")],
    force: Annotated[bool, Form(description="enrol even if a face matches another employee")] = False,
    max_templates: Annotated[int, Form(ge=1, le=10, description="templates to keep (1-10)")] = 5,
) -> ClipOut:
    """Server-side enrolment from a clip, as `sputnik-edge enroll --video`: a few good frames of one
    person (frontal, slight turns, no near-duplicates) become templates; the clip is never stored."""
    if queries.get(state.central, employee_id) is None:
        raise ApiError(404, "not_found", f"no employee {employee_id!r}")
    http = state.settings.http
    data = file.file.read(http.max_upload_bytes + 1)
    if len(data) > http.max_upload_bytes:
        raise ApiError(413, "too_large", f"file exceeds {http.max_upload_bytes} bytes")
    if not data:
        raise ApiError(422, "empty", "file: empty upload")
    kind = sniff_container(data[:12])
    if kind is None:
        raise ApiError(415, "unsupported_type", "file: not a WebM, MP4/MOV or AVI clip")
    rules = SelectionRules(
        max_templates=max_templates,
        same_person_similarity=state.settings.recognition.low_confidence_threshold,
    )
    # Biometric data: a private folder, the file 0600, gone when the request ends.
    with tempfile.TemporaryDirectory(prefix="sputnik-clip-") as tmp:
        path = Path(tmp) / f"clip.{kind}"
        path.touch(mode=0o600)
        path.write_bytes(data)
        frames = sampled_frames(
            path, max_frames_read=MAX_CLIP_FRAMES, max_pixels=http.max_pixels, name="file"
        )
        try:
            selection = state.recognition.select_clip(frames, rules)
        except VideoError as exc:
            state.metrics.enrolments.labels(exc.code).inc()
            raise ApiError(413 if exc.code == "too_large" else 422, exc.code, str(exc)) from None
        except ClipRefused as exc:
            state.metrics.enrolments.labels(exc.code).inc()
            raise ApiError(422, exc.code, f"file: refused: {exc}") from None
    model_id = state.recognition.model_id
    threshold = state.settings.recognition.match_threshold
    similar: dict[str, float] = {}
    for c in selection.chosen:
        for other, sim in state.central.find_conflicts(
            model_id, c.embedding, threshold, exclude_employee_id=employee_id
        ):
            similar[other] = max(sim, similar.get(other, -1.0))
    if similar and not force:
        other = max(similar, key=lambda k: similar[k])
        raise duplicate_face(state, other, similar[other], threshold)
    matrix = np.stack([c.embedding for c in selection.chosen])
    try:
        ids = list(
            state.central.add_templates(employee_id, model_id, matrix, [c.quality for c in selection.chosen])
        )
    except UnknownEmployeeError:  # erased between the check above and now
        raise ApiError(404, "not_found", f"no employee {employee_id!r}") from None
    audit.record_now(
        state.central,
        actor=actor_of(user),
        action="employee_clip_enrolled",
        target_type="employee",
        target_id=employee_id,
        details={
            "template_ids": ids,
            "model_id": model_id,
            "frames": [c.frame for c in selection.chosen],
            "refused": selection.refused_by_reason(),
            "forced_over": sorted(similar),
        },
        trace_id=trace_id(request),
    )
    state.metrics.enrolments.labels("accepted").inc()
    return ClipOut(
        employee_id=employee_id,
        template_ids=ids,
        model_id=model_id,
        chosen=[
            ChosenOut(frame=c.frame, pose=c.pose, yaw=round(c.yaw, 1), quality=round(c.quality, 3))
            for c in selection.chosen
        ],
        refused=selection.refused_by_reason(),
        similar_to=[SimilarOut(employee_id=o, similarity=round(s, 4)) for o, s in sorted(similar.items())],
    )
