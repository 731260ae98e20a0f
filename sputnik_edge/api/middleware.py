"""Request middleware shared by the device API and the office server: trace ids, bearer token,
body size limits (declared and streamed)."""

from __future__ import annotations

import hmac
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from sputnik_edge.api.errors import error_response

TRACE_RE = re.compile(r"^[A-Za-z0-9_.\-]{8,128}$")


def trace_id_of(request: Request) -> str:
    """A valid incoming ``X-Trace-ID`` is kept (so a camera or proxy can correlate), else a new one."""
    incoming = request.headers.get("x-trace-id", "")
    return incoming if TRACE_RE.match(incoming) else uuid.uuid4().hex


def bearer_matches(request: Request, token: str) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.encode(), token.encode())


class BodyLimit:
    """ASGI middleware counting request body bytes as they arrive.

    A Content-Length check cannot see a chunked upload; without this, the multipart parser would
    spool a body of any size to a temporary file before the endpoint could refuse it. Over the
    limit, reading the body raises a 413 (an ``HTTPException`` passes through FastAPI's body
    parsing unchanged) and the connection is not read any further.
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


def install_trace_and_auth(
    app: FastAPI,
    *,
    token: str,
    max_body: int,
    max_upload: int,
    open_paths: frozenset[str] = frozenset({"/health"}),
    open_prefixes: tuple[str, ...] = (),
    on_request: Callable[[], None] = lambda: None,
    authorize: Callable[[Request], Awaitable[Response | None]] | None = None,
) -> None:
    """Every answer gets ``X-Trace-ID``; with a token, every path but ``open_paths`` needs it;
    a declared body over ``max_body`` is refused before it is read.

    ``authorize`` (the office server's accounts, sessions and CSRF) is asked about every request
    but preflights, after the token check and before the body is read: a response it returns is the
    answer (401, 403, ...), None lets the request through. It decides itself which paths are open.
    """

    @app.middleware("http")
    async def trace_and_auth(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        trace_id = trace_id_of(request)
        request.state.trace_id = trace_id
        structlog.contextvars.bind_contextvars(trace_id=trace_id)
        try:
            on_request()
            if (
                token
                and request.url.path not in open_paths
                and not any(request.url.path.startswith(prefix) for prefix in open_prefixes)
                and request.method != "OPTIONS"
                and not bearer_matches(request, token)
            ):
                return error_response(
                    request,
                    401,
                    "unauthorized",
                    "missing or wrong bearer token",
                    {"WWW-Authenticate": "Bearer"},
                )
            if authorize is not None and request.method != "OPTIONS":
                refused = await authorize(request)
                if refused is not None:
                    refused.headers["X-Trace-ID"] = trace_id
                    return refused
            length = request.headers.get("content-length")
            if length and length.isdigit() and int(length) > max_body:
                return error_response(
                    request, 413, "too_large", f"request body of {length} bytes exceeds {max_upload} bytes"
                )
            response = await call_next(request)
            response.headers["X-Trace-ID"] = trace_id
            return response
        finally:
            structlog.contextvars.unbind_contextvars("trace_id")
