"""Load on the office server through its front (nginx in production): login, timesheet, events and
the camera gateway, bounded in count and time, loopback only. p50/p99 and error rates per call.

    python -m sputnik_edge.tools.office_load --url https://127.0.0.1:58443 --insecure \\
        --username admin --password-file pw --camera-token T --photo face.jpg --out docs/bench
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from sputnik_edge.tools.load import hammer

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def run_office_load(
    url: str,
    *,
    username: str,
    password: str,
    camera_token: str | None,
    photo: bytes | None,
    requests: int = 400,
    concurrency: int = 8,
    max_seconds: float = 60,
    verify: bool = True,
) -> dict[str, Any]:
    host = urlsplit(url).hostname or ""
    if host not in LOOPBACK:
        raise ValueError(f"--url {url}: load tests go to loopback only")
    base = url.rstrip("/")

    def client() -> httpx.Client:
        return httpx.Client(base_url=base, verify=verify, timeout=30)

    with client() as c:
        r = c.post("/api/v1/auth/login", json={"username": username, "password": password})
        if r.status_code != 200:
            raise ValueError(f"login as {username!r} failed: {r.status_code} {r.text[:200]}")
        cookies = dict(c.cookies)

    def session() -> httpx.Client:
        s = client()
        s.cookies.update(cookies)
        return s

    today = date.today()
    month = {"from": (today - timedelta(days=30)).isoformat(), "to": today.isoformat()}
    result: dict[str, Any] = {"url": base, "requests_per_call": requests, "concurrency": concurrency}
    # Logins are rate-limited per address and user by design: a few, to time the Argon2 check.
    result["login"] = hammer(
        lambda s: s.post("/api/v1/auth/login", json={"username": username, "password": password}).status_code,
        min(requests, 4),
        1,
        max_seconds,
        client,
    )
    result["timesheet"] = hammer(
        lambda s: s.get("/api/v1/attendance/timesheet", params=month).status_code,
        requests,
        concurrency,
        max_seconds,
        session,
    )
    result["events"] = hammer(
        lambda s: s.get("/api/v1/attendance/events", params={"limit": 100}).status_code,
        requests,
        concurrency,
        max_seconds,
        session,
    )
    if camera_token and photo:
        headers = {"Authorization": f"Bearer {camera_token}"}
        result["gateway"] = hammer(
            lambda s: (
                s.post(
                    "/api/v1/gateway/snapshot",
                    files={"file": ("p.jpg", photo, "image/jpeg")},
                    headers=headers,
                ).status_code
            ),
            max(1, requests // 4),  # each one runs detection and embedding on the server
            concurrency,
            max_seconds,
            client,
        )
    return result


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sputnik_edge.tools.office_load", description=__doc__)
    p.add_argument("--url", required=True)
    p.add_argument("--username", required=True)
    p.add_argument("--password-file", required=True)
    p.add_argument("--camera-token")
    p.add_argument("--photo", help="a JPEG with a face, for the gateway")
    p.add_argument("--requests", type=int, default=400)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--max-seconds", type=float, default=60)
    p.add_argument("--insecure", action="store_true", help="accept a self-signed certificate")
    p.add_argument("--out", help="write office_load.json here")
    a = p.parse_args(argv)
    password = Path(a.password_file).read_text().splitlines()[0]
    try:
        result = run_office_load(
            a.url,
            username=a.username,
            password=password,
            camera_token=a.camera_token,
            photo=Path(a.photo).read_bytes() if a.photo else None,
            requests=a.requests,
            concurrency=a.concurrency,
            max_seconds=a.max_seconds,
            verify=not a.insecure,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    text = json.dumps(result, indent=2)
    if a.out:
        Path(a.out).mkdir(parents=True, exist_ok=True)
        (Path(a.out) / "office_load.json").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
