"""The live preview: boxes drawn where the faces are, in the decision's colour; placement hints."""

from __future__ import annotations

from datetime import UTC, datetime

import cv2
import numpy as np

from sputnik_edge.pipeline.preview import (
    COLOURS,
    HINT_MIN_FACES,
    LatestFrame,
    PreviewSlot,
    camera_hints,
    render_preview,
)
from sputnik_edge.recognition.types import FaceResult, MatchResult
from sputnik_edge.vision.types import Detection, Quality


def face(
    bbox: tuple[float, float, float, float], decision: str, size: float, reasons: tuple[str, ...] = ()
) -> FaceResult:
    det = Detection(bbox=bbox, score=0.9, landmarks=np.zeros((5, 2), np.float32))
    q = Quality(not reasons, reasons, size, 100.0, 0.0, 0.0, 0.0, 120.0, 0.8)
    match = None if reasons else MatchResult(decision, "e1" if decision == "match" else None, "Ann", 0.7, 0.2)  # type: ignore[arg-type]
    return FaceResult(det, q, None, match)


def test_boxes_are_drawn_in_the_decision_colour() -> None:
    image = np.full((360, 640, 3), 128, np.uint8)
    faces = (
        face((100, 100, 200, 220), "match", 100),
        face((400, 50, 430, 80), "rejected", 30, ("face_too_small",)),
    )
    jpeg = render_preview(LatestFrame(image, faces, datetime.now(UTC)), min_face_px=40)
    out = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert out.shape == image.shape
    top = out[100, 110:190].astype(int)
    assert (np.abs(top - np.array(COLOURS["match"])).max(axis=1) < 40).mean() > 0.9
    grey_box = out[50, 405:425].astype(int)
    assert (np.abs(grey_box - np.array(COLOURS["rejected"])).max(axis=1) < 40).mean() > 0.9
    assert np.abs(out[300, 600].astype(int) - 128).max() < 10  # away from the faces: untouched


def test_large_frames_are_scaled_down() -> None:
    image = np.zeros((1080, 1920, 3), np.uint8)
    jpeg = render_preview(LatestFrame(image, (), datetime.now(UTC)), min_face_px=40)
    assert cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR).shape == (540, 960, 3)


def test_hints_need_enough_faces_and_a_majority() -> None:
    few = [(20.0, ("face_too_small",))] * (HINT_MIN_FACES - 1)
    assert camera_hints(few).hints == ()
    many = [(20.0, ("face_too_small", "too_dark"))] * 6 + [(80.0, ())] * 4
    hints = camera_hints(many)
    assert hints.hints == ("faces_too_small", "too_dark") and hints.faces_seen == 10
    assert hints.median_face_px == 20.0
    assert camera_hints([]).median_face_px is None


def test_slot_keeps_the_newest_frame_and_a_bounded_history() -> None:
    slot = PreviewSlot()
    assert slot.latest() is None
    a, b = np.zeros((10, 10, 3), np.uint8), np.ones((10, 10, 3), np.uint8)
    slot.update(a, [face((1, 1, 5, 5), "unknown", 50)], datetime.now(UTC))
    slot.update(b, [], datetime.now(UTC))
    latest = slot.latest()
    assert latest is not None and latest.image is b and latest.faces == ()
    for _ in range(500):
        slot.update(b, [face((1, 1, 5, 5), "unknown", 50)], datetime.now(UTC))
    assert slot.hints().faces_seen == 200
