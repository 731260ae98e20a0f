"""The office pages over plain HTTP: who may open which page (checked by the server, whatever the
page shows), the login redirect and its guard against open redirects, security headers on every
page, the languages, and the server-rendered pages' content (devices, audit, employees)."""

from __future__ import annotations

import html
import re
from datetime import datetime
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest

from sputnik_edge.office import audit
from sputnik_edge.office.deps import SESSION_COOKIE
from sputnik_edge.web.i18n import DEVICE_MESSAGES, MESSAGES
from sputnik_edge.web.i18n_office import OFFICE_MESSAGES
from tests.office.conftest import OfficeServer, Session, login, office_settings
from tests.office.pages.conftest import PAGES, ROLE_USER, may_open
from tests.support.browser import assert_csp

pytestmark = pytest.mark.integration

ALL_PAGES = [*PAGES, "/", "/employees/e-1"]


@pytest.fixture(scope="module")
def sessions(office: OfficeServer) -> dict[str, Session]:
    s = {role: login(office, name) for role, name in ROLE_USER.items()}
    created = s["hr"].unsafe(
        "POST",
        "/api/v1/employees",
        json={"employee_id": "e-1", "full_name": "Иван Петров", "department": "Склад"},
    )
    assert created.status_code == 201, created.text
    return s


def nav_links(html: str) -> set[str]:
    menu = re.search(r'<nav class="menu".*?</nav>', html, re.S)
    assert menu is not None
    return set(re.findall(r'href="([^"]+)"', menu.group(0)))


def test_every_string_exists_in_both_languages() -> None:
    for table in (DEVICE_MESSAGES, OFFICE_MESSAGES, MESSAGES):
        assert set(table["en"]) == set(table["ru"])
    assert not set(DEVICE_MESSAGES["en"]) & set(OFFICE_MESSAGES["en"]), "an office key shadows a device key"
    placeholders = re.compile(r"\{(\w+)\}")
    for key, english in MESSAGES["en"].items():
        assert set(placeholders.findall(english)) == set(placeholders.findall(MESSAGES["ru"][key])), key


def test_pages_without_a_session_redirect_to_the_login(office: OfficeServer) -> None:
    with office.client() as anon:
        for path in [*ALL_PAGES, "/timesheet?from=2026-01-01&to=2026-01-31"]:
            r = anon.get(path)
            assert r.status_code == 303, path
            target = urlsplit(r.headers["location"])
            assert target.path == "/login" and parse_qs(target.query)["next"] == [path]
        login_page = anon.get("/login?next=/timesheet")
        assert login_page.status_code == 200 and 'data-next="/timesheet"' in login_page.text
        assert_csp(login_page.headers)
        assert anon.get("/ui/static/office.js").status_code == 200  # static files hold no data
        # The API keeps answering in JSON.
        api = anon.get("/api/v1/devices")
        assert api.status_code == 401 and api.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    "asked",
    ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", "/login?next=/x"],
)
def test_the_login_goes_back_only_to_a_local_page(office: OfficeServer, asked: str) -> None:
    with office.client() as anon:
        r = anon.get("/login", params={"next": asked})
    assert r.status_code == 200 and 'data-next="/today"' in r.text


def test_a_database_outage_is_a_page_not_json(  # type: ignore[no-untyped-def]
    sessions: dict[str, Session], server_factory
) -> None:
    # Same secret key, so the session cookie's signature is good; the database behind it is gone.
    dead = server_factory(office_settings("postgresql+psycopg2://postgres@127.0.0.1:1/gone"))
    cookie = sessions["viewer"].client.cookies.get(SESSION_COOKIE)
    with dead.client(cookies={SESSION_COOKIE: cookie}, headers={"Accept-Language": "en"}) as client:
        r = client.get("/today")
        assert r.status_code == 503 and r.headers["content-type"].startswith("text/html")
        assert "Database unavailable" in r.text
        assert_csp(r.headers)
        assert client.get("/api/v1/devices").json()["error"]["code"] == "database_unavailable"
        assert client.get("/login").status_code == 200  # the form still shows


def test_a_logged_in_visitor_skips_the_login_form(office: OfficeServer, sessions: dict[str, Session]) -> None:
    r = sessions["viewer"].client.get("/login?next=/devices")
    assert r.status_code == 303 and r.headers["location"] == "/devices"


def test_roles_are_checked_by_the_server_on_every_page(
    office: OfficeServer, sessions: dict[str, Session]
) -> None:
    for role, session in sessions.items():
        for path in ALL_PAGES:
            r = session.client.get(path)
            if path == "/":
                assert r.status_code == 303 and r.headers["location"] == "/today"
                continue
            allowed = may_open(role, path) if path in PAGES else role in ("hr", "admin")
            assert r.status_code == (200 if allowed else 403), (role, path, r.status_code)
            assert r.headers["content-type"].startswith("text/html")
            assert_csp(r.headers)
            assert r.headers["x-frame-options"] == "DENY" and r.headers["cache-control"] == "no-store"
            if not allowed:
                assert 'id="error-text"' in r.text, (role, path)
        menu = nav_links(session.client.get("/devices").text)
        assert menu == {p for p in PAGES if may_open(role, p)}, role


