"""MediaPipe's 468-point face mesh (face_landmark.tflite converted to ONNX) on onnxruntime.

The crop follows MediaPipe's own face-landmark graph: a square 1.5x the detector's box, rotated so
the eyes are level, resized to 192x192, RGB scaled to [0, 1]. Points come back in the input
image's pixel coordinates; ``z`` is relative depth in the same pixel scale (smaller is nearer).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from sputnik_edge.vision.onnx import create_session
from sputnik_edge.vision.types import Detection, FloatArray, ImageArray

__all__ = ["FaceLandmarker", "FaceMesh", "crop_transform"]

_SIZE = 192
_CROP_SCALE = 1.5


@dataclass(frozen=True, slots=True)
class FaceMesh:
    points: FloatArray  # (468, 3): x, y in image pixels, z relative depth in pixels
    face_score: float  # 0..1, the model's "a face is in the crop" probability


def crop_transform(detection: Detection) -> np.ndarray:
    """The 2x3 affine from image pixels to the 192x192 model input for one detected face."""
    x1, y1, x2, y2 = detection.bbox
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    side = max(x2 - x1, y2 - y1) * _CROP_SCALE
    right_eye, left_eye = detection.landmarks[0], detection.landmarks[1]
    angle = float(np.degrees(np.arctan2(left_eye[1] - right_eye[1], left_eye[0] - right_eye[0])))
    m = cv2.getRotationMatrix2D((float(cx), float(cy)), angle, _SIZE / max(side, 1.0))
    m[0, 2] += _SIZE / 2 - cx
    m[1, 2] += _SIZE / 2 - cy
    return m


class FaceLandmarker:
    def __init__(self, model_path: Path, threads: int = 0) -> None:
        self.session = create_session(model_path, threads)
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        outputs = [o.name for o in self.session.get_outputs()]
        # The mesh output has 1404 values, the face flag one; their names come from the converter.
        sizes = {
            o.name: int(np.prod([d for d in o.shape if isinstance(d, int)]))
            for o in self.session.get_outputs()
        }
        self.mesh_name = next(n for n in outputs if sizes[n] == 468 * 3)
        self.score_name = next(n for n in outputs if sizes[n] == 1)
        self.infer(np.zeros((1, _SIZE, _SIZE, 3), np.float32))  # warm up before the first real frame

    def infer(self, blob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mesh, score = self.session.run([self.mesh_name, self.score_name], {self.input_name: blob})
        return mesh.reshape(-1, 468, 3), score.reshape(-1)

    def mesh(self, image: ImageArray, detection: Detection) -> FaceMesh:
        # Preprocess
        m = crop_transform(detection)
        crop = cv2.warpAffine(
            image, m, (_SIZE, _SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
        )
        blob = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32)[None] / 255.0
        # Forward
        mesh, logit = self.infer(blob)
        # Postprocess: back to image pixels through the inverse crop transform
        inv = cv2.invertAffineTransform(m)
        pts = mesh[0]
        xy = pts[:, :2] @ inv[:, :2].T + inv[:, 2]
        z = pts[:, 2:3] * float(np.hypot(inv[0, 0], inv[0, 1]))
        score = float(1.0 / (1.0 + np.exp(-float(logit[0]))))
        return FaceMesh(np.hstack([xy, z]).astype(np.float32), score)
