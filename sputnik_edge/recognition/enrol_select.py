"""Which frames of a clip become templates of one person: pure rules on per-frame observations.

A frame is usable when it holds exactly one strong face that passes the quality gate. From the
usable frames the best-quality frontal one is taken first, then the best slight turn to each
side, then more by quality; a frame too similar to one already chosen (a near-duplicate) is
skipped. The clip is refused as a whole when two people share the picture in many frames, when
the usable frames are not all one person, or when nothing is usable.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from sputnik_edge.vision.types import FloatArray

FRONTAL = "frontal"
TURNED_LEFT = "turned_left"  # nose toward the image's left edge
TURNED_RIGHT = "turned_right"
NEAR_DUPLICATE = "near_duplicate"
NOT_SAME_PERSON = "not_same_person"
NO_FACE = "no_face"
SEVERAL_FACES = "several_faces"


@dataclass(frozen=True, slots=True)
class FrameObservation:
    """What one sampled frame showed: ``faces`` strong faces, and for a single face its verdict."""

    frame: int
    faces: int
    reasons: tuple[str, ...] = ()  # quality-gate reasons of the single face; () = it passed
    quality: float = 0.0
    yaw: float = 0.0
    embedding: FloatArray | None = None  # only for usable frames

    @property
    def usable(self) -> bool:
        return self.faces == 1 and not self.reasons and self.embedding is not None


@dataclass(frozen=True, slots=True)
class SelectionRules:
    max_templates: int = 5
    # |yaw| up to this is frontal; beyond it (and within the gate's max_yaw_deg) a turn, and the
    # turn picked for each side is a slight one (up to slight_turn_deg) when the clip has one.
    frontal_yaw_deg: float = 12.0
    slight_turn_deg: float = 30.0
    # Two templates this similar add nothing: same pose, same light. Frames 0.1 s apart in the
    # webcam clip measure 0.75-0.94 (median 0.86), so 0.90 drops the stills between head turns.
    duplicate_similarity: float = 0.90
    # A usable frame this far from the clip's medoid is someone else (the low-confidence threshold).
    same_person_similarity: float = 0.40
    # Share of frames with a face where two or more strong faces are seen that refuses the clip.
    max_several_share: float = 0.2
    # Share of usable frames that may disagree with the medoid before the clip is refused.
    max_other_person_share: float = 0.1

    def __post_init__(self) -> None:
        if self.max_templates < 1:
            raise ValueError(f"max_templates must be >= 1, got {self.max_templates}")


@dataclass(frozen=True, slots=True)
class Choice:
    frame: int
    pose: str
    yaw: float
    quality: float
    embedding: FloatArray


@dataclass(frozen=True, slots=True)
class Selection:
    chosen: tuple[Choice, ...]
    refused: tuple[tuple[int, str], ...]  # (frame, reason), reason a quality code or one above

    def refused_by_reason(self) -> dict[str, int]:
        return dict(Counter(r for _, r in self.refused).most_common())


class ClipRefused(ValueError):
    """The clip as a whole cannot enrol one person; ``code`` is stable, the message says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def pose_of(yaw: float, rules: SelectionRules) -> str:
    if abs(yaw) <= rules.frontal_yaw_deg:
        return FRONTAL
    return TURNED_RIGHT if yaw > 0 else TURNED_LEFT


def _medoid(vectors: FloatArray) -> int:
    sims = vectors @ vectors.T
    return int(np.argmax(sims.mean(axis=1)))


def select_frames(observations: list[FrameObservation], rules: SelectionRules | None = None) -> Selection:
    """Chosen frames and the reason for every other one, or ClipRefused."""
    r = rules or SelectionRules()
    refused: list[tuple[int, str]] = []
    with_face = [o for o in observations if o.faces > 0]
    several = [o for o in with_face if o.faces > 1]
    if with_face and len(several) > r.max_several_share * len(with_face):
        raise ClipRefused(
            SEVERAL_FACES,
            f"two or more people in {len(several)} of {len(with_face)} frames with a face: "
            "enrolment from a clip needs one person alone in the picture",
        )
    usable = []
    for o in observations:
        if o.faces == 0:
            refused.append((o.frame, NO_FACE))
        elif o.faces > 1:
            refused.append((o.frame, SEVERAL_FACES))
        elif o.reasons or o.embedding is None:
            refused.append((o.frame, o.reasons[0] if o.reasons else NO_FACE))
        else:
            usable.append(o)
    if not usable:
        counts = Counter(reason for _, reason in refused).most_common()
        detail = ", ".join(f"{k}={v}" for k, v in counts) or "no frames"
        raise ClipRefused("no_usable_face", f"no usable face in {len(observations)} frame(s) ({detail})")
    vecs = np.stack([np.asarray(o.embedding, np.float32) for o in usable])
    centre = vecs[_medoid(vecs)]
    same = vecs @ centre >= r.same_person_similarity
    if (~same).sum() > r.max_other_person_share * len(usable):
        raise ClipRefused(
            NOT_SAME_PERSON,
            f"{int((~same).sum())} of {len(usable)} usable frames show someone else than the rest: "
            "enrolment from a clip needs one person",
        )
    refused += [(o.frame, NOT_SAME_PERSON) for o, ok in zip(usable, same, strict=True) if not ok]
    usable = [o for o, ok in zip(usable, same, strict=True) if ok]

    # Best frontal first, then the best of each turn, then the rest by quality.
    by_quality = sorted(usable, key=lambda o: -o.quality)
    order: list[FrameObservation] = []
    for pose in (FRONTAL, TURNED_LEFT, TURNED_RIGHT):
        slight = [o for o in by_quality if pose_of(o.yaw, r) == pose and abs(o.yaw) <= r.slight_turn_deg]
        best = next(iter(slight), None) or next((o for o in by_quality if pose_of(o.yaw, r) == pose), None)
        if best is not None:
            order.append(best)
    order += [o for o in by_quality if o not in order]
    chosen: list[Choice] = []
    for o in order:
        vec = np.asarray(o.embedding, np.float32)
        if len(chosen) >= r.max_templates:
            refused.append((o.frame, "enough_templates"))
        elif any(float(vec @ c.embedding) >= r.duplicate_similarity for c in chosen):
            refused.append((o.frame, NEAR_DUPLICATE))
        else:
            chosen.append(Choice(o.frame, pose_of(o.yaw, r), o.yaw, o.quality, vec))
    return Selection(tuple(sorted(chosen, key=lambda c: c.frame)), tuple(sorted(refused)))
