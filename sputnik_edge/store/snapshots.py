"""Face crops of unknown, low-confidence and spoof-suspected events: personal data with a time limit.

Files are written 0600 in 0700 folders (one folder per UTC day) and removed by the scheduled
TTL job. A full disk never stops an event: the snapshot is skipped with a warning.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import cv2
import structlog

from sputnik_edge.vision.types import ImageArray

log = structlog.get_logger(__name__)


def save_snapshot(root: Path, event_id: str, image: ImageArray, when: datetime | None = None) -> str | None:
    """Write a JPEG; return its path relative to ``root``, or None when it could not be written."""
    when = when or datetime.now(UTC)
    rel = Path(when.strftime("%Y%m%d")) / f"{event_id}.jpg"
    path = root / rel
    try:
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.parent.mkdir(exist_ok=True, mode=0o700)
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
        if not ok:
            raise OSError("JPEG encoding failed")
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(buf.tobytes())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("snapshot_skipped", event_id=event_id, error=exc.strerror or str(exc))
        return None
    return str(rel)


def remove_snapshots(root: Path, rel_paths: Iterable[str]) -> int:
    removed = 0
    for rel in rel_paths:
        path = (root / rel).resolve()
        if root.resolve() not in path.parents:  # never follow a path out of the folder
            continue
        try:
            path.unlink()
            removed += 1
        except FileNotFoundError:
            pass
    return removed


def cleanup_snapshots(root: Path, ttl_days: float, now: float | None = None) -> int:
    """Delete snapshots older than the TTL and the day folders left empty; returns files removed."""
    if not root.is_dir():
        return 0
    cutoff = (now if now is not None else time.time()) - ttl_days * 86400
    removed = 0
    for day in sorted(p for p in root.iterdir() if p.is_dir()):
        for f in day.iterdir():
            try:
                if f.stat().st_mtime < cutoff:
                    f.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        if not any(day.iterdir()):
            shutil.rmtree(day, ignore_errors=True)
    return removed