def test_a_viewer_gets_no_hr_controls_and_the_api_refuses_him(
    office: OfficeServer, sessions: dict[str, Session]
) -> None:
    viewer, hr = sessions["viewer"], sessions["hr"]
    mine = viewer.client.get("/timesheet").text
    assert 'data-can-correct="false"' in mine and 'id="correction"' not in mine
    theirs = hr.client.get("/timesheet").text
    assert 'data-can-correct="true"' in theirs and 'id="correction"' in theirs
    for method, path, kw in [
        ("POST", "/api/v1/employees", {"json": {"employee_id": "x-1", "full_name": "X"}}),
        ("PATCH", "/api/v1/employees/e-1", {"json": {"full_name": "Y"}}),
        ("POST", "/api/v1/employees/e-1/deactivate", {}),
        ("DELETE", "/api/v1/employees/e-1", {}),
        (
            "POST",
            "/api/v1/employees/e-1/photos",
            {"files": {"file": ("a.jpg", b"\xff\xd8\xff", "image/jpeg")}},
        ),
        ("GET", "/api/v1/employees", {}),
        ("GET", "/api/v1/audit", {}),
    ]:
        r = viewer.unsafe(method, path, **kw) if method != "GET" else viewer.client.get(path)
        assert r.status_code == 403, (method, path, r.status_code)


def test_only_filter_forms_use_get(office: OfficeServer, sessions: dict[str, Session]) -> None:
    """A form a script handles is method="post": submitted before the script ran, it cannot put a
    name or a password into a URL. GET forms hold filters only (dates, department, status)."""
    pages = [*PAGES, "/employees/e-1"]
    with office.client() as anon:
        html = {"/login": anon.get("/login").text}
    html |= {path: sessions["admin"].client.get(path).text for path in pages}
    for path, text in html.items():
        for form in re.findall(r"<form\b[^>]*>.*?</form>", text, re.S):
            method = re.search(r'method="(\w+)"', form.split(">", 1)[0])
            assert method is not None, (path, form[:80])
            if method.group(1) == "get":
                assert 'class="filters"' in form.split(">", 1)[0], path
                assert not re.search(r'name="(password|full_name|employee_id|username)"', form), path
            else:
                assert method.group(1) in ("post", "dialog"), path


def test_language_by_browser_by_switch_and_remembered(
    office: OfficeServer, sessions: dict[str, Session]
) -> None:
    client = sessions["admin"].client
    ru = client.get("/devices", headers={"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"})
    assert '<html lang="ru">' in ru.text and "Устройства" in ru.text
    en = client.get("/timesheet?from=2026-01-01&to=2026-01-31&lang=en", headers={"Accept-Language": "ru"})
    assert '<html lang="en">' in en.text and "Timesheet" in en.text
    # The switch keeps the page's own parameters.
    assert 'href="/timesheet?from=2026-01-01&amp;to=2026-01-31&amp;lang=ru"' in en.text
    assert en.cookies.get("sputnik_office_lang") == "en"
    later = client.get("/devices", headers={"Accept-Language": "ru"})  # the cookie jar sends the choice
    assert '<html lang="en">' in later.text
    # The export links ask for the page's language.
    assert "format=xlsx&amp;lang=en" in en.text and "from=2026-01-01" in en.text
    client.cookies.delete("sputnik_office_lang")


def test_devices_page_marks_the_silent_device_in_words(
    office: OfficeServer, sessions: dict[str, Session]
) -> None:
    html = sessions["viewer"].client.get("/devices?lang=en").text
    stale = re.search(r'<tr data-device-id="door-2" data-stale="true" class="stale">.*?</tr>', html, re.S)
    fresh = re.search(r'<tr data-device-id="door-1" data-stale="false" >.*?</tr>', html, re.S)
    assert stale and fresh, html
    assert "silent" in stale.group(0) and "60 min ago" in stale.group(0) and ">37<" in stale.group(0)
    assert "online" in fresh.group(0) and "Main door" in fresh.group(0)
    sessions["viewer"].client.cookies.delete("sputnik_office_lang")


def test_employee_pages(office: OfficeServer, sessions: dict[str, Session]) -> None:
    hr = sessions["hr"].client
    listing = hr.get("/employees").text
    assert 'data-employee-id="e-1"' in listing and "Иван Петров" in listing
    assert 'data-search="e-1 иван петров склад"' in listing  # searched in the page, not in a URL
    one = hr.get("/employees/e-1")
    assert one.status_code == 200 and 'data-employee-id="e-1"' in one.text and "Склад" in one.text
    missing = hr.get("/employees/nobody")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")
    assert_csp(missing.headers)
    assert hr.get("/employees?status=bogus").status_code == 200  # a page forgives odd parameters
    inactive = hr.get("/employees?status=inactive").text
    assert 'data-employee-id="e-1"' not in inactive


def test_audit_page_filters_and_pages(office: OfficeServer, sessions: dict[str, Session]) -> None:
    for i in range(60):
        audit.record_now(
            office.central, actor="robot", action="test_entry", target_type="thing", target_id=str(i)
        )
    admin = sessions["admin"].client
    first = admin.get("/audit", params={"actor": "robot", "action": "test_entry"})
    assert first.status_code == 200
    ids = re.findall(r'data-audit-id="(\d+)"', first.text)
    assert len(ids) == 50 and ids == sorted(ids, key=int, reverse=True)
    older = re.search(r'href="([^"]+)" id="audit-older"', first.text)
    assert older is not None
    second = admin.get(html.unescape(older.group(1)))
    more = re.findall(r'data-audit-id="(\d+)"', second.text)
    assert len(more) == 10 and not set(more) & set(ids)
    today = datetime.now(ZoneInfo("Europe/Moscow")).date().isoformat()  # the office's day
    assert (
        len(re.findall(r"data-audit-id", admin.get(f"/audit?day_from={today}&action=test_entry").text)) == 50
    )
    assert "Nothing recorded" in admin.get("/audit?day_to=2000-01-01&lang=en").text
    admin.cookies.delete("sputnik_office_lang")
