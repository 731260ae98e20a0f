"""Run the real daemon (`sputnik-edge run`) as a subprocess against a config in a temp folder.

The launcher is the tools' (``sputnik_edge.tools.daemon_process``); this adds what tests ask of it:
assertions with the daemon's log attached, waiting for a condition, the events API.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sputnik_edge.tools.daemon_process import (
    DaemonError,
    DaemonProcess,
    daemon_config,
    free_port,
    write_config,
)

__all__ = [
    "Daemon",
    "base_config",
    "enrol_people",
    "first_photo_per_person",
    "free_port",
    "shared_recognizer",
    "write_config",
]


def first_photo_per_person(faces_dir: Path) -> dict[str, Path]:
    """The first photo listed in labels.csv for each identity (the enrolment photo)."""
    from sputnik_edge.tools.paths import dev_people

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


def base_config(tmp: Path, port: int, **overrides: Any) -> dict[str, Any]:
    return daemon_config(tmp, port, device_id="door-test", **overrides)


class Daemon(DaemonProcess):
    @property
    def base_url(self) -> str:
        return self.url

    def wait_http(self, timeout: float = 30, poll_s: float = 0.1) -> None:
        try:
            super().wait_http(timeout, poll_s)
        except DaemonError as exc:
            raise AssertionError(str(exc)) from None

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
        raise AssertionError(f"timed out after {timeout}s waiting for {what}:\n{self.log_tail()}")

    def camera(self, camera_id: str) -> dict[str, Any]:
        return dict(self.get("/health").json()["cameras"][camera_id])

    def log_lines(self) -> Iterable[str]:
        return self.log_text().splitlines()

    def terminate(self, timeout: float = 15) -> int:
        return self.stop(timeout)
