"""Enrolment from a clip, then the real daemon on the rest of it: `enroll --video` takes the first
70 frames of the webcam clip, a real RTSP server loops frames 70-213 (transcoded to H.264 by
ffmpeg, in a temp folder), and the daemon checks him in, naming no one else."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from sputnik_edge.cli import main
from sputnik_edge.store.local import LocalStore
from tests.conftest import clear_config_env, require
from tests.support.cameras import RtspServer, gst_rtsp_available
from tests.support.daemon import (
    Daemon,
    base_config,
    enrol_people,
    first_photo_per_person,
    free_port,
    write_config,
)

pytestmark = pytest.mark.integration

ENROL_FRAMES = "0-69"


@pytest.fixture
def rest_of_clip(faces_dir: Path, tmp_path: Path) -> Path:
    """Frames 70-213 of the webcam clip as MP4/H.264, the container the RTSP server serves."""
    src = faces_dir / "liveness/webcam_live.webm"
    require(src.is_file(), f"webcam clip not found at {src}")
    require(shutil.which("ffmpeg") is not None, "ffmpeg missing: apt-get install -y ffmpeg")
    out = tmp_path / "rest.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-loglevel",
            "error",
            "-y",
            "-i",
            str(src),
            "-vf",
            "trim=start_frame=70,setpts=PTS-STARTPTS",
            "-an",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-pix_fmt",
            "yuv420p",
            "-g",
            "30",
            str(out),
        ],
        check=True,
        timeout=120,
    )
    out.chmod(0o600)  # a real face: personal data, even in a temp folder
    return out


def test_enrolled_from_the_clip_then_checked_in_by_the_daemon(
    tmp_path: Path,
    faces_dir: Path,
    rest_of_clip: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    require(gst_rtsp_available(), "GStreamer RTSP server missing")
    clear_config_env(monkeypatch)
    port = free_port()
    enrol_people(tmp_path / "edge.db", first_photo_per_person(faces_dir), device_id="door-test")
    server = RtspServer(rest_of_clip).start()
    try:
        cfg = base_config(
            tmp_path,
            port,
            cameras=[{"id": "entrance", "source": server.url(), "direction": "in", "fps_limit": 10}],
            attendance={"min_frames": 3, "cooldown_s": 300},
        )
        config = write_config(tmp_path / "config.toml", cfg)
        code = main(
            [
                "enroll",
                "--config",
                str(config),
                "-q",
                "--employee-id",
                "webcam_man",
                "--name",
                "Webcam Man",
                "--video",
                str(faces_dir / "liveness/webcam_live.webm"),
                "--frames",
                ENROL_FRAMES,
            ]
        )
        out = capsys.readouterr().out
        assert code == 0, out
        store = LocalStore(tmp_path / "edge.db")
        try:
            assert store.template_count() == 6 + 5  # one per dev person + his five
        finally:
            store.close()

        daemon = Daemon(config, port).start()
        try:
            daemon.wait_http()
            first = daemon.wait_for(
                lambda: [e for e in daemon.events() if e["employee_id"] and e["kind"] == "check_in"],
                timeout=30,
                what="his check-in",
            )
            assert [e["employee_id"] for e in first] == ["webcam_man"]
            assert {e["employee_id"] for e in daemon.events() if e["employee_id"]} == {"webcam_man"}
            assert daemon.terminate() == 0
        finally:
            daemon.kill()
    finally:
        server.stop()
