"""The liveness stage: one face mesh per face of an undecided track, folded into its verdict.

Shared by every camera (the onnxruntime session is safe to call from several threads); the state
of a track is keyed by (camera id, track id) and dropped when the track ends.
"""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import structlog

from sputnik_edge.config import LivenessSection, Settings
from sputnik_edge.liveness.landmarks import FaceLandmarker
from sputnik_edge.liveness.state import TrackLiveness
from sputnik_edge.liveness.types import UNDECIDED, LivenessSettings, LivenessVerdict
from sputnik_edge.vision.models import default_models_dir, verify
from sputnik_edge.vision.types import Detection, ImageArray

__all__ = ["LivenessStage", "build_liveness", "liveness_settings"]

log = structlog.get_logger(__name__)

# A mesh the model itself doubts (a hand, a blurred smear) would only add noise to the cues.
_MIN_FACE_SCORE = 0.5


class LivenessStage:
    def __init__(self, landmarker: FaceLandmarker, settings: LivenessSettings) -> None:
        self.landmarker = landmarker
        self.settings = settings
        self._tracks: dict[tuple[str, int], TrackLiveness] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_model(cls, model_path: Path, settings: LivenessSettings, threads: int = 0) -> LivenessStage:
        return cls(FaceLandmarker(model_path, threads), settings)

    def verdict(self, camera_id: str, track_id: int) -> LivenessVerdict:
        state = self._tracks.get((camera_id, track_id))
        return UNDECIDED if state is None else state.verdict

    def observe(
        self,
        camera_id: str,
        track_id: int,
        image: ImageArray,
        detection: Detection,
        grey: ImageArray | None = None,
    ) -> LivenessVerdict:
        """Add one frame of a track; a final verdict costs nothing more."""
        key = (camera_id, track_id)
        with self._lock:
            state = self._tracks.get(key)
            if state is None:
                state = self._tracks[key] = TrackLiveness(self.settings)
        if state.verdict.final or state.frames >= self.settings.max_frames:
            return state.verdict
        mesh = self.landmarker.mesh(image, detection)
        points = mesh.points if mesh.face_score >= _MIN_FACE_SCORE else None
        if grey is None:
            grey = np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), np.uint8)
        verdict = state.update(points, grey, detection.bbox)
        if verdict.final:
            log.info(
                "liveness_verdict",
                camera_id=camera_id,
                track_id=track_id,
                verdict=verdict.verdict,
                cues=list(verdict.cues),
                frames=verdict.frames,
            )
        return verdict

    def forget(self, camera_id: str, track_id: int) -> LivenessVerdict:
        with self._lock:
            state = self._tracks.pop((camera_id, track_id), None)
        return UNDECIDED if state is None else state.verdict

    def single(self, image: ImageArray, detection: Detection) -> LivenessVerdict:
        """One photo on its own: every cue needs frames over time, so ``undecided``."""
        state = TrackLiveness(self.settings)
        mesh = self.landmarker.mesh(image, detection)
        points = mesh.points if mesh.face_score >= _MIN_FACE_SCORE else None
        grey = np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), np.uint8)
        return state.update(points, grey, detection.bbox)


def liveness_settings(section: LivenessSection) -> LivenessSettings:
    return LivenessSettings(
        cues=tuple(section.cues),
        border_frames=section.border_frames,
        min_frames_live=section.min_frames_live,
        max_frames=section.max_frames,
    )


def build_liveness(settings: Settings) -> LivenessStage | None:
    """The stage for ``liveness.mode`` monitor/enforce (its model checked by sha256), else None."""
    if settings.liveness.mode == "off":
        return None
    rec = settings.recognition
    models_dir = Path(rec.models_dir) if rec.models_dir else default_models_dir()
    path = verify(models_dir, "face_landmark")
    return LivenessStage.from_model(path, liveness_settings(settings.liveness), threads=rec.threads)
