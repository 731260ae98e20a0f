"""Access control and secrets of the real daemon over loopback.

- the bearer token: the right one passes, any other (or one in the query string) gets 401;
- binding a non-loopback address without a token is refused by ``check-config`` and ``run``;
- the API token, the central database password and camera credentials never appear in the
  daemon log, any HTTP answer, ``check-config`` output or config error messages, while their
  masked forms (``***``) do;
- the per-client gateway rate limit keys on the client address (a second address is not limited).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from tests.support.daemon import Daemon, base_config, free_port, write_config

pytestmark = pytest.mark.integration

TOKEN = "tok-Q7vLp2Xw9sKe4Rb1"
DB_PASSWORD = "dbpw-Zr8Ty3Hn6Mc0Vq5"
CAM_PASSWORD = "campw-Jd4Gs7Kf2Lx9Pw3"
SECRETS = (TOKEN, DB_PASSWORD, CAM_PASSWORD)
AUTH = {"Authorization": f"Bearer {TOKEN}"}
RATE_LIMIT = 5
ENDPOINTS = ["/api/v1/info", "/api/v1/events", "/api/v1/gateway/health", "/metrics", "/openapi.json"]


def closed_port() -> int:
    return free_port()  # bound and released at once: nothing listens there


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "sputnik_edge", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def small_png(side: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (side, side), (120, 130, 140)).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def secret_config(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], int]:
    tmp = tmp_path_factory.mktemp("security")
    port = free_port()
    db_port, cam_port = closed_port(), closed_port()
    cfg = base_config(
        tmp,
        port,
        http={"api_token": TOKEN, "rate_limit_per_minute": RATE_LIMIT},
        central={
            "database_url": f"postgresql://sputnik:{DB_PASSWORD}@127.0.0.1:{db_port}/edge",
            "connect_timeout_s": 1,
            "sync_interval_s": 0.5,
            "gallery_interval_s": 0.5,
            "heartbeat_interval_s": 0.5,
        },
        cameras=[{"id": "door", "source": f"rtsp://camuser:{CAM_PASSWORD}@127.0.0.1:{cam_port}/x"}],
        logging={"level": "DEBUG", "format": "json"},
    )
    return write_config(tmp / "config.toml", cfg), cfg, port


@pytest.fixture(scope="module")
def daemon(secret_config: tuple[Path, dict[str, Any], int]) -> Iterator[Daemon]:
    path, _, port = secret_config
    d = Daemon(path, port).start()
    try:
        d.wait_http()
        yield d
    finally:
        d.terminate()


# ---- bearer token ---------------------------------------------------------------------------------


def test_right_token_passes_everywhere_and_health_needs_none(daemon: Daemon) -> None:
    for path in ENDPOINTS:
        assert daemon.get(path, headers=AUTH).status_code == 200, path
        assert daemon.get(path, headers={"Authorization": f"bearer {TOKEN}"}).status_code == 200, path
    assert daemon.get("/health").status_code in (200, 503)


def assert_401(r: httpx.Response) -> None:
    assert r.status_code == 401, r.text
    err = r.json()["error"]
    assert err["code"] == "unauthorized"
    assert err["trace_id"] == r.headers["X-Trace-ID"]
    assert r.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        TOKEN,
        f"Basic {TOKEN}",
        f"Token {TOKEN}",
        f"Bearer  {TOKEN}",
        f"Bearer {TOKEN[:-1]}",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN.upper()}",
        f"Bearer {TOKEN[1:]}",
        f"Bearer {TOKEN} {TOKEN}",
        f"Bearer {TOKEN},Bearer {TOKEN}",
    ],
)
def test_wrong_authorization_headers_get_401(daemon: Daemon, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    for path in ENDPOINTS:
        assert_401(daemon.get(path, headers=headers))
    snap = httpx.post(
        daemon.base_url + "/api/v1/gateway/snapshot",
        files={"file": ("x.png", small_png(120), "image/png")},
        headers=headers,
        timeout=10,
    )
    assert_401(snap)


@settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(given_token=st.binary(min_size=0, max_size=80).filter(lambda b: b.strip(b" \t") != TOKEN.encode()))
def test_any_other_token_gets_401(daemon: Daemon, given_token: bytes) -> None:
    # Header bytes an HTTP client may send: no CR/LF/NUL (h11 refuses them before they leave).
    # h11 also refuses trailing whitespace (HTTP strips it anyway).
    value = bytes(c for c in given_token if c not in b"\r\n\x00" and (c >= 0x20 or c == 0x09)).rstrip(b" \t")
    if value.strip(b" \t") == TOKEN.encode():
        return
    r = daemon.get("/api/v1/info", headers={"Authorization": (b"Bearer " + value).rstrip()})
    assert_401(r)


@pytest.mark.parametrize("param", ["token", "api_token", "access_token", "bearer", "Authorization"])
def test_token_in_query_string_is_not_accepted(daemon: Daemon, param: str) -> None:
    for path in ENDPOINTS:
        assert_401(daemon.get(path, params={param: TOKEN}))
    assert_401(daemon.get("/api/v1/info", params={param: f"Bearer {TOKEN}"}))


def test_token_in_cookie_or_other_header_is_not_accepted(daemon: Daemon) -> None:
    assert_401(daemon.get("/api/v1/info", cookies={"token": TOKEN}))
    assert_401(daemon.get("/api/v1/info", headers={"X-Api-Token": TOKEN, "Proxy-Authorization": TOKEN}))


# ---- per-client rate limit ------------------------------------------------------------------------


def test_rate_limit_is_per_client_address(daemon: Daemon) -> None:
    def client(address: str) -> httpx.Client:
        transport = httpx.HTTPTransport(local_address=address)
        return httpx.Client(base_url=daemon.base_url, headers=AUTH, transport=transport, timeout=30)

    def post(c: httpx.Client, **headers: str) -> httpx.Response:
        return c.post("/api/v1/gateway/snapshot", files={"file": ("x.png", small_png(50))}, headers=headers)

    with client("127.0.0.3") as noisy, client("127.0.0.2") as quiet:
        codes = [post(noisy).status_code for _ in range(RATE_LIMIT + 3)]
        assert codes[:RATE_LIMIT] == [422] * RATE_LIMIT  # 50x50 is too small, but counted
        assert codes[RATE_LIMIT:] == [429] * 3
        limited = post(noisy)
        assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
        assert limited.headers["Retry-After"] == "60"
        # X-Forwarded-For from an untrusted client is not a way around the limit.
        assert post(noisy, **{"X-Forwarded-For": "10.9.8.7"}).status_code == 429
        # The second address has its own budget.
        assert post(quiet).status_code == 422
        assert post(quiet).json()["error"]["code"] == "too_small"


# ---- binding without a token ----------------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", ""])
def test_non_loopback_bind_without_token_is_refused_by_check_config(tmp_path: Path, host: str) -> None:
    cfg = write_config(tmp_path / "c.toml", base_config(tmp_path, 8000, http={"host": host}))
    r = cli("check-config", "--config", str(cfg))
    assert r.returncode == 2, r.stdout + r.stderr
    assert "http.api_token" in r.stderr
    assert r.stdout == ""


def test_non_loopback_bind_without_token_is_refused_by_run(tmp_path: Path) -> None:
    port = free_port()
    cfg = write_config(tmp_path / "c.toml", base_config(tmp_path, port, http={"host": "0.0.0.0"}))
    r = cli("run", "--config", str(cfg))
    assert r.returncode == 2, r.stdout + r.stderr
    assert "http.api_token" in r.stderr
    # The same through the flat HOST alias, and allowed once a token is set.
    loopback = write_config(tmp_path / "l.toml", base_config(tmp_path, port))
    r = cli("check-config", "--config", str(loopback), env={"HOST": "0.0.0.0"})
    assert r.returncode == 2 and "http.api_token" in r.stderr
    r = cli(
        "check-config", "--config", str(loopback), env={"HOST": "0.0.0.0", "SPUTNIK_HTTP__API_TOKEN": TOKEN}
    )
    assert r.returncode == 0, r.stderr
    assert TOKEN not in r.stdout + r.stderr
    assert json.loads(r.stdout)["http"]["api_token"] == "***"


def test_hostname_that_merely_starts_with_127_is_not_loopback(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "c.toml", base_config(tmp_path, 8000, http={"host": "127.example.net"}))
    r = cli("check-config", "--config", str(cfg))
    assert r.returncode == 2


# ---- secrets never leak -------------------------------------------------------------------------


def test_secrets_never_appear_in_logs_answers_or_cli_output(
    daemon: Daemon, secret_config: tuple[Path, dict[str, Any], int], tmp_path: Path
) -> None:
    config_path, cfg, _ = secret_config
    db_port = cfg["central"]["database_url"].rsplit(":", 1)[1].split("/")[0]
    cam_port = cfg["cameras"][0]["source"].rsplit(":", 1)[1].split("/")[0]

    # Let both failures happen: the camera reconnects, the central sync fails.
    def failing() -> bool:
        h = daemon.get("/health").json()
        return bool(h["cameras"]["door"]["last_error"]) and bool(h["central"].get("last_error"))

    daemon.wait_for(failing, timeout=30, what="camera and central sync to fail")

    answers: list[str] = []

    def keep(r: httpx.Response) -> httpx.Response:
        answers.append(f"{r.status_code} {dict(r.headers)} {r.text}")
        return r

    health = keep(daemon.get("/health")).json()
    info = keep(daemon.get("/api/v1/info", headers=AUTH)).json()
    for path in ENDPOINTS:
        keep(daemon.get(path, headers=AUTH))
        keep(daemon.get(path))  # 401
        keep(daemon.get(path, headers={"Authorization": f"Bearer {TOKEN}x"}))  # 401 near miss
        keep(daemon.get(path, params={"token": TOKEN}))  # 401, token in the URL
    keep(daemon.get("/nope", headers=AUTH))  # 404
    keep(daemon.get("/api/v1/events", params={"since": "yesterday"}, headers=AUTH))  # 422
    keep(httpx.delete(daemon.base_url + "/api/v1/info", headers=AUTH))  # 405
    for content in (small_png(200), small_png(50), b"not an image", b"\x89PNG\r\n\x1a\n" + b"\0" * 40):
        keep(
            httpx.post(
                daemon.base_url + "/api/v1/gateway/snapshot",
                files={"file": ("x", content)},
                data={"camera_id": "door"},
                headers=AUTH,
                timeout=30,
            )
        )

    shown = cli("check-config", "--config", str(config_path))
    assert shown.returncode == 0, shown.stderr
    dumped = json.loads(shown.stdout)
    # A config error while the secrets are in the file: the message must not echo them.
    broken_cfg = json.loads(json.dumps(cfg))
    broken_cfg["central"]["connect_timeout_s"] = -1
    broken_cfg["cameras"][0]["direction"] = "up"
    broken_cfg["http"]["api_token"] = 12345  # wrong type: its value must not be echoed either
    broken = cli("check-config", "--config", str(write_config(tmp_path / "broken.toml", broken_cfg)))
    assert broken.returncode == 2 and "cameras[0].direction" in broken.stderr
    assert "12345" not in broken.stderr
    broken_cfg["http"]["api_token"] = TOKEN
    broken_cfg["central"]["database_url"] = (
        f"postgresql://sputnik:{DB_PASSWORD}@/edge?x=1&password={DB_PASSWORD}"
    )
    broken2 = cli("check-config", "--config", str(write_config(tmp_path / "broken2.toml", broken_cfg)))
    assert broken2.returncode == 2

    daemon.terminate()
    log = daemon.log_text()
    assert log, "no daemon log captured"

    places = {
        "daemon log": log,
        "HTTP answers": "\n".join(answers),
        "check-config": shown.stdout + shown.stderr,
        "config errors": broken.stdout + broken.stderr + broken2.stdout + broken2.stderr,
    }
    for where, text in places.items():
        for secret in SECRETS:
            assert secret not in text, f"{secret[:6]}... leaked into the {where}"

    # The masked forms are where an operator looks for them.
    assert dumped["http"]["api_token"] == "***"
    assert dumped["central"]["database_url"] == f"postgresql://***@127.0.0.1:{db_port}/edge"
    assert dumped["cameras"][0]["source"] == f"rtsp://***@127.0.0.1:{cam_port}/x"
    assert info["cameras"][0]["source"] == f"rtsp://***@127.0.0.1:{cam_port}/x"
    assert health["cameras"]["door"]["source"] == f"rtsp://***@127.0.0.1:{cam_port}/x"
    assert f"rtsp://***@127.0.0.1:{cam_port}/x" in log
    assert "camuser" not in log  # the user name goes with the password
    # The failures themselves are logged (so the scan above looked at real error lines).
    assert '"camera_' in log and ("sync" in log or "central" in log)
