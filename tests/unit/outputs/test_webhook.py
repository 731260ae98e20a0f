"""Webhook signing and delivery against a real HTTP receiver on loopback."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from sputnik_edge.outputs.webhook import WebhookSink, sign, verify
from tests.support.daemon import free_port
from tests.support.webhook_receiver import WebhookReceiver

SECRET = b"whsec-unit"


def test_signature_covers_timestamp_and_body() -> None:
    body = b'{"event_id":"x"}'
    now = int(time.time())
    header = sign(SECRET, body, now)
    assert header.startswith(f"t={now},v1=") and len(header.split("v1=")[1]) == 64
    assert verify(SECRET, body, header)
    assert not verify(SECRET, body + b" ", header)  # tampered body
    assert not verify(b"other", body, header)  # wrong secret
    assert not verify(SECRET, body, header.replace(f"t={now}", f"t={now + 1}"))  # timestamp is in the MAC
    old = sign(SECRET, body, now - 3600)
    assert not verify(SECRET, body, old)  # a replay an hour later
    assert verify(SECRET, body, old, now=now - 3600)
    assert not verify(SECRET, body, "garbage")


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    r = WebhookReceiver(SECRET).start()
    yield r
    r.stop()


def payloads(n: int) -> list[dict[str, object]]:
    return [{"event_id": f"id-{i}", "kind": "unknown"} for i in range(n)]


def test_delivery_posts_each_event_signed_with_its_idempotency_key(receiver: WebhookReceiver) -> None:
    sink = WebhookSink(receiver.url, SECRET.decode(), timeout_s=2, headers={"X-Tenant": "acme"})
    try:
        result = sink.deliver(payloads(3))
    finally:
        sink.close()
    assert (result.sent, result.error) == (3, None)
    assert [r.event_id for r in receiver.accepted] == ["id-0", "id-1", "id-2"]
    assert all(r.signature_ok and r.idempotency_key == r.event_id for r in receiver.accepted)
    assert receiver.bad_signatures == 0


def test_wrong_secret_is_refused_by_the_receiver(receiver: WebhookReceiver) -> None:
    sink = WebhookSink(receiver.url, "not-the-secret", timeout_s=2)
    try:
        result = sink.deliver(payloads(2))
    finally:
        sink.close()
    assert result.sent == 0 and result.error == f"HTTP 401 from http://127.0.0.1:{receiver.port}/…"
    assert receiver.bad_signatures == 1 and not receiver.accepted


def test_errors_name_the_failure_without_credentials(receiver: WebhookReceiver) -> None:
    receiver.mode = "error"
    url = f"http://u:pw-secret@127.0.0.1:{receiver.port}/api/webhook/path-secret?sig=q-secret"
    sink = WebhookSink(url, SECRET.decode(), timeout_s=2)
    try:
        result = sink.deliver(payloads(2))
        assert (
            result.sent == 0
            and "HTTP 500" in (result.error or "")
            and "pw-secret" not in (result.error or "")
        )
        assert sink.target == f"http://127.0.0.1:{receiver.port}/…"
        assert "path-secret" not in (result.error or "") and "q-secret" not in (result.error or "")
        receiver.mode = "hang"
        t0 = time.monotonic()
        hung = sink.deliver(payloads(1))
        assert hung.sent == 0 and "Timeout" in (hung.error or "")
        assert time.monotonic() - t0 < 10  # bounded by the timeout, not by the receiver
    finally:
        receiver.recover()
        sink.close()
    down = WebhookSink(f"http://127.0.0.1:{free_port()}/hook", SECRET.decode(), timeout_s=2)
    try:
        result = down.deliver(payloads(1))
    finally:
        down.close()
    assert result.sent == 0 and "ConnectError" in (result.error or "")


def test_an_error_quoting_the_url_or_its_path_shows_neither() -> None:
    url = "https://ha.lan:8123/api/webhook/door-Xk93hq?sig=s-9"
    sink = WebhookSink(url, SECRET.decode(), timeout_s=1)
    try:
        shown = sink._hide(f"Invalid URL {url!r}; path /api/webhook/door-Xk93hq; query sig=s-9")
    finally:
        sink.close()
    assert "door-Xk93hq" not in shown and "s-9" not in shown and "https://ha.lan:8123/…" in shown
