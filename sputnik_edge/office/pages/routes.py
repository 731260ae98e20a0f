"""The office pages served by ``sputnik-office``: login, Today, Timesheet, Devices, Unknown
visitors, and ``install`` (the routers, the static files, the page error handlers).

Pages are server-rendered shells; what changes while a page is open (Today's live view, the
timesheet, unknown visitors) is fetched by the page's script from the same API a script would
use, so the API's role checks apply to every piece of data a page shows. Names and photos never
go into a page URL: filters are dates, departments and ids.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated
from urllib.parse import urlencode

import structlog
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from sputnik_edge.central.errors import CentralError
from sputnik_edge.office.deps import SESSION_COOKIE
from sputnik_edge.office.pages import audit_page, people
from sputnik_edge.office.pages.access import (
    HOME_PATH,
    Authorize,
    LoginNeeded,
    PageDenied,
    Staff,
    Viewer,
    login_url,
    may,
    page_authorizer,
    safe_next,
)
from sputnik_edge.office.pages.context import (
    forbidden_page,
    language,
    office_state,
    page,
    texts,
    unavailable_page,
)
from sputnik_edge.office.pages.formatting import ago, clock_offset, local_time, parse_day, today_in
from sputnik_edge.office.routes import devices
from sputnik_edge.web.pages import STATIC_URL, static_files

log = structlog.get_logger(__name__)

router = APIRouter(include_in_schema=False)

TODAY_REFRESH_MS = 5000
TIMESHEET_API = "/api/v1/attendance/timesheet"
EXPORTS = ("csv", "xlsx")
MAX_TEXT = 200


def _text(value: str) -> str:
    """A filter value as a page takes it: no control characters, bounded; a page forgives odd
    parameters (an old bookmark) instead of answering with the API's JSON 422."""
    return "".join(c for c in value if c.isprintable())[:MAX_TEXT].strip()


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next_: Annotated[str | None, Query(alias="next")] = None) -> Response:
    target = safe_next(next_)
    state = office_state(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    session = state.auth.session_of(cookie) if cookie else None
    if session is not None:
        try:
            if state.auth.principal_of_session(session) is not None:
                return RedirectResponse(target, status_code=303)  # logged in already
        except CentralError:
            pass  # the form is still useful: logging in reports the outage itself
    return page(request, "office/login.html", None, current="login", next_path=target)


@router.get("/", response_class=HTMLResponse)
def home(_user: Viewer) -> Response:
    return RedirectResponse(HOME_PATH, status_code=303)


@router.get("/today", response_class=HTMLResponse)
def today(request: Request, user: Viewer, department: str = "") -> HTMLResponse:
    state = office_state(request)
    return page(
        request,
        "office/today.html",
        user,
        current="today",
        department=_text(department),
        departments=people.departments(state.central),
        refresh_ms=TODAY_REFRESH_MS,
    )


def _range(from_: str | None, to: str | None, timezone: str) -> tuple[date, date, bool]:
    """The asked range, or the month so far; the flag says the asked one was backwards."""
    today_ = today_in(timezone)
    start = parse_day(from_) or today_.replace(day=1)
    end = parse_day(to) or today_
    if start > end:
        return end, end, True
    return start, end, False


@router.get("/timesheet", response_class=HTMLResponse)
def timesheet(
    request: Request,
    user: Viewer,
    from_: Annotated[str | None, Query(alias="from")] = None,
    to: str | None = None,
    department: str = "",
) -> HTMLResponse:
    state = office_state(request)
    start, end, backwards = _range(from_, to, state.settings.office.timezone)
    dept = _text(department)
    params = {"from": start.isoformat(), "to": end.isoformat()} | ({"department": dept} if dept else {})
    lang = language(request)
    exports = {f: f"{TIMESHEET_API}?{urlencode({**params, 'format': f, 'lang': lang})}" for f in EXPORTS}
    return page(
        request,
        "office/timesheet.html",
        user,
        current="timesheet",
        start=start.isoformat(),
        end=end.isoformat(),
        backwards=backwards,
        department=dept,
        departments=people.departments(state.central),
        exports=exports,
        can_correct=may(user, ("hr",)),
        max_day=(today_in(state.settings.office.timezone) + timedelta(days=366)).isoformat(),
    )


@router.get("/devices", response_class=HTMLResponse)
def devices_page(request: Request, user: Viewer) -> HTMLResponse:
    state = office_state(request)
    fleet = devices.list_devices(state, user)  # the API's own query and staleness rule
    t = texts(request)
    tz = state.settings.office.timezone
    rows = [
        {
            "d": d,
            "last_seen": local_time(d.last_seen_at, tz),
            "ago": ago(d.silent_for_s, t),
            "offset": clock_offset(d.clock_offset_ms),
            "offset_bad": d.clock_offset_ms is not None and abs(d.clock_offset_ms) >= 2000,
        }
        for d in fleet.devices
    ]
    return page(
        request,
        "office/devices.html",
        user,
        current="devices",
        rows=rows,
        stale_minutes=round(fleet.stale_after_s / 60, 1),
    )


@router.get("/unknowns", response_class=HTMLResponse)
def unknowns(request: Request, user: Staff) -> HTMLResponse:
    state = office_state(request)
    listed = people.all_employees(state.central, active=True)
    return page(request, "office/unknowns.html", user, current="unknowns", employees=listed.employees)


def authorizer(inner: Authorize) -> Authorize:
    """The office API's authorizer with the pages' answers (login redirect, HTML outage page)."""
    return page_authorizer(inner, unavailable_page)


def install(app: FastAPI) -> None:
    for module_router in (router, people.router, audit_page.router):
        app.include_router(module_router)
    app.mount(STATIC_URL, static_files(), name="ui-static")

    async def denied(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageDenied)
        log.info("office_page_denied", path=request.url.path, role=exc.principal.role)
        return forbidden_page(request, exc.principal, exc.needed)

    async def login_needed(request: Request, _exc: Exception) -> Response:
        return RedirectResponse(login_url(request), status_code=303)

    app.add_exception_handler(PageDenied, denied)
    app.add_exception_handler(LoginNeeded, login_needed)
