"""Run the real daemon (`sputnik-edge run`) as a subprocess against a config in a temp folder."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import tomli_w


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def first_photo_per_person(faces_dir: Path) -> dict[str, Path]:
    """The first photo listed in labels.csv for each identity (the enrolment photo)."""
    from sputnik_edge.tools.soak import dev_people

    return dev_people(faces_dir)


_RECOGNIZER: Any = None


def shared_recognizer() -> Any:
    """One recogniser per test process: loading the models costs about a second."""
    global _RECOGNIZER
    if _RECOGNIZER is None:
        from sputnik_edge.config import RecognitionSection
        from sputnik_edge.recognition.recognizer import Recognizer

        _RECOGNIZER = Recognizer.from_config(RecognitionSection())
    return _RECOGNIZER


def enrol_people(
    db_path: Path, photos: dict[str, Path], device_id: str = "door-1", recognizer: Any = None
) -> None:
    """Enrol each identity from its photo straight into a local store (what `enroll` does)."""
    from sputnik_edge.store.local import LocalStore
    from sputnik_edge.vision.imageio import load_image

    rec = recognizer or shared_recognizer()
    store = LocalStore(db_path, device_id=device_id)
    try:
        for identity, photo in photos.items():
            vec, q = rec.enrollment_template(load_image(photo), str(photo))
            store.enroll(
                identity, identity.replace("_", " ").title(), None, rec.model_id, vec[None], [q.score]
            )
    finally:
        store.close()


def write_config(path: Path, data: dict[str, Any]) -> Path:
    path.write_bytes(tomli_w.dumps(data).encode())
    return path


def base_config(tmp: Path, port: int, **overrides: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "device": {"id": "door-test"},
        "storage": {"database": str(tmp / "edge.db"), "snapshots_dir": str(tmp / "snapshots")},
        "http": {"host": "127.0.0.1", "port": port},
        "logging": {"level": "INFO", "format": "json"},
        "cameras": [],
    }
    for section, values in overrides.items():
        if isinstance(values, dict):
            cfg.setdefault(section, {}).update(values)
        else:
            cfg[section] = values
    return cfg


@dataclass
class Daemon:
    config: Path
    port: int
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    started_at: float = 0.0

    def start(self) -> Daemon:
        self.log_path = self.config.with_suffix(f".{int(time.time() * 1000)}.log")
        env = {**os.environ, **self.env}
        if "NOTIFY_SOCKET" not in self.env:
            env.pop("NOTIFY_SOCKET", None)
        self.started_at = time.monotonic()
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "sputnik_edge", "run", "--config", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        return self

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return httpx.get(self.base_url + path, timeout=10, **kw)

    def wait_http(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"daemon exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}")
            try:
                if self.get("/health").status_code in (200, 503):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"daemon HTTP not up within {timeout}s:\n{self.log_text()[-3000:]}")

    def events(self, **params: Any) -> list[dict[str, Any]]:
        r = self.get("/api/v1/events", params={"limit": 1000, **params})
        r.raise_for_status()
        return list(r.json()["events"])

    def wait_for(self, predicate: Callable[[], Any], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}:\n{self.log_text()[-3000:]}")

    def camera(self, camera_id: str) -> dict[str, Any]:
        return dict(self.get("/health").json()["cameras"][camera_id])

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path and self.log_path.exists() else ""

    def log_lines(self) -> Iterable[str]:
        return self.log_text().splitlines()

    def terminate(self, timeout: float = 15) -> int:
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
