"""BlazeFace (full range) through mediapipe's Tasks API: the optional second detector.

Installed with the ``mediapipe`` extra. The model is the ``face_detection_full_range_sparse.tflite``
that mediapipe 0.10 wheels ship, copied verbatim into ``models/`` by the prepare step and checked
against the manifest's sha256 like every other model; nothing is fetched at run time.

BlazeFace gives six keypoints (eyes, nose tip, mouth centre, ear tragions) and no mouth corners, so
the corners the 5-point alignment needs are placed from the mouth centre along the eye axis
(:func:`sputnik_edge.vision.align.five_points_from_blazeface`).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import structlog

from sputnik_edge.vision.align import AnyImage, ensure_bgr, five_points_from_blazeface
from sputnik_edge.vision.types import Detection

log = structlog.get_logger(__name__)

MEDIAPIPE_HINT = "pip install 'sputnik-edge[mediapipe]'"
# Candidates below this never reach Python; eval's second-chance pass asks for 0.3.
_FLOOR = 0.3
_MIN_SIDE = 10


class MediapipeMissingError(ImportError):
    """recognition.detector = "blazeface" without the mediapipe extra installed."""


def mediapipe_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("mediapipe") is not None


@contextlib.contextmanager
def _native_stderr_to_log() -> Iterator[None]:
    """Route what mediapipe's C++ side prints on fd 2 (LiteRT and glog banners) into our log.

    Technicians' log shippers expect one JSON object per line; these banners are plain text.
    Only model creation, the first call and close print anything, so only those are wrapped.
    Our own JSON lines written meanwhile by other threads are passed through unchanged.
    """
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), fd)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os.dup2(saved, fd)
            os.close(saved)
            sink.seek(0)
            captured = sink.read().decode("utf-8", "replace")
    for line in captured.splitlines():
        text = line.strip()
        if not text:
            continue
        if text.startswith("{"):
            with contextlib.suppress(ValueError):
                json.loads(text)
                sys.stderr.write(line + "\n")
                continue
        log.debug("mediapipe_native", line=text)


def _close_task(task: Any) -> None:
    with _native_stderr_to_log():
        task.close()


class BlazeFaceDetector:
    """Same contract as :class:`~sputnik_edge.vision.detector.YuNetDetector`: faces sorted by
    score with boxes, 5 landmarks (two of them derived) and scores in input pixel coordinates."""

    def __init__(
        self,
        model_path: Path,
        *,
        score_threshold: float = 0.6,
        nms_threshold: float = 0.3,
    ) -> None:
        if not 0.0 <= score_threshold <= 1.0:
            raise ValueError(f"score_threshold must be in [0, 1], got {score_threshold}")
        if not 0.0 < nms_threshold <= 1.0:
            raise ValueError(f"nms_threshold must be in (0, 1], got {nms_threshold}")
        self.model_path = Path(model_path)
        if not self.model_path.is_file():
            raise FileNotFoundError(f"BlazeFace model {self.model_path} not found")
        try:
            import mediapipe as mp
            from mediapipe.tasks.python import BaseOptions, vision
        except ImportError as exc:
            raise MediapipeMissingError(
                "recognition.detector = 'blazeface' needs mediapipe, which is not installed: "
                + MEDIAPIPE_HINT
            ) from exc
        self.score_threshold = score_threshold
        self.nms_threshold = nms_threshold
        self._mp = mp
        options = vision.FaceDetectorOptions(
            base_options=BaseOptions(model_asset_path=str(self.model_path)),
            running_mode=vision.RunningMode.IMAGE,
            min_detection_confidence=min(score_threshold, _FLOOR),
            min_suppression_threshold=nms_threshold,
        )
        # The task keeps per-call state in its graph; the camera threads and the gateway share it.
        self._lock = threading.Lock()
        with _native_stderr_to_log():
            self._task = vision.FaceDetector.create_from_options(options)
            # Warm up (first-call allocations, and the one-time banner this prints).
            self.detect(np.zeros((360, 640, 3), dtype=np.uint8))
        self._finalizer = weakref.finalize(self, _close_task, self._task)
        # mediapipe runs every C call on a ThreadPoolExecutor, and those are shut down when
        # threading winds down, before atexit and weakref finalizers run; closing any later
        # prints a traceback. threading's own exit hooks run in reverse order, so this one runs
        # before concurrent.futures shuts the executor down.
        self._finalizer.atexit = False
        register = getattr(threading, "_register_atexit", None)
        if register is not None:
            with contextlib.suppress(RuntimeError):  # already shutting down
                register(self._finalizer)
        log.info("detector_ready", model=self.model_path.name, backend="blazeface")

    def close(self) -> None:
        self._finalizer()

    def detect(self, image_bgr: AnyImage, score_threshold: float | None = None) -> list[Detection]:
        """Faces sorted by score, best first; [] when none. Accepts BGR, BGRA or grey uint8."""
        return [
            Detection(bbox=bbox, landmarks=five_points_from_blazeface(kps).astype(np.float32), score=score)
            for score, bbox, kps in self.keypoints(image_bgr, score_threshold)
        ]

    def keypoints(
        self, image_bgr: AnyImage, score_threshold: float | None = None
    ) -> list[tuple[float, tuple[float, float, float, float], npt.NDArray[np.float64]]]:
        """BlazeFace's own output, best first: (score, (x1, y1, x2, y2), (6, 2) keypoints in pixels:
        right eye, left eye, nose tip, mouth centre, right ear tragion, left ear tragion)."""
        threshold = self.score_threshold if score_threshold is None else score_threshold
        img = ensure_bgr(image_bgr)
        h, w = img.shape[:2]
        if min(h, w) < _MIN_SIDE:
            return []
        rgb = np.ascontiguousarray(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
        frame = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=rgb)
        with self._lock:
            result = self._task.detect(frame)
        out = []
        for det in result.detections:
            score = float(det.categories[0].score) if det.categories else 0.0
            kps = det.keypoints or []
            if score < threshold or len(kps) < 4:
                continue
            points = np.array([[k.x * w, k.y * h] for k in kps], dtype=np.float64)
            box = det.bounding_box
            x1, y1 = float(box.origin_x), float(box.origin_y)
            out.append((score, (x1, y1, x1 + float(box.width), y1 + float(box.height)), points))
        out.sort(key=lambda item: -item[0])
        return out
