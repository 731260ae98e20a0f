"""Typed results of the ``imagesets`` and ``embedders`` bench sections (kept beside the shared
``results`` module so that one only gains two fields)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sputnik_edge.tools.bench.codec import OMIT


@dataclass(frozen=True, slots=True, kw_only=True)
class SetTime:
    """One pipeline on one image set: sums of per-image medians over images and over its faces."""

    ms_per_image: float
    ms_per_face: float
    faces: int


@dataclass(frozen=True, slots=True, kw_only=True)
class FaceRatio:
    """reference / ours, per image (sum of per-image medians) and per face (each pipeline's time
    divided by the faces *it* found)."""

    per_image: float | None
    per_face: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Interleaved:
    """Ours and the reference on the same set timed image by image instead of in blocks: each
    runs right after the other, with the other's weights in the cache."""

    ours: SetTime
    opencv_zoo: SetTime
    ratio_opencv_zoo: FaceRatio


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageSet:
    name: str
    description: str
    images: int
    sizes: str
    rounds: int
    ours: SetTime
    opencv_zoo: SetTime
    face_recognition: SetTime | None = field(default=None, metadata=OMIT)
    ratio_opencv_zoo: FaceRatio
    ratio_face_recognition: FaceRatio | None = field(default=None, metadata=OMIT)
    interleaved: Interleaved | None = field(default=None, metadata=OMIT)


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageSetsResult:
    ratio_definition: str
    # How the main figures were timed: "blocks" (each pipeline through the set in turn) or, in
    # files written before it was recorded, "interleaved" (image by image).
    order: str = "interleaved"
    face_recognition_available: bool
    sets: list[ImageSet]

    def by_name(self, name: str) -> ImageSet | None:
        return next((s for s in self.sets if s.name == name), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class EmbedderCandidate:
    """One way to run SFace, timed per face on the same aligned crops, interleaved."""

    name: str
    model: str
    options: str
    ms_per_face_batch1: float
    ms_per_face_batch4: float
    speedup_batch1: float | None  # float32 default session / this
    acc_best: float | None = field(default=None, metadata=OMIT)  # calib pairs, models only
    kept: bool
    note: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EmbedderCandidates:
    crops: int
    rounds: int
    threads: int
    candidates: list[EmbedderCandidate]
