from __future__ import annotations

from pathlib import Path

import numpy as np

from sputnik_edge.tools.reference import SFACE_FILE, YUNET_FILE


def test_original_model_paths(original_paths: tuple[Path, Path]) -> None:
    yunet, sface = original_paths
    assert (yunet.name, sface.name) == (YUNET_FILE, SFACE_FILE)
    assert yunet.is_file() and sface.is_file()


def test_reference_pipeline_detects_and_embeds(reference, dev_images: list[tuple[Path, np.ndarray]]) -> None:
    _, img = dev_images[0]
    rows = reference.detect(img)
    assert rows.shape == (1, 15)
    emb = reference.embed(img, rows[0])
    assert emb.shape == (128,)
    assert abs(float(np.linalg.norm(emb)) - 1.0) < 1e-5
    assert reference.detect(np.zeros((200, 200, 3), np.uint8)).shape == (0, 15)
