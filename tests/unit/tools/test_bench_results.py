"""Bench results as typed records: the committed bench.json reads and writes back unchanged, and
a file of another shape is refused with the path of what does not fit."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from sputnik_edge.tools.bench.codec import BenchFormatError
from sputnik_edge.tools.bench.results import BenchResult, DetectorAccuracy, Target
from sputnik_edge.tools.bench.stats import stats_ms
from sputnik_edge.tools.bench.targets import evaluate_targets
from tests.conftest import REPO_ROOT

COMMITTED = REPO_ROOT / "docs" / "bench" / "bench.json"


@pytest.fixture(scope="module")
def committed() -> dict[str, Any]:
    return dict(json.loads(COMMITTED.read_text()))


def test_committed_result_round_trips(committed: dict[str, Any]) -> None:
    result = BenchResult.from_json(committed)
    assert json.dumps(result.to_json()) == json.dumps(committed)  # same keys, order and numbers
    assert result.sections.match is not None and result.sections.match.sizes["100000"].batch1.stats.n > 0
    # Keys that are not identifiers keep their JSON spelling.
    det = result.sections.detectors
    assert det is not None and isinstance(det.accuracy.yunet, DetectorAccuracy)
    assert "tar_at_far_1e-2" in committed["sections"]["detectors"]["accuracy"]["yunet"]
    assert all(isinstance(t, Target) for t in result.targets) and "pass" in committed["targets"][0]


def test_targets_recomputed_from_the_typed_sections(committed: dict[str, Any]) -> None:
    result = BenchResult.from_json(committed)
    assert evaluate_targets(result.sections) == result.targets


def test_unknown_or_missing_keys_are_refused(committed: dict[str, Any]) -> None:
    extra = copy.deepcopy(committed)
    extra["sections"]["outbox"]["surprise"] = 1
    with pytest.raises(BenchFormatError, match=r"\$\.sections\.outbox: unknown key\(s\) surprise"):
        BenchResult.from_json(extra)
    missing = copy.deepcopy(committed)
    del missing["sections"]["memory"]["runs"]["small_gallery_640p"]["cold_start_s"]
    with pytest.raises(BenchFormatError, match="small_gallery_640p: missing key 'cold_start_s'"):
        BenchResult.from_json(missing)
    wrong = copy.deepcopy(committed)
    wrong["sections"]["outbox"]["events"] = "many"
    with pytest.raises(BenchFormatError, match=r"outbox\.events: expected int"):
        BenchResult.from_json(wrong)


def test_optional_parts_are_absent_not_null(committed: dict[str, Any]) -> None:
    only = copy.deepcopy(committed)
    only["sections"] = {"outbox": committed["sections"]["outbox"]}
    result = BenchResult.from_json(only)
    assert result.sections.stages is None
    assert list(result.to_json()["sections"]) == ["outbox"]
    assert stats_ms([]).n == 0 and json.dumps(BenchResult.from_json(only).to_json()) == json.dumps(only)


def test_load_reads_a_file(tmp_path: Path, committed: dict[str, Any]) -> None:
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(committed))
    assert BenchResult.load(path).generated_at == committed["generated_at"]


def test_stats_ms_in_milliseconds() -> None:
    s = stats_ms([0.001, 0.002, 0.003])
    assert (s.n, s.median_ms, s.min_ms, s.max_ms, s.mean_ms) == (3, 2.0, 1.0, 3.0, 2.0)
