"""``/api/v1/auth``: log in (session cookie + CSRF token), log out, who am I."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from sputnik_edge.api.errors import ApiError
from sputnik_edge.office.auth import LoginRefused
from sputnik_edge.office.deps import SESSION_COOKIE, AnyUser, State, client_address, is_https, trace_id
from sputnik_edge.office.routes.common import MALFORMED_BODY, errors
from sputnik_edge.office.users import MAX_PASSWORD_CHARS

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

WRONG_CREDENTIALS = "wrong username or password"


class LoginIn(BaseModel):
    username: Annotated[str, Field(min_length=1, max_length=128)]
    password: Annotated[str, Field(min_length=1, max_length=MAX_PASSWORD_CHARS)]


class LoginOut(BaseModel):
    csrf_token: str
    username: str
    role: Literal["admin", "hr", "viewer"]


class MeOut(BaseModel):
    username: str
    role: Literal["admin", "hr", "viewer"]
    via: Literal["session", "token"]
    csrf_token: str | None  # the session's, so a reloaded page can pick it up again


@router.post(
    "/login",
    response_model=LoginOut,
    responses=errors(
        MALFORMED_BODY,
        (401, WRONG_CREDENTIALS),
        (429, "Too many failed logins from this address or for this username (see Retry-After)"),
    ),
)
def login(body: LoginIn, request: Request, response: Response, state: State) -> LoginOut:
    http = state.settings.http
    address = client_address(request, http.trusted_proxies)
    result = state.auth.login(body.username, body.password, address, trace_id=trace_id(request))
    if isinstance(result, LoginRefused):
        if result.retry_after:
            state.metrics.login_failures.labels("rate_limited").inc()
            raise ApiError(
                429,
                "rate_limited",
                f"too many failed logins; try again in {result.retry_after} s",
                {"Retry-After": str(result.retry_after)},
            )
        state.metrics.login_failures.labels("wrong_credentials").inc()
        raise ApiError(401, "wrong_credentials", WRONG_CREDENTIALS)
    response.set_cookie(
        SESSION_COOKIE,
        result.cookie_value,
        max_age=state.auth.session_max_age_s,
        path="/",
        httponly=True,
        samesite="strict",
        secure=http.secure_cookies or is_https(request, http.trusted_proxies),
    )
    response.headers["Cache-Control"] = "no-store"
    p = result.principal
    return LoginOut(csrf_token=result.csrf_token, username=p.username, role=p.role)


@router.post(
    "/logout",
    status_code=204,
    response_class=Response,
    responses=errors((400, "Signed in with an API token, which has no session to end")),
)
def logout(request: Request, state: State, principal: AnyUser) -> Response:
    session_id: str | None = getattr(request.state, "session_id", None)
    if principal.via != "session" or session_id is None:
        raise ApiError(400, "no_session", "an API token has no session; revoke the token instead")
    state.auth.logout(session_id, principal, trace_id=trace_id(request))
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/me", response_model=MeOut, responses=errors())
def me(request: Request, state: State, principal: AnyUser) -> MeOut:
    session_id: str | None = getattr(request.state, "session_id", None)
    return MeOut(
        username=principal.username,
        role=principal.role,
        via=principal.via,
        csrf_token=state.auth.csrf_for(session_id) if session_id else None,
    )
