"""Fixtures for the liveness tests: the real face mesh, YuNet and the shared liveness clips."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from sputnik_edge.liveness.landmarks import FaceLandmarker
from sputnik_edge.vision.detector import YuNetDetector
from sputnik_edge.vision.models import verify
from tests.conftest import require


@pytest.fixture(scope="session")
def landmarker(models_dir: Path) -> FaceLandmarker:
    return FaceLandmarker(verify(models_dir, "face_landmark"), threads=1)


@pytest.fixture(scope="session")
def yunet(models_dir: Path) -> YuNetDetector:
    return YuNetDetector(verify(models_dir, "detector"), threads=1)


@pytest.fixture(scope="session")
def liveness_dir(faces_dir: Path) -> Path:
    path = faces_dir / "liveness"
    require((path / "webcam_live.webm").is_file(), f"liveness clips not found in {path}")
    return path


def read_frames(path: Path, step: int = 3, limit: int = 10_000) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames: list[np.ndarray] = []
    n = 0
    try:
        while len(frames) < limit:
            ok, img = cap.read()
            if not ok:
                break
            if n % step == 0:
                frames.append(img)
            n += 1
    finally:
        cap.release()
    return frames
