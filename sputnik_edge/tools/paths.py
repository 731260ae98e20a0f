"""Where the tools find the developer face data (never shipped, never copied into the repo)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def default_faces_dir() -> Path:
    """``$SPUTNIK_FACES_DIR``, else ``<repo>/../shared/faces``."""
    env = os.environ.get("SPUTNIK_FACES_DIR")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "faces"


def dev_people(faces_dir: Path) -> dict[str, Path]:
    """identity -> its first photo in ``labels.csv`` (the one the tools and tests enrol)."""
    out: dict[str, Path] = {}
    with (faces_dir / "labels.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            out.setdefault(row["identity"], faces_dir / row["path"])
    return out
