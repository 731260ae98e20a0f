"""Fixtures for the tool tests: the real models and dev photos of the vision tests (the reference
pipeline and the prepare step are checked against them), shared rather than copied."""

from __future__ import annotations

from tests.unit.vision.conftest import (  # noqa: F401  (pytest finds fixtures by name here)
    dev_images,
    native_detector,
    original_paths,
    reference,
    sface_path,
    yunet_path,
)
