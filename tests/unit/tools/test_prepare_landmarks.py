"""The face mesh's prepare step: the .tflite re-extracted from a mediapipe wheel and checked, the
committed ONNX conversion re-verified."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from sputnik_edge.tools.onnx_surgery import PrepareError
from sputnik_edge.tools.prepare_landmarks import (
    FACE_LANDMARK_ONNX_SHA256,
    FACE_LANDMARK_SHA256,
    landmark_entry,
    read_mediapipe_file,
)
from sputnik_edge.vision.models import file_sha256


def _wheel(path: Path, model: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mediapipe-0.10.14.dist-info/METADATA", "Name: mediapipe\nVersion: 0.10.14\n")
        zf.writestr("mediapipe/modules/face_landmark/face_landmark.tflite", model)
    return path


def test_tflite_is_extracted_from_the_wheel_and_checked(tmp_path: Path, models_dir: Path) -> None:
    shipped = (models_dir / "face_landmark.tflite").read_bytes()
    good = _wheel(tmp_path / "good.whl", shipped)
    assert read_mediapipe_file(good, "face_landmark.tflite", FACE_LANDMARK_SHA256, None) == shipped
    bad = _wheel(tmp_path / "bad.whl", shipped[:-1] + bytes([shipped[-1] ^ 1]))
    with pytest.raises(PrepareError, match=r"face_landmark\.tflite from .*bad\.whl has sha256"):
        read_mediapipe_file(
            bad, "face_landmark.tflite", FACE_LANDMARK_SHA256, models_dir / "face_landmark.tflite"
        )


def test_entry_copies_both_files_and_pins_them(tmp_path: Path, models_dir: Path) -> None:
    wheel = _wheel(tmp_path / "mp.whl", (models_dir / "face_landmark.tflite").read_bytes())
    out = tmp_path / "out"
    out.mkdir()
    written, entry = landmark_entry(out, wheel, models_dir)
    assert sorted(p.name for p in written) == ["face_landmark.onnx", "face_landmark.tflite"]
    assert file_sha256(out / "face_landmark.onnx") == entry["sha256"] == FACE_LANDMARK_ONNX_SHA256
    assert file_sha256(out / "face_landmark.tflite") == entry["source_sha256"] == FACE_LANDMARK_SHA256


def test_a_tampered_onnx_is_refused(tmp_path: Path, models_dir: Path) -> None:
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    shutil.copy(models_dir / "face_landmark.tflite", shipped)
    data = bytearray((models_dir / "face_landmark.onnx").read_bytes())
    data[-1] ^= 1
    (shipped / "face_landmark.onnx").write_bytes(bytes(data))
    with pytest.raises(PrepareError, match=r"face_landmark\.onnx has sha256"):
        landmark_entry(tmp_path, None, shipped)
