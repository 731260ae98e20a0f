from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sputnik_edge.vision.onnx import create_session


def test_session_is_cpu_only_with_dynamic_inputs(sface_path: Path) -> None:
    sess = create_session(sface_path, threads=1)
    assert sess.get_providers() == ["CPUExecutionProvider"]
    inp = sess.get_inputs()[0]
    assert inp.shape[1:] == [3, 112, 112]
    assert not isinstance(inp.shape[0], int)  # dynamic batch
    out = sess.run(None, {inp.name: np.zeros((3, 3, 112, 112), np.float32)})[0]
    assert out.shape == (3, 128)


def test_rejects_negative_threads(sface_path: Path) -> None:
    with pytest.raises(ValueError, match="threads"):
        create_session(sface_path, threads=-1)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.onnx"):
        create_session(tmp_path / "nope.onnx")
