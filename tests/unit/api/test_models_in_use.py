"""/api/v1/info's model list (``models_in_use``) follows liveness.mode: the face mesh is listed
whenever the daemon loads it (monitor, the default, and enforce), pinned by the real manifest."""

from __future__ import annotations

import pytest

from sputnik_edge.api.routes.health import models_in_use
from sputnik_edge.config import Settings
from sputnik_edge.vision.models import default_models_dir, load_manifest


@pytest.mark.parametrize("mode", ["monitor", "enforce"])
def test_face_landmark_listed_when_liveness_runs(mode: str) -> None:
    models = models_in_use(Settings.model_validate({"liveness": {"mode": mode}}))
    spec = load_manifest(default_models_dir())["face_landmark"]
    assert models["face_landmark"] == {"model_id": spec.model_id, "file": spec.file, "sha256": spec.sha256}
    assert {"detector", "embedder", "enrolment_embedder"} <= set(models)


def test_no_face_landmark_when_liveness_is_off() -> None:
    models = models_in_use(Settings.model_validate({"liveness": {"mode": "off"}}))
    assert set(models) == {"detector", "embedder", "enrolment_embedder"}
