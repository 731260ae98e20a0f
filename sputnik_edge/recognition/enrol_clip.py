"""A clip's frames through the recognizer for enrolment: one ``FrameObservation`` per sampled frame
(the daemon's detector, backlight pass and quality gate; only usable single faces are embedded),
then ``enrol_select`` picks the templates. Shared by `enroll --video/--camera` and the office."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from contextlib import AbstractContextManager

from sputnik_edge.recognition.enrol_select import FrameObservation, Selection, SelectionRules, select_frames
from sputnik_edge.recognition.recognizer import Recognizer
from sputnik_edge.vision.types import ImageArray


def observe(
    rec: Recognizer,
    frames: Iterable[tuple[int, ImageArray]],
    lock: AbstractContextManager[object] | None = None,
) -> list[FrameObservation]:
    """``lock`` is held per frame, so a shared recognizer serves other callers between frames."""
    out = []
    guard = lock if lock is not None else contextlib.nullcontext()
    for i, img in frames:
        with guard:
            cands = rec.analyze(img)
            # Weak detections (a poster, a reflection) do not count as a second person, as for photos.
            strong = [c for c in cands if c.detection.score >= rec.limits.min_det_score]
            # The enrolment embedder (the float model when identification runs int8): these
            # embeddings become templates, kept for years, as from `enroll` with a photo.
            usable = len(strong) == 1 and strong[0].quality.ok
            emb = rec.enrol_embedder.embed(strong[0].aligned[None])[0] if usable else None
        if emb is not None:
            q = strong[0].quality
            out.append(FrameObservation(i, 1, (), q.score, q.yaw, emb))
        elif strong:
            q = strong[0].quality
            out.append(FrameObservation(i, len(strong), q.reasons, q.score, q.yaw))
        elif cands:
            q = max(cands, key=lambda k: k.detection.score).quality
            out.append(FrameObservation(i, 1, q.reasons, q.score, q.yaw))
        else:
            out.append(FrameObservation(i, 0))
    return out


def select_clip(
    rec: Recognizer,
    frames: Iterable[tuple[int, ImageArray]],
    rules: SelectionRules,
    lock: AbstractContextManager[object] | None = None,
) -> Selection:
    """The chosen templates, or ClipRefused (also for a clip without a single frame)."""
    return select_frames(observe(rec, frames, lock), rules)
