"""What every bench section shares: its inputs (settings, the dev face data, one recogniser),
loaded once and lazily, and the small helpers for iteration counts and progress bars."""

from __future__ import annotations

import csv
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sputnik_edge.config import Settings
    from sputnik_edge.recognition.gallery import Gallery
    from sputnik_edge.recognition.recognizer import Recognizer
    from sputnik_edge.store.local import LocalStore
    from sputnik_edge.vision.types import ImageArray

SECTIONS = (
    "stages",
    "reference",
    "stream",
    "match",
    "memory",
    "outbox",
    "central",
    "detectors",
    "fleet",
    "backlight",
    "liveness",
    "imagesets",
    "embedders",
)
RESOLUTIONS = ((640, 360), (1280, 720), (1920, 1080))
CLIP = "video/short_hamilton_clip.mp4"
# Tried first for that identity; then its photos in labels.csv order until one enrols.
ENROL_PHOTO = {"lin_manuel_miranda": "images/lin_manuel_miranda/lin-manuel-miranda.png"}


class BenchError(RuntimeError):
    """A section cannot run here (missing data, optional library, service)."""


def progress(total: int, desc: str, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, file=sys.stderr, disable=not enabled, leave=False, unit="it")


@dataclass
class BenchContext:
    """Lazily loaded inputs shared by the sections (mutable: it caches what it loaded)."""

    settings: Settings
    faces_dir: Path
    quick: bool
    progress: bool
    seconds: float | None = None
    database_url: str = ""
    _recognizer: Recognizer | None = None
    _frames: list[ImageArray] | None = None
    _photos: list[tuple[str, bytes]] | None = None
    _enrol: dict[str, tuple[str, np.ndarray]] | None = None

    def iterations(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    def configured_fps_limit(self) -> float:
        cams = self.settings.cameras
        return cams[0].fps_limit if cams else 10.0

    def recognizer(self) -> Recognizer:
        if self._recognizer is None:
            from sputnik_edge.recognition.recognizer import Recognizer

            self._recognizer = Recognizer.from_config(self.settings.recognition)
        return self._recognizer

    def clip_path(self) -> Path:
        path = self.faces_dir / CLIP
        if not path.is_file():
            raise BenchError(f"dev video not found: {path} (set --faces-dir or SPUTNIK_FACES_DIR)")
        return path

    def video_frames(self) -> list[ImageArray]:
        """Every frame of the dev clip (640x360 BGR)."""
        if self._frames is None:
            import cv2

            cap = cv2.VideoCapture(str(self.clip_path()))
            frames: list[ImageArray] = []
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                frames.append(np.asarray(frame, dtype=np.uint8))
            cap.release()
            if not frames:
                raise BenchError(f"cannot decode {self.clip_path()}")
            self._frames = frames
        return self._frames

    def photos(self) -> list[tuple[str, bytes]]:
        """(relative path, file bytes) of the dev photos: labels.csv, then multi_face.csv."""
        if self._photos is None:
            out: list[tuple[str, bytes]] = []
            for name in ("labels.csv", "multi_face.csv"):
                path = self.faces_dir / name
                if not path.is_file():
                    raise BenchError(f"{path} not found (set --faces-dir or SPUTNIK_FACES_DIR)")
                with path.open(newline="") as fh:
                    for row in csv.DictReader(fh):
                        out.append((row["path"], (self.faces_dir / row["path"]).read_bytes()))
            self._photos = out
        return self._photos

    def enrolment(self) -> dict[str, tuple[str, np.ndarray]]:
        """employee id -> (name, template) for each dev identity, from one photo each."""
        if self._enrol is None:
            from sputnik_edge.recognition.recognizer import EnrollmentError
            from sputnik_edge.vision.imageio import load_image

            rec = self.recognizer()
            with (self.faces_dir / "labels.csv").open(newline="") as fh:
                rows = list(csv.DictReader(fh))
            by_id: dict[str, list[str]] = {}
            for row in rows:
                by_id.setdefault(row["identity"], []).append(row["path"])
            enrol: dict[str, tuple[str, np.ndarray]] = {}
            for ident, paths in by_id.items():
                preferred = ENROL_PHOTO.get(ident)
                ordered = ([preferred] if preferred else []) + [p for p in paths if p != preferred]
                for rel in ordered:
                    try:
                        vec, _ = rec.enrollment_template(load_image(self.faces_dir / rel), rel)
                    except EnrollmentError:
                        continue
                    enrol[ident] = (ident.replace("_", " ").title(), vec)
                    break
            self._enrol = enrol
        return self._enrol

    def dev_gallery(self) -> Gallery:
        from sputnik_edge.recognition.gallery import Gallery

        enrol = self.enrolment()
        ids = list(enrol)
        return Gallery.build(ids, np.stack([enrol[i][1] for i in ids]), {i: enrol[i][0] for i in ids})

    def enrol_into(self, store: LocalStore, model_id: str) -> None:
        for ident, (name, vec) in self.enrolment().items():
            store.enroll(ident, name, None, model_id, vec[None], [1.0])
