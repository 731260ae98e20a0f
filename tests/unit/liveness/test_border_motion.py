"""The border cue against door and window frames: a person moving in front of a bright mullioned
window (#15's synthetic backlight scenes) is framed by straight edges in every frame, but they stay
put while the face moves, so the track is never judged ``spoof``; a held phone's edges move with
the face and still decide ``spoof``."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest

from sputnik_edge.liveness import cues
from sputnik_edge.liveness.landmarks import FaceLandmarker
from sputnik_edge.liveness.state import TrackLiveness
from sputnik_edge.liveness.types import LivenessSettings
from sputnik_edge.tools.paths import dev_people
from sputnik_edge.tools.synthetic_backlight import backlit_scene
from sputnik_edge.vision.detector import YuNetDetector
from sputnik_edge.vision.imageio import load_image
from tests.conftest import require
from tests.unit.liveness.conftest import read_frames

FRAMES = 12
STEP_PX = 3  # the person drifts 3 px a frame (36 px over the track) while the window stays


def grey(img: np.ndarray) -> np.ndarray:
    return np.asarray(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), np.uint8)


@pytest.fixture(scope="module")
def window_tracks(faces_dir: Path, yunet: YuNetDetector) -> list[list[np.ndarray]]:
    """Each dev person in front of the window, moving sideways (one way or the other) frame by frame."""
    tracks = []
    for i, path in enumerate(sorted(dev_people(faces_dir).values())):
        photo = load_image(path)
        faces = yunet.detect(photo)
        if len(faces) != 1:
            continue
        sign = 1 if i % 2 == 0 else -1
        frames = [
            backlit_scene(photo, faces[0], "mild", seed=k, offset=(sign * STEP_PX * k, k % 2)).image
            for k in range(FRAMES)
        ]
        tracks.append(frames)
    require(len(tracks) >= 5, "dev photos missing")
    return tracks


def run_track(frames: list[np.ndarray], yunet: YuNetDetector, landmarker: FaceLandmarker) -> TrackLiveness:
    state = TrackLiveness(LivenessSettings())
    for img in frames:
        dets = yunet.detect(img)
        if not dets:
            continue
        det = max(dets, key=lambda d: d.width)
        state.update(landmarker.mesh(img, det).points, grey(img), det.bbox)
        if state.verdict.final:
            break
    return state


def test_window_mullions_frame_every_face(
    window_tracks: list[list[np.ndarray]], yunet: YuNetDetector
) -> None:
    # The premise: one frame cannot tell the mullions from a phone's bezel (the old cue said 1.0,
    # i.e. spoof after 3 frames, for every one of these people).
    scores = []
    for frames in window_tracks:
        for img in frames[:3]:
            det = max(yunet.detect(img), key=lambda d: d.width)
            scores.append(cues.border_score(grey(img), det.bbox))
    assert sum(s == 1.0 for s in scores) >= 0.8 * len(scores)


def test_moving_person_before_a_window_is_not_spoof(
    window_tracks: list[list[np.ndarray]], yunet: YuNetDetector, landmarker: FaceLandmarker
) -> None:
    states = [run_track(frames, yunet, landmarker) for frames in window_tracks]
    spoofed = [s.verdict.as_dict() for s in states if s.verdict.verdict == "spoof"]
    assert spoofed == []  # BPCER 0 on these scenes
    # The cue did look, and saw the edges stay while the face moved.
    assert all(s.border_hits == 0 for s in states)
    assert sum(s.border_fixed for s in states) >= len(states) * (FRAMES // 2)


def test_still_edges_while_the_face_moves_are_no_border(
    window_tracks: list[list[np.ndarray]], yunet: YuNetDetector
) -> None:
    # The border cue alone, frame by frame, as the state folds it: never enough for spoof.
    for frames in window_tracks:
        state = TrackLiveness(dataclasses.replace(LivenessSettings(), cues=("border",)))
        for img in frames:
            det = max(yunet.detect(img), key=lambda d: d.width)
            state.update(None, grey(img), det.bbox)
        assert state.verdict.verdict == "undecided", state.verdict.as_dict()


def test_phone_edges_move_with_the_face(liveness_dir: Path, yunet: YuNetDetector) -> None:
    state = TrackLiveness(dataclasses.replace(LivenessSettings(), cues=("border",)))
    for img in read_frames(liveness_dir / "webcam_phone_replay.webm", step=3, limit=20):
        det = max(yunet.detect(img), key=lambda d: d.width)
        state.update(None, grey(img), det.bbox)
        if state.verdict.final:
            break
    assert state.verdict.verdict == "spoof" and state.verdict.cues == ("border",)
    assert state.border_hits > state.border_fixed
