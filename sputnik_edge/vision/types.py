"""Small typed values passed between the vision stages."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
ImageArray = npt.NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Detection:
    """One face found by a detector, in the pixel coordinates of the input image.

    Landmarks follow YuNet's order, which is also the order of the ArcFace/SFace
    alignment template: right eye, left eye, nose tip, right mouth corner, left
    mouth corner (right/left of the *person*, so the right eye has the smaller x
    on a frontal face).
    """

    bbox: tuple[float, float, float, float]  # x1, y1, x2, y2
    landmarks: FloatArray  # shape (5, 2)
    score: float

    @property
    def width(self) -> float:
        return self.bbox[2] - self.bbox[0]

    @property
    def height(self) -> float:
        return self.bbox[3] - self.bbox[1]


@dataclass(frozen=True, slots=True)
class Quality:
    """Quality-gate verdict for one face; ``reasons`` is empty when ``ok``."""

    ok: bool
    reasons: tuple[str, ...]
    face_size: float  # shorter side of the box, px
    blur: float  # variance of the Laplacian on the aligned crop (higher is sharper)
    yaw: float  # rough degrees from landmarks, 0 is frontal
    pitch: float
    roll: float
    brightness: float  # mean grey level of the aligned crop, 0..255
    score: float  # 0..1 summary used to pick the best face of a track

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "reasons": list(self.reasons),
            "face_size": round(self.face_size, 1),
            "blur": round(self.blur, 1),
            "yaw": round(self.yaw, 1),
            "pitch": round(self.pitch, 1),
            "roll": round(self.roll, 1),
            "brightness": round(self.brightness, 1),
            "score": round(self.score, 3),
        }


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """Identity of a loaded model file, reported in /api/v1/info and stored with templates."""

    model_id: str
    file: str
    sha256: str
    extra: dict[str, str] = field(default_factory=dict)
