"""The ``backlight`` bench section, quick, on the real clips and synthetic scenes: the second pass
runs where it should and nowhere else, finds the faces the first pass missed, and the score curve
is the shape the floors are read from; the result survives bench.json and renders."""

from __future__ import annotations

import itertools
from pathlib import Path

from sputnik_edge.tools.bench import BenchResult
from sputnik_edge.tools.bench.backlight_results import md_backlight, plot_score_floors
from tests.unit.tools.bench_helpers import bench_settings, positive_stats, run_quick


def test_backlight_section(tmp_path: Path, faces_dir: Path) -> None:
    result = run_quick(bench_settings(tmp_path), faces_dir, "backlight")
    b = result.sections.backlight
    assert b is not None
    dev, webcam, synth = b.cost["dev_clip"], b.cost["webcam_clip"], b.cost["synthetic_extreme"]
    assert dev.backlit_frames == dev.second_pass_frames == 0  # a dark stage is never backlit
    assert dev.faces_on == dev.faces_off
    assert webcam.backlit_frames == webcam.frames and webcam.second_pass_frames < webcam.frames
    assert synth.second_pass_frames == synth.frames and synth.faces_off == 0 < synth.faces_on
    for c in b.cost.values():
        positive_stats(c.off)
        positive_stats(c.on)
    positive_stats(b.enhance_ms)
    curve = b.curve
    assert [p.threshold for p in curve] == sorted(p.threshold for p in curve)
    for a, c in itertools.pairwise(curve):
        assert (
            c.real_recall <= a.real_recall
            and c.false_enhanced_per_1000_frames <= a.false_enhanced_per_1000_frames
        )
    at = {p.threshold: p for p in curve}
    # The defaults: every real face kept at both floors; nothing on background at the gate's floor.
    assert at[b.det_score_threshold].real_recall == at[b.quality_min_det_score].real_recall == 1.0
    assert at[b.quality_min_det_score].false_per_1000_frames == 0.0
    assert b.real_faces > 20 and b.background_frames > 20

    again = BenchResult.from_json(result.to_json())
    assert again.sections.backlight == b
    text = md_backlight(b)
    assert "| 0.6 (`det_score_threshold`) |" in text and "second pass" in text
    plot_score_floors(b, tmp_path / "floors.png")
    assert (tmp_path / "floors.png").stat().st_size > 10_000
