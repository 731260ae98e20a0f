"""IoU tracker: follows faces from frame to frame so a person is embedded and decided once.

Greedy matching by IoU is enough at a door: a handful of faces, moving little between frames
at 5-15 processed fps.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from sputnik_edge.recognition.types import MatchResult
from sputnik_edge.vision.types import FloatArray, ImageArray

Box = tuple[float, float, float, float]


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boxes (N,4) and (M,4) given as x1,y1,x2,y2."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return (inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)).astype(np.float32)


@dataclass
class Track:
    """Mutable state of one followed face (owned by one camera's pipeline thread)."""

    track_id: int
    bbox: Box
    first_seen: float
    last_seen: float
    hits: int = 1
    embeds: int = 0
    best_quality: float = -1.0
    observations: list[MatchResult] = field(default_factory=list)
    decided: bool = False  # an event was emitted (or suppressed by cooldown) for this track
    snapshot: ImageArray | None = None  # best face crop so far, for unknown/low-confidence events
    snapshot_quality: float = -1.0
    best_embedding: FloatArray | None = None  # of the best-quality embedded frame (unknown uploads)
    first_frame_mono: float = 0.0
    spoof_reported: bool = False  # a spoof_suspected event was written for this track (liveness)
    # Set by the policy when it drops this track's check-in/out for the cooldown; the engine
    # counts it on /metrics and clears it, so each suppression is counted once.
    cooldown_hit: bool = False

    def votes(self) -> Counter[str]:
        return Counter(o.employee_id for o in self.observations if o.decision == "match" and o.employee_id)


class IouTracker:
    def __init__(self, iou_threshold: float = 0.3, max_age_s: float = 1.5) -> None:
        self.iou_threshold = iou_threshold
        self.max_age_s = max_age_s
        self.tracks: list[Track] = []
        self._next_id = 1

    def update(self, boxes: list[Box], now: float) -> tuple[list[Track], list[Track]]:
        """Assign boxes to tracks. Returns (track per box, in box order; tracks that ended)."""
        existing = np.array([t.bbox for t in self.tracks], np.float32).reshape(-1, 4)
        new = np.array(boxes, np.float32).reshape(-1, 4)
        ious = iou_matrix(existing, new)
        assigned: dict[int, Track] = {}
        used: set[int] = set()
        if ious.size:
            for flat in np.argsort(-ious, axis=None):
                ti, bi = np.unravel_index(flat, ious.shape)
                if ious[ti, bi] < self.iou_threshold:
                    break
                if ti in used or bi in assigned:
                    continue
                track = self.tracks[int(ti)]
                track.bbox = boxes[int(bi)]
                track.last_seen = now
                track.hits += 1
                assigned[int(bi)] = track
                used.add(int(ti))
        for bi, box in enumerate(boxes):
            if bi not in assigned:
                track = Track(self._next_id, box, now, now, first_frame_mono=now)
                self._next_id += 1
                self.tracks.append(track)
                assigned[bi] = track
        ended = [t for t in self.tracks if now - t.last_seen > self.max_age_s]
        if ended:
            self.tracks = [t for t in self.tracks if now - t.last_seen <= self.max_age_s]
        return [assigned[i] for i in range(len(boxes))], ended

    def flush(self) -> list[Track]:
        """End every track (on shutdown)."""
        ended, self.tracks = self.tracks, []
        return ended
