from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from sputnik_edge.vision.align import ARCFACE_TEMPLATE, align_face
from sputnik_edge.vision.detector import YuNetDetector
from sputnik_edge.vision.quality import QualityLimits, assess, estimate_pose
from sputnik_edge.vision.types import Detection

from .conftest import PARTIAL_CROPS, load_bgr


def _first(detector: YuNetDetector, img: np.ndarray) -> Detection:
    faces = detector.detect(img)
    assert faces
    return faces[0]


def test_good_dev_photos_pass(face_labels: list[tuple[Path, str]], detector: YuNetDetector) -> None:
    for path, _ in face_labels:
        if path.name in PARTIAL_CROPS:
            continue
        img = load_bgr(path)
        det = _first(detector, img)
        q = assess(det, align_face(img, det.landmarks), img.shape)
        assert q.ok, f"{path.name}: {q.reasons}"
        assert q.reasons == ()
        assert 0.3 < q.score <= 1.0


def test_partial_face_crops_are_rejected(faces_dir: Path, detector: YuNetDetector) -> None:
    for name in sorted(PARTIAL_CROPS):
        img = load_bgr(faces_dir / "images/barack_obama" / name)
        det = _first(detector, img)
        q = assess(det, align_face(img, det.landmarks), img.shape)
        assert not q.ok
        assert "partial_face" in q.reasons, name


@pytest.fixture(scope="module")
def obama(faces_dir: Path, detector: YuNetDetector) -> tuple[np.ndarray, Detection]:
    img = load_bgr(faces_dir / "images/barack_obama/obama.jpg")
    return img, _first(detector, img)


def test_blurred_face_is_blurry(obama: tuple[np.ndarray, Detection]) -> None:
    img, det = obama
    blurred = cv2.GaussianBlur(img, (0, 0), det.width / 25)
    q = assess(det, align_face(blurred, det.landmarks), img.shape)
    assert q.reasons == ("blurry",)
    sharp = assess(det, align_face(img, det.landmarks), img.shape)
    assert sharp.blur > 10 * q.blur
    assert sharp.score > q.score


def test_darkened_and_overexposed_faces(obama: tuple[np.ndarray, Detection]) -> None:
    img, det = obama
    dark = (img.astype(np.float32) * 0.15).astype(np.uint8)
    q = assess(det, align_face(dark, det.landmarks), img.shape)
    assert "too_dark" in q.reasons and q.brightness < 40
    bright = cv2.convertScaleAbs(img, alpha=0.3, beta=200)
    q = assess(det, align_face(bright, det.landmarks), img.shape)
    assert "too_bright" in q.reasons


def test_small_face_is_too_small(obama: tuple[np.ndarray, Detection], detector: YuNetDetector) -> None:
    img, det = obama
    scale = 28 / det.width
    small = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    faces = detector.detect(small)
    small_det = (
        faces[0]
        if faces
        else Detection(
            bbox=tuple(v * scale for v in det.bbox),  # type: ignore[arg-type]
            landmarks=det.landmarks * scale,
            score=det.score,
        )
    )
    q = assess(small_det, align_face(small, small_det.landmarks), small.shape)
    assert "face_too_small" in q.reasons
    assert q.face_size < 40


def test_low_detector_score(obama: tuple[np.ndarray, Detection]) -> None:
    img, det = obama
    q = assess(replace(det, score=0.4), align_face(img, det.landmarks), img.shape)
    assert q.reasons == ("low_det_score",)


def test_pose_estimates() -> None:
    yaw, pitch, roll = estimate_pose(ARCFACE_TEMPLATE)
    assert abs(yaw) < 1 and abs(roll) < 1
    # Rolling the whole face changes only roll.
    a = np.deg2rad(20)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    y2, p2, r2 = estimate_pose((ARCFACE_TEMPLATE - 56) @ rot.T + 56)
    assert r2 == pytest.approx(20, abs=0.5)
    assert y2 == pytest.approx(yaw, abs=0.5) and p2 == pytest.approx(pitch, abs=0.5)
    # Nose pushed sideways (head turned) -> large yaw; nose pushed up toward the eyes -> pitch.
    turned = ARCFACE_TEMPLATE.copy()
    turned[2, 0] += 15
    assert estimate_pose(turned)[0] > 40
    tilted = ARCFACE_TEMPLATE.copy()
    tilted[2, 1] -= 15
    assert estimate_pose(tilted)[1] > 35


def test_turned_face_fails_pose(obama: tuple[np.ndarray, Detection]) -> None:
    img, det = obama
    lm = det.landmarks.copy()
    lm[2, 0] += 0.5 * float(lm[1, 0] - lm[0, 0])  # nose half an eye-distance sideways: a profile
    q = assess(replace(det, landmarks=lm), align_face(img, det.landmarks), img.shape)
    assert "pose_yaw" in q.reasons


def test_landmark_outside_image_is_partial(obama: tuple[np.ndarray, Detection]) -> None:
    img, det = obama
    lm = det.landmarks.copy()
    lm[0, 0] = -3.0
    q = assess(replace(det, landmarks=lm), align_face(img, det.landmarks), img.shape)
    assert "partial_face" in q.reasons


def test_limits_validation() -> None:
    with pytest.raises(ValueError, match="min_brightness"):
        QualityLimits(min_brightness=200, max_brightness=100)
    with pytest.raises(ValueError, match="min_face_px"):
        QualityLimits(min_face_px=-1)


def test_as_dict_round_trip(obama: tuple[np.ndarray, Detection]) -> None:
    img, det = obama
    d = assess(det, align_face(img, det.landmarks), img.shape).as_dict()
    assert d["ok"] is True and d["reasons"] == []
