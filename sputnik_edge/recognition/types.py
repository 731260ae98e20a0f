"""Values produced by the recognition stage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sputnik_edge.vision.types import Detection, FloatArray, Quality

Decision = Literal["match", "low_confidence", "unknown"]


@dataclass(frozen=True, slots=True)
class MatchResult:
    """Top-1 result of a 1:N search. ``margin`` is the similarity gap to the best *other* employee
    (1.0 when the gallery holds only one employee)."""

    decision: Decision
    employee_id: str | None
    name: str | None
    similarity: float
    margin: float


@dataclass(frozen=True, slots=True)
class FaceResult:
    """One face in an image, with everything the later stages and the API need."""

    detection: Detection
    quality: Quality
    embedding: FloatArray | None  # None when the quality gate stopped it before embedding
    match: MatchResult | None

    @property
    def decision(self) -> str:
        """The match decision, or ``rejected`` when the quality gate stopped the face."""
        return self.match.decision if self.match else "rejected"

    def as_dict(self) -> dict[str, object]:
        x1, y1, x2, y2 = self.detection.bbox
        m = self.match
        return {
            "bbox": [round(x1, 1), round(y1, 1), round(x2, 1), round(y2, 1)],
            "landmarks": [[round(float(x), 1), round(float(y), 1)] for x, y in self.detection.landmarks],
            "det_score": round(self.detection.score, 4),
            "quality": self.quality.as_dict(),
            "decision": self.decision,
            "employee_id": m.employee_id if m else None,
            "name": m.name if m else None,
            "similarity": round(m.similarity, 4) if m else None,
            "margin": round(m.margin, 4) if m else None,
        }
