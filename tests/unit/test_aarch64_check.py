"""scripts/check_aarch64_wheels.py: which resolved files count as aarch64 wheels, and that it reads
the device's runtime dependencies (not the extras) from pyproject.toml. The resolution itself
needs the package index and runs as its own CI step."""

from __future__ import annotations

import tomllib
from pathlib import Path
from types import ModuleType

import pytest

from tests.support.scripts import REPO, load_script


def _script() -> ModuleType:
    return load_script("check_aarch64_wheels")


def _item(name: str, url: str) -> dict[str, object]:
    return {"metadata": {"name": name, "version": "1.0"}, "download_info": {"url": url}}


def test_wheel_classification() -> None:
    rows = _script().wheel_rows(
        {
            "install": [
                _item("onnxruntime", "https://x/onnxruntime-1.32.0-cp311-cp311-manylinux_2_28_aarch64.whl"),
                _item("structlog", "https://x/structlog-26.1.0-py3-none-any.whl"),
                _item("numpy", "https://x/numpy-2.4.6-cp311-cp311-manylinux_2_28_x86_64.whl"),
                _item("oldlib", "https://x/oldlib-1.0.tar.gz"),
            ]
        }
    )
    assert [(name, ok) for name, _v, _w, ok in rows] == [
        ("onnxruntime", True),
        ("structlog", True),
        ("numpy", False),
        ("oldlib", False),
    ]


def test_reads_runtime_dependencies_only(tmp_path: Path) -> None:
    reqs = _script().runtime_requirements(REPO / "pyproject.toml")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert reqs == project["dependencies"]
    assert any(r.startswith("onnxruntime") for r in reqs)
    assert not any(r.startswith(("pytest", "mediapipe", "onnx>")) for r in reqs)
    bad = tmp_path / "pyproject.toml"
    bad.write_text('[project]\nname = "x"\n')
    with pytest.raises(SystemExit, match="dependencies"):
        _script().runtime_requirements(bad)
