"""The office stack of compose.yaml run by podman-compose with the CI override (host networking),
for tests/integration/test_containers.py. One project per test run, removed afterwards."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.conftest import REPO_ROOT
from tests.support.daemon import free_port

PODMAN_COMPOSE = shutil.which("podman-compose") or "/opt/podman-compose/bin/podman-compose"
IMAGE = "localhost/sputnik-office:ci"
CONTAINER_UID = 10001  # the image's non-root user; it must be able to read its secret files


@dataclass
class Stack:
    workdir: Path
    project: str = field(default_factory=lambda: f"sputnik-ci-{uuid.uuid4().hex[:8]}")
    db_port: int = field(default_factory=free_port)
    office_port: int = field(default_factory=free_port)
    https_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    db_password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    camera_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    def prepare(self) -> Stack:
        sec, certs = self.workdir / "secrets", self.workdir / "certs"
        sec.mkdir(mode=0o700)
        certs.mkdir()
        (sec / "db_password").write_text(self.db_password)
        (sec / "database_url").write_text(self.database_url)
        (sec / "secret_key").write_text(secrets.token_urlsafe(48))
        for name in ("db_password", "database_url", "secret_key"):
            (sec / name).chmod(0o600)
        for name in ("database_url", "secret_key"):
            os.chown(sec / name, CONTAINER_UID, CONTAINER_UID)
        key, cert = str(certs / "privkey.pem"), str(certs / "fullchain.pem")
        openssl = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"]
        subprocess.run(
            [*openssl, "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", cert],
            check=True,
            capture_output=True,
        )
        (self.workdir / "env").write_text(
            'LOG_LEVEL=INFO\nSPUTNIK_OFFICE_HTTP__TRUSTED_PROXIES=["127.0.0.1"]\n'
        )
        return self

    @property
    def database_url(self) -> str:
        return f"postgresql://sputnik:{self.db_password}@127.0.0.1:{self.db_port}/sputnik"

    @property
    def https(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "SECRETS_DIR": str(self.workdir / "secrets"),
            "CERTS_DIR": str(self.workdir / "certs"),
            "SPUTNIK_ENV_FILE": str(self.workdir / "env"),
            "OFFICE_IMAGE": IMAGE,
            "CI_DB_PORT": str(self.db_port),
            "CI_OFFICE_PORT": str(self.office_port),
            "CI_HTTPS_PORT": str(self.https_port),
            "CI_HTTP_PORT": str(self.http_port),
            "CI_CAMERAS": json.dumps([{"id": "lobby", "direction": "in", "token": self.camera_token}]),
        }

    def compose(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        cmd = [
            PODMAN_COMPOSE,
            "-p",
            self.project,
            "-f",
            "compose.yaml",
            "-f",
            "compose.ci.yaml",
            "--profile",
            "proxy",
        ]
        return subprocess.run(
            [*cmd, *args], cwd=REPO_ROOT, env=self.env(), capture_output=True, text=True, timeout=timeout
        )

    def container(self, service: str) -> str:
        return f"{self.project}_{service}_1"

    def podman(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.https, verify=False, timeout=30)

    def wait_healthy(self, timeout: float = 180) -> None:
        """Through nginx; and each container's own HEALTHCHECK, run by hand (no systemd here)."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            try:
                r = httpx.get(self.https + "/health", verify=False, timeout=5)
                last = f"{r.status_code} {r.text[:200]}"
                if r.status_code == 200:
                    break
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(1)
        else:
            raise AssertionError(f"stack not healthy in {timeout}s: {last}\n{self.logs()}")
        for service in ("db", "office"):
            res = self.podman("healthcheck", "run", self.container(service))
            assert res.returncode == 0, f"{service} HEALTHCHECK: {res.stdout}{res.stderr}"

    def logs(self) -> str:
        out = []
        for service in ("db", "office", "nginx"):
            res = self.podman("logs", "--tail", "30", self.container(service))
            out.append(f"--- {service}\n{res.stdout}{res.stderr}")
        return "\n".join(out)
