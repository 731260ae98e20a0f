"""Logins over real HTTP: cookie flags, CSRF, logout, disabled accounts, API tokens, rate limits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from sputnik_edge.central.schema import office_api_tokens, office_sessions
from sputnik_edge.office.config import OfficeSettings
from sputnik_edge.office.users import set_active
from tests.office.conftest import (
    PASSWORD,
    OfficeServer,
    add_user,
    assert_error,
    audit_rows,
    login,
    new_token,
    office_settings,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", autouse=True)
def accounts(server: OfficeServer) -> None:
    for name, role in (("vera", "viewer"), ("hanna", "hr"), ("adam", "admin"), ("dora", "hr")):
        add_user(server.central, name, role)


def cookie_header(r: httpx.Response) -> str:
    headers = r.headers.get_list("set-cookie")
    assert len(headers) == 1, headers
    return headers[0]


def test_login_sets_a_hardened_session_cookie_and_returns_the_csrf_token(server: OfficeServer) -> None:
    s = login(server, "Vera")  # usernames are not case-sensitive
    body = s.login.json()
    assert body == {"csrf_token": s.csrf, "username": "vera", "role": "viewer"}
    cookie = cookie_header(s.login)
    attrs = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite", "path", "max-age"} <= attrs
    assert "samesite=strict" in cookie.lower()
    assert "secure" not in attrs  # plain http on loopback, no secure_cookies
    assert s.login.headers["cache-control"] == "no-store"
    me = s.client.get("/api/v1/auth/me")
    assert me.json() == {"username": "vera", "role": "viewer", "via": "session", "csrf_token": s.csrf}
    assert [e.actor for e in audit_rows(server.central, "login")][:1] == ["vera"]


def test_secure_cookie_behind_a_trusted_proxy_only(
    db_url: str, server: OfficeServer, server_factory: Callable[[OfficeSettings], OfficeServer]
) -> None:
    https = {"X-Forwarded-Proto": "https"}
    body = {"username": "vera", "password": PASSWORD}
    # The main server trusts no proxy: the header is the client's word and changes nothing.
    r = server.client().post("/api/v1/auth/login", json=body, headers=https)
    assert "secure" not in cookie_header(r).lower()
    proxied = server_factory(office_settings(db_url, http={"trusted_proxies": ["127.0.0.0/8"]}))
    r = proxied.client().post("/api/v1/auth/login", json=body, headers=https)
    assert "; secure" in cookie_header(r).lower()


def test_wrong_password_and_unknown_user_get_the_same_answer(server: OfficeServer) -> None:
    c = server.client()
    a = c.post("/api/v1/auth/login", json={"username": "dora", "password": "wrong password!"})
    b = c.post("/api/v1/auth/login", json={"username": "nobody", "password": "wrong password!"})
    for r in (a, b):
        err = assert_error(r, 401, "wrong_credentials")
        assert err["message"] == "wrong username or password"
        assert "set-cookie" not in r.headers
    failed = audit_rows(server.central, "login_failed")
    assert {e.actor for e in failed} >= {"dora", "anonymous"}
    assert all("wrong password!" not in str(e.details) and "nobody" not in str(e) for e in failed)


def test_csrf_token_is_required_for_unsafe_requests_with_the_cookie(server: OfficeServer) -> None:
    s = login(server, "hanna")
    assert s.client.get("/api/v1/employees").status_code == 200  # safe: no token needed
    body = {"employee_id": "csrf-1", "full_name": "Csrf Test"}
    assert_error(s.client.post("/api/v1/employees", json=body), 403, "csrf_failed")
    assert_error(s.client.post("/api/v1/employees", json=body, headers={"X-CSRF-Token": "0" * 64}), 403)
    other = login(server, "dora")  # a token of another session does not fit this one
    assert_error(s.client.post("/api/v1/employees", json=body, headers={"X-CSRF-Token": other.csrf}), 403)
    assert s.unsafe("POST", "/api/v1/employees", json=body).status_code == 201
    assert s.client.get("/api/v1/employees/csrf-1").status_code == 200


def test_logout_revokes_the_session_server_side(server: OfficeServer) -> None:
    s = login(server, "hanna")
    stolen = s.client.cookies.get("sputnik_office_session")
    assert stolen
    assert_error(s.client.post("/api/v1/auth/logout"), 403, "csrf_failed")  # no logout by CSRF
    r = s.unsafe("POST", "/api/v1/auth/logout")
    assert r.status_code == 204
    assert 'sputnik_office_session=""' in cookie_header(r) or "max-age=0" in cookie_header(r).lower()
    replay = server.client(cookies={"sputnik_office_session": stolen})
    assert_error(replay.get("/api/v1/auth/me"), 401, "unauthorized")
    with server.central.engine.connect() as conn:
        revoked = conn.execute(
            select(office_sessions.c.revoked_at).where(office_sessions.c.session_id.is_not(None))
        ).all()
    assert any(r.revoked_at is not None for r in revoked)
    assert any(e.actor == "hanna" for e in audit_rows(server.central, "logout"))


def test_a_disabled_account_is_locked_out_at_once(server: OfficeServer) -> None:
    add_user(server.central, "temp", "hr")
    s = login(server, "temp")
    token = new_token(server.central, "temp")
    bearer = server.client(headers={"Authorization": f"Bearer {token}"})
    assert s.client.get("/api/v1/employees").status_code == 200
    assert bearer.get("/api/v1/employees").status_code == 200
    assert set_active(server.central, "temp", False, actor="test")
    assert_error(s.client.get("/api/v1/employees"), 401)
    assert_error(bearer.get("/api/v1/employees"), 401)
    r = server.client().post("/api/v1/auth/login", json={"username": "temp", "password": PASSWORD})
    assert assert_error(r, 401)["message"] == "wrong username or password"
    assert set_active(server.central, "temp", True, actor="test")
    assert bearer.get("/api/v1/employees").status_code == 200  # tokens come back with the account
    assert_error(s.client.get("/api/v1/employees"), 401)  # sessions do not: they were revoked
    rows = audit_rows(server.central)
    actions = {e.action for e in rows if e.target_id == "temp"}
    assert {"user_created", "user_disabled", "user_enabled", "login"} <= actions
    assert any(e.action == "token_created" and (e.details or {}).get("username") == "temp" for e in rows)


def test_bearer_tokens_need_no_csrf_and_record_their_last_use(server: OfficeServer) -> None:
    token = new_token(server.central, "adam", "script")
    c = server.client(headers={"Authorization": f"Bearer {token}"})
    me = c.get("/api/v1/auth/me").json()
    assert me == {"username": "adam", "role": "admin", "via": "token", "csrf_token": None}
    r = c.post("/api/v1/employees", json={"employee_id": "tok-1", "full_name": "Token Made"})
    assert r.status_code == 201, r.text
    assert_error(c.post("/api/v1/auth/logout"), 400, "no_session")
    with server.central.engine.connect() as conn:
        used = conn.execute(
            select(office_api_tokens.c.last_used_at, office_api_tokens.c.token_hash).where(
                office_api_tokens.c.name == "script"
            )
        ).one()
    assert used.last_used_at is not None
    assert token not in used.token_hash  # stored hashed
    for bad in ("spo_" + "A" * 43, token[:-1] + ("A" if token[-1] != "A" else "B"), "junk", "spo_"):
        assert_error(server.client(headers={"Authorization": f"Bearer {bad}"}).get("/api/v1/auth/me"), 401)
    assert_error(server.client(headers={"Authorization": "Basic YTpi"}).get("/api/v1/auth/me"), 401)


def test_login_attempts_are_rate_limited_per_username_and_per_address(
    db_url: str, server_factory: Callable[[OfficeSettings], OfficeServer]
) -> None:
    limited = server_factory(
        office_settings(db_url, http={"login_attempts_per_username": 3, "login_attempts_per_address": 5})
    )
    c = limited.client()

    def attempt(username: str, password: str = "not the password", **kw: Any) -> httpx.Response:
        return c.post("/api/v1/auth/login", json={"username": username, "password": password}, **kw)

    for _ in range(3):
        assert_error(attempt("dora"), 401)
    r = attempt("dora", PASSWORD)  # even the right password waits now
    assert_error(r, 429, "rate_limited")
    assert int(r.headers["Retry-After"]) > 0
    assert attempt("hanna", PASSWORD).status_code == 200  # another account from here: fine
    assert_error(attempt("vera"), 401)
    assert_error(attempt("adam"), 401)  # fifth failure from this address
    # X-Forwarded-For from an untrusted peer does not buy a fresh address.
    assert_error(attempt("hanna", PASSWORD, headers={"X-Forwarded-For": "203.0.113.9"}), 429)
    metrics = limited.client(headers={"Authorization": f"Bearer {new_token(limited.central, 'adam')}"})
    text = metrics.get("/metrics").text
    assert 'sputnik_office_login_failures_total{reason="rate_limited"}' in text
    assert 'sputnik_office_login_failures_total{reason="wrong_credentials"} 5.0' in text


def test_cors_only_for_the_configured_origins(
    db_url: str, server: OfficeServer, server_factory: Callable[[OfficeSettings], OfficeServer]
) -> None:
    preflight = {
        "Origin": "https://hr.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-csrf-token",
    }
    assert (
        "access-control-allow-origin"
        not in server.client().options("/api/v1/employees", headers=preflight).headers
    )
    cors = server_factory(office_settings(db_url, http={"cors_origins": ["https://hr.example"]}))
    r = cors.client().options("/api/v1/employees", headers=preflight)
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == "https://hr.example"
    assert r.headers["access-control-allow-credentials"] == "true"
    assert "x-csrf-token" in r.headers["access-control-allow-headers"].lower()
    other = cors.client().options(
        "/api/v1/employees", headers={**preflight, "Origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in other.headers
    me = cors.client().get("/api/v1/auth/me", headers={"Origin": "https://evil.example"})
    assert me.status_code == 401 and "access-control-allow-origin" not in me.headers
