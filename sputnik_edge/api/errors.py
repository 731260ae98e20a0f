"""The error shape of every HTTP answer: ``{"error": {"code", "message", "trace_id"}}``.

Shared by the device API and the office server: one ``ApiError`` to raise, one set of handlers
that turn it, FastAPI's validation errors, HTTP errors and anything unexpected into that shape.
"""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from sputnik_edge.api.schemas import ErrorOut

log = structlog.get_logger(__name__)

# Documented in the OpenAPI schema so clients (and schemathesis) see the real error shape, not
# FastAPI's default ``{"detail": [...]}`` for 422.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "Missing or wrong bearer token (when a token is configured)"},
    422: {"model": ErrorOut, "description": "Invalid request"},
    500: {"model": ErrorOut, "description": "Internal error (see the log with the trace id)"},
}
# A route whose success is text/plain: FastAPI would document its errors as text/plain too.
JSON_ERRORS_OF_TEXT_ROUTE: dict[int | str, dict[str, Any]] = {
    status: {
        "description": spec["description"],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}},
    }
    for status, spec in ERROR_RESPONSES.items()
}
HTTP_ERROR_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def error_response(
    request: Request, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    trace_id = getattr(request.state, "trace_id", None) or uuid.uuid4().hex
    return JSONResponse(
        {"error": {"code": code, "message": message, "trace_id": trace_id}},
        status_code=status,
        headers={"X-Trace-ID": trace_id, **(headers or {})},
    )


def install_error_handlers(app: FastAPI, internal_message: str) -> None:
    """``internal_message`` is what a 500 says (where to look), never the exception itself."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(request, exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_ERROR_CODES.get(exc.status_code, "http_error")
        return error_response(request, exc.status_code, code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for e in exc.errors()[:5]:
            loc = ".".join(str(x) for x in e.get("loc", ()) if x not in ("body", "query"))
            parts.append(f"{loc}: {e.get('msg')}")
        return error_response(request, 422, "invalid_request", "; ".join(parts) or "invalid request")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("request_failed", path=request.url.path, exc_info=exc)
        return error_response(request, 500, "internal_error", internal_message)
