"""The backlight judgement and the contrast-enhanced copy, on synthetic arrays."""

from __future__ import annotations

import numpy as np
import pytest

from sputnik_edge.vision.exposure import BacklightSettings, bright_fraction, enhance, is_backlit


def test_bright_fraction_counts_blown_out_pixels() -> None:
    img = np.full((120, 160, 3), 60, np.uint8)
    img[:, :80] = 250  # half the frame is a window
    assert bright_fraction(img) == pytest.approx(0.5, abs=0.02)
    assert is_backlit(img)
    assert not is_backlit(np.full((120, 160, 3), 200, np.uint8))  # bright room, nothing blown out
    assert not is_backlit(img, BacklightSettings(min_bright_fraction=0.6))


def test_enhance_lifts_dark_detail_and_keeps_shape() -> None:
    rng = np.random.default_rng(0)
    img = np.full((120, 160, 3), 245, np.uint8)
    face = rng.integers(10, 30, (60, 60, 3), dtype=np.uint8)  # dark, low-contrast region
    img[30:90, 50:110] = face
    out = enhance(img)
    assert out.shape == img.shape and out.dtype == np.uint8
    before, after = img[30:90, 50:110].astype(float), out[30:90, 50:110].astype(float)
    assert after.std() > 1.5 * before.std()
    assert after.mean() > before.mean()


def test_enhance_takes_grey_and_bgra() -> None:
    grey = np.full((64, 64), 30, np.uint8)
    assert enhance(grey).shape == (64, 64, 3)
    assert enhance(np.zeros((64, 64, 4), np.uint8)).shape == (64, 64, 3)


@pytest.mark.parametrize(
    ("field", "value"),
    [("bright_level", 0), ("min_bright_fraction", 1.5), ("clahe_clip", 0.0), ("clahe_tiles", 0)],
)
def test_bad_settings_name_the_field(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=field):
        BacklightSettings(**{field: value})
