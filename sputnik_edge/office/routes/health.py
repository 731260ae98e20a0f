"""``/health`` (open), ``/api/v1/info`` and ``/metrics`` (any account)."""

from __future__ import annotations

from typing import Any, Literal

import structlog
from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import extract, func, select
from sqlalchemy.exc import SQLAlchemyError

from sputnik_edge.api.errors import JSON_ERRORS_OF_TEXT_ROUTE
from sputnik_edge.central.errors import CentralError, describe_db_error
from sputnik_edge.central.migrate import current_revision, head_revision
from sputnik_edge.central.schema import devices
from sputnik_edge.office.context import OfficeState
from sputnik_edge.office.deps import AnyUser, State
from sputnik_edge.office.routes.common import AUTH_ERRORS
from sputnik_edge.vision.models import (
    default_models_dir,
    detector_model_name,
    embedder_model_name,
    load_manifest,
    template_model_id,
)

log = structlog.get_logger(__name__)
router = APIRouter()


class DatabaseHealth(BaseModel):
    reachable: bool
    revision: str | None
    expected_revision: str


class HealthOut(BaseModel):
    status: Literal["ok", "degraded", "down"]
    version: str
    database: DatabaseHealth
    uptime_s: float


@router.get(
    "/health",
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "The database is down or its schema is not current"}},
)
def health(state: State) -> JSONResponse:
    """Open to all (load balancers, systemd checks): says nothing an outsider could use."""
    head = head_revision()
    revision: str | None = None
    reachable = False
    try:
        with state.central.engine.connect() as conn:
            revision = current_revision(conn)
        reachable = True
    except (SQLAlchemyError, CentralError) as exc:
        log.warning("office_health_database_down", error=describe_db_error(exc))
    status: Literal["ok", "degraded", "down"] = (
        "ok" if reachable and revision == head else ("degraded" if reachable else "down")
    )
    body = HealthOut(
        status=status,
        version=state.version,
        database=DatabaseHealth(reachable=reachable, revision=revision, expected_revision=head),
        uptime_s=round(state.uptime_s(), 1),
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if status == "ok" else 503)


class ModelOut(BaseModel):
    model_id: str
    file: str
    sha256: str


class GalleryOut(BaseModel):
    employees: int
    templates: int
    change_seq: int


class CameraOut(BaseModel):
    id: str
    direction: str
    device_id: str


class InfoOut(BaseModel):
    app: str
    version: str
    models: dict[str, ModelOut]
    detector: str
    thresholds: dict[str, float]
    gallery: GalleryOut
    cameras: list[CameraOut]
    office_timezone: str
    device_stale_after_s: float
    uptime_s: float


def _models(state: State) -> dict[str, ModelOut]:
    cfg = state.settings.recognition
    manifest = load_manifest(cfg.models_dir or default_models_dir())
    return {
        role: ModelOut(model_id=template_model_id(spec), file=spec.file, sha256=spec.sha256)
        for role, spec in (
            ("detector", manifest[detector_model_name(cfg.detector)]),
            ("embedder", manifest[embedder_model_name(cfg.embedder_precision)]),
            # model_id is the template space (what galleries are keyed by), shared by both
            # precisions; templates are made by the float model when identification runs int8.
            ("enrolment_embedder", manifest["embedder"]),
        )
    }


@router.get("/api/v1/info", response_model=InfoOut, responses=AUTH_ERRORS)
def info(state: State, _user: AnyUser) -> InfoOut:
    s = state.settings
    gallery = state.recognition.refresh()
    return InfoOut(
        app=s.app.name,
        version=state.version,
        models=_models(state),
        detector=s.recognition.detector,
        thresholds={
            "match": s.recognition.match_threshold,
            "low_confidence": s.recognition.low_confidence_threshold,
            "min_margin": s.recognition.min_margin,
        },
        gallery=GalleryOut(
            employees=gallery.employees, templates=gallery.templates, change_seq=gallery.change_seq
        ),
        cameras=[CameraOut(id=c.id, direction=c.direction, device_id=c.device_id) for c in s.cameras],
        office_timezone=state.central.office_timezone(),
        device_stale_after_s=s.office.device_stale_after_s,
        uptime_s=round(state.uptime_s(), 1),
    )


METRICS_ERRORS: dict[int | str, dict[str, Any]] = {
    **JSON_ERRORS_OF_TEXT_ROUTE,
    **{
        status: {
            "description": spec["description"],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
        }
        for status, spec in AUTH_ERRORS.items()
    },
}


def _read_database_gauges(state: OfficeState) -> None:
    m = state.metrics
    silent = extract("epoch", func.now() - devices.c.last_seen_at)
    stmt = select(devices.c.device_id, silent).where(devices.c.last_seen_at.is_not(None))
    try:
        rows = state.central._transaction("reading device silence", lambda conn: conn.execute(stmt).all())
    except CentralError:
        m.database_up.set(0)
        m.device_silent.clear()  # unknown now: no stale values for the silence alert
        return
    m.database_up.set(1)
    m.device_silent.clear()  # devices deleted since the last scrape go too
    for device_id, seconds in rows:
        m.device_silent.labels(device_id).set(round(float(seconds), 1))


@router.get("/metrics", response_class=PlainTextResponse, responses=METRICS_ERRORS)
def metrics(state: State, _user: AnyUser) -> Response:
    _read_database_gauges(state)
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
