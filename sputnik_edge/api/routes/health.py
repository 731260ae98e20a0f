"""``/health``, ``/api/v1/info`` and ``/metrics``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from sputnik_edge.api.context import DeviceContext, device_context
from sputnik_edge.api.errors import JSON_ERRORS_OF_TEXT_ROUTE
from sputnik_edge.api.schemas import HealthOut, InfoOut
from sputnik_edge.config import Settings
from sputnik_edge.vision.models import (
    default_models_dir,
    detector_model_name,
    embedder_model_name,
    load_manifest,
    template_model_id,
)

router = APIRouter()
Ctx = Annotated[DeviceContext, Depends(device_context)]


@router.get(
    "/health",
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "A pipeline thread is dead"}},
)
def health(ctx: Ctx) -> JSONResponse:
    report = ctx.health()
    # Validated against the response model here (not only documented), so schema and output agree.
    body = HealthOut.model_validate(report.as_dict()).model_dump(mode="json")
    return JSONResponse(body, status_code=report.http_status)


def models_in_use(settings: Settings) -> dict[str, dict[str, Any]]:
    """The configured detector, the embedder and (unless liveness is off) the face mesh, by role,
    as the manifest pins them."""
    models_dir = settings.recognition.models_dir or default_models_dir()
    manifest = load_manifest(models_dir)
    roles = [
        ("detector", manifest[detector_model_name(settings.recognition.detector)]),
        ("embedder", manifest[embedder_model_name(settings.recognition.embedder_precision)]),
        # model_id is the template space (what galleries are keyed by), shared by both
        # precisions; templates are made by the float model when identification runs int8.
        ("enrolment_embedder", manifest["embedder"]),
    ]
    if settings.liveness.mode != "off":
        roles.append(("face_landmark", manifest["face_landmark"]))
    return {
        role: {"model_id": template_model_id(spec), "file": spec.file, "sha256": spec.sha256}
        for role, spec in roles
    }


@router.get("/api/v1/info", response_model=InfoOut)
def info(ctx: Ctx) -> InfoOut:
    s = ctx.settings
    gallery = ctx.gallery_info()
    return InfoOut(
        app=s.app.name,
        version=ctx.version,
        device_id=s.device.id,
        device_name=s.device.name,
        models=models_in_use(s),
        detector=s.recognition.detector,
        gallery={"employees": gallery.employees, "templates": gallery.templates, "version": gallery.version},
        thresholds={
            "match": s.recognition.match_threshold,
            "low_confidence": s.recognition.low_confidence_threshold,
            "min_margin": s.recognition.min_margin,
        },
        cameras=[{"id": c.id, "source": c.source, "direction": c.direction} for c in ctx.camera_list()],
        central={"enabled": s.central.enabled},
        uptime_s=round(ctx.uptime_s(), 1),
    )


@router.get("/metrics", response_class=PlainTextResponse, responses=JSON_ERRORS_OF_TEXT_ROUTE)
def metrics(ctx: Ctx) -> Response:
    ctx.refresh_metrics()
    return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)
