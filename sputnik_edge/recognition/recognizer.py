"""Image in, faces with decisions out: detect -> align -> quality -> embed -> match.

The same object serves the camera pipeline, the snapshot gateway and the CLI, so a face gets
the same verdict whichever way it arrives.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sputnik_edge.config import RecognitionSection
from sputnik_edge.recognition.gallery import Gallery, Thresholds
from sputnik_edge.recognition.types import FaceResult, MatchResult
from sputnik_edge.vision.align import align_face
from sputnik_edge.vision.detector import FaceDetector, YuNetDetector
from sputnik_edge.vision.embedder import SFaceEmbedder
from sputnik_edge.vision.models import (
    default_models_dir,
    detector_model_name,
    embedder_model_name,
    load_manifest,
    verify,
)
from sputnik_edge.vision.quality import QualityLimits, assess
from sputnik_edge.vision.types import Detection, FloatArray, ImageArray, ModelInfo, Quality


@dataclass(frozen=True, slots=True)
class FaceCandidate:
    """A detected face after alignment and the quality gate, before embedding."""

    detection: Detection
    aligned: ImageArray
    quality: Quality


class EnrollmentError(ValueError):
    """A photo that cannot become a template; ``code`` is stable for summaries."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def quality_limits(cfg: RecognitionSection) -> QualityLimits:
    return QualityLimits(
        min_face_px=cfg.min_face_px,
        min_blur=cfg.min_blur,
        max_yaw_deg=cfg.max_yaw_deg,
        max_pitch_deg=cfg.max_pitch_deg,
        min_brightness=cfg.min_brightness,
        max_brightness=cfg.max_brightness,
        min_det_score=cfg.quality_min_det_score,
    )


def create_detector(cfg: RecognitionSection, models_dir: Path) -> FaceDetector:
    """The configured detector, its model file checked against the manifest first."""
    if cfg.detector == "blazeface":
        from sputnik_edge.vision.blazeface import BlazeFaceDetector

        return BlazeFaceDetector(
            verify(models_dir, detector_model_name(cfg.detector)),
            score_threshold=cfg.det_score_threshold,
            nms_threshold=cfg.nms_threshold,
        )
    return YuNetDetector(
        verify(models_dir, "detector"),
        score_threshold=cfg.det_score_threshold,
        nms_threshold=cfg.nms_threshold,
        max_side=cfg.detect_max_side,
        threads=cfg.threads,
    )


