"""Tool commands without their extra exit 2 with one line naming it; a tool whose import is broken
is that command's error (exit 1), and every command stays listed in ``--help``."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from sputnik_edge.cli import build_parser
from sputnik_edge.tools.daemon_process import daemon_env, write_config
from sputnik_edge.tools.extra import ToolUnavailable, load_tool, require_module

# The CLI in a child whose interpreter cannot import the given modules (None in sys.modules makes
# `import x` raise ModuleNotFoundError, as when the package is not installed).
CHILD = (
    "import sys\n"
    "for name in sys.argv[1].split(','):\n"
    "    sys.modules[name] = None\n"
    "from sputnik_edge.cli import main\n"
    "sys.exit(main(sys.argv[2:]))\n"
)


def run_cli(tmp_path: Path, hidden: str, *argv: str) -> subprocess.CompletedProcess[str]:
    cfg = write_config(tmp_path / "config.toml", {"storage": {"database": str(tmp_path / "edge.db")}})
    return subprocess.run(
        [sys.executable, "-c", CHILD, hidden, *argv, "--config", str(cfg)],
        env=daemon_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def commands() -> list[str]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return list(sub.choices)


@pytest.mark.parametrize(
    "argv",
    [
        ("bench", "--quick", "--only", "outbox"),
        ("soak", "--minutes", "0.01"),
        ("loadtest", "--health-requests", "1"),
    ],
)
def test_tool_without_the_tools_extra_exits_2_naming_it(tmp_path: Path, argv: tuple[str, ...]) -> None:
    done = run_cli(tmp_path, "matplotlib,psutil", *argv)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "'tools' extra" in lines[0] and "pip install 'sputnik-edge[tools]'" in lines[0]
    assert f"`sputnik-edge {argv[0]}` needs the 'tools' extra" in lines[0]
    assert done.stdout == ""


def test_broken_tool_import_is_the_commands_error_not_a_lost_command(tmp_path: Path) -> None:
    # A module of the bench package that cannot be imported (a bug, not a missing extra).
    broken = "sputnik_edge.tools.bench.stages"
    helped = run_cli(tmp_path, broken, "--help")
    assert helped.returncode == 0, helped.stderr
    for name in commands():
        assert name in helped.stdout, name
    done = run_cli(tmp_path, broken, "bench", "--quick", "--only", "outbox")
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "`sputnik-edge bench` cannot start: ModuleNotFoundError" in lines[0]
    assert broken in lines[0]


def test_every_tool_command_is_listed() -> None:
    assert {"bench", "eval", "soak", "loadtest", "prepare-models", "run", "enroll", "doctor"} <= set(
        commands()
    )


def test_load_tool_maps_import_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.import_module

    def fake(name: str, package: str | None = None) -> object:
        if name == "sputnik_edge.tools.bench":
            raise ImportError("cannot import name 'x' from partially initialized module")
        if name == "sputnik_edge.tools.soak":
            raise ModuleNotFoundError("No module named 'psutil'", name="psutil")
        if name == "sputnik_edge.tools.prepare_models":
            raise ModuleNotFoundError("No module named 'onnx.helper'", name="onnx.helper")
        return real(name, package)

    monkeypatch.setattr(importlib, "import_module", fake)
    with pytest.raises(ToolUnavailable) as info:
        load_tool("bench", "bench")
    assert info.value.exit_code == 1 and "cannot start: ImportError" in str(info.value)
    with pytest.raises(ToolUnavailable) as info:
        load_tool("soak", "soak")
    assert info.value.exit_code == 2 and "sputnik-edge[tools]" in str(info.value)
    with pytest.raises(ToolUnavailable) as info:
        load_tool("prepare-models", "prepare_models")
    assert info.value.exit_code == 2 and "sputnik-edge[dev]" in str(info.value)
    assert load_tool("eval", "eval").__name__ == "sputnik_edge.tools.eval"


def test_require_module_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ToolUnavailable, match=r"eval --plot.*'tools' extra"):
        require_module("eval --plot", "matplotlib")
