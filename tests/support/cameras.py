"""Emulated cameras for tests: the GStreamer RTSP server and the MJPEG server as managed subprocesses.

Use the fixtures from any test module with ``pytest_plugins = ["tests.support.cameras"]``:
``clip_path``, ``rtsp_server`` (factory), ``mjpeg_server`` (factory), ``silent_tcp_port``.
Every process a fixture starts is stopped at teardown, also when the test fails.
"""

from __future__ import annotations

import functools
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Self

import pytest

from tests.conftest import require

SUPPORT_DIR = Path(__file__).resolve().parent
SYSTEM_PYTHON = "/usr/bin/python3"
CLIP_RELPATH = "video/short_hamilton_clip.mp4"
APT_PACKAGES = (
    "ffmpeg python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good "
    "gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly"
)


@functools.cache
def gst_rtsp_available() -> bool:
    """True when the system python can import the GStreamer RTSP server bindings."""
    probe = (
        "import gi; gi.require_version('GstRtspServer', '1.0'); gi.require_version('Gst', '1.0');"
        "from gi.repository import Gst, GstRtspServer; Gst.init(None);"
        "assert Gst.ElementFactory.find('x264enc') and Gst.ElementFactory.find('qtdemux')"
    )
    try:
        done = subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


class ServerProcess:
    """A test server subprocess that prints ``READY <port>``; restartable on the same port."""

    def __init__(self, argv: list[str], name: str) -> None:
        self._argv = argv
        self.name = name
        self.port = 0
        self.proc: subprocess.Popen[str] | None = None
        self._stderr: IO[str] | None = None

    def start(self, timeout: float = 20.0) -> Self:
        if self.proc is not None:
            raise RuntimeError(f"{self.name} already running")
        # Closed in stop(): it must outlive this call, as long as the process writes to it.
        self._stderr = tempfile.TemporaryFile("w+")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [*self._argv, "--port", str(self.port)], stdout=subprocess.PIPE, stderr=self._stderr, text=True
        )
        try:
            self.port = self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float) -> int:
        proc = self.proc
        if proc is None or proc.stdout is None:
            raise RuntimeError(f"{self.name} not started")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            readable, _, _ = select.select([proc.stdout], [], [], 0.1)
            if readable:
                line = proc.stdout.readline()
                if line.startswith("READY "):
                    return int(line.split()[1])
                if not line and proc.poll() is not None:
                    break
        raise RuntimeError(f"{self.name} did not become ready: {self.stderr_text()[-2000:]}")

    def stderr_text(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read()

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the server (SIGKILL for a crash); idempotent; the port is kept for ``start``."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)  # a frozen process cannot act on SIGTERM
            proc.send_signal(sig)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def restart(self) -> Self:
        self.stop()
        return self.start()

    def freeze(self) -> None:
        """SIGSTOP: connections stay open but nothing is answered, like a hung camera."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)

    def __enter__(self) -> Self:
        return self if self.proc is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class RtspServer(ServerProcess):
    def __init__(self, clip: Path | None, user: str | None = None, password: str | None = None) -> None:
        argv = [SYSTEM_PYTHON, str(SUPPORT_DIR / "rtsp_server.py")]
        if clip is not None:
            argv += ["--file", str(clip)]
        if user:
            argv += ["--user", user, "--password", password or ""]
        super().__init__(argv, "rtsp server")
        self._credentials = f"{user}:{password or ''}@" if user else ""

    def url(self, mount: str = "clip", *, credentials: bool = True) -> str:
        cred = self._credentials if credentials else ""
        return f"rtsp://{cred}127.0.0.1:{self.port}/{mount}"


class MjpegServer(ServerProcess):
    def __init__(self, clip: Path) -> None:
        argv = [sys.executable, str(SUPPORT_DIR / "mjpeg_server.py"), "--file", str(clip)]
        super().__init__(argv, "mjpeg server")

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/stream"


@pytest.fixture(scope="session")
def clip_path(faces_dir: Path) -> Path:
    path = faces_dir / CLIP_RELPATH
    require(path.is_file(), f"test clip not found at {path}")
    return path


@pytest.fixture
def rtsp_server(clip_path: Path) -> Iterator[Callable[..., RtspServer]]:
    """Factory: ``rtsp_server(user=None, password=None)`` starts a server serving the clip at /clip."""
    require(gst_rtsp_available(), f"GStreamer RTSP server missing: apt-get install -y {APT_PACKAGES}")
    started: list[RtspServer] = []

    def start(user: str | None = None, password: str | None = None) -> RtspServer:
        server = RtspServer(clip_path, user, password)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def mjpeg_server(clip_path: Path) -> Iterator[Callable[[], MjpegServer]]:
    started: list[MjpegServer] = []

    def start() -> MjpegServer:
        server = MjpegServer(clip_path)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def silent_tcp_port() -> Iterator[int]:
    """A port that accepts TCP connections (kernel backlog) but never sends a byte."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]