class Recognizer:
    def __init__(
        self,
        detector: FaceDetector,
        embedder: SFaceEmbedder,
        limits: QualityLimits,
        thresholds: Thresholds,
        gallery: Gallery | None = None,
        enrol_embedder: Callable[[], SFaceEmbedder] | None = None,
    ) -> None:
        self.detector = detector
        self.embedder = embedder
        self.limits = limits
        self.thresholds = thresholds
        self._gallery = gallery or Gallery.empty()
        self._enrol_factory = enrol_embedder
        self._enrol_embedder: SFaceEmbedder | None = None

    @classmethod
    def from_config(cls, cfg: RecognitionSection, gallery: Gallery | None = None) -> Recognizer:
        models_dir = Path(cfg.models_dir) if cfg.models_dir else default_models_dir()
        detector = create_detector(cfg, models_dir)
        name = embedder_model_name(cfg.embedder_precision)
        verify(models_dir, name)
        manifest = load_manifest(models_dir)
        embedder = SFaceEmbedder(models_dir / manifest[name].file, threads=cfg.threads)
        thresholds = Thresholds(cfg.match_threshold, cfg.low_confidence_threshold, cfg.min_margin)
        enrol = None
        if name != "embedder":
            # Templates are made once per photo and kept for years, so they get the float model
            # whatever precision identifies: a gallery never depends on that setting. Loaded on
            # first use: a door device that never enrols never holds it.
            def enrol() -> SFaceEmbedder:
                return SFaceEmbedder(verify(models_dir, "embedder"), threads=cfg.threads)

        return cls(detector, embedder, quality_limits(cfg), thresholds, gallery, enrol)

    # The gallery is replaced as a whole; readers take one reference per call, so a swap in
    # another thread never shows them a half-updated matrix.
    @property
    def gallery(self) -> Gallery:
        return self._gallery

    def set_gallery(self, gallery: Gallery) -> None:
        self._gallery = gallery

    @property
    def model_info(self) -> ModelInfo:
        return self.embedder.model_info

    @property
    def model_id(self) -> str:
        return self.embedder.model_info.model_id

    def analyze(self, image: ImageArray) -> list[FaceCandidate]:
        """Detect, align and judge quality of every face in the image."""
        out = []
        for det in self.detect(image):
            aligned = self.align(image, det)
            out.append(FaceCandidate(det, aligned, self.judge(det, aligned, image.shape)))
        return out

    # analyze's three steps as methods: the bench times these, the ones the daemon runs.
    def detect(self, image: ImageArray) -> list[Detection]:
        return self.detector.detect(image)

    def align(self, image: ImageArray, detection: Detection) -> ImageArray:
        return align_face(image, detection.landmarks)

    def judge(self, detection: Detection, aligned: ImageArray, image_shape: tuple[int, ...]) -> Quality:
        return assess(detection, aligned, image_shape, self.limits)

    @property
    def enrol_embedder(self) -> SFaceEmbedder:
        """The embedder that makes templates: the float model when identification runs int8."""
        if self._enrol_factory is None:
            return self.embedder
        if self._enrol_embedder is None:
            emb = self._enrol_factory()
            if emb.model_info.model_id != self.model_id:
                raise ValueError(
                    f"enrolment model {emb.model_info.model_id!r} writes other templates than "
                    f"the identification model {self.model_id!r}"
                )
            self._enrol_embedder = emb
        return self._enrol_embedder

    def embed(self, candidates: list[FaceCandidate]) -> FloatArray:
        if not candidates:
            return np.zeros((0, 128), np.float32)
        return self.embedder.embed(np.stack([c.aligned for c in candidates]))

    def match(self, embeddings: FloatArray) -> list[MatchResult]:
        return self.gallery.match(embeddings, self.thresholds)

    def recognize(self, image: ImageArray) -> list[FaceResult]:
        """Every face with its decision; faces failing the quality gate are not embedded."""
        candidates = self.analyze(image)
        good = [c for c in candidates if c.quality.ok]
        embeddings = self.embed(good)
        matches = self.match(embeddings) if len(good) else []
        by_id = {id(c): (embeddings[i], matches[i]) for i, c in enumerate(good)}
        results = []
        for c in candidates:
            emb, m = by_id.get(id(c), (None, None))
            results.append(FaceResult(c.detection, c.quality, emb, m))
        return results

    def enrollment_template(self, image: ImageArray, name: str = "image") -> tuple[FloatArray, Quality]:
        """The single face of an enrolment photo as a template, or EnrollmentError saying why not."""
        candidates = self.analyze(image)
        # Weak detections (a poster, a painting) do not count as a second person.
        strong = [c for c in candidates if c.detection.score >= self.limits.min_det_score]
        if not strong:
            if candidates:
                best = max(candidates, key=lambda c: c.detection.score)
                raise EnrollmentError(
                    "low_quality",
                    f"{name}: face rejected by the quality gate ({', '.join(best.quality.reasons)})",
                )
            raise EnrollmentError("no_face", f"{name}: no face found")
        if len(strong) > 1:
            raise EnrollmentError(
                "several_faces", f"{name}: {len(strong)} faces found, enrolment needs exactly one"
            )
        cand = strong[0]
        if not cand.quality.ok:
            raise EnrollmentError(
                "low_quality",
                f"{name}: face rejected by the quality gate ({', '.join(cand.quality.reasons)})",
            )
        return self.enrol_embedder.embed(cand.aligned[None])[0], cand.quality
