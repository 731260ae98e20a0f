"""``bench --only detectors``: YuNet against BlazeFace (needs the mediapipe extra)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sputnik_edge.config import RecognitionSection
from sputnik_edge.recognition.recognizer import Recognizer
from sputnik_edge.tools import bench
from sputnik_edge.tools.bench.detectors import detector_settings
from sputnik_edge.tools.eval import evaluate_pairs, read_pairs
from tests.unit.tools.bench_helpers import bench_settings, positive_stats, run_quick


@pytest.mark.mediapipe
def test_detectors_section(tmp_path: Path, faces_dir: Path) -> None:
    d = run_quick(bench_settings(tmp_path), faces_dir, "detectors").sections.detectors
    assert d is not None and set(d.sizes) == {f"{w}x{h}" for w, h in bench.RESOLUTIONS}
    for entry in d.sizes.values():
        for timing in (entry.yunet, entry.blazeface):
            positive_stats(timing.wall)
            assert timing.cpu_ms_mean >= 0
        assert (entry.wall_ratio_blazeface_over_yunet or 0) > 0
    for name in ("yunet", "blazeface"):
        faces = d.clip_faces[name]
        assert 0 < faces.frames_with_face <= faces.frames <= faces.faces + faces.frames
    # Each detector's accuracy is what `sputnik-edge eval` computes with that detector.
    root = faces_dir / "calib"
    pairs = read_pairs(root / "pairs.csv")
    pairs = [p for p in pairs if p.same][:10] + [p for p in pairs if not p.same][:10]
    assert d.accuracy.pairs == len(pairs)
    for name in ("yunet", "blazeface"):
        rec = Recognizer.from_config(detector_settings(RecognitionSection(), name))
        expected = evaluate_pairs(rec, pairs, root).summary
        got = getattr(d.accuracy, name)
        assert got.acc_best == expected["acc_best"]
        assert got.no_detection == expected["no_detection"] == 0
    assert d.clip_faces["blazeface"].score_threshold == 0.5  # its own default, not YuNet's


def test_detectors_section_without_mediapipe_is_a_skip(
    tmp_path: Path, faces_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sputnik_edge.vision.blazeface as blazeface

    monkeypatch.setattr(blazeface, "mediapipe_available", lambda: False)
    result = run_quick(bench_settings(tmp_path), faces_dir, "detectors")
    assert result.sections.detectors is None
    assert "mediapipe" in result.errors["detectors"]
