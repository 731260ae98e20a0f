"""Fixtures for the vision tests: real models, the dev photos, the OpenCV reference pipeline."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from sputnik_edge.vision.detector import YuNetDetector
from sputnik_edge.vision.embedder import SFaceEmbedder
from tests.conftest import require

# Dev photos that are deliberately cut-off faces (manifest.csv: "cropped (half face)").
PARTIAL_CROPS = frozenset({"obama_partial_face.jpg", "obama_partial_face2.jpg"})


def load_bgr(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise FileNotFoundError(path)
    if img.ndim == 3 and img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    return img


def fit(img: np.ndarray, max_side: int = 640) -> np.ndarray:
    """The detector's own downscale, so reference and ours see identical pixels."""
    h, w = img.shape[:2]
    s = max_side / max(h, w)
    if s >= 1:
        return img
    return cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_LINEAR)


@pytest.fixture(scope="session")
def yunet_path(models_dir: Path) -> Path:
    path = models_dir / "yunet.onnx"
    require(path.is_file(), f"{path} missing: run python -m sputnik_edge.tools.prepare_models")
    return path


@pytest.fixture(scope="session")
def sface_path(models_dir: Path) -> Path:
    path = models_dir / "sface.onnx"
    require(path.is_file(), f"{path} missing: run python -m sputnik_edge.tools.prepare_models")
    return path


@pytest.fixture(scope="session")
def detector(yunet_path: Path) -> YuNetDetector:
    return YuNetDetector(yunet_path, threads=1)


@pytest.fixture(scope="session")
def native_detector(yunet_path: Path) -> YuNetDetector:
    return YuNetDetector(yunet_path, max_side=0, threads=1)


@pytest.fixture(scope="session")
def embedder(sface_path: Path) -> SFaceEmbedder:
    return SFaceEmbedder(sface_path, threads=1)


@pytest.fixture(scope="session")
def original_paths() -> tuple[Path, Path]:
    from sputnik_edge.tools.reference import original_model_paths

    try:
        return original_model_paths()
    except FileNotFoundError as exc:
        require(False, str(exc))
        raise


@pytest.fixture(scope="session")
def reference(original_paths: tuple[Path, Path]):
    from sputnik_edge.tools.reference import ReferencePipeline

    return ReferencePipeline(*original_paths)


@pytest.fixture(scope="session")
def dev_images(face_labels: list[tuple[Path, str]]) -> list[tuple[Path, np.ndarray]]:
    """(path, BGR image downscaled to <= 640 px) for every single-face dev photo."""
    return [(path, fit(load_bgr(path))) for path, _ in face_labels]


@pytest.fixture(scope="session")
def multi_face_rows(faces_dir: Path) -> list[tuple[Path, int]]:
    """(path, number of labelled identities) from multi_face.csv."""
    with (faces_dir / "multi_face.csv").open(newline="") as fh:
        return [
            (faces_dir / row["path"], len([i for i in row["identities"].split(";") if not i.startswith("+")]))
            for row in csv.DictReader(fh)
        ]
