"""HTTP API of the office server: ``create_office_app(state)`` with the device API's conventions.

Every answer carries ``X-Trace-ID``; every error is ``{"error": {"code", "message", "trace_id"}}``;
who may call what is decided in ``deps`` (credentials in the middleware, roles per route).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from starlette.routing import compile_path

from sputnik_edge.api.errors import ERROR_RESPONSES, error_response, install_error_handlers
from sputnik_edge.api.middleware import BodyLimit, install_trace_and_auth
from sputnik_edge.central.errors import CentralError
from sputnik_edge.office.context import OfficeState
from sputnik_edge.office.deps import CSRF_HEADER, authorizer
from sputnik_edge.office.pages import routes as pages
from sputnik_edge.office.routes import (
    attendance,
    audit,
    auth,
    devices,
    employees,
    gateway,
    health,
    photos,
    recognition,
    schedules,
    unknowns,
)

log = structlog.get_logger(__name__)

# Multipart framing around the file: the body may exceed the file limit by this much.
MULTIPART_SLACK = 64 * 1024
QUIET_ROUTES = frozenset({"/health", "/metrics"})
ROUTERS = (
    health, auth, employees, photos, devices, recognition, gateway, audit, unknowns, schedules, attendance,
)  # fmt: skip


class RouteLabels:
    """The route template of a request (``/api/v1/employees/{employee_id}``), also for requests
    refused before routing (401): metrics labels stay few whatever paths clients invent. Built from
    the OpenAPI paths, the one public list of every route with its full template."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app
        self._patterns: list[tuple[re.Pattern[str], str]] | None = None

    def __call__(self, request: Request) -> str:
        route = request.scope.get("route")
        template = getattr(route, "path", None)
        if isinstance(template, str) and template:
            return template
        if self._patterns is None:
            self._patterns = [(compile_path(path)[0], path) for path in self._app.openapi()["paths"]]
        path = request.url.path
        return next((label for pattern, label in self._patterns if pattern.match(path)), "unmatched")


def create_office_app(state: OfficeState) -> FastAPI:
    settings = state.settings

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        log.info("http_listening", host=settings.http.host, port=settings.http.port)
        yield
        log.info("http_stopped")

    app = FastAPI(
        title="Sputnik Office",
        version=state.version,
        lifespan=lifespan,
        docs_url="/api/docs" if settings.app.debug else None,
        redoc_url=None,
        responses=ERROR_RESPONSES,
    )
    app.state.office = state
    if settings.http.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.http.cors_origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Trace-ID", CSRF_HEADER],
            expose_headers=["X-Trace-ID", "Retry-After"],
        )
    max_upload = settings.http.max_upload_bytes
    app.add_middleware(BodyLimit, limit=max_upload + MULTIPART_SLACK)
    install_trace_and_auth(
        app,
        token="",
        max_body=max_upload + MULTIPART_SLACK,
        max_upload=max_upload,
        authorize=pages.authorizer(authorizer(state)),
    )
    metrics = state.metrics
    route_label = RouteLabels(app)

    @app.middleware("http")
    async def count_requests(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        start = time.perf_counter()
        status = 500  # an exception passes through here on its way to the 500 handler outside
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            elapsed = time.perf_counter() - start
            route = route_label(request)
            metrics.requests.labels(route, request.method, str(status)).inc()
            metrics.latency.labels(route).observe(elapsed)
            # Probes and scrapes every few seconds would drown the log at INFO.
            level = logging.DEBUG if route in QUIET_ROUTES and status < 400 else logging.INFO
            log.log(
                level,
                "http_request",
                method=request.method,
                route=route,
                status=status,
                duration_ms=round(elapsed * 1000, 1),
                # The trace middleware (inside this one) has unbound its context by now.
                trace_id=getattr(request.state, "trace_id", None),
            )

    install_error_handlers(app, "internal error; see the office server log with this trace id")

    @app.exception_handler(CentralError)
    async def central_down(request: Request, exc: CentralError) -> JSONResponse:
        log.warning("office_database_error", path=request.url.path, error=str(exc))
        return error_response(
            request, 503, "database_unavailable", "the central database is unavailable; try again"
        )

    for module in ROUTERS:
        app.include_router(module.router)
    pages.install(app)
    return app
