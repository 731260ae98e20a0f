"""HTTP API: health, info, events, metrics and the snapshot gateway.

``create_app(ctx)`` takes the one typed context (the running EdgeApp) and nothing else. Every
answer carries ``X-Trace-ID``; every error is ``{"error": {"code", "message", "trace_id"}}``.
"""

from __future__ import annotations

import hmac
import re
import shutil
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import structlog
from fastapi import FastAPI, File, Form, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from sputnik_edge.api.schemas import (
    ErrorOut,
    EventOut,
    EventsOut,
    GatewayHealthOut,
    HealthOut,
    InfoOut,
    SnapshotResponse,
)
from sputnik_edge.attendance.policy import CameraInfo
from sputnik_edge.redaction import redact_url
from sputnik_edge.vision.imageio import ImageError, decode_image

if TYPE_CHECKING:
    from sputnik_edge.daemon.app import EdgeApp

log = structlog.get_logger(__name__)

TRACE_RE = re.compile(r"^[A-Za-z0-9_.\-]{8,128}$")
GATEWAY_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})
# Documented in the OpenAPI schema so clients (and schemathesis) see the real error shape, not
# FastAPI's default ``{"detail": [...]}`` for 422.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Missing or wrong bearer token (when http.api_token is set)"},
    422: {"model": ErrorOut, "description": "Invalid request"},
    500: {"model": ErrorOut, "description": "Internal error (see the device log with the trace id)"},
}
GATEWAY_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Malformed multipart body"},
    413: {"model": ErrorOut, "description": "Body or image too large"},
    415: {"model": ErrorOut, "description": "Not a JPEG, PNG or WEBP"},
    422: {"model": ErrorOut, "description": "Invalid request, undecodable, truncated or too small image"},
    429: {"model": ErrorOut, "description": "Per-client rate limit"},
}
# A route whose success is text/plain: FastAPI would document its errors as text/plain too.
JSON_ERRORS_OF_TEXT_ROUTE: dict[int | str, dict[str, Any]] = {
    status: {
        "description": spec["description"],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
    }
    for status, spec in ERROR_RESPONSES.items()
}
IMAGE_ERROR_STATUS = {
    "empty": 422,
    "not_an_image": 415,
    "unsupported_type": 415,
    "too_large": 413,
    "too_small": 422,
    "truncated": 422,
    "corrupt": 422,
}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def _error(
    request: Request, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    trace_id = getattr(request.state, "trace_id", None) or uuid.uuid4().hex
    return JSONResponse(
        {"error": {"code": code, "message": message, "trace_id": trace_id}},
        status_code=status,
        headers={"X-Trace-ID": trace_id, **(headers or {})},
    )


class RateLimiter:
    """Sliding one-minute window per client address (the gateway is the only costly endpoint).
    Sync endpoints run in a thread pool, hence the lock."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, client: str) -> bool:
        if self.per_minute <= 0:
            return True
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(client, deque())
            while hits and now - hits[0] > 60:
                hits.popleft()
            if len(hits) >= self.per_minute:
                return False
            hits.append(now)
            if len(self._hits) > 10_000:  # bound memory under address churn
                for key in [k for k, v in self._hits.items() if not v or now - v[-1] > 60]:
                    del self._hits[key]
            return True


class BodyLimit:
    """ASGI middleware counting request body bytes as they arrive.

    The Content-Length check in ``trace_and_auth`` cannot see a chunked upload; without this, the
    multipart parser would spool a body of any size to a temporary file before the endpoint
    could refuse it. Over the limit, reading the body raises a 413 (an ``HTTPException`` passes
    through FastAPI's body parsing unchanged) and the connection is not read any further.
    """

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise StarletteHTTPException(413, f"request body exceeds {self.limit} bytes")
            return message

        await self.app(scope, limited_receive, send)


def create_app(ctx: EdgeApp) -> FastAPI:
    settings = ctx.settings
    token = settings.http.api_token.get_secret_value()
    max_upload = settings.http.max_upload_bytes
    limiter = RateLimiter(settings.http.rate_limit_per_minute)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        ctx.http_started()
        log.info("http_listening", host=settings.http.host, port=settings.http.port)
        yield
        log.info("http_stopped")

    app = FastAPI(
        title="Sputnik Edge",
        version=ctx.version,
        lifespan=lifespan,
        docs_url="/api/docs" if settings.app.debug else None,
        redoc_url=None,
        responses=ERROR_RESPONSES,
    )
    if settings.http.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.http.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-Trace-ID"],
            expose_headers=["X-Trace-ID"],
        )

    if settings.http.static_path is not None:
        from fastapi.staticfiles import StaticFiles

        if not settings.http.static_path.is_dir():
            raise ValueError(f"http.static_path {settings.http.static_path}: not a directory")
        app.mount("/static", StaticFiles(directory=settings.http.static_path), name="static")

    app.add_middleware(BodyLimit, limit=max_upload + 64 * 1024)

    @app.middleware("http")
    async def trace_and_auth(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        incoming = request.headers.get("x-trace-id", "")
        trace_id = incoming if TRACE_RE.match(incoming) else uuid.uuid4().hex
        request.state.trace_id = trace_id
        structlog.contextvars.bind_contextvars(trace_id=trace_id)
        try:
            ctx.monitor.beat("http")
            if token and request.url.path != "/health" and request.method != "OPTIONS":
                header = request.headers.get("authorization", "")
                scheme, _, given = header.partition(" ")
                if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), token.encode()):
                    return _error(
                        request,
                        401,
                        "unauthorized",
                        "missing or wrong bearer token",
                        {"WWW-Authenticate": "Bearer"},
                    )
            length = request.headers.get("content-length")
            if length and length.isdigit() and int(length) > max_upload + 64 * 1024:
                return _error(
                    request, 413, "too_large", f"request body of {length} bytes exceeds {max_upload} bytes"
                )
            response = await call_next(request)
            response.headers["X-Trace-ID"] = trace_id
            return response
        finally:
            structlog.contextvars.unbind_contextvars("trace_id")

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(request, exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}
        code = codes.get(exc.status_code, "http_error")
        return _error(request, exc.status_code, code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for e in exc.errors()[:5]:
            loc = ".".join(str(x) for x in e.get("loc", ()) if x not in ("body", "query"))
            parts.append(f"{loc}: {e.get('msg')}")
        return _error(request, 422, "invalid_request", "; ".join(parts) or "invalid request")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("request_failed", path=request.url.path, exc_info=exc)
        return _error(request, 500, "internal_error", "internal error; see the device log with this trace id")

    # ---- health and info -----------------------------------------------------------------------

    @app.get(
        "/health",
        response_model=HealthOut,
        responses={503: {"model": HealthOut, "description": "A pipeline thread is dead"}},
    )
    def health() -> JSONResponse:
        cams = {}
        degraded = []
        for cam_id, cap in ctx.captures.items():
            st = cap.status()
            cams[cam_id] = {
                "state": st.state,
                "source": st.source,
                "fps_in": round(st.fps_in, 2),
                "frames_read": st.frames_read,
                "frames_processed": ctx.workers[cam_id].frames if cam_id in ctx.workers else 0,
                "fps_processed": round(ctx.workers[cam_id].fps_processed, 2)
                if cam_id in ctx.workers
                else 0.0,
                "frames_dropped": st.frames_dropped,
                "last_frame_age_s": None if st.last_frame_age_s is None else round(st.last_frame_age_s, 2),
                "reconnects": st.reconnects,
                "last_error": st.last_error,
            }
            if st.state != "up":
                degraded.append(f"camera:{cam_id}")
        healthy, stalled = ctx.monitor.healthy()
        alive = ctx.pipeline_alive()
        sync = ctx.sync.status() if ctx.sync is not None else {"enabled": False}
        if sync.get("enabled") and sync.get("last_error"):
            degraded.append("central")
        disk = shutil.disk_usage(settings.storage.database.parent)
        if disk.free < 100 * 1024 * 1024:
            degraded.append("disk")
        status = "ok" if alive and healthy and not degraded else "degraded"
        body = {
            "status": "down" if not alive else status,
            "ready": ctx.ready,
            "cameras": cams,
            "pipeline": {"alive": alive, "stalled": stalled},
            "gallery": {
                "employees": ctx.recognizer.gallery.n_employees,
                "templates": ctx.recognizer.gallery.n_templates,
            },
            "outbox": {"backlog": ctx.store.backlog()},
            "central": sync,
            "disk_free_mb": disk.free // (1024 * 1024),
            "degraded": degraded,
            "uptime_s": round(ctx.uptime_s(), 1),
        }
        return JSONResponse(body, status_code=200 if alive else 503)

    @app.get("/api/v1/info", response_model=InfoOut)
    def info() -> dict[str, Any]:
        rec = ctx.recognizer
        from sputnik_edge.vision.models import default_models_dir, detector_model_name, load_manifest

        models_dir = settings.recognition.models_dir or default_models_dir()
        manifest = load_manifest(models_dir)
        return {
            "app": settings.app.name,
            "version": ctx.version,
            "device_id": settings.device.id,
            "device_name": settings.device.name,
            # The models in use, by role: the configured detector and the embedder.
            "models": {
                role: {"model_id": spec.model_id, "file": spec.file, "sha256": spec.sha256}
                for role, spec in (
                    ("detector", manifest[detector_model_name(settings.recognition.detector)]),
                    ("embedder", manifest["embedder"]),
                )
            },
            "detector": settings.recognition.detector,
            "gallery": {
                "employees": rec.gallery.n_employees,
                "templates": rec.gallery.n_templates,
                "version": rec.gallery.version,
            },
            "thresholds": {
                "match": rec.thresholds.match,
                "low_confidence": rec.thresholds.low_confidence,
                "min_margin": rec.thresholds.min_margin,
            },
            "cameras": [
                {"id": c.id, "source": redact_url(c.source), "direction": c.direction}
                for c in ctx.cameras.values()
            ],
            "central": {"enabled": settings.central.enabled},
            "uptime_s": round(ctx.uptime_s(), 1),
        }

    # ---- events ------------------------------------------------------------------------------

    @app.get("/api/v1/events", response_model=EventsOut)
    def list_events(
        since: Annotated[datetime | None, Query(description="ISO 8601; events captured at or after")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> EventsOut:
        if since is not None and since.tzinfo is None:
            since = since.astimezone()
        rows = ctx.store.list_events(since=since, limit=limit)
        return EventsOut(events=[EventOut(**r.as_dict()) for r in rows])

    @app.get("/metrics", response_class=PlainTextResponse, responses=JSON_ERRORS_OF_TEXT_ROUTE)
    def metrics() -> Response:
        ctx.refresh_metrics()
        return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    # ---- snapshot gateway --------------------------------------------------------------------

    @app.post("/api/v1/gateway/snapshot", response_model=SnapshotResponse, responses=GATEWAY_ERROR_RESPONSES)
    def snapshot(
        request: Request,
        file: Annotated[UploadFile, File(description="JPEG, PNG or WEBP, at most 10 MB, at least 100x100")],
        camera_id: Annotated[str | None, Form(max_length=64)] = None,
    ) -> SnapshotResponse:
        trace_id = request.state.trace_id
        client = request.client.host if request.client else "unknown"
        if not limiter.allow(client):
            ctx.gateway.record(False)
            ctx.metrics.snapshot_requests.labels("rate_limited").inc()
            raise ApiError(429, "rate_limited", "too many snapshots from this client", {"Retry-After": "60"})
        data = file.file.read(max_upload + 1)
        if len(data) > max_upload:
            ctx.gateway.record(False)
            ctx.metrics.snapshot_requests.labels("too_large").inc()
            raise ApiError(413, "too_large", f"file exceeds {max_upload} bytes")
        try:
            decoded = decode_image(
                data, min_side=100, max_pixels=settings.http.max_pixels, formats=GATEWAY_FORMATS, name="file"
            )
        except ImageError as exc:
            ctx.gateway.record(False)
            ctx.metrics.snapshot_requests.labels(exc.code).inc()
            raise ApiError(IMAGE_ERROR_STATUS.get(exc.code, 422), exc.code, str(exc)) from None
        cam_id = camera_id or "gateway"
        cam_cfg = ctx.cameras.get(cam_id)
        camera = CameraInfo(cam_id, cam_cfg.direction if cam_cfg else "in")
        outcome = ctx.engine.process_snapshot(camera, decoded.image, trace_id=trace_id)
        ctx.gateway.record(True)
        ctx.metrics.snapshot_requests.labels("accepted").inc()
        faces = [f.as_dict() for f in outcome.faces]
        decisions = {f["decision"] for f in faces}
        status = "no_face"
        for candidate in ("match", "low_confidence", "unknown", "rejected"):
            if candidate in decisions:
                status = candidate
                break
        events = [
            EventOut(
                event_id=e.event_id,
                kind=e.kind,
                employee_id=e.employee_id,
                name=e.name,
                camera_id=e.camera_id,
                similarity=e.similarity,
                captured_at=e.captured_at.isoformat(),
                synced=False,
                seq=e.seq,
            )
            for e in outcome.events
        ]
        return SnapshotResponse(trace_id=trace_id, status=status, faces=faces, events=events)

    @app.get("/api/v1/gateway/health", response_model=GatewayHealthOut)
    def gateway_health() -> GatewayHealthOut:
        g = ctx.gateway
        return GatewayHealthOut(
            accepted=g.accepted,
            rejected=g.rejected,
            last_snapshot_at=g.last_snapshot_at.isoformat() if g.last_snapshot_at else None,
        )

    return app
