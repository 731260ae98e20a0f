"""The door device's install: a plain ``pip install .`` (no extras), as ``.ci/run`` builds it in
``.venv-device``. No plotting library comes with it; the runtime commands work; the tool commands
say which extra they need."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import tomllib
from pathlib import Path

import httpx
import pytest
import tomli_w

from tests.conftest import REPO_ROOT, require
from tests.support.daemon import free_port

pytestmark = pytest.mark.integration

DEVICE_VENV = Path(os.environ.get("SPUTNIK_DEVICE_VENV", REPO_ROOT / ".venv-device"))
COMMANDS = (
    "check-config", "enroll", "enroll-dir", "employees", "identify", "events", "run", "doctor",
    "db", "sync", "store", "eval", "eval-video", "liveness-eval", "prepare-models", "bench",
    "loadtest", "soak",
)  # fmt: skip


@pytest.fixture(scope="module")
def device_bin() -> Path:
    exe = DEVICE_VENV / "bin" / "sputnik-edge"
    require(exe.is_file(), f"no device venv at {DEVICE_VENV} (python3 -m venv .venv-device && pip install .)")
    return DEVICE_VENV / "bin"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "device.toml"
    cfg = {
        "device": {"id": "door-plain"},
        "storage": {"database": str(tmp_path / "edge.db"), "snapshots_dir": str(tmp_path / "snaps")},
        "http": {"host": "127.0.0.1", "port": free_port()},
        "cameras": [],
    }
    path.write_bytes(tomli_w.dumps(cfg).encode())
    return path


def run(bin_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # cwd away from the checkout so that nothing is imported from the source tree by accident.
    return subprocess.run(
        [str(bin_dir / args[0]), *args[1:]], capture_output=True, text=True, timeout=120, cwd=cwd
    )


def test_no_plotting_or_tool_library_is_installed(device_bin: Path, tmp_path: Path) -> None:
    for module in ("matplotlib", "psutil", "sputnik_edge.tools.bench"):
        res = run(device_bin, "python", "-c", f"import {module}", cwd=tmp_path)
        if module.startswith("sputnik_edge"):
            # The tool modules ship, but cannot import without their extra.
            assert res.returncode != 0 and "No module named" in res.stderr, res.stderr
        else:
            assert res.returncode != 0 and f"No module named '{module}'" in res.stderr, res.stderr
    installed = run(
        device_bin, "python", "-c", "import sputnik_edge, sys; print(sputnik_edge.__file__)", cwd=tmp_path
    )
    assert str(DEVICE_VENV) in installed.stdout, "the device venv must run its own installed copy"


def test_help_lists_every_command(device_bin: Path, tmp_path: Path) -> None:
    res = run(device_bin, "sputnik-edge", "--help", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    for command in COMMANDS:
        assert f"    {command}" in res.stdout, command


def test_runtime_commands_work(device_bin: Path, config: Path, faces_dir: Path, tmp_path: Path) -> None:
    lin = sorted((faces_dir / "images" / "lin_manuel_miranda").iterdir())
    enrol, probe = str(lin[0]), str(lin[-1])
    res = run(device_bin, "sputnik-edge", "enroll", "--config", str(config), "--employee-id", "lin",
              "--name", "Lin", enrol, cwd=tmp_path)  # fmt: skip
    assert res.returncode == 0, res.stderr
    res = run(device_bin, "sputnik-edge", "identify", "--config", str(config), "--json", probe, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert '"employee_id": "lin"' in res.stdout
    res = run(device_bin, "sputnik-edge", "doctor", "--config", str(config), cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "ok   model embedder" in res.stdout and "ok   disk" in res.stdout


def test_daemon_runs_and_stops(device_bin: Path, config: Path, tmp_path: Path) -> None:
    port = int(tomllib.loads(config.read_text())["http"]["port"])
    proc = subprocess.Popen(
        [str(device_bin / "sputnik-edge"), "run", "--config", str(config)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        body: dict[str, object] = {}
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                body = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).json()
                if body.get("ready"):
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        assert body.get("ready") is True, body
        assert body["status"] == "ok"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err[-2000:]


@pytest.mark.parametrize(
    "args",
    [
        ("bench", "--quick", "--only", "outbox"),
        ("soak", "--minutes", "0.1"),
        ("loadtest", "--health-requests", "1"),
        ("eval", "--pairs", "p.csv", "--root", ".", "--plot", "roc.png"),
    ],
)
def test_tool_commands_name_the_extra(
    device_bin: Path, config: Path, tmp_path: Path, args: tuple[str, ...]
) -> None:
    res = run(device_bin, "sputnik-edge", args[0], "--config", str(config), *args[1:], cwd=tmp_path)
    assert res.returncode == 2, res.stdout + res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert "'tools' extra" in lines[0] and "pip install 'sputnik-edge[tools]'" in lines[0]
