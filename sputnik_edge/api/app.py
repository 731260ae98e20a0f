"""HTTP API of the device: health, info, events, metrics and the snapshot gateway.

``create_app(ctx)`` takes the one typed context (``api.context.DeviceContext``) and nothing else.
Every answer carries ``X-Trace-ID``; every error is ``{"error": {"code", "message", "trace_id"}}``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from sputnik_edge.api.context import DeviceContext
from sputnik_edge.api.errors import ERROR_RESPONSES, install_error_handlers
from sputnik_edge.api.middleware import BodyLimit, install_trace_and_auth
from sputnik_edge.api.ratelimit import RateLimiter
from sputnik_edge.api.routes import cameras, events, gateway, health, pages
from sputnik_edge.web.pages import STATIC_URL, static_files

log = structlog.get_logger(__name__)

# Multipart framing around the file: the body may exceed the file limit by this much.
MULTIPART_SLACK = 64 * 1024


def create_app(ctx: DeviceContext) -> FastAPI:
    settings = ctx.settings

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
    app.state.ctx = ctx
    app.state.gateway_stats = gateway.GatewayStats()
    app.state.gateway_limiter = RateLimiter(settings.http.rate_limit_per_minute)
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

    max_upload = settings.http.max_upload_bytes
    app.add_middleware(BodyLimit, limit=max_upload + MULTIPART_SLACK)
    install_trace_and_auth(
        app,
        token=settings.http.api_token.get_secret_value(),
        # The page and its scripts hold no data: the browser must load them to ask for the token.
        open_paths=frozenset({"/health", "/"}),
        open_prefixes=("/ui/static/",),
        max_body=max_upload + MULTIPART_SLACK,
        max_upload=max_upload,
        on_request=ctx.http_progress,
    )
    install_error_handlers(app, "internal error; see the device log with this trace id")
    for module in (health, events, gateway, cameras, pages):
        app.include_router(module.router)
    app.mount(STATIC_URL, static_files(), name="ui-static")
    return app
