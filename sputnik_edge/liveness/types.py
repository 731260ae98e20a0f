"""What the liveness stage hands on: a per-track verdict with its score and deciding cues."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# not_checked: a single photo (the snapshot gateway), where no cue over time can be run.
Verdict = Literal["live", "spoof", "undecided", "not_checked"]
LivenessMode = Literal["off", "monitor", "enforce"]
Cue = Literal["blink", "parallax", "planar", "border"]
# Cues that can be switched off (config ``liveness.cues``): parallax and planar are the two sides
# of one homography test, so they go together as "motion".
CUE_NAMES: tuple[str, ...] = ("blink", "motion", "border")


@dataclass(frozen=True, slots=True)
class LivenessSettings:
    cues: tuple[str, ...] = CUE_NAMES
    blink_drop: float = 0.7  # EAR below this fraction of the track's open-eye level ...
    blink_recover: float = 0.9  # ... and back above this fraction within blink_frames: a blink
    blink_frames: int = 4
    min_deformation: float = 0.004  # face widths of non-similarity motion before the motion test votes
    planar_ratio: float = 0.45  # homography residual under this share of the similarity's: flat
    parallax_ratio: float = 0.65  # ... over this share: a real 3-D head
    motion_votes: int = 3  # votes of one kind needed, and twice as many as of the other kind
    border_frames: int = 3  # frames with a frame-like border around the face needed for spoof
    # ... and at least this share of the framed frames judged (edges moved or stayed): twice as
    # many moving as staying
    border_fraction: float = 0.67
    # A framed frame is judged once the face moved this many face widths from an earlier framed
    # frame; its edges must have moved with the face within this share of the face's shift.
    border_min_shift: float = 0.05
    border_follow: float = 0.5
    min_frames_live: int = 5  # frames seen before a live verdict is final
    max_frames: int = 150  # an undecided track stops being analysed after this many frames


@dataclass(frozen=True, slots=True)
class LivenessVerdict:
    verdict: Verdict
    score: float  # 0 (certainly an attack) .. 1 (certainly live); 0.5 is no evidence either way
    cues: tuple[str, ...] = ()  # the cues that decided it
    frames: int = 0
    evidence: dict[str, float] = field(default_factory=dict)
    reason: str = ""

    @property
    def final(self) -> bool:
        return self.verdict in ("live", "spoof")

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "verdict": self.verdict,
            "score": round(self.score, 3),
            "cues": list(self.cues),
            "frames": self.frames,
            "evidence": {k: round(v, 4) for k, v in self.evidence.items()},
        }
        if self.reason:
            out["reason"] = self.reason
        return out


UNDECIDED = LivenessVerdict("undecided", 0.5)
# What the snapshot gateway says about every pushed photo: it proves nothing about liveness.
SINGLE_PHOTO = LivenessVerdict(
    "not_checked",
    0.5,
    reason=(
        "single photo: blinks, head motion and a screen or paper border over time need a video "
        "stream; only the face match was checked"
    ),
)
