"""Recognizer on its own, with the real models on the real dev photos: detect -> quality -> embed
-> match, the four verdicts (match, low_confidence, unknown, rejected) with their reasons, the
enrolment checks, and the thresholds and limits taken from the configuration."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from sputnik_edge.config import RecognitionSection
from sputnik_edge.recognition.gallery import Gallery, Thresholds
from sputnik_edge.recognition.recognizer import EnrollmentError, Recognizer, quality_limits
from sputnik_edge.recognition.types import FaceResult, MatchResult
from sputnik_edge.vision.imageio import load_image
from sputnik_edge.vision.quality import QualityLimits
from sputnik_edge.vision.types import ImageArray
from tests.support.daemon import first_photo_per_person, shared_recognizer

DEFAULT = RecognitionSection()
DEFAULT_THRESHOLDS = Thresholds(DEFAULT.match_threshold, DEFAULT.low_confidence_threshold, DEFAULT.min_margin)


@pytest.fixture(scope="module")
def models() -> Recognizer:
    """The process's one loaded detector and embedder; each test builds its own Recognizer
    around them (the shared one's gallery belongs to whoever set it last)."""
    return shared_recognizer()


def recognizer(
    models: Recognizer,
    gallery: Gallery | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    limits: QualityLimits | None = None,
) -> Recognizer:
    return Recognizer(
        models.detector, models.embedder, limits or quality_limits(DEFAULT), thresholds, gallery
    )


@pytest.fixture(scope="module")
def enrolment(faces_dir: Path) -> dict[str, Path]:
    return first_photo_per_person(faces_dir)


@pytest.fixture(scope="module")
def gallery(models: Recognizer, enrolment: dict[str, Path]) -> Gallery:
    """One template per dev person, from their enrolment photo, as `enroll` would make it."""
    rec = recognizer(models)
    ids = sorted(enrolment)
    vecs = np.stack([rec.enrollment_template(load_image(enrolment[i]), i)[0] for i in ids])
    return Gallery.build(ids, vecs, {i: i.replace("_", " ").title() for i in ids})


@pytest.fixture(scope="module")
def photo(faces_dir: Path) -> dict[str, ImageArray]:
    names = {
        "obama": "images/barack_obama/obama.jpg",  # his enrolment photo
        "obama2": "images/barack_obama/obama2.jpg",  # another photo of him
        "obama_small": "images/barack_obama/obama_small.jpg",  # the enrolment photo, resized
        "partial": "images/barack_obama/obama_partial_face.jpg",  # cut in half
        "biden2": "images/joe_biden/biden2.jpg",  # him, plus two weak detections behind
        "two_people": "multi_face/two_people.jpg",
        "obama_and_biden": "multi_face/obama_and_biden.jpg",  # + a turned-away third face
        "stranger": "calib/compreface_e2e/personA/personA-img1.jpg",  # enrolled nowhere
    }
    return {key: load_image(faces_dir / rel) for key, rel in names.items()}


def gradient() -> ImageArray:
    y, x = np.mgrid[0:300, 0:320]
    return np.stack([x * 255 // 320, y * 255 // 300, np.full_like(x, 90)], axis=-1).astype(np.uint8)


def only(results: list[FaceResult]) -> FaceResult:
    assert len(results) == 1, [r.as_dict() for r in results]
    return results[0]


def verdict(face: FaceResult) -> MatchResult:
    assert face.match is not None, face.as_dict()  # embedded and matched, not rejected
    return face.match


# ---- detect -> quality -> embed -> match -----------------------------------------------------------


def test_enrolled_person_on_another_photo_is_a_match(
    models: Recognizer, gallery: Gallery, photo: dict[str, ImageArray]
) -> None:
    face = only(recognizer(models, gallery).recognize(photo["obama2"]))
    det = face.detection
    x1, y1, x2, y2 = det.bbox
    h, w = photo["obama2"].shape[:2]
    assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h
    assert det.landmarks.shape == (5, 2)
    assert ((det.landmarks >= (x1, y1)) & (det.landmarks <= (x2, y2))).all()
    assert det.score >= DEFAULT.quality_min_det_score
    assert face.quality.ok and face.quality.reasons == ()
    assert face.embedding is not None and face.embedding.shape == (128,)
    assert float(np.linalg.norm(face.embedding)) == pytest.approx(1.0, abs=1e-5)
    m = verdict(face)
    assert (m.decision, m.employee_id, m.name) == ("match", "barack_obama", "Barack Obama")
    assert DEFAULT.match_threshold <= m.similarity < 0.99  # a different photo, not the template
    assert m.margin >= DEFAULT.min_margin
    shown = face.as_dict()
    assert (shown["decision"], shown["employee_id"], shown["quality"]["ok"]) == (
        "match",
        "barack_obama",
        True,
    )


def test_recognize_is_analyze_then_embed_then_match(
    models: Recognizer, gallery: Gallery, photo: dict[str, ImageArray]
) -> None:
    """Three faces, two labelled people and a third turned away: every face is reported in
    detection order, only the ones passing the gate are embedded and matched."""
    rec = recognizer(models, gallery)
    image = photo["obama_and_biden"]
    candidates = rec.analyze(image)
    results = rec.recognize(image)
    assert [r.detection.bbox for r in results] == [c.detection.bbox for c in candidates]
    assert len(results) == 3
    good = [c for c in candidates if c.quality.ok]
    assert len(good) == 2
    embeddings = rec.embed(good)
    assert embeddings.shape == (2, 128)
    matches = rec.match(embeddings)
    passed = [r for r in results if r.quality.ok]
    for r, emb, m in zip(passed, embeddings, matches, strict=True):
        assert r.embedding is not None
        np.testing.assert_allclose(r.embedding, emb, atol=1e-5)
        assert r.match == m
    assert sorted(m.employee_id or "" for m in matches) == ["barack_obama", "joe_biden"]
    assert all(m.decision == "match" for m in matches)
    (turned,) = [r for r in results if not r.quality.ok]
    assert "pose_yaw" in turned.quality.reasons
    assert turned.embedding is None and turned.match is None
    assert rec.embed([]).shape == (0, 128)


def test_rejected_faces_carry_their_reasons_and_name_no_one(
    models: Recognizer, gallery: Gallery, photo: dict[str, ImageArray]
) -> None:
    rec = recognizer(models, gallery)
    # Half a face: found, but not embedded.
    half = only(rec.recognize(photo["partial"]))
    assert not half.quality.ok and "partial_face" in half.quality.reasons
    assert half.embedding is None and half.match is None
    shown = half.as_dict()
    assert (shown["decision"], shown["employee_id"], shown["similarity"]) == ("rejected", None, None)
    assert "partial_face" in shown["quality"]["reasons"]
    # Weak detections behind the subject: kept as faces (to be tracked), never embedded.
    faces = rec.recognize(photo["biden2"])
    assert [r.match.employee_id if r.match else None for r in faces] == ["joe_biden", None, None]
    for weak in faces[1:]:
        assert weak.detection.score < DEFAULT.quality_min_det_score
        assert "low_det_score" in weak.quality.reasons
    # The same sharp face, blurred: rejected as blurry.
    blurred = only(rec.recognize(cv2.GaussianBlur(photo["obama"], (0, 0), 6)))
    assert "blurry" in blurred.quality.reasons and blurred.match is None


def test_a_stranger_is_unknown_and_named_as_no_one(
    models: Recognizer, gallery: Gallery, photo: dict[str, ImageArray]
) -> None:
    face = only(recognizer(models, gallery).recognize(photo["stranger"]))
    assert face.quality.ok and face.embedding is not None
    m = verdict(face)
    assert (m.decision, m.employee_id, m.name) == ("unknown", None, None)
    assert m.similarity < DEFAULT.low_confidence_threshold


def test_thresholds_decide_match_low_confidence_and_unknown(
    models: Recognizer, gallery: Gallery, photo: dict[str, ImageArray]
) -> None:
    default = recognizer(models, gallery)
    sims = {k: verdict(only(default.recognize(photo[k]))).similarity for k in ("obama_small", "obama2")}
    assert sims["obama_small"] > 0.9 > sims["obama2"] > 0.6
    strict = recognizer(models, gallery, Thresholds(match=0.9, low_confidence=0.6, min_margin=0.05))
    decisions = {k: verdict(only(strict.recognize(photo[k]))) for k in ("obama_small", "obama2", "stranger")}
    assert {k: (m.decision, m.employee_id) for k, m in decisions.items()} == {
        "obama_small": ("match", "barack_obama"),
        "obama2": ("low_confidence", "barack_obama"),  # names the candidate, without a match
        "stranger": ("unknown", None),
    }
    # Similarity far above the match threshold is still no match without the margin over the
    # next person.
    margin = verdict(only(default.recognize(photo["obama2"]))).margin
    narrow = recognizer(models, gallery, replace(DEFAULT_THRESHOLDS, min_margin=margin + 0.01))
    m = verdict(only(narrow.recognize(photo["obama2"])))
    assert m.similarity > DEFAULT.match_threshold + 0.1
    assert (m.decision, m.employee_id) == ("low_confidence", "barack_obama")


def test_from_config_uses_the_configured_thresholds_and_limits(photo: dict[str, ImageArray]) -> None:
    cfg = RecognitionSection(
        match_threshold=0.9,
        low_confidence_threshold=0.6,
        min_margin=0.3,
        det_score_threshold=0.75,
        quality_min_det_score=0.92,
        min_face_px=41,
        min_blur=26,
        max_yaw_deg=39,
        max_pitch_deg=34,
        min_brightness=41,
        max_brightness=219,
    )
    rec = Recognizer.from_config(cfg)
    assert rec.thresholds == Thresholds(0.9, 0.6, 0.3)
    limits = rec.limits
    assert (limits.min_face_px, limits.min_blur, limits.max_yaw_deg, limits.max_pitch_deg) == (41, 26, 39, 34)
    assert (limits.min_brightness, limits.max_brightness, limits.min_det_score) == (41, 219, 0.92)
    assert rec.gallery.n_templates == 0
    # The detector's own floor: biden2's two weak faces (0.6-0.7) are not even detected now.
    assert len(rec.analyze(photo["biden2"])) == 1
    # The gate's detector-score floor: of obama_and_biden's faces (0.93, 0.93, 0.915), the
    # third now fails it too (it is also turned away).
    faces = rec.analyze(photo["obama_and_biden"])
    assert [c.detection.score > 0.92 for c in faces] == [True, True, False]
    assert [c.quality.reasons for c in faces] == [(), (), ("pose_yaw", "low_det_score")]


# ---- the gallery -------------------------------------------------------------------------------------


def test_empty_gallery_gives_unknown_and_names_no_one(
    models: Recognizer, gallery: Gallery, photo: dict[str, ImageArray]
) -> None:
    rec = recognizer(models)  # no gallery given: an empty one
    assert rec.gallery.n_employees == 0
    face = only(rec.recognize(photo["obama"]))
    assert face.quality.ok and face.embedding is not None  # still embedded
    m = verdict(face)
    assert (m.decision, m.employee_id, m.name) == ("unknown", None, None)
    assert m.similarity == 0.0
    assert face.as_dict()["name"] is None
    # The gallery is swapped as a whole; the next call uses the new one.
    rec.set_gallery(gallery)
    after = verdict(only(rec.recognize(photo["obama"])))
    assert (after.decision, after.employee_id) == ("match", "barack_obama")
    assert after.similarity == pytest.approx(1.0, abs=1e-4)  # his enrolment photo


# ---- enrolment ------------------------------------------------------------------------------------


def test_enrollment_template_is_the_embedding_recognize_gives(
    models: Recognizer, photo: dict[str, ImageArray]
) -> None:
    rec = recognizer(models)
    vec, quality = rec.enrollment_template(photo["obama"], "obama.jpg")
    assert vec.shape == (128,) and quality.ok
    face = only(rec.recognize(photo["obama"]))
    assert face.embedding is not None
    np.testing.assert_allclose(vec, face.embedding, atol=1e-5)
    assert quality == face.quality
    # Weak detections (a poster, a face far behind) are not a second person.
    vec2, _ = rec.enrollment_template(photo["biden2"], "biden2.jpg")
    assert len(rec.analyze(photo["biden2"])) == 3
    subject = rec.recognize(photo["biden2"])[0]
    assert subject.embedding is not None
    np.testing.assert_allclose(vec2, subject.embedding, atol=1e-5)


@pytest.mark.parametrize(
    ("image", "code", "words"),
    [
        ("gradient", "no_face", ["no face found"]),
        ("two_people", "several_faces", ["2 faces found", "exactly one"]),
        ("obama_and_biden", "several_faces", ["3 faces found"]),  # one turned away still counts
        ("partial", "low_quality", ["quality gate", "partial_face"]),
        ("blurred", "low_quality", ["quality gate", "blurry"]),
    ],
)
def test_enrollment_template_refuses_unusable_photos(
    models: Recognizer, photo: dict[str, ImageArray], image: str, code: str, words: list[str]
) -> None:
    images = {**photo, "gradient": gradient(), "blurred": cv2.GaussianBlur(photo["obama"], (0, 0), 6)}
    with pytest.raises(EnrollmentError) as info:
        recognizer(models).enrollment_template(images[image], f"{image}.jpg")
    assert info.value.code == code
    assert str(info.value).startswith(f"{image}.jpg: ")
    for word in words:
        assert word in str(info.value)


def test_enrollment_with_only_weak_detections_is_low_quality_not_no_face(
    models: Recognizer, photo: dict[str, ImageArray]
) -> None:
    # Every detection under the gate's score floor: the photo has a face, just not a usable one.
    picky = recognizer(models, limits=replace(quality_limits(DEFAULT), min_det_score=0.99))
    with pytest.raises(EnrollmentError) as info:
        picky.enrollment_template(photo["obama"], "obama.jpg")
    assert info.value.code == "low_quality" and "low_det_score" in str(info.value)
