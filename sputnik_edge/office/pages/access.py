"""Who may open which page: the API's roles, checked on the server for every page.

The office middleware (``deps.authorizer``) answers a request without credentials with a JSON
401, which is right for the API and wrong for a person opening ``/today``: ``page_authorizer``
wraps it so that a page asked for without a session redirects to ``/login?next=...``, and a
database outage on a page is an HTML page rather than JSON. The login page and the static files
(the same for everyone, no data in them) are open; every other page still goes through the
office's own checks, and the role of each page is checked by ``PageUser`` dependencies.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response

from sputnik_edge.office.auth import Principal
from sputnik_edge.office.users import ROLES, Role
from sputnik_edge.web.pages import STATIC_URL

LOGIN_PATH = "/login"
HOME_PATH = "/today"
PAGE_PATHS = frozenset({"/", "/today", "/timesheet", "/employees", "/devices", "/unknowns", "/audit"})
PAGE_PREFIXES = ("/employees/",)
OPEN_PREFIX = STATIC_URL + "/"
SAFE_METHODS = frozenset({"GET", "HEAD"})

Authorize = Callable[[Request], Awaitable[Response | None]]


class PageDenied(Exception):
    """Raised by a page whose role the account lacks; ``install`` renders it as a 403 page."""

    def __init__(self, principal: Principal, needed: tuple[Role, ...]) -> None:
        super().__init__(f"{principal.role} may not open this page")
        self.principal = principal
        self.needed = needed


class LoginNeeded(Exception):
    """No account on the request (only reachable if the middleware let it through)."""


def is_page(path: str) -> bool:
    return path in PAGE_PATHS or path.startswith(PAGE_PREFIXES)


def safe_next(target: str | None) -> str:
    """A local path to go to after logging in; anything else (another host, ``//host``, a scheme,
    a backslash that browsers read as a slash) becomes the start page: no open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return HOME_PATH
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in target) or target.startswith(LOGIN_PATH):
        return HOME_PATH
    return target


def login_url(request: Request) -> str:
    asked = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"{LOGIN_PATH}?next={quote(safe_next(asked), safe='')}"


def page_authorizer(inner: Authorize, unavailable: Callable[[Request], Response]) -> Authorize:
    """``inner`` (the API's authorizer) with the pages' answers to a refusal."""

    async def authorize(request: Request) -> Response | None:
        path = request.url.path
        if path == LOGIN_PATH or path.startswith(OPEN_PREFIX):
            return None
        refused = await inner(request)
        if refused is None or not is_page(path) or request.method not in SAFE_METHODS:
            return refused
        if refused.status_code == 401:
            return RedirectResponse(login_url(request), status_code=303)
        if refused.status_code == 503:
            return unavailable(request)
        return refused

    return authorize


def may(principal: Principal, roles: tuple[Role, ...]) -> bool:
    """The API's rule (``deps.require``): one of ``roles``, and admin always."""
    return principal.role == "admin" or principal.role in roles


def page_user(*roles: Role) -> Callable[[Request], Principal]:
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown role(s): {', '.join(sorted(unknown))}")

    def dependency(request: Request) -> Principal:
        principal: Principal | None = getattr(request.state, "principal", None)
        if principal is None:
            raise LoginNeeded()
        if not may(principal, roles):
            raise PageDenied(principal, tuple(r for r in ROLES if r in roles or r == "admin"))
        return principal

    return dependency


ALL_ROLES: tuple[Role, ...] = ROLES
Viewer = Annotated[Principal, Depends(page_user(*ALL_ROLES))]
Staff = Annotated[Principal, Depends(page_user("hr"))]
Admin = Annotated[Principal, Depends(page_user("admin"))]
