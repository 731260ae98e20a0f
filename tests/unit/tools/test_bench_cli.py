"""``sputnik-edge bench`` as a command: JSON on stdout and in --out, usage errors, exit codes."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from sputnik_edge.cli import tools as cli_tools
from sputnik_edge.cli.common import Ctx, UsageError
from sputnik_edge.tools.bench.results import BenchResult
from tests.unit.tools.bench_helpers import bench_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")

    def add(name: str, func: Callable[[Ctx], int], help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_)
        p.set_defaults(func=func)
        p.add_argument("-q", "--quiet", action="store_true")
        return p

    cli_tools.register(add)
    return parser


def test_bench_command_json_and_out(
    tmp_path: Path, faces_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = bench_settings(tmp_path)
    out = tmp_path / "out"
    argv = [
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
    args = _parser().parse_args(argv)
    assert args.func(Ctx(settings, args)) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["sections"]["outbox"]["events"] == 20
    written = json.loads((out / "bench.json").read_text())
    assert written == printed
    assert BenchResult.from_json(written).to_json() == written  # the file reads back as written


def test_bench_command_text_and_usage_errors(
    tmp_path: Path, faces_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = bench_settings(tmp_path)
    parser = _parser()
    args = parser.parse_args(["bench", "--quick", "-q", "--only", "outbox", "--faces-dir", str(faces_dir)])
    assert args.func(Ctx(settings, args)) == 0
    assert "outbox:" in capsys.readouterr().out
    for argv, message in (
        (["bench", "--only", "nope"], "unknown section"),
        (["bench", "--seconds", "0"], "--seconds must be positive"),
        (["bench", "--only", "stream", "--faces-dir", str(tmp_path)], "face data not found"),
    ):
        bad = parser.parse_args(argv)
        with pytest.raises(UsageError, match=message):
            bad.func(Ctx(settings, bad))
