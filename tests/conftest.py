"""Shared fixtures: the real face data set and CI rules for skips."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

# One instance each, for the whole session: a second session-scoped Playwright in the same
# process fails ("Sync API inside the asyncio loop").
pytest_plugins = ["tests.support.cameras", "tests.support.browser"]

REPO_ROOT = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _faces_dir() -> Path:
    env = os.environ.get("SPUTNIK_FACES_DIR")
    if env:
        return Path(env)
    return REPO_ROOT.parent / "shared" / "faces"


def require(condition: bool, reason: str) -> None:
    """Skip when a resource is missing, but fail in CI where it must be present."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def _mediapipe_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("mediapipe") is not None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``mediapipe`` need the optional extra. Without it they are skipped, except in
    CI, which runs them in a venv with the extra (`-m mediapipe`) and deselects them in the other
    (`-m "not mediapipe"`): one that still runs there without mediapipe fails, as it should."""
    if IN_CI or _mediapipe_installed():
        return
    skip = pytest.mark.skip(reason="needs the mediapipe extra: pip install -e '.[dev,mediapipe]'")
    for item in items:
        if item.get_closest_marker("mediapipe") is not None:
            item.add_marker(skip)


def clear_config_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No configuration from the developer's shell leaks into a test: SPUTNIK_* (but the face data
    path), the flat aliases and systemd's credentials directory are removed."""
    from sputnik_edge.config import FLAT_ALIASES

    for name in list(os.environ):
        if name.upper().startswith("SPUTNIK_") and name.upper() != "SPUTNIK_FACES_DIR":
            monkeypatch.delenv(name)
    for name in (*FLAT_ALIASES, "CREDENTIALS_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)


def pretend_mediapipe(monkeypatch: pytest.MonkeyPatch, installed: bool) -> None:
    """Make the config's install check see mediapipe as present or absent, whatever this venv has
    (the check is what is under test, not mediapipe)."""
    import importlib.util

    real = importlib.util.find_spec
    stand_in = object() if installed else None
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: stand_in if name == "mediapipe" else real(name, *a)
    )


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    path = _faces_dir()
    require((path / "labels.csv").is_file(), f"face data not found at {path} (set SPUTNIK_FACES_DIR)")
    return path


@pytest.fixture(scope="session")
def face_labels(faces_dir: Path) -> list[tuple[Path, str]]:
    """(absolute image path, identity) rows of the dev set's labels.csv, in file order."""
    with (faces_dir / "labels.csv").open(newline="") as fh:
        return [(faces_dir / row["path"], row["identity"]) for row in csv.DictReader(fh)]


@pytest.fixture(scope="session")
def models_dir() -> Path:
    return REPO_ROOT / "models"
