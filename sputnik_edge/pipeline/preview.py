"""Live preview for the technician: the newest frame with its faces drawn, and placement hints.

Nothing here is stored or logged: the frame lives in memory until the next one replaces it, and
a JPEG is rendered only when someone asks for it.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from statistics import median

import cv2

from sputnik_edge.recognition.types import FaceResult
from sputnik_edge.vision.quality import BLURRY, FACE_TOO_SMALL, TOO_BRIGHT, TOO_DARK
from sputnik_edge.vision.types import ImageArray

PREVIEW_MAX_SIDE = 960
# BGR: green for a match, amber for low confidence, red for unknown, grey when the gate stopped it.
COLOURS = {
    "match": (60, 180, 60),
    "low_confidence": (0, 170, 255),
    "unknown": (60, 60, 230),
    "rejected": (150, 150, 150),
}
HINT_WINDOW = 200  # faces remembered per camera for the hints
HINT_MIN_FACES = 10  # fewer than this says nothing about the camera position
HINT_SHARE = 0.5  # a hint shows when at least half of the recent faces have that problem


@dataclass(frozen=True, slots=True)
class LatestFrame:
    image: ImageArray
    faces: tuple[FaceResult, ...]
    wall: datetime


@dataclass(frozen=True, slots=True)
class CameraHints:
    faces_seen: int
    median_face_px: float | None
    hints: tuple[str, ...]  # faces_too_small | too_dark | too_bright | too_blurry


def camera_hints(recent: list[tuple[float, tuple[str, ...]]]) -> CameraHints:
    """``recent``: (face size px, quality reasons) of the last faces seen on one camera."""
    if not recent:
        return CameraHints(0, None, ())
    sizes = [size for size, _ in recent]
    hints: list[str] = []
    if len(recent) >= HINT_MIN_FACES:
        for reason, hint in (
            (FACE_TOO_SMALL, "faces_too_small"),
            (TOO_DARK, "too_dark"),
            (TOO_BRIGHT, "too_bright"),
            (BLURRY, "too_blurry"),
        ):
            share = sum(1 for _, reasons in recent if reason in reasons) / len(recent)
            if share >= HINT_SHARE:
                hints.append(hint)
    return CameraHints(len(recent), round(median(sizes), 1), tuple(hints))


class PreviewSlot:
    """Written by one camera's pipeline thread, read by HTTP requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: LatestFrame | None = None
        self._recent: deque[tuple[float, tuple[str, ...]]] = deque(maxlen=HINT_WINDOW)

    def update(self, image: ImageArray, faces: list[FaceResult], wall: datetime) -> None:
        with self._lock:
            self._latest = LatestFrame(image, tuple(faces), wall)
            self._recent.extend((f.quality.face_size, f.quality.reasons) for f in faces)

    def latest(self) -> LatestFrame | None:
        with self._lock:
            return self._latest

    def hints(self) -> CameraHints:
        with self._lock:
            recent = list(self._recent)
        return camera_hints(recent)


def render_preview(latest: LatestFrame, min_face_px: float) -> bytes:
    """A JPEG of the frame with each face's box, decision and size against ``min_face_px``."""
    image = latest.image
    h, w = image.shape[:2]
    scale = min(1.0, PREVIEW_MAX_SIDE / max(h, w))
    canvas = cv2.resize(image, (round(w * scale), round(h * scale))) if scale < 1 else image.copy()
    thick = max(1, round(2 * max(canvas.shape[:2]) / 640))
    for face in latest.faces:
        x1, y1, x2, y2 = (round(v * scale) for v in face.detection.bbox)
        decision = face.decision
        colour = COLOURS.get(decision, COLOURS["rejected"])
        cv2.rectangle(canvas, (x1, y1), (x2, y2), colour, thick)
        who = face.match.name or face.match.employee_id if face.match and face.match.employee_id else None
        label = who or (",".join(face.quality.reasons) if face.quality.reasons else decision)
        size = face.quality.face_size
        text = f"{label} {size:.0f}/{min_face_px:.0f}px"
        cv2.putText(
            canvas, text, (x1, max(12, y1 - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv2.LINE_AA
        )
        # A bar under the box: how large the face is against the minimum the gate accepts.
        bar = max(1, round((x2 - x1) * min(1.0, size / max(min_face_px * 2, 1))))
        ok = size >= min_face_px
        cv2.rectangle(
            canvas, (x1, y2 + 3), (x1 + bar, y2 + 3 + thick), (60, 180, 60) if ok else (60, 60, 230), -1
        )
    ok, buf = cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, 80])
    if not ok:
        raise ValueError("preview frame could not be encoded")
    return buf.tobytes()
