"""Debug snapshots: private files, TTL cleanup by mtime, removal confined to the folder."""

from __future__ import annotations

import os
import stat
import time
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from sputnik_edge.store.snapshots import cleanup_snapshots, remove_snapshots, save_snapshot


def image() -> np.ndarray:
    img = np.zeros((64, 48, 3), np.uint8)
    img[:, :, 1] = np.arange(48, dtype=np.uint8)[None, :] * 5
    return img


def test_save_snapshot_private_file_in_private_dirs(tmp_path: Path) -> None:
    root = tmp_path / "snaps"
    when = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)
    rel = save_snapshot(root, "ev-1", image(), when)
    assert rel is not None
    path = root / rel
    assert path.parent.name == "20240506"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    decoded = cv2.imread(str(path))
    assert decoded is not None
    assert decoded.shape == (64, 48, 3)
    assert not list(path.parent.glob("*.tmp"))


def test_save_snapshot_unwritable_root_returns_none(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert save_snapshot(blocker / "snaps", "ev-1", image()) is None


def test_cleanup_removes_old_files_by_mtime(tmp_path: Path) -> None:
    root = tmp_path / "snaps"
    now = time.time()
    old_day = save_snapshot(root, "old", image(), datetime(2024, 1, 1, tzinfo=UTC))
    mixed_old = save_snapshot(root, "mixed-old", image(), datetime(2024, 1, 2, tzinfo=UTC))
    mixed_new = save_snapshot(root, "mixed-new", image(), datetime(2024, 1, 2, tzinfo=UTC))
    fresh = save_snapshot(root, "fresh", image(), datetime(2024, 1, 3, tzinfo=UTC))
    assert None not in (old_day, mixed_old, mixed_new, fresh)
    ten_days_ago = now - 10 * 86400
    for rel in (old_day, mixed_old):
        os.utime(root / rel, (ten_days_ago, ten_days_ago))
    two_days_ago = now - 2 * 86400
    for rel in (mixed_new, fresh):
        os.utime(root / rel, (two_days_ago, two_days_ago))

    assert cleanup_snapshots(root, ttl_days=7, now=now) == 2
    assert not (root / old_day).exists()
    assert not (root / old_day).parent.exists()  # emptied day folder removed
    assert not (root / mixed_old).exists()
    assert (root / mixed_new).exists()
    assert (root / fresh).exists()
    assert cleanup_snapshots(root, ttl_days=7, now=now) == 0
    assert cleanup_snapshots(tmp_path / "missing", ttl_days=7) == 0


def test_remove_snapshots_refuses_paths_outside_root(tmp_path: Path) -> None:
    root = tmp_path / "snaps"
    rel = save_snapshot(root, "ev", image())
    assert rel is not None
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me")
    removed = remove_snapshots(root, ["../precious.txt", str(outside), rel, "20990101/missing.jpg"])
    assert removed == 1
    assert outside.read_text() == "keep me"
    assert not (root / rel).exists()
