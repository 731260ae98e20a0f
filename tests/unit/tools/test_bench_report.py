"""The benchmark report renders docs/BENCHMARKS.md from the committed bench.json, through the typed
results, exactly as committed; the plots render too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sputnik_edge.tools.bench.report import build_markdown, main
from sputnik_edge.tools.bench.results import BenchResult
from tests.conftest import REPO_ROOT

DOCS = REPO_ROOT / "docs"


def test_markdown_is_the_committed_one() -> None:
    bench_dir = DOCS / "bench"
    names = ("stages", "reference", "match", "latency", "soak", "score_floors")
    plots = {name: f"bench/{name}.png" for name in names}
    plots["_dir"] = str(bench_dir)
    text = build_markdown(
        BenchResult.load(bench_dir / "bench.json"), plots, (bench_dir / "findings.md").read_text()
    )
    assert text == (DOCS / "BENCHMARKS.md").read_text()


def test_script_writes_markdown_and_plots(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    md, plots = tmp_path / "BENCHMARKS.md", tmp_path / "plots"
    script, data = REPO_ROOT / "scripts" / "bench_report.py", DOCS / "bench" / "bench.json"
    done = subprocess.run(
        [sys.executable, str(script), str(data), "--md", str(md), "--plots", str(plots)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert md.read_text().startswith("# Benchmarks\n")
    assert sorted(p.name for p in plots.glob("*.png")) == [
        "latency.png",
        "match.png",
        "reference.png",
        "score_floors.png",
        "stages.png",
    ]


def test_report_refuses_a_file_of_another_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bench.json"
    bad.write_text('{"schema": 1}')
    assert main([str(bad), "--md", str(tmp_path / "x.md"), "--plots", str(tmp_path)]) == 2
    assert "missing key" in capsys.readouterr().err
    assert not (tmp_path / "x.md").exists()
