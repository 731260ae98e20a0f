"""structlog JSON output, context variables, the stdlib bridge and redaction of secrets."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import datetime

import numpy as np
import pytest
import structlog

from sputnik_edge.logging import bind_context, clear_context, configure_logging, redact_event


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    buf = io.StringIO()
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    clear_context()
    configure_logging("DEBUG", fmt="json", stream=buf)
    yield buf
    clear_context()
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in saved_handlers:
        root.addHandler(h)
    root.setLevel(saved_level)
    structlog.reset_defaults()


def lines(buf: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buf.getvalue().splitlines() if line.strip()]


def test_json_line_has_level_event_timestamp(stream: io.StringIO) -> None:
    structlog.get_logger("sputnik_edge.test").info("camera_opened", camera_id="entrance", fps=10)
    (rec,) = lines(stream)
    assert rec["event"] == "camera_opened"
    assert rec["level"] == "info"
    assert rec["camera_id"] == "entrance"
    assert rec["fps"] == 10
    assert rec["logger"] == "sputnik_edge.test"
    datetime.fromisoformat(str(rec["timestamp"]).replace("Z", "+00:00"))


def test_level_filter() -> None:
    buf = io.StringIO()
    root = logging.getLogger()
    saved = list(root.handlers), root.level
    try:
        configure_logging("WARNING", fmt="json", stream=buf)
        log = structlog.get_logger("x")
        log.info("hidden")
        log.warning("shown")
        assert [r["event"] for r in lines(buf)] == ["shown"]
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
        for h in saved[0]:
            root.addHandler(h)
        root.setLevel(saved[1])
        structlog.reset_defaults()


def test_context_vars_appear_and_clear(stream: io.StringIO) -> None:
    log = structlog.get_logger("x")
    bind_context(trace_id="trace-abc", camera_id="door-cam")
    log.info("face_seen")
    clear_context()
    log.info("after_clear")
    first, second = lines(stream)
    assert first["trace_id"] == "trace-abc"
    assert first["camera_id"] == "door-cam"
    assert "trace_id" not in second


def test_stdlib_logging_is_bridged_into_json(stream: io.StringIO) -> None:
    bind_context(trace_id="t-1")
    logging.getLogger("x").warning("disk %s almost full", "/var")
    (rec,) = lines(stream)
    assert rec["event"] == "disk /var almost full"
    assert rec["level"] == "warning"
    assert rec["logger"] == "x"
    assert rec["trace_id"] == "t-1"
    assert "timestamp" in rec


def test_secrets_are_masked(stream: io.StringIO) -> None:
    log = structlog.get_logger("x")
    log.warning(
        "connect_failed",
        source="rtsp://admin:hunter2@10.0.0.5/stream",
        dsn="host=db password=topsecret",
        api_token="tok-abcdef",
        password="pw-123456",
    )
    logging.getLogger("lib").error("could not reach postgresql://edge:dbpass99@db/att")
    raw = stream.getvalue()
    for secret in ("hunter2", "topsecret", "tok-abcdef", "pw-123456", "dbpass99"):
        assert secret not in raw
    rec, lib = lines(stream)
    assert "10.0.0.5/stream" in str(rec["source"])
    assert rec["api_token"] == "***"
    assert "db/att" in str(lib["event"])


def test_secret_in_event_message_is_masked(stream: io.StringIO) -> None:
    structlog.get_logger("x").info("opening rtsp://u:hunter2@cam/1")
    (rec,) = lines(stream)
    assert "hunter2" not in str(rec["event"])
    assert "cam/1" in str(rec["event"])


def test_embedding_arrays_are_omitted(stream: io.StringIO) -> None:
    vec = np.full(128, 0.123456, np.float32)
    structlog.get_logger("x").info("template_built", embedding=vec.tolist(), employee_id="e1")
    raw = stream.getvalue()
    assert "0.123456" not in raw
    (rec,) = lines(stream)
    assert rec["employee_id"] == "e1"
    assert not isinstance(rec.get("embedding"), list)


def test_redact_event_helper() -> None:
    out = redact_event({"event": "x", "embedding": [0.1, 0.2], "token": "abc", "faces": 2})
    assert out["token"] == "***"
    assert out["embedding"] != [0.1, 0.2]
    assert out["faces"] == 2
