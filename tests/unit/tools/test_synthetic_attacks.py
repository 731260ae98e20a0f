"""The synthetic attack generator: deterministic per seed, each kind as described, files 0600."""

from __future__ import annotations

import stat
from pathlib import Path

import cv2
import numpy as np
import pytest

from sputnik_edge.tools.paths import dev_people
from sputnik_edge.tools.synthetic_attacks import KINDS, card_image, render_attack, write_clip
from sputnik_edge.vision.imageio import load_image


@pytest.fixture(scope="module")
def photo(faces_dir: Path) -> np.ndarray:
    return load_image(dev_people(faces_dir)["joe_biden"])


def test_same_seed_same_clip_other_seed_other_clip(photo: np.ndarray) -> None:
    a, b = render_attack(photo, "print", 3, frames=5), render_attack(photo, "print", 3, frames=5)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], render_attack(photo, "print", 4, frames=1)[0])
    assert a[0].shape == (480, 640, 3) and a[0].dtype == np.uint8


def test_kinds(photo: np.ndarray) -> None:
    prints, _ = card_image(photo, "print")
    assert prints[5, 5].min() > 200  # white paper border
    screen, mask = card_image(photo, "screen")
    assert screen[screen.shape[0] // 2, 5].max() < 30 and mask[0, 0] == 0  # black bezel, round corners
    _, cmask = card_image(photo, "cutout")
    assert cmask[0, 0] == 0 and cmask[cmask.shape[0] // 2, cmask.shape[1] // 2] == 255  # no border at all
    with pytest.raises(ValueError, match="kind must be one of"):
        card_image(photo, "mask")
    assert set(KINDS) == {"print", "screen", "cutout"}


def test_the_card_moves_in_3d(photo: np.ndarray) -> None:
    frames = render_attack(photo, "screen", 1, frames=30)
    diffs = [float(np.mean(cv2.absdiff(frames[0], f))) for f in frames[1:]]
    assert max(diffs) > 3 * min(diffs)  # it turns and comes closer, not a still picture


def test_clip_file_is_private_and_readable(photo: np.ndarray, tmp_path: Path) -> None:
    path = write_clip(render_attack(photo, "cutout", 0, frames=6), tmp_path / "a.mp4")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    assert n == 6
