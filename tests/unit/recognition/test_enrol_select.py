"""Frame selection for enrolment from a clip, on hand-made observations with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from sputnik_edge.recognition.enrol_select import (
    ClipRefused,
    FrameObservation,
    SelectionRules,
    pose_of,
    select_frames,
)

RULES = SelectionRules()


def unit(seed: int, base: np.ndarray | None = None, spread: float = 0.0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=128).astype(np.float32)
    if base is not None:
        v = base + spread * v / np.linalg.norm(v)
    return (v / np.linalg.norm(v)).astype(np.float32)


PERSON = unit(1)


def obs(
    frame: int, yaw: float, quality: float, spread: float = 0.6, seed: int | None = None
) -> FrameObservation:
    return FrameObservation(frame, 1, (), quality, yaw, unit(seed or frame + 100, PERSON, spread))


def test_pose_buckets() -> None:
    assert pose_of(0, RULES) == pose_of(-12, RULES) == "frontal"
    assert pose_of(20, RULES) == "turned_right" and pose_of(-20, RULES) == "turned_left"


def test_best_frontal_and_slight_turns_first_then_quality() -> None:
    frames = [
        obs(0, 2, 0.50),
        obs(1, 5, 0.70),  # best frontal
        obs(2, -20, 0.40),  # the slight left turn
        obs(3, -38, 0.65),  # a strong left turn: better quality, but not slight
        obs(4, 25, 0.30),  # the only right turn
        obs(5, 0, 0.60),
    ]
    sel = select_frames(frames, SelectionRules(max_templates=4))
    assert [c.frame for c in sel.chosen] == [1, 2, 3, 4]
    assert {c.frame: c.pose for c in sel.chosen}[2] == "turned_left"
    assert sel.refused_by_reason() == {"enough_templates": 2}


def test_near_duplicates_are_skipped() -> None:
    same = unit(7, PERSON, 0.6)
    frames = [FrameObservation(i, 1, (), 0.5 + i / 100, 0.0, same) for i in range(4)] + [obs(9, 1, 0.1)]
    sel = select_frames(frames)
    assert [c.frame for c in sel.chosen] == [3, 9]
    assert sel.refused_by_reason() == {"near_duplicate": 3}


def test_unusable_frames_say_why() -> None:
    frames = [
        FrameObservation(0, 0),
        FrameObservation(1, 1, ("pose_yaw",), 0.2, 50.0),
        FrameObservation(2, 2, (), 0.4),
        obs(3, 0, 0.5),
    ]
    sel = select_frames(frames, SelectionRules(max_several_share=0.5))
    assert [c.frame for c in sel.chosen] == [3]
    assert dict(sel.refused) == {0: "no_face", 1: "pose_yaw", 2: "several_faces"}


def test_clip_refusals() -> None:
    with pytest.raises(ClipRefused, match="two or more people in 2 of 4") as e:
        select_frames([FrameObservation(i, 2 if i < 2 else 1, (), 0.5, 0, PERSON) for i in range(4)])
    assert e.value.code == "several_faces"
    with pytest.raises(ClipRefused, match=r"no usable face in 2 frame\(s\) \(no_face=1, blurry=1\)"):
        select_frames([FrameObservation(0, 0), FrameObservation(1, 1, ("blurry",))])
    other = unit(99)
    mixed = [obs(i, 0, 0.5) for i in range(5)] + [
        FrameObservation(5 + i, 1, (), 0.5, 0, other) for i in range(5)
    ]
    with pytest.raises(ClipRefused, match="show someone else") as e:
        select_frames(mixed)
    assert e.value.code == "not_same_person"


def test_one_stray_frame_of_someone_else_is_dropped_not_fatal() -> None:
    frames = [obs(i, 0, 0.5, spread=0.3) for i in range(10)] + [FrameObservation(10, 1, (), 0.9, 0, unit(99))]
    sel = select_frames(frames)
    assert 10 not in [c.frame for c in sel.chosen]
    assert (10, "not_same_person") in sel.refused
