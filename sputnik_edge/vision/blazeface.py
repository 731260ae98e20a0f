"""BlazeFace (full range) through mediapipe's Tasks API: the optional second detector.

Installed with the ``mediapipe`` extra. The model is the ``face_detection_full_range_sparse.tflite``
that mediapipe 0.10 wheels ship, copied verbatim into ``models/`` by the prepare step and checked
against the manifest's sha256 like every other model; nothing is fetched at run time.

BlazeFace gives six keypoints (eyes, nose tip, mouth centre, ear tragions) and no mouth corners;
:func:`sputnik_edge.vision.align.five_points_from_blazeface` turns them into the 5 points the
aligner expects.
"""

from __future__ import annotations

import contextlib
import os
import re
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
from sputnik_edge.vision.detector import check_thresholds
from sputnik_edge.vision.models import ModelError
from sputnik_edge.vision.types import Detection

log = structlog.get_logger(__name__)

MEDIAPIPE_HINT = "pip install 'sputnik-edge[mediapipe]'"
# Candidates below this never reach Python; eval's second-chance pass asks for 0.3.
_FLOOR = 0.3
_MIN_SIDE = 10
# What LiteRT, TFLite and glog print: "INFO: [file.cc:12] ...", "WARNING: ...", "W0000 00:00:...".
_NATIVE_LINE = re.compile(r"^(?:(?:INFO|WARNING|ERROR|VERBOSE): |[IWEF]\d{4} )")
# One redirect of fd 2 at a time: a second one would save the first's temp file as "the" stderr.
_STDERR_LOCK = threading.RLock()
_STDERR_FD = 2

KeypointFace = tuple[float, tuple[float, float, float, float], npt.NDArray[np.float64]]


class DetectorUnavailableError(ModelError):
    """The BlazeFace detector cannot be built: mediapipe missing or broken, or the graph refused."""


def mediapipe_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("mediapipe") is not None


@contextlib.contextmanager
def _native_stderr_to_log() -> Iterator[None]:
    """Route what mediapipe's C++ side prints on fd 2 (LiteRT and glog banners) into our log.

    Technicians' log shippers expect one JSON object per line; these banners are plain text.
    Only model creation, the first call and close print anything, so only those are wrapped.
    Lines that are not such banners (another thread's log line, a traceback) are written back
    to stderr unchanged; the banners become ``mediapipe_native`` debug events, also when the
    wrapped call fails (they usually say why).
    """
    with _STDERR_LOCK:
        with contextlib.suppress(AttributeError, OSError, ValueError):
            sys.stderr.flush()
        try:
            saved = os.dup(_STDERR_FD)
        except OSError:  # no fd 2 at all (closed by a service manager): nothing to capture
            yield
            return
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), _STDERR_FD)
            try:
                yield
            finally:
                with contextlib.suppress(Exception):
                    sys.stderr.flush()
                os.dup2(saved, _STDERR_FD)
                os.close(saved)
                sink.seek(0)
                _replay(sink.read().decode("utf-8", "replace"))


def _replay(captured: str) -> None:
    passthrough = []
    for line in captured.splitlines():
        text = line.strip()
        if not text:
            continue
        if _NATIVE_LINE.match(text):
            log.debug("mediapipe_native", line=text)
        else:
            passthrough.append(line)
    if passthrough:
        with contextlib.suppress(Exception):
            sys.stderr.write("\n".join(passthrough) + "\n")
            sys.stderr.flush()


class _Task:
    """The mediapipe task with the lock that serialises calls and the close that ends them.

    Kept apart from the detector so the exit hook and the weakref finalizer can close it
    without keeping the detector alive.
    """

    def __init__(self, task: Any) -> None:
        self.task = task
        self.lock = threading.Lock()
        self.closed = False

    def detect(self, frame: Any) -> Any:
        with self.lock:
            if self.closed:
                raise RuntimeError("the BlazeFace detector is closed")
            return self.task.detect(frame)

    def close(self) -> None:
        # Under the lock, so a detect in flight finishes before the graph is freed.
        with self.lock:
            if self.closed:
                return
            self.closed = True
            with _native_stderr_to_log():
                self.task.close()


class BlazeFaceDetector:
    """Same contract as :class:`~sputnik_edge.vision.detector.YuNetDetector`: faces sorted by
    score with boxes, 5 landmarks (mouth corners derived) and scores in input pixel coordinates.

    BlazeFace letterboxes every frame into its 192x192 input itself, so YuNet's
    ``detect_max_side`` and onnxruntime's ``threads`` do not apply.
    """

    def __init__(
        self,
        model_path: Path,
        *,
        score_threshold: float = 0.6,
        nms_threshold: float = 0.3,
    ) -> None:
        check_thresholds(score_threshold, nms_threshold)
        self.model_path = Path(model_path)
        if not self.model_path.is_file():
            raise FileNotFoundError(f"BlazeFace model {self.model_path} not found")
        try:
            import mediapipe as mp
            from mediapipe.tasks.python import BaseOptions, vision
        except ImportError as exc:
            raise DetectorUnavailableError(
                f"recognition.detector = 'blazeface' needs mediapipe, which cannot be imported ({exc}): "
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
        with _native_stderr_to_log():
            try:
                self._task = _Task(vision.FaceDetector.create_from_options(options))
            except (RuntimeError, ValueError, OSError) as exc:
                raise DetectorUnavailableError(
                    f"mediapipe refused BlazeFace model {self.model_path}: {exc}"
                ) from exc
            # Warm up (first-call allocations, and the one-time banner this prints).
            self.detect(np.zeros((360, 640, 3), dtype=np.uint8))
        self._finalizer = weakref.finalize(self, self._task.close)
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
        """Free the mediapipe graph; later calls raise RuntimeError. Idempotent."""
        self._finalizer()

    def detect(self, image_bgr: AnyImage, score_threshold: float | None = None) -> list[Detection]:
        """Faces sorted by score, best first; [] when none. Accepts BGR, BGRA or grey uint8."""
        return [
            Detection(bbox=bbox, landmarks=five_points_from_blazeface(kps).astype(np.float32), score=score)
            for score, bbox, kps in self.keypoints(image_bgr, score_threshold)
        ]

    def keypoints(self, image_bgr: AnyImage, score_threshold: float | None = None) -> list[KeypointFace]:
        """BlazeFace's own output, best first: (score, (x1, y1, x2, y2), (6, 2) keypoints in pixels:
        right eye, left eye, nose tip, mouth centre, right ear tragion, left ear tragion)."""
        threshold = self.score_threshold if score_threshold is None else score_threshold
        img = ensure_bgr(image_bgr)
        h, w = img.shape[:2]
        if min(h, w) < _MIN_SIDE:
            return []
        rgb = np.ascontiguousarray(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
        result = self._task.detect(self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=rgb))
        out: list[KeypointFace] = []
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
