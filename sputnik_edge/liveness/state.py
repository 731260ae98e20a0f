"""Per-track liveness: folds each frame's cues into a verdict that only ever becomes final once.

Evidence against (an attack) wins over evidence for: a phone replay shows a real head's blinks
and parallax, so a border around the face or a flat motion decides ``spoof`` even after a blink.

A border only counts when it moves with the face: a held phone or print carries its edges along
(their offset to the face stays), a door frame or a window's mullions stay where they are in the
image while the person moves. Frames in which the face has not moved yet say nothing either way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sputnik_edge.liveness import cues
from sputnik_edge.liveness.types import UNDECIDED, LivenessSettings, LivenessVerdict
from sputnik_edge.vision.types import FloatArray, ImageArray

__all__ = ["TrackLiveness"]


@dataclass(frozen=True, slots=True)
class _Framed:
    """A frame with edges on both sides of the face (image x pixels)."""

    face: float  # the face box's centre
    left: float  # the nearest edges
    right: float
    lefts: tuple[float, ...]  # all edges per side
    rights: tuple[float, ...]

    def shift(self, other: _Framed) -> float:
        return max(abs(self.face - other.face), abs(self.left - other.left), abs(self.right - other.right))


@dataclass
class TrackLiveness:
    """Mutable state of one track (owned by one camera's pipeline thread)."""

    settings: LivenessSettings
    frames: int = 0
    ears: list[float] = field(default_factory=list)
    blinked: bool = False
    planar_votes: int = 0
    parallax_votes: int = 0
    border_hits: int = 0  # framed frames whose edges moved with the face
    border_fixed: int = 0  # framed frames whose edges stayed put while the face moved
    _framed: list[_Framed] = field(default_factory=list)
    verdict: LivenessVerdict = UNDECIDED
    _prev_grey: ImageArray | None = None

    def update(
        self, points: FloatArray | None, grey: ImageArray | None, bbox: tuple[float, float, float, float]
    ) -> LivenessVerdict:
        """Add one frame (its face mesh and the grey frame; either may be None) and re-judge."""
        if self.verdict.final or self.frames >= self.settings.max_frames:
            return self.verdict
        s = self.settings
        self.frames += 1
        if "border" in s.cues and grey is not None:
            self._border(cues.border(grey, bbox), bbox)
        if "blink" in s.cues and points is not None:
            self._blink(cues.eye_aspect_ratio(points))
        if "motion" in s.cues and grey is not None:
            if self._prev_grey is not None and self._prev_grey.shape == grey.shape:
                self._motion(cues.planarity(self._prev_grey, grey, bbox))
            self._prev_grey = grey
        self.verdict = self._judge()
        if self.verdict.final:
            self._prev_grey = None  # a decided track keeps no frame
            self._framed.clear()
        return self.verdict

    def _motion(self, p: cues.Planarity | None) -> None:
        if p is None or p.deformation < self.settings.min_deformation:
            return
        if p.ratio <= self.settings.planar_ratio:
            self.planar_votes += 1
        elif p.ratio >= self.settings.parallax_ratio:
            self.parallax_votes += 1

    def _border(self, b: cues.Border, bbox: tuple[float, float, float, float]) -> None:
        if b.left is None or b.right is None:
            return
        x1, _, x2, _ = bbox
        here = _Framed((x1 + x2) / 2, b.left, b.right, b.lefts, b.rights)
        # Compare with the framed frame farthest from this one: frame-to-frame steps are a few
        # pixels, the size of the edges' own jitter.
        ref = max(self._framed, key=here.shift, default=None)
        self._framed.append(here)
        if ref is None or here.shift(ref) < self.settings.border_min_shift * (x2 - x1):
            return  # nothing moved yet: a held card and a door frame look alike
        # A side whose nearest edge is where one of the reference's edges was stayed put. A bar
        # (a mullion, a door jamb) has two edges and Hough does not always find both, hence
        # "any of the reference's edges"; one side staying and one moving (the head covering
        # one edge of a bar, a card turning about one of its sides) says nothing.
        slack = max(2.0, self.settings.border_follow * abs(here.face - ref.face))
        left_stayed = any(abs(here.left - x) <= slack for x in ref.lefts)
        right_stayed = any(abs(here.right - x) <= slack for x in ref.rights)
        if left_stayed and right_stayed:
            self.border_fixed += 1  # part of the room
        elif not left_stayed and not right_stayed:
            self.border_hits += 1  # both edges moved: they belong to something held or carried

    def _blink(self, ear: float) -> None:
        # A blink is a dip well below the track's open-eye level (its upper EARs) that comes back
        # within a few frames: mesh jitter on a photo wobbles, it does not close and reopen.
        s = self.settings
        self.ears.append(ear)
        if len(self.ears) < 6:
            return
        open_level = float(np.percentile(self.ears, 75))
        recent = self.ears[-(s.blink_frames + 1) :]
        closed = min(recent[:-1]) < s.blink_drop * open_level
        if closed and recent[-1] > s.blink_recover * open_level:
            self.blinked = True

    def _judge(self) -> LivenessVerdict:
        s = self.settings
        evidence = {
            "border_frames": float(self.border_hits),
            "border_fixed": float(self.border_fixed),
            "planar_votes": float(self.planar_votes),
            "parallax_votes": float(self.parallax_votes),
            "blink": float(self.blinked),
        }
        judged = self.border_hits + self.border_fixed
        border = self.border_hits >= s.border_frames and self.border_hits >= s.border_fraction * judged
        planar = self.planar_votes >= s.motion_votes and self.planar_votes >= 2 * self.parallax_votes
        if border or planar:
            decided = tuple(c for c, hit in (("border", border), ("planar", planar)) if hit)
            strength = min(1.0, 0.25 * self.border_hits + 0.25 * self.planar_votes)
            return LivenessVerdict("spoof", 0.5 - 0.5 * strength, decided, self.frames, evidence)
        parallax = self.parallax_votes >= s.motion_votes and self.parallax_votes >= 2 * self.planar_votes
        live = tuple(c for c, hit in (("blink", self.blinked), ("parallax", parallax)) if hit)
        # A face framed by edges in border_frames frames is live only once its edges were seen to
        # stay put while it moved, in border_frames frames and twice as often as moving with it:
        # a held phone's border needs motion to count, the replayed head's parallax does not.
        framed = len(self._framed) >= s.border_frames
        room = self.border_fixed >= s.border_frames and self.border_fixed >= 2 * self.border_hits
        if live and self.frames >= s.min_frames_live and (room or not framed):
            strength = min(1.0, 0.5 * self.blinked + 0.15 * self.parallax_votes)
            return LivenessVerdict("live", 0.5 + 0.5 * strength, live, self.frames, evidence)
        return LivenessVerdict("undecided", 0.5, (), self.frames, evidence)
