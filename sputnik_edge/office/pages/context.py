"""What every office page shares: the language (with the visitor's choice remembered), the menu
for the account's role, the CSRF token for the page's scripts, and the error pages."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from sputnik_edge.office.auth import Principal
from sputnik_edge.office.context import OfficeState
from sputnik_edge.office.pages.access import ALL_ROLES, may
from sputnik_edge.office.users import Role
from sputnik_edge.web.i18n import LANGUAGES, messages, pick_language
from sputnik_edge.web.pages import render

# The language picked with ?lang= is kept for the next pages (a link to another page has no ?lang=).
LANG_COOKIE = "sputnik_office_lang"
LANG_COOKIE_MAX_AGE = 365 * 86400


@dataclass(frozen=True, slots=True)
class NavItem:
    key: str  # page id, also the i18n key suffix (nav_<key>)
    path: str
    roles: tuple[Role, ...]


NAV = (
    NavItem("today", "/today", ALL_ROLES),
    NavItem("timesheet", "/timesheet", ALL_ROLES),
    NavItem("employees", "/employees", ("hr",)),
    NavItem("devices", "/devices", ALL_ROLES),
    NavItem("unknowns", "/unknowns", ("hr",)),
    NavItem("audit", "/audit", ("admin",)),
)


def office_state(request: Request) -> OfficeState:
    state: OfficeState = request.app.state.office
    return state


def fill(template: str, **values: Any) -> str:
    """``{name}`` placeholders, as office.js's ``fmt`` (str.format would choke on other braces)."""
    out = template
    for key, value in values.items():
        out = out.replace("{" + key + "}", str(value))
    return out


def _setting(request: Request) -> str:
    chosen = request.cookies.get(LANG_COOKIE)
    return chosen if chosen in LANGUAGES else office_state(request).settings.http.ui_language


def language(request: Request) -> str:
    """The page's language, by the same rule as ``render``: ?lang=, the remembered choice or the
    setting, then Accept-Language."""
    return pick_language(
        _setting(request), request.headers.get("accept-language"), request.query_params.get("lang")
    )


def texts(request: Request) -> Mapping[str, str]:
    return messages(language(request))


def _lang_urls(request: Request) -> dict[str, str]:
    # The switch keeps the page's other parameters (a timesheet's range survives a language change).
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    return {code: f"{request.url.path}?{urlencode([*kept, ('lang', code)])}" for code in LANGUAGES}


def _remember_language(request: Request, response: Response) -> None:
    asked = request.query_params.get("lang")
    if asked in LANGUAGES and request.cookies.get(LANG_COOKIE) != asked:
        response.set_cookie(
            LANG_COOKIE, asked, max_age=LANG_COOKIE_MAX_AGE, path="/", httponly=True, samesite="lax"
        )


def page(
    request: Request,
    template: str,
    principal: Principal | None,
    *,
    current: str = "",
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    state = office_state(request)
    session_id: str | None = getattr(request.state, "session_id", None)
    response = render(
        request,
        template,
        _setting(request),
        principal=principal,
        nav=[item for item in NAV if principal is not None and may(principal, item.roles)],
        current=current,
        # Scripts send it as X-CSRF-Token; an API token has no session and needs none.
        csrf=state.auth.csrf_for(session_id) if session_id else "",
        timezone=state.settings.office.timezone,
        lang_urls=_lang_urls(request),
        fill=fill,
        **context,
    )
    response.status_code = status
    _remember_language(request, response)
    return response


def error_page(
    request: Request, status: int, title_key: str, text: str, principal: Principal | None = None
) -> HTMLResponse:
    return page(request, "office/error.html", principal, status=status, title_key=title_key, text=text)


def forbidden_page(request: Request, principal: Principal, needed: tuple[Role, ...]) -> HTMLResponse:
    t = texts(request)
    names = ", ".join(t[f"role_{r}"] for r in needed)
    text = fill(t["forbidden_text"], needed=names, role=t[f"role_{principal.role}"])
    return error_page(request, 403, "forbidden_title", text, principal)


def unavailable_page(request: Request) -> HTMLResponse:
    return error_page(request, 503, "unavailable_title", texts(request)["unavailable_text"])
