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
from sputnik_edge.vision.exposure import BacklightSettings, enhance, is_backlit
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
    enhanced: bool = False  # found by the backlight pass, aligned from the contrast-enhanced copy


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
        spin_within_run=cfg.spin_within_run,
    )


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def merge_passes(first: list[FaceCandidate], second: list[FaceCandidate]) -> list[FaceCandidate]:
    """One candidate per face: a second-pass face replaces the first-pass one it overlaps unless
    failed the gate and the new one passes it, and a face only the second pass saw is added."""
    out = list(first)
    for cand in second:
        hit = next((i for i, c in enumerate(out) if iou(c.detection.bbox, cand.detection.bbox) > 0.4), None)
        if hit is None:
            out.append(cand)
        elif cand.quality.ok and not out[hit].quality.ok:
            out[hit] = cand
    return sorted(out, key=lambda c: -c.detection.score)


class Recognizer:
    def __init__(
        self,
        detector: FaceDetector,
        embedder: SFaceEmbedder,
        limits: QualityLimits,
        thresholds: Thresholds,
        gallery: Gallery | None = None,
        backlight: BacklightSettings | None = None,
        enrol_embedder: Callable[[], SFaceEmbedder] | None = None,
    ) -> None:
        self.detector = detector
        self.embedder = embedder
        self.limits = limits
        self.thresholds = thresholds
        self._gallery = gallery or Gallery.empty()
        self.backlight = backlight  # None: no second pass on backlit frames
        self._enrol_factory = enrol_embedder
        self._enrol_embedder: SFaceEmbedder | None = None

    @classmethod
    def from_config(cls, cfg: RecognitionSection, gallery: Gallery | None = None) -> Recognizer:
        models_dir = Path(cfg.models_dir) if cfg.models_dir else default_models_dir()
        detector = create_detector(cfg, models_dir)
        name = embedder_model_name(cfg.embedder_precision)
        verify(models_dir, name)
        manifest = load_manifest(models_dir)
        spin = cfg.spin_within_run
        embedder = SFaceEmbedder(models_dir / manifest[name].file, threads=cfg.threads, spin_within_run=spin)
        thresholds = Thresholds(cfg.match_threshold, cfg.low_confidence_threshold, cfg.min_margin)
        enrol = None
        if name != "embedder":
            # Templates are made once per photo and kept for years, so they get the float model
            # whatever precision identifies: a gallery never depends on that setting. Loaded on
            # first use: a door device that never enrols never holds it.
            def enrol() -> SFaceEmbedder:
                return SFaceEmbedder(
                    verify(models_dir, "embedder"), threads=cfg.threads, spin_within_run=spin
                )

        backlight = BacklightSettings() if cfg.backlight_pass else None
        return cls(
            detector, embedder, quality_limits(cfg), thresholds, gallery, backlight, enrol_embedder=enrol
        )

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
        """Detect, align and judge quality of every face in the image (with the backlight pass)."""
        return self.backlight_pass(image, self._candidates(image, image, enhanced=False))

    def backlight_pass(self, image: ImageArray, first: list[FaceCandidate]) -> list[FaceCandidate]:
        """A backlit frame where no face passed the gate gets a second detector pass on a
        contrast-enhanced copy; what it finds is aligned from that copy and replaces the
        first-pass faces that failed the gate. Other frames cost one count over a subsampled
        frame. Faces that passed keep their untouched crop: normalising every crop lowered
        calibration accuracy (README, "Real doors")."""
        s = self.backlight
        if s is None or any(c.quality.ok for c in first) or not is_backlit(image, s):
            return first
        second = self._candidates(enhance(image, s), image, enhanced=True)
        return merge_passes(first, second)

    def _candidates(self, source: ImageArray, frame: ImageArray, *, enhanced: bool) -> list[FaceCandidate]:
        out = []
        for det in self.detect(source):
            aligned = self.align(source, det)
            out.append(FaceCandidate(det, aligned, self.judge(det, aligned, frame.shape), enhanced))
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
