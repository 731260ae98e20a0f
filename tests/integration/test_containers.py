"""The office as users deploy it: the image from the Dockerfile, compose.yaml (office, PostgreSQL
with a named volume, nginx with TLS as the proxy profile) under podman with the CI override.
Through nginx: /health, login, an enrolment, a real device daemon outside the containers pushing
to the compose PostgreSQL and the office showing its heartbeat and event; the volume survives
`down` + `up`; the office runs as non-root; nginx's own errors are JSON."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO_ROOT, require
from tests.support.compose import IMAGE, PODMAN_COMPOSE, Stack
from tests.support.daemon import Daemon, base_config, free_port, write_config

pytestmark = pytest.mark.integration
PASSWORD = "correct horse battery staple"


def images_ready() -> None:
    require(shutil.which("podman") is not None, "podman missing: apt-get install -y podman runc debootstrap")
    require(Path(PODMAN_COMPOSE).exists(), "podman-compose missing (see ../shared/CONTAINERS.md)")
    res = subprocess.run(
        ["bash", str(REPO_ROOT / "deploy" / "ci-images.sh")], capture_output=True, text=True, timeout=1500
    )
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    images_ready()
    s = Stack(tmp_path_factory.mktemp("stack")).prepare()
    try:
        res = s.compose("up", "-d")
        assert res.returncode == 0, res.stdout + res.stderr
        s.wait_healthy()
        yield s
    finally:
        s.compose("down", "-v", timeout=120)


def photo_jpeg(faces_dir: Path) -> bytes:
    return (faces_dir / "images/barack_obama/obama-480p.jpg").read_bytes()


def login(stack: Stack) -> tuple[httpx.Client, str]:
    c = stack.client()
    r = c.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
    assert r.status_code == 200, r.text
    return c, r.json()["csrf_token"]


def test_office_stack_end_to_end(stack: Stack, tmp_path: Path, faces_dir: Path) -> None:
    office = stack.container("office")
    assert stack.podman("exec", office, "id", "-u").stdout.strip() != "0"  # non-root
    assert stack.podman("image", "exists", IMAGE).returncode == 0

    add = stack.podman(
        "exec", office, "sh", "-c",
        f"printf '%s' '{PASSWORD}' > /tmp/pw && sputnik-office users add --username admin --role admin "
        "--password-file /tmp/pw && rm /tmp/pw",
    )  # fmt: skip
    assert add.returncode == 0, add.stdout + add.stderr

    client, csrf = login(stack)
    session = client.cookies.jar
    assert any(c.secure for c in session)  # over https through nginx: a Secure cookie
    h = {"X-CSRF-Token": csrf}
    r = client.post(
        "/api/v1/employees", json={"employee_id": "lin", "full_name": "Lin-Manuel Miranda"}, headers=h
    )
    assert r.status_code == 201, r.text
    photo = (faces_dir / "images/lin_manuel_miranda/lin-manuel-miranda.png").read_bytes()
    r = client.post(
        "/api/v1/employees/lin/photos", files={"file": ("lin.png", photo, "image/png")}, headers=h
    )
    assert r.status_code == 201, r.text

    # nginx's own errors keep the error shape.
    big = client.post(
        "/api/v1/gateway/snapshot", files={"file": ("x.jpg", b"\0" * (12 * 1024 * 1024), "image/jpeg")}
    )
    assert big.status_code == 413 and big.json()["error"]["code"] == "too_large"

    # A real door device outside the containers syncs with the compose PostgreSQL.
    port = free_port()
    clip = str(faces_dir / "video/short_hamilton_clip.mp4")
    central = {"database_url": stack.database_url, "sync_interval_s": 1, "gallery_interval_s": 2}
    cfg = base_config(
        tmp_path,
        port,
        device={"id": "door-compose"},
        cameras=[{"id": "entrance", "source": clip, "loop": True, "fps_limit": 10}],
        central={**central, "heartbeat_interval_s": 2},
    )
    daemon = Daemon(write_config(tmp_path / "config.toml", cfg), port).start()
    try:
        daemon.wait_http()
        daemon.wait_for(
            lambda: [e for e in daemon.events() if e["employee_id"] == "lin" and e["synced"]],
            60,
            "a synced check-in",
        )
        devices = client.get("/api/v1/devices").json()["devices"]
        assert [d["device_id"] for d in devices if d["device_id"] == "door-compose"] == ["door-compose"]
    finally:
        daemon.terminate()

    # The database lives in the named volume: down (without -v) and up keep it.
    assert stack.compose("down").returncode == 0
    res = stack.compose("up", "-d")
    assert res.returncode == 0, res.stdout + res.stderr
    stack.wait_healthy()
    client, _ = login(stack)
    assert client.get("/api/v1/employees/lin").json()["templates"] == 1

    # A bounded load through nginx (the full run for docs/BENCHMARKS.md is the same tool, larger).
    from sputnik_edge.tools.office_load import run_office_load

    load = run_office_load(
        stack.https,
        username="admin",
        password=PASSWORD,
        camera_token=stack.camera_token,
        photo=photo_jpeg(faces_dir),
        requests=40,
        concurrency=4,
        max_seconds=30,
        verify=False,
    )
    for call in ("login", "timesheet", "events", "gateway"):
        statuses = set(load[call]["statuses"])
        # Every answer a success (the gateway may also rate-limit a camera that pushes this fast).
        ok = load[call]["requests"] > 0 and statuses <= {"200", "429"} and "200" in statuses
        assert ok, (call, load[call])

    # The office stopped: nginx answers 502 in the error shape.
    assert stack.podman("stop", office).returncode == 0
    down = stack.client().get("/api/v1/info")
    assert down.status_code == 502 and down.json()["error"]["code"] == "bad_gateway"
    assert stack.podman("start", office).returncode == 0
    stack.wait_healthy()
