"""MJPEG-over-HTTP camera for tests: stdlib http.server plus OpenCV JPEG encoding.

``GET /stream`` answers ``multipart/x-mixed-replace`` with the frames of a video file, paced to its fps
and looped forever. Run as ``python mjpeg_server.py --file clip.mp4 [--port N]``; prints
``READY <port>`` once listening, exits on SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import cv2

BOUNDARY = "sputnikframe"


def load_jpegs(path: str, max_frames: int = 300) -> tuple[list[bytes], float]:
    """Encode the file's frames once so serving costs no decoding."""
    cap = cv2.VideoCapture(path)
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    jpegs: list[bytes] = []
    while len(jpegs) < max_frames:
        ok, image = cap.read()
        if not ok:
            break
        jpegs.append(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes())
    cap.release()
    if not jpegs:
        raise ValueError(f"no frames decoded from {path}")
    return jpegs, fps if 0 < fps <= 240 else 25.0


def make_handler(jpegs: list[bytes], fps: float) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/stream":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", f"multipart/x-mixed-replace;boundary={BOUNDARY}")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            start = time.monotonic()
            n = 0
            try:
                while True:
                    jpeg = jpegs[n % len(jpegs)]
                    head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                    self.wfile.write(head.encode())
                    self.wfile.write(jpeg + b"\r\n")
                    self.wfile.flush()
                    n += 1
                    delay = start + n / fps - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
            except (BrokenPipeError, ConnectionResetError):
                return

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

    return Handler


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--file", required=True)
    args = parser.parse_args()
    jpegs, fps = load_jpegs(args.file)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(jpegs, fps))
    server.daemon_threads = True
    # shutdown() blocks until serve_forever returns, so it must not run inside the signal handler.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"READY {server.server_address[1]}", flush=True)
    server.serve_forever(poll_interval=0.05)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
