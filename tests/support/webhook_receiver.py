"""A real webhook receiver on loopback (stdlib HTTP server, own thread) that checks the device's
signature the way the README tells receivers to, and can answer 500 or hang on request."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

Mode = Literal["ok", "error", "hang"]


@dataclass
class Received:
    event_id: str
    idempotency_key: str
    body: dict[str, Any]
    signature_ok: bool


@dataclass
class WebhookReceiver:
    secret: bytes
    port: int = 0
    mode: Mode = "ok"
    accepted: list[Received] = field(default_factory=list)  # answered 200
    refused: int = 0  # answered 500 or left hanging
    bad_signatures: int = 0
    _server: ThreadingHTTPServer | None = None
    _release: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, body: bytes, header: str) -> bool:
        """The README's receiver check: HMAC-SHA256 over "<t>.<body>", t within 5 minutes."""
        try:
            parts = dict(p.split("=", 1) for p in header.split(","))
            t = int(parts["t"])
        except (KeyError, ValueError):
            return False
        mac = hmac.new(self.secret, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
        return abs(time.time() - t) < 300 and hmac.compare_digest(mac, parts.get("v1", ""))

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                ok = receiver.check(body, self.headers.get("X-Sputnik-Signature", ""))
                mode = receiver.mode
                if mode == "hang":
                    receiver._release.wait(30)  # past the device's timeout; then no answer at all
                    with receiver._lock:
                        receiver.refused += 1
                    self.close_connection = True
                    return
                if mode == "error" or not ok:
                    with receiver._lock:
                        receiver.refused += 1
                        receiver.bad_signatures += int(not ok)
                    self.send_response(500 if ok else 401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = json.loads(body)
                with receiver._lock:
                    receiver.accepted.append(
                        Received(data["event_id"], self.headers.get("Idempotency-Key", ""), data, ok)
                    )
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def recover(self) -> None:
        self.mode = "ok"
        self._release.set()

    def event_ids(self) -> set[str]:
        with self._lock:
            return {r.event_id for r in self.accepted}

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
