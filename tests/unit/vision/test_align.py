from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from sputnik_edge.vision.align import (
    ARCFACE_TEMPLATE,
    BLAZEFACE_TEMPLATE,
    align_face,
    ensure_bgr,
    five_points_from_blazeface,
    keypoints_in_template,
    similarity_transform,
    symmetric_template,
    transform_points,
)
from sputnik_edge.vision.detector import YuNetDetector


def _fit_error(landmarks: np.ndarray) -> float:
    m = similarity_transform(landmarks, ARCFACE_TEMPLATE)
    return float(np.abs(transform_points(landmarks, m) - ARCFACE_TEMPLATE).max())


def test_template_is_opencv_alignment_template() -> None:
    assert ARCFACE_TEMPLATE.shape == (5, 2)
    assert ARCFACE_TEMPLATE[0, 0] < ARCFACE_TEMPLATE[1, 0]  # right eye has the smaller x
    assert ARCFACE_TEMPLATE[2, 1] > ARCFACE_TEMPLATE[0, 1]
    assert np.allclose(ARCFACE_TEMPLATE[0], (38.2946, 51.6963))


def test_recovers_a_known_similarity() -> None:
    angle, scale, t = np.deg2rad(17.0), 2.5, np.array([40.0, -12.0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    src = ARCFACE_TEMPLATE * 3 + 100
    dst = src @ rot.T + t
    m = similarity_transform(src, dst)
    assert np.allclose(m[:, :2], rot, atol=1e-9)
    assert np.allclose(m[:, 2], t, atol=1e-6)


def test_never_reflects() -> None:
    mirrored = ARCFACE_TEMPLATE * np.array([-1.0, 1.0])
    m = similarity_transform(mirrored, ARCFACE_TEMPLATE)
    assert np.linalg.det(m[:, :2]) > 0


def test_degenerate_and_malformed_landmarks() -> None:
    with pytest.raises(ValueError, match="degenerate"):
        similarity_transform(np.ones((5, 2)), ARCFACE_TEMPLATE)
    with pytest.raises(ValueError, match="matching"):
        similarity_transform(np.ones((4, 2)), ARCFACE_TEMPLATE)
    with pytest.raises(ValueError, match="NaN"):
        similarity_transform(np.full((5, 2), np.nan), ARCFACE_TEMPLATE)
    with pytest.raises(ValueError, match="5"):
        align_face(np.zeros((50, 50, 3), np.uint8), np.zeros((4, 2)))


def test_real_faces_land_on_template_and_swapped_eyes_fit_worse(
    dev_images: list[tuple[Path, np.ndarray]], native_detector: YuNetDetector
) -> None:
    for path, img in dev_images:
        lm = native_detector.detect(img)[0].landmarks
        good = _fit_error(lm)
        assert good < 8.0, f"{path.name}: {good:.1f} px"
        swapped = lm[[1, 0, 2, 3, 4]]
        assert _fit_error(swapped) > good + 5.0, path.name


def test_matches_opencv_align_crop(
    dev_images: list[tuple[Path, np.ndarray]],
    native_detector: YuNetDetector,
    original_paths: tuple[Path, Path],
) -> None:
    recognizer = cv2.FaceRecognizerSF.create(str(original_paths[1]), "")
    for path, img in dev_images:
        face = native_detector.detect(img)[0]
        row = np.zeros((1, 15), np.float32)
        row[0, 4:14] = face.landmarks.reshape(-1)
        ref = recognizer.alignCrop(img, row)
        ours = align_face(img, face.landmarks)
        assert ours.shape == (112, 112, 3) and ours.dtype == np.uint8
        assert np.abs(ours.astype(np.int16) - ref).mean() < 0.5, path.name


def test_custom_size_scales_template(
    dev_images: list[tuple[Path, np.ndarray]], native_detector: YuNetDetector
) -> None:
    img = dev_images[0][1]
    lm = native_detector.detect(img)[0].landmarks
    big = align_face(img, lm, size=224)
    small = align_face(img, lm)
    assert big.shape == (224, 224, 3)
    down = cv2.resize(big, (112, 112), interpolation=cv2.INTER_AREA)
    assert np.abs(down.astype(np.int16) - small).mean() < 6.0


def test_ensure_bgr_conversions() -> None:
    grey = np.full((4, 5), 9, np.uint8)
    assert ensure_bgr(grey).shape == (4, 5, 3)
    bgra = np.zeros((4, 5, 4), np.uint8)
    assert ensure_bgr(bgra).shape == (4, 5, 3)
    with pytest.raises(ValueError, match="shape"):
        ensure_bgr(np.zeros((4, 5, 2), np.uint8))


# ---- BlazeFace keypoints -> 5 points ------------------------------------------------------------------


def test_blazeface_template_face_maps_onto_the_arcface_template() -> None:
    kps = np.vstack([BLAZEFACE_TEMPLATE, [[10.0, 60.0], [100.0, 60.0]]])  # + ear tragions, ignored
    assert np.allclose(five_points_from_blazeface(kps), ARCFACE_TEMPLATE, atol=1e-9)


def test_blazeface_points_follow_a_similarity_and_keep_pose_cues() -> None:
    angle, scale, shift = np.deg2rad(17.0), 2.3, np.array([140.0, -35.0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moved = BLAZEFACE_TEMPLATE @ rot.T + shift
    five = five_points_from_blazeface(moved)
    assert np.allclose(five, ARCFACE_TEMPLATE @ rot.T + shift, atol=1e-9)
    # Aligning those points undoes the similarity: the face lands on the template.
    assert _fit_error(five) < 1e-9
    # A nose pushed sideways (a turned head) stays pushed sideways, so the pose gate can see it.
    turned = BLAZEFACE_TEMPLATE.copy()
    turned[2, 0] += 8.0
    out = five_points_from_blazeface(turned)
    assert out[2, 0] - ARCFACE_TEMPLATE[2, 0] > 5.0
    # Mouth corners straddle BlazeFace's mouth centre along the eye line.
    mouth = BLAZEFACE_TEMPLATE[3]
    assert out[3, 0] < mouth[0] < out[4, 0]
    assert abs(out[3, 1] - out[4, 1]) < 1.5  # the shifted nose tilts the fit a little


def test_blazeface_needs_four_points() -> None:
    with pytest.raises(ValueError, match="at least 4"):
        five_points_from_blazeface(np.zeros((3, 2)))


def test_keypoints_in_template_and_symmetric_median() -> None:
    m = np.array([[1.5, -0.3, 20.0], [0.3, 1.5, 7.0]])
    landmarks = transform_points(ARCFACE_TEMPLATE, np.linalg.inv(np.vstack([m, [0, 0, 1]]))[:2])
    # A detector agreeing with YuNet on the eyes and nose lands on the template's eyes and nose.
    assert np.allclose(keypoints_in_template(landmarks, landmarks[:3]), ARCFACE_TEMPLATE[:3], atol=1e-9)
    samples = np.array([[[37, 55], [73, 56], [57, 75], [55, 93]], [[39, 54], [75, 55], [55, 76], [57, 94]]])
    tpl = symmetric_template(samples.astype(float))
    centre = ARCFACE_TEMPLATE[:2, 0].mean()
    assert tpl[0, 1] == tpl[1, 1] == pytest.approx(55.0)
    assert tpl[0, 0] + tpl[1, 0] == pytest.approx(2 * centre)
    assert tpl[1, 0] - tpl[0, 0] == pytest.approx(36.0)
    assert tpl[2, 0] == tpl[3, 0] == pytest.approx(centre)
    assert (tpl[2, 1], tpl[3, 1]) == (pytest.approx(75.5), pytest.approx(93.5))
    with pytest.raises(ValueError, match="samples"):
        symmetric_template(np.zeros((0, 4, 2)))
