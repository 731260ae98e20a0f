from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sputnik_edge.vision.align import align_face
from sputnik_edge.vision.detector import YuNetDetector
from sputnik_edge.vision.embedder import SFaceEmbedder


def test_matches_opencv_reference_on_every_dev_photo(
    dev_images: list[tuple[Path, np.ndarray]], detector: YuNetDetector, embedder: SFaceEmbedder, reference
) -> None:
    for path, img in dev_images:
        rows = reference.detect(img)
        assert len(rows) >= 1, path.name
        row = rows[np.argmax(rows[:, 14])]
        ref = reference.embed(img, row)
        face = detector.detect(img)[0]
        ours = embedder.embed(align_face(img, face.landmarks))[0]
        cos = float(ours @ ref)
        assert cos >= 0.99, f"{path.name}: cosine {cos:.4f}"


def test_unit_norm_and_identity_structure(
    dev_images: list[tuple[Path, np.ndarray]], detector: YuNetDetector, embedder: SFaceEmbedder
) -> None:
    names = [p.parent.name for p, _ in dev_images]
    crops = [align_face(img, detector.detect(img)[0].landmarks) for _, img in dev_images]
    emb = embedder.embed(crops)
    assert emb.shape == (len(crops), 128) and emb.dtype == np.float32
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    sims = emb @ emb.T
    same = np.array([[a == b for b in names] for a in names])
    off = ~np.eye(len(names), dtype=bool)
    # Every photo is closer to its own identity than the published match threshold on average,
    # and different people stay below it.
    assert sims[same & off].mean() > 0.5
    assert sims[~same].max() < 0.363


def test_batch_equals_singles(
    dev_images: list[tuple[Path, np.ndarray]], detector: YuNetDetector, embedder: SFaceEmbedder
) -> None:
    crops = [align_face(img, detector.detect(img)[0].landmarks) for _, img in dev_images[:6]]
    batch = embedder.embed(crops)
    singles = np.concatenate([embedder.embed(c) for c in crops])
    assert np.abs(batch - singles).max() < 1e-5
    stacked = embedder.embed(np.stack(crops))
    assert np.abs(stacked - batch).max() < 1e-6


def test_empty_input(embedder: SFaceEmbedder) -> None:
    assert embedder.embed([]).shape == (0, 128)
    assert embedder.embed(np.zeros((0, 112, 112, 3), np.uint8)).shape == (0, 128)


def test_rejects_unaligned_crops(embedder: SFaceEmbedder) -> None:
    with pytest.raises(ValueError, match=r"\(112, 112, 3\)"):
        embedder.embed(np.zeros((100, 100, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        embedder.embed(np.zeros((112, 112, 3), np.float32))


def test_model_info(embedder: SFaceEmbedder, models_dir: Path) -> None:
    from sputnik_edge.vision.models import load_manifest

    info = embedder.model_info
    spec = load_manifest(models_dir)["embedder"]
    assert (info.model_id, info.file, info.sha256) == (spec.model_id, "sface.onnx", spec.sha256)
    assert info.extra["dim"] == "128"
