"""Short test clips written from real photos (MJPG in AVI, which every OpenCV build writes), in a
test's temp folder and 0600: they hold real faces."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def write_clip(path: Path, frames: list[np.ndarray], fps: float = 10.0) -> Path:
    h, w = frames[0].shape[:2]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    for f in frames:
        out.write(cv2.resize(f, (w, h)))
    out.release()
    path.chmod(0o600)
    return path
