"""Request-side access rules: who is asking (``authorize``, run by the middleware before the body is
read) and whether they may (``require(*roles)``, a FastAPI dependency).

- ``/health`` and ``/api/v1/auth/login`` are open; everything else needs credentials.
- ``Authorization: Bearer spo_...``: an API token (no CSRF token needed: a browser never sends
  it by itself). A bearer header that is not a valid token is refused, never ignored.
- Otherwise the session cookie; an unsafe method (POST, PATCH, PUT, DELETE) with it must carry
  ``X-CSRF-Token`` from the login answer, or 403.
- The snapshot gateway takes a camera's own token instead (``Authorization: Bearer <camera
  token>``); gateway health takes a camera token or any account.
- ``admin`` may do everything; ``require("hr")`` admits hr and admin.
"""

from __future__ import annotations

import hmac
import ipaddress
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

import structlog
from fastapi import Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from sputnik_edge.api.errors import ApiError, error_response
from sputnik_edge.central.errors import CentralError
from sputnik_edge.office.auth import Principal
from sputnik_edge.office.config import OfficeCameraSection
from sputnik_edge.office.context import OfficeState
from sputnik_edge.office.security import hash_api_token, verify_csrf
from sputnik_edge.office.users import ROLES, Role

log = structlog.get_logger(__name__)

SESSION_COOKIE = "sputnik_office_session"
CSRF_HEADER = "X-CSRF-Token"
OPEN_PATHS = frozenset({"/health", "/api/v1/auth/login"})
CAMERA_ONLY_PATHS = frozenset({"/api/v1/gateway/snapshot"})
CAMERA_OR_USER_PATHS = frozenset({"/api/v1/gateway/health"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
METRICS_PATH = "/metrics"
SCRAPE_GRACE_S = 600.0
ALL_ROLES: tuple[Role, ...] = ROLES


@dataclass(frozen=True, slots=True)
class CameraPrincipal:
    camera: OfficeCameraSection


def office_state(request: Request) -> OfficeState:
    state: OfficeState = request.app.state.office
    return state


State = Annotated[OfficeState, Depends(office_state)]


def _trusted(peer: str, proxies: list[str]) -> bool:
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(p, strict=False) for p in proxies)


def client_address(request: Request, trusted_proxies: list[str]) -> str:
    """The peer address; behind a listed proxy, the nearest untrusted X-Forwarded-For entry.
    From any other peer X-Forwarded-For is ignored: a client must not pick its own rate-limit key."""
    peer = request.client.host if request.client else "unknown"
    if not trusted_proxies or not _trusted(peer, trusted_proxies):
        return peer
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted_proxies):
            return hop[:64]
    return hops[0][:64] if hops else peer


def is_https(request: Request, trusted_proxies: list[str]) -> bool:
    peer = request.client.host if request.client else ""
    if trusted_proxies and _trusted(peer, trusted_proxies):
        forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        if forwarded:
            return forwarded == "https"
    return request.url.scheme == "https"


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def _camera_by_token(state: OfficeState, token: str) -> OfficeCameraSection | None:
    found = None
    for cam in state.settings.cameras:  # every token compared, in constant time each
        if hmac.compare_digest(cam.token.get_secret_value().encode(), token.encode("utf-8", "replace")):
            found = cam
    return found


def _unauthorized(request: Request, message: str) -> Response:
    return error_response(request, 401, "unauthorized", message, {"WWW-Authenticate": "Bearer"})


def _resolve(state: OfficeState, request: Request) -> Response | None:
    path = request.url.path
    token = _bearer(request)
    if path in CAMERA_ONLY_PATHS or path in CAMERA_OR_USER_PATHS:
        camera = _camera_by_token(state, token) if token else None
        if camera is not None:
            request.state.camera = CameraPrincipal(camera)
            return None
        if path in CAMERA_ONLY_PATHS:
            return _unauthorized(request, "missing or wrong camera token")
    if token is not None:
        principal = state.auth.principal_of_token(token) if token else None
        if principal is None:
            return _unauthorized(request, "invalid or revoked API token")
        if path == METRICS_PATH:
            state.scrape_tokens[hash_api_token(token)] = (principal, time.monotonic())
        request.state.principal = principal
        return None
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return _unauthorized(request, "log in (POST /api/v1/auth/login) or send a bearer API token")
    session = state.auth.session_of(cookie)
    principal = state.auth.principal_of_session(session) if session is not None else None
    if session is None or principal is None:
        return _unauthorized(request, "the session has ended: log in again")
    if request.method not in SAFE_METHODS and not verify_csrf(
        state.auth.secret_key, session.session_id, request.headers.get(CSRF_HEADER)
    ):
        return error_response(request, 403, "csrf_failed", f"missing or wrong {CSRF_HEADER} header")
    request.state.principal = principal
    request.state.session_id = session.session_id
    return None


def _scrape_while_database_down(state: OfficeState, request: Request) -> bool:
    """Prometheus may keep scraping /metrics with a token it used in the last minutes although the
    token cannot be checked now: the scrape is what reports the database as down. Nothing can be
    disabled or revoked while the database is down, so no newer decision is ignored."""
    token = _bearer(request)
    if request.url.path != METRICS_PATH or not token:
        return False
    known = state.scrape_tokens.get(hash_api_token(token))
    if known is None or time.monotonic() - known[1] > SCRAPE_GRACE_S:
        return False
    request.state.principal = known[0]
    return True


def authorizer(state: OfficeState) -> Callable[[Request], Awaitable[Response | None]]:
    """For ``install_trace_and_auth(authorize=...)``: the database lookups run in the thread pool."""

    async def authorize(request: Request) -> Response | None:
        if request.url.path in OPEN_PATHS:
            return None
        try:
            return await run_in_threadpool(_resolve, state, request)
        except CentralError as exc:
            if _scrape_while_database_down(state, request):
                return None
            log.warning("office_auth_unavailable", error=str(exc))
            return error_response(
                request, 503, "database_unavailable", "the central database is unavailable; try again"
            )

    return authorize


def require(*roles: Role) -> Callable[[Request], Principal]:
    """A dependency admitting an account with one of ``roles`` (admin always); returns it."""
    allowed = frozenset(roles) | {"admin"}
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown role(s): {', '.join(sorted(unknown))}")

    def dependency(request: Request) -> Principal:
        principal: Principal | None = getattr(request.state, "principal", None)
        if principal is None:
            raise ApiError(
                401, "unauthorized", "this endpoint needs an account", {"WWW-Authenticate": "Bearer"}
            )
        if principal.role not in allowed:
            needed = " or ".join(r for r in ROLES if r in allowed)
            raise ApiError(403, "forbidden", f"this needs the role {needed}; you are {principal.role}")
        return principal

    return dependency


def require_camera(request: Request) -> CameraPrincipal:
    camera: CameraPrincipal | None = getattr(request.state, "camera", None)
    if camera is None:
        raise ApiError(401, "unauthorized", "missing or wrong camera token", {"WWW-Authenticate": "Bearer"})
    return camera


def actor_of(principal: Principal) -> str:
    return principal.username


def trace_id(request: Request) -> str | None:
    value: str | None = getattr(request.state, "trace_id", None)
    return value


AnyUser = Annotated[Principal, Depends(require(*ALL_ROLES))]
Staff = Annotated[Principal, Depends(require("hr"))]
Admin = Annotated[Principal, Depends(require("admin"))]
Viewer = AnyUser
