"""Webhook output: one signed HTTP POST per event.

Signature (documented in the README, verified by the tests' receiver):
``X-Sputnik-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>``. The
timestamp is inside the MAC, so a receiver can refuse replays older than a few minutes.
``Idempotency-Key`` is the event id: a redelivery after a timeout or a crash carries the same one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from sputnik_edge import __version__
from sputnik_edge.outputs.types import Delivery, DeviceState
from sputnik_edge.redaction import redact_text, url_origin

SIGNATURE_HEADER = "X-Sputnik-Signature"


def sign(secret: bytes, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(
    secret: bytes, body: bytes, header: str, *, now: float | None = None, tolerance_s: int = 300
) -> bool:
    """What a receiver does (the README's snippet in Python): MAC and freshness."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, fields.get("v1", ""))


class WebhookSink:
    def __init__(
        self, url: str, secret: str, *, timeout_s: float, headers: Mapping[str, str] | None = None
    ) -> None:
        self.url = url
        self.target = url_origin(url)  # what logs and errors may show: the path may be the secret
        self._secret = secret.encode()
        self._headers = dict(headers or {})
        # One bound for connect, read, write and pool: a receiver that hangs costs at most this.
        self._client = httpx.Client(timeout=httpx.Timeout(timeout_s), follow_redirects=False)

    def deliver(self, payloads: Sequence[dict[str, Any]]) -> Delivery:
        for i, payload in enumerate(payloads):
            body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
            headers = {
                **self._headers,
                "Content-Type": "application/json",
                "User-Agent": f"sputnik-edge/{__version__}",
                "Idempotency-Key": str(payload["event_id"]),
                SIGNATURE_HEADER: sign(self._secret, body, int(time.time())),
            }
            try:
                r = self._client.post(self.url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                shown = self._hide(str(exc))
                return Delivery(i, f"{type(exc).__name__}: {shown or 'no answer'}")
            if not r.is_success:
                return Delivery(i, f"HTTP {r.status_code} from {self.target}")
        return Delivery(len(payloads), None)

    def _hide(self, text: str) -> str:
        """An HTTP library's message may quote the URL, or just its path: mask both."""
        parts = urlsplit(self.url)
        text = text.replace(self.url, self.target)
        for secret in (parts.path, parts.query):
            if len(secret) > 1:
                text = text.replace(secret, "/…")
        return redact_text(text)

    def publish_state(self, state: DeviceState) -> None:
        """Webhooks carry events only."""

    def close(self) -> None:
        self._client.close()
