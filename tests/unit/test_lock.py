"""requirements/office.lock pins every package the image needs, each with hashes."""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import REPO_ROOT

LOCK = REPO_ROOT / "requirements" / "office.lock"


def pinned() -> dict[str, list[str]]:
    """name -> the versions pinned (several when markers split them, e.g. by Python version)."""
    out: dict[str, list[str]] = {}
    for line in LOCK.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)", line)
        if m:
            out.setdefault(canonicalize_name(m.group(1)), []).append(m.group(2))
    return out


def test_every_runtime_and_office_dependency_is_pinned_within_its_range() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    wanted = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["office"]]
    lock = pinned()
    for req in wanted:
        name = canonicalize_name(req.name)
        assert name in lock, f"{req.name} is not in {LOCK.name}: refresh it (requirements/README.md)"
        assert any(req.specifier.contains(v) for v in lock[name]), f"{req} vs locked {lock[name]}"
    for build in ("setuptools", "wheel"):  # the image builds our package without build isolation
        assert build in lock


def test_every_pin_has_hashes() -> None:
    text = LOCK.read_text()
    blocks = re.split(r"\n(?=[A-Za-z0-9_.\-]+==)", text)
    pins = [b for b in blocks if re.match(r"^[A-Za-z0-9_.\-]+==", b)]
    assert pins and all("--hash=sha256:" in b for b in pins)
