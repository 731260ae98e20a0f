"""The daemon with recognition.detector = "blazeface": the real RTSP camera, the real daemon,
the same check-in as with YuNet, and a log that stays JSON lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sputnik_edge.config import RecognitionSection
from sputnik_edge.recognition.recognizer import Recognizer
from tests.support.cameras import RtspServer
from tests.support.conditions import frames_read, settle
from tests.support.daemon import (
    Daemon,
    base_config,
    enrol_people,
    first_photo_per_person,
    free_port,
    write_config,
)

pytestmark = [pytest.mark.integration, pytest.mark.mediapipe]

CLIP_FRAMES = 275  # video/short_hamilton_clip.mp4, which the RTSP server loops


def test_blazeface_daemon_checks_him_in_once_and_logs_json(
    tmp_path: Path, faces_dir: Path, rtsp_server
) -> None:
    server: RtspServer = rtsp_server()
    # Enrolled the way `enroll` would on this device: with the configured detector.
    recognizer = Recognizer.from_config(RecognitionSection(detector="blazeface"))
    enrol_people(tmp_path / "edge.db", first_photo_per_person(faces_dir), recognizer=recognizer)
    port = free_port()
    cfg = base_config(
        tmp_path,
        port,
        recognition={"detector": "blazeface"},
        cameras=[{"id": "entrance", "source": server.url(), "direction": "in", "fps_limit": 10}],
        attendance={"min_frames": 3, "cooldown_s": 300},
    )
    daemon = Daemon(write_config(tmp_path / "config.toml", cfg), port).start()
    try:
        daemon.wait_http()
        info = daemon.get("/api/v1/info").json()
        assert info["detector"] == "blazeface"
        assert info["models"]["detector"]["file"] == "blazeface_full.tflite"
        first = daemon.wait_for(
            lambda: [e for e in daemon.events() if e["employee_id"] and e["kind"] == "check_in"],
            timeout=20,
            what="a check_in",
        )
        assert [e["employee_id"] for e in first] == ["lin_manuel_miranda"]
        # One more pass of the clip (its 275 frames read by the camera, then one more frame
        # processed so that what they decided is committed): still one check-in, and nobody
        # else is ever named.
        start = frames_read(daemon, "entrance")
        daemon.wait_for(
            lambda: frames_read(daemon, "entrance") >= start + CLIP_FRAMES, 30, "one more pass of the clip"
        )
        settle(daemon, "entrance")
        named = [e for e in daemon.events() if e["employee_id"]]
        assert [e["employee_id"] for e in named] == ["lin_manuel_miranda"]
        assert daemon.camera("entrance")["state"] == "up"
        assert daemon.terminate(timeout=10) == 0
    finally:
        daemon.kill()
    log = daemon.log_text()
    events = [json.loads(line) for line in log.splitlines() if line.strip()]  # all JSON, or this raises
    assert any(e["event"] == "detector_ready" and e.get("backend") == "blazeface" for e in events)
    assert "Traceback" not in log
