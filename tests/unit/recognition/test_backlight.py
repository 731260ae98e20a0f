"""The backlight pass on real faces: dev photos composited in front of a bright window
(``tools/synthetic_backlight``) are found and matched with the pass and not without it, while the
untouched dev set and the calibration pairs come out the same."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from sputnik_edge.config import RecognitionSection
from sputnik_edge.recognition.gallery import Gallery, Thresholds
from sputnik_edge.recognition.recognizer import Recognizer, quality_limits
from sputnik_edge.tools.eval import evaluate_pairs, read_pairs
from sputnik_edge.tools.synthetic_backlight import STRENGTHS, backlit_scene
from sputnik_edge.vision.exposure import BacklightSettings, is_backlit
from sputnik_edge.vision.imageio import load_image
from sputnik_edge.vision.types import ImageArray
from tests.conftest import require
from tests.support.daemon import first_photo_per_person, shared_recognizer

DEFAULT = RecognitionSection()


def build(models: Recognizer, gallery: Gallery, backlight: BacklightSettings | None) -> Recognizer:
    thresholds = Thresholds(DEFAULT.match_threshold, DEFAULT.low_confidence_threshold, DEFAULT.min_margin)
    return Recognizer(
        models.detector, models.embedder, quality_limits(DEFAULT), thresholds, gallery, backlight
    )


@pytest.fixture(scope="module")
def gallery(faces_dir: Path) -> Gallery:
    rec = build(shared_recognizer(), Gallery.empty(), None)
    people = first_photo_per_person(faces_dir)
    ids = sorted(people)
    vecs = np.stack([rec.enrollment_template(load_image(people[i]), i)[0] for i in ids])
    return Gallery.build(ids, vecs, {})


@pytest.fixture(scope="module")
def on(gallery: Gallery) -> Recognizer:
    return build(shared_recognizer(), gallery, BacklightSettings())


@pytest.fixture(scope="module")
def off(gallery: Gallery) -> Recognizer:
    return build(shared_recognizer(), gallery, None)


@pytest.fixture(scope="module")
def scenes(face_labels: list[tuple[Path, str]], off: Recognizer) -> dict[str, list[tuple[ImageArray, str]]]:
    """Every single-face dev photo at every strength (22 photos x 3), built in memory."""
    out: dict[str, list[tuple[ImageArray, str]]] = {s: [] for s in STRENGTHS}
    for path, identity in face_labels:
        photo = load_image(path)
        faces = off.detector.detect(photo)
        if len(faces) != 1:
            continue
        for strength in STRENGTHS:
            out[strength].append((backlit_scene(photo, faces[0], strength).image, identity))
    require(len(out["strong"]) >= 20, "dev photos missing")
    return out


def tally(rec: Recognizer, items: list[tuple[ImageArray, str]]) -> tuple[int, int, int]:
    """(images with a face found, images where the right person is matched, wrong matches)."""
    found = right = wrong = 0
    for image, identity in items:
        faces = rec.recognize(image)
        found += any(f.detection.score >= DEFAULT.det_score_threshold for f in faces)
        named = [f.match.employee_id for f in faces if f.match is not None and f.match.decision == "match"]
        right += identity in named
        wrong += any(n != identity for n in named)
    return found, right, wrong


def test_scenes_are_judged_backlit(scenes: dict[str, list[tuple[ImageArray, str]]]) -> None:
    assert all(is_backlit(img) for items in scenes.values() for img, _ in items)


def test_extreme_backlight_found_and_matched_only_with_the_pass(
    scenes: dict[str, list[tuple[ImageArray, str]]], on: Recognizer, off: Recognizer
) -> None:
    items = scenes["extreme"]
    assert tally(off, items) == (0, 0, 0)  # today's pipeline sees no face at all
    found, right, wrong = tally(on, items)
    assert found >= 0.8 * len(items), (found, len(items))
    assert right >= 4, right  # measured: 20 found, 5 matched (the rest low_confidence/unknown)
    assert wrong == 0


def test_strong_backlight_matches_more_with_the_pass(
    scenes: dict[str, list[tuple[ImageArray, str]]], on: Recognizer, off: Recognizer
) -> None:
    items = scenes["strong"]
    _, right_off, wrong_off = tally(off, items)
    found, right_on, wrong_on = tally(on, items)
    assert found == len(items)
    assert right_on >= right_off + 3, (right_off, right_on)  # measured 6 -> 11 of 22
    assert wrong_off == wrong_on == 0


def test_mild_backlight_needs_no_pass(
    scenes: dict[str, list[tuple[ImageArray, str]]], on: Recognizer
) -> None:
    """Where the first pass finds a usable face the second never runs: the same verdicts."""
    found, right, wrong = tally(on, scenes["mild"])
    assert found == len(scenes["mild"]) and wrong == 0 and right >= 15


def test_dev_set_unchanged_and_no_false_match(
    face_labels: list[tuple[Path, str]], faces_dir: Path, on: Recognizer, off: Recognizer
) -> None:
    paths = [(p, {i}) for p, i in face_labels]
    with (faces_dir / "multi_face.csv").open(newline="") as fh:
        paths += [
            (faces_dir / r["path"], {i for i in r["identities"].split(";") if not i.startswith("+")})
            for r in csv.DictReader(fh)
        ]
    for path, identities in paths:
        image = load_image(path)
        named_on, named_off = names(on, image), names(off, image)
        assert named_on <= identities, (path, named_on)
        assert named_off <= named_on, (path, named_off, named_on)


def names(rec: Recognizer, image: ImageArray) -> set[str]:
    return {f.match.employee_id for f in rec.recognize(image) if f.match and f.match.decision == "match"}


@pytest.fixture(scope="module")
def calib(faces_dir: Path) -> Iterator[Path]:
    root = faces_dir / "calib"
    require((root / "pairs.csv").is_file(), f"calibration pairs not found under {root}")
    yield root


def test_calibration_accuracy_unchanged(calib: Path, on: Recognizer, off: Recognizer) -> None:
    pairs = read_pairs(calib / "pairs.csv")
    with_pass = evaluate_pairs(on, pairs, calib).summary
    without = evaluate_pairs(off, pairs, calib).summary
    for key in ("acc_best", "acc_10fold", "tar_at_match_threshold", "far_at_match_threshold", "no_detection"):
        assert with_pass[key] == without[key], key


def test_config_switches_the_pass() -> None:
    assert RecognitionSection().backlight_pass is True
    assert Recognizer.from_config(RecognitionSection(backlight_pass=False)).backlight is None
    assert shared_recognizer().backlight == BacklightSettings()  # the default config: on
