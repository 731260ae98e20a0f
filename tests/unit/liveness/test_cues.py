"""The liveness cues on real frames (the shared liveness clips, the dev photos made into synthetic
attacks), and the ablations: every cue switched off loses an attack or a live person it caught."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest

from sputnik_edge.liveness import cues
from sputnik_edge.liveness.landmarks import FaceLandmarker
from sputnik_edge.liveness.state import TrackLiveness
from sputnik_edge.liveness.types import LivenessSettings, LivenessVerdict
from sputnik_edge.tools.paths import dev_people
from sputnik_edge.tools.synthetic_attacks import render_attack
from sputnik_edge.vision.detector import YuNetDetector
from sputnik_edge.vision.imageio import load_image
from tests.unit.liveness.conftest import read_frames

ALL = LivenessSettings()


def grey(img: np.ndarray) -> np.ndarray:
    return np.asarray(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), np.uint8)


def judge(
    frames: list[np.ndarray], yunet: YuNetDetector, landmarker: FaceLandmarker, cue_names: tuple[str, ...]
) -> LivenessVerdict:
    """One track over the frames (the largest face of each), as the engine feeds the stage."""
    state = TrackLiveness(dataclasses.replace(ALL, cues=cue_names))
    for img in frames:
        dets = yunet.detect(img)
        if not dets:
            continue
        det = max(dets, key=lambda d: d.width)
        mesh = landmarker.mesh(img, det)
        verdict = state.update(mesh.points, grey(img), det.bbox)
        if verdict.final:
            break
    return state.verdict


@pytest.fixture(scope="module")
def live_frames(liveness_dir: Path) -> list[np.ndarray]:
    return read_frames(liveness_dir / "webcam_live.webm", step=3)


@pytest.fixture(scope="module")
def replay_frames(liveness_dir: Path) -> list[np.ndarray]:
    return read_frames(liveness_dir / "webcam_phone_replay.webm", step=3, limit=40)


@pytest.fixture(scope="module")
def cutouts(faces_dir: Path, yunet: YuNetDetector) -> list[list[np.ndarray]]:
    """Borderless cut-out photos of two dev people turned in 3-D in front of a still background."""
    out = []
    for seed, who in enumerate(("kit_harington", "rose_leslie")):
        photo = load_image(dev_people(faces_dir)[who])
        box = max(yunet.detect(photo), key=lambda d: d.width).bbox
        out.append(render_attack(photo, "cutout", seed, frames=60, face_box=box)[::3])
    return out


# ---- the pure cues -------------------------------------------------------------------------------


def test_eye_aspect_ratio_open_and_closed(
    live_frames: list[np.ndarray], yunet: YuNetDetector, landmarker: FaceLandmarker
) -> None:
    img = live_frames[0]
    points = landmarker.mesh(img, yunet.detect(img)[0]).points
    ear = cues.eye_aspect_ratio(points)
    assert 0.18 < ear < 0.45
    closed = points.copy()
    for upper, lower in ((160, 144), (158, 153), (385, 380), (387, 373)):
        closed[upper] = closed[lower]
    assert cues.eye_aspect_ratio(closed) < 0.02


def test_border_score_sees_the_phone_not_the_room(
    live_frames: list[np.ndarray], replay_frames: list[np.ndarray], yunet: YuNetDetector
) -> None:
    framed = [cues.border_score(grey(f), yunet.detect(f)[0].bbox) for f in replay_frames[:10]]
    plain = [cues.border_score(grey(f), yunet.detect(f)[0].bbox) for f in live_frames[:10]]
    assert sum(s == 1.0 for s in framed) >= 7
    assert max(plain) < 1.0


def test_planarity_flat_card_against_real_head(
    cutouts: list[list[np.ndarray]], live_frames: list[np.ndarray], yunet: YuNetDetector
) -> None:
    def ratios(frames: list[np.ndarray]) -> list[float]:
        out = []
        for a, b in itertools.pairwise(frames):
            p = cues.planarity(grey(a), grey(b), max(yunet.detect(a), key=lambda d: d.width).bbox)
            if p is not None and p.deformation >= ALL.min_deformation:
                out.append(p.ratio)
        return out

    flat, real = ratios(cutouts[0]), ratios(live_frames)
    assert len(flat) >= 5 and len(real) >= 10
    assert float(np.median(flat)) < ALL.planar_ratio < ALL.parallax_ratio < float(np.median(real))


# ---- ablations: each cue earns its place -----------------------------------------------------------


def test_border_catches_the_phone_replay_and_nothing_else_does(
    replay_frames: list[np.ndarray], yunet: YuNetDetector, landmarker: FaceLandmarker
) -> None:
    with_border = judge(replay_frames, yunet, landmarker, ("blink", "motion", "border"))
    assert with_border.verdict == "spoof" and "border" in with_border.cues
    # Without it, the replayed head's own parallax makes the replay look live: the plain truth
    # about video replays, written in the README.
    assert judge(replay_frames, yunet, landmarker, ("blink", "motion")).verdict != "spoof"


def test_motion_catches_borderless_photos_and_nothing_else_does(
    cutouts: list[list[np.ndarray]], yunet: YuNetDetector, landmarker: FaceLandmarker
) -> None:
    for frames in cutouts:
        verdict = judge(frames, yunet, landmarker, ("blink", "motion", "border"))
        assert verdict.verdict == "spoof" and verdict.cues == ("planar",)
        assert judge(frames, yunet, landmarker, ("blink", "border")).verdict != "spoof"


def test_blink_and_parallax_each_prove_the_live_clip(
    live_frames: list[np.ndarray], yunet: YuNetDetector, landmarker: FaceLandmarker
) -> None:
    blink = judge(live_frames, yunet, landmarker, ("blink", "border"))
    assert blink.verdict == "live" and blink.cues == ("blink",)
    motion = judge(live_frames, yunet, landmarker, ("motion", "border"))
    assert motion.verdict == "live" and "parallax" in motion.cues
    # With neither, nothing says live: the border cue alone can only refuse.
    assert judge(live_frames, yunet, landmarker, ("border",)).verdict == "undecided"
