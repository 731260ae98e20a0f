"""The converted face mesh: same numbers as MediaPipe's own .tflite, and points on a real face."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import cv2
import numpy as np

from sputnik_edge.liveness.landmarks import FaceLandmarker, crop_transform
from sputnik_edge.tools.prepare_landmarks import FACE_LANDMARK_SHA256
from sputnik_edge.vision.detector import YuNetDetector
from sputnik_edge.vision.models import file_sha256, load_manifest
from tests.conftest import require
from tests.unit.liveness.conftest import read_frames


def test_manifest_pins_the_tflite_the_onnx_came_from(models_dir: Path) -> None:
    spec = load_manifest(models_dir)["face_landmark"]
    assert (spec.source_package, spec.source_version, spec.licence) == ("mediapipe", "0.10.14", "Apache-2.0")
    assert spec.source_sha256 == FACE_LANDMARK_SHA256
    assert file_sha256(models_dir / spec.source_file) == spec.source_sha256


def test_onnx_matches_tflite_on_real_faces(
    models_dir: Path, landmarker: FaceLandmarker, yunet: YuNetDetector, liveness_dir: Path
) -> None:
    # ai-edge-litert is in the dev extra: under CI=true its absence fails this parity test.
    installed = importlib.util.find_spec("ai_edge_litert") is not None
    require(installed, "ai-edge-litert (dev extra) not installed")
    litert = importlib.import_module("ai_edge_litert.interpreter")
    interp = litert.Interpreter(model_path=str(models_dir / "face_landmark.tflite"))
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    outs = interp.get_output_details()
    worst_mesh = worst_flag = 0.0
    frames = read_frames(liveness_dir / "webcam_live.webm", step=40)
    assert len(frames) >= 5
    for img in frames:
        det = yunet.detect(img)[0]
        crop = cv2.warpAffine(img, crop_transform(det), (192, 192))
        blob = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32)[None] / 255.0
        interp.set_tensor(inp["index"], blob)
        interp.invoke()
        ref = {int(np.prod(o["shape"])): interp.get_tensor(o["index"]).reshape(-1) for o in outs}
        mesh, flag = landmarker.infer(blob)
        worst_mesh = max(worst_mesh, float(np.max(np.abs(ref[1404] - mesh.reshape(-1)))))
        worst_flag = max(worst_flag, float(np.max(np.abs(ref[1] - flag))))
    # In 192-px crop units: a hundredth of a pixel is far below the model's own jitter.
    assert worst_mesh < 0.01
    assert worst_flag < 0.01


def test_mesh_lands_on_the_face(landmarker: FaceLandmarker, yunet: YuNetDetector, liveness_dir: Path) -> None:
    img = read_frames(liveness_dir / "webcam_live.webm", step=1, limit=1)[0]
    det = yunet.detect(img)[0]
    mesh = landmarker.mesh(img, det)
    assert mesh.points.shape == (468, 3)
    assert mesh.face_score > 0.9
    # Mesh eye corners / nose tip agree with YuNet's own five points within a tenth of the face.
    eyes = (mesh.points[[33, 133], :2].mean(axis=0), mesh.points[[362, 263], :2].mean(axis=0))
    tol = 0.1 * det.width
    assert np.linalg.norm(eyes[0] - det.landmarks[0]) < tol
    assert np.linalg.norm(eyes[1] - det.landmarks[1]) < tol
    assert np.linalg.norm(mesh.points[1, :2] - det.landmarks[2]) < tol


def test_a_crop_without_a_face_scores_low(
    landmarker: FaceLandmarker, yunet: YuNetDetector, liveness_dir: Path
) -> None:
    img = read_frames(liveness_dir / "webcam_live.webm", step=1, limit=1)[0]
    det = yunet.detect(img)[0]
    blank = np.full_like(img, 128)
    assert landmarker.mesh(blank, det).face_score < 0.5
