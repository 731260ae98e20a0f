"""Secrets are stripped from URLs and free text before they reach logs or API answers."""

from __future__ import annotations

import pytest

from sputnik_edge.redaction import redact_text, redact_url, url_origin


@pytest.mark.parametrize(
    ("url", "secret", "kept"),
    [
        ("rtsp://admin:hunter2@10.0.0.5:554/stream1", "hunter2", ["rtsp://", "10.0.0.5:554", "/stream1"]),
        ("postgresql://edge:p%40ss@db.example:5432/att", "p%40ss", ["db.example:5432", "/att"]),
        ("http://user:pw@cam.local/mjpeg?x=1", "pw", ["cam.local", "/mjpeg", "x=1"]),
        ("rtsp://onlyuser@10.0.0.5/s", "onlyuser", ["10.0.0.5/s"]),
    ],
)
def test_redact_url_removes_credentials(url: str, secret: str, kept: list[str]) -> None:
    out = redact_url(url)
    assert secret not in out
    assert "***" in out
    for part in kept:
        assert part in out


@pytest.mark.parametrize("url", ["rtsp://10.0.0.5/stream1", "usb:0", "/dev/video0", "", "not a url"])
def test_redact_url_leaves_credential_free_strings_alone(url: str) -> None:
    assert redact_url(url) == url


def test_redact_url_password_with_at_sign() -> None:
    out = redact_url("postgresql://edge:p@ss@db.example/att")
    assert "p@ss" not in out
    assert "ss@" not in out
    assert out.endswith("db.example/att")


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("connecting to rtsp://admin:hunter2@10.0.0.5/stream failed", "hunter2"),
        ("dsn host=db password=topsecret user=edge", "topsecret"),
        ("PASSWORD: topsecret", "topsecret"),
        ("api_token=abc123def&x=1", "abc123def"),
        ("token = 'abc123def'", "abc123def"),
        ("secret:xyz987", "xyz987"),
        ("pwd=letmein; next", "letmein"),
    ],
)
def test_redact_text_masks_secrets(text: str, secret: str) -> None:
    out = redact_text(text)
    assert secret not in out
    assert "***" in out


def test_redact_text_keeps_the_rest() -> None:
    text = "camera entrance reconnect after 2.0 s, password=x1 user=edge host=10.0.0.5"
    out = redact_text(text)
    assert out.startswith("camera entrance reconnect after 2.0 s, password=***")
    assert "user=edge host=10.0.0.5" in out
    assert redact_text("nothing secret here: 42 faces") == "nothing secret here: 42 faces"


def test_redact_text_masks_quoted_values_and_dict_reprs() -> None:
    out = redact_text(str({"user": "edge", "password": "topsecret", "api_token": "abc123def"}))
    assert "topsecret" not in out
    assert "abc123def" not in out
    assert "'user': 'edge'" in out


@pytest.mark.parametrize(
    ("url", "shown", "secret"),
    [
        ("https://ha.lan:8123/api/webhook/door-Xk93hq", "https://ha.lan:8123/…", "door-Xk93hq"),
        ("https://hooks.slack.com/services/T01/B02/zQ9sEcReT", "https://hooks.slack.com/…", "zQ9sEcReT"),
        ("https://alerts.example/hook?key=k-771&sig=s-9", "https://alerts.example/…", "k-771"),
        ("http://u:pw-3@10.0.0.7:8088/hook", "http://10.0.0.7:8088/…", "pw-3"),
        ("http://[::1]:9000/x#frag-secret", "http://[::1]:9000/…", "frag-secret"),
        ("http://10.0.0.7", "http://10.0.0.7", "-"),
        ("not a url", "***", "not a url"),
    ],
)
def test_url_origin_masks_path_query_and_credentials(url: str, shown: str, secret: str) -> None:
    assert url_origin(url) == shown
    assert secret not in url_origin(url)
