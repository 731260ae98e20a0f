"""Attendance policy: when a followed face becomes a check-in, check-out, pass or unknown event.

A match event needs ``min_frames`` frames agreeing on one employee (each already above the
match threshold with the required margin), and no event repeats for the same employee on the
same camera within ``cooldown_s``. A track that ends without a match yields at most one
``unknown`` or ``low_confidence`` event, which names no one.

Liveness (``liveness_mode``): *off* ignores it; *monitor* records the track's verdict in every
event and adds one ``spoof_suspected`` event when a track is judged an attack (the check-in
stands); *enforce* holds a decided match until the track is judged ``live``, and turns a match
judged ``spoof`` (or still undecided when the track ends) into ``spoof_suspected`` instead.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sputnik_edge.attendance.tracker import Track
from sputnik_edge.attendance.types import AttendanceEvent, EventKind, new_event_id
from sputnik_edge.liveness.types import LivenessMode, LivenessVerdict
from sputnik_edge.recognition.types import MatchResult

DIRECTION_KIND: dict[str, EventKind] = {"in": "check_in", "out": "check_out", "pass": "pass"}


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    min_frames: int = 3
    cooldown_s: float = 300.0
    max_embeds_per_track: int = 8
    reembed_quality_gain: float = 0.1
    liveness_mode: LivenessMode = "off"


@dataclass(frozen=True, slots=True)
class CameraInfo:
    camera_id: str
    direction: str  # in | out | pass


class AttendancePolicy:
    """Shared by every camera and the gateway; cooldowns are guarded by a lock."""

    def __init__(
        self, cfg: PolicyConfig, device_id: str, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.cfg = cfg
        self.device_id = device_id
        self.clock = clock
        self._last: dict[tuple[str, str], float] = {}
        # Apart from _last: a spoof_suspected must not start the check-in cooldown.
        self._last_spoof: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def seed_cooldowns(self, recent: Iterable[AttendanceEvent], now_wall: datetime) -> None:
        """Restore cooldowns from the local log so a restart does not repeat a check-in."""
        now = self.clock()
        with self._lock:
            for ev in recent:
                if ev.employee_id and ev.kind in DIRECTION_KIND.values():
                    age = (now_wall - ev.captured_at).total_seconds()
                    if 0 <= age < self.cfg.cooldown_s:
                        key = (ev.camera_id, ev.employee_id)
                        self._last[key] = max(self._last.get(key, -1e18), now - age)

    def needs_embedding(self, track: Track, quality_score: float) -> bool:
        """Embed every usable frame of an undecided track up to a budget; past the budget only a
        clearly better face is worth another embed. A decided track is never embedded again."""
        if track.decided:
            return False
        if track.embeds < self.cfg.max_embeds_per_track:
            return True
        return quality_score >= track.best_quality + self.cfg.reembed_quality_gain

    def observe(
        self,
        track: Track,
        match: MatchResult,
        camera: CameraInfo,
        wall: datetime,
        *,
        min_frames: int | None = None,
        trace_id: str | None = None,
        liveness: LivenessVerdict | None = None,
    ) -> AttendanceEvent | None:
        """Add one frame's match to the track; return a match event when the track is decided."""
        track.observations.append(match)
        return self.reconsider(
            track, camera, wall, min_frames=min_frames, trace_id=trace_id, liveness=liveness
        )

    def _leader(self, track: Track, need: int) -> tuple[str, int] | None:
        votes = track.votes().most_common(2)
        if not votes:
            return None
        leader, count = votes[0]
        runner_up = votes[1][1] if len(votes) > 1 else 0
        if count < need or count < 2 * runner_up:
            return None
        return leader, count

    def reconsider(
        self,
        track: Track,
        camera: CameraInfo,
        wall: datetime,
        *,
        min_frames: int | None = None,
        trace_id: str | None = None,
        liveness: LivenessVerdict | None = None,
    ) -> AttendanceEvent | None:
        """Decide the track from what it has seen so far (called again as its liveness changes)."""
        if track.decided:
            return None
        found = self._leader(track, self.cfg.min_frames if min_frames is None else min_frames)
        if found is None:
            return None
        leader, count = found
        if self.cfg.liveness_mode == "enforce":
            if liveness is None or not liveness.final:
                return None  # held until the track is judged, or ends
            if liveness.verdict == "spoof":
                track.decided = True
                return self.spoof_event(track, leader, camera, wall, liveness, trace_id)
        track.decided = True
        now = self.clock()
        key = (camera.camera_id, leader)
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.cfg.cooldown_s:
                track.cooldown_hit = True
                return None
            self._last[key] = now
        details: dict[str, object] = {
            "frames": count,
            "track_id": track.track_id,
            "observations": len(track.observations),
        }
        if self.cfg.liveness_mode != "off" and liveness is not None:
            details["liveness"] = liveness.as_dict()
        return AttendanceEvent(
            event_id=new_event_id(),
            device_id=self.device_id,
            camera_id=camera.camera_id,
            kind=DIRECTION_KIND[camera.direction],
            employee_id=leader,
            name=self._name(track, leader),
            similarity=self._best(track, leader),
            captured_at=wall,
            trace_id=trace_id,
            details=details,
        )

    def matched(self, track: Track) -> str | None:
        """Whom the track's face matched most often so far (None before any match)."""
        found = self._leader(track, 1)
        return found[0] if found else None

    @staticmethod
    def _name(track: Track, leader: str) -> str | None:
        return next((o.name for o in track.observations if o.employee_id == leader), None)

    @staticmethod
    def _best(track: Track, leader: str) -> float | None:
        sims = [o.similarity for o in track.observations if o.employee_id == leader and o.decision == "match"]
        return max(sims) if sims else None

    def spoof_event(
        self,
        track: Track,
        leader: str | None,
        camera: CameraInfo,
        wall: datetime,
        liveness: LivenessVerdict,
        trace_id: str | None = None,
        *,
        cooldown: bool = False,
    ) -> AttendanceEvent | None:
        """The one ``spoof_suspected`` event of a track, naming whom the face matched (if anyone).

        ``cooldown``: at most one per (camera, person) within ``cooldown_s``, for sources where
        every frame is a track of its own (the snapshot gateway: a camera pushing a photo a second
        would otherwise write an event and a face crop a second)."""
        if track.spoof_reported:
            return None
        if leader is None:
            leader = self.matched(track)
        track.spoof_reported = True
        if cooldown and leader is not None:
            now, key = self.clock(), (camera.camera_id, leader)
            with self._lock:
                last = self._last_spoof.get(key)
                if last is not None and now - last < self.cfg.cooldown_s:
                    return None
                self._last_spoof[key] = now
        return AttendanceEvent(
            event_id=new_event_id(),
            device_id=self.device_id,
            camera_id=camera.camera_id,
            kind="spoof_suspected",
            employee_id=leader,
            name=self._name(track, leader) if leader else None,
            similarity=self._best(track, leader) if leader else None,
            captured_at=wall,
            trace_id=trace_id,
            details={
                "frames": len(track.observations),
                "track_id": track.track_id,
                "mode": self.cfg.liveness_mode,
                "liveness": liveness.as_dict(),
            },
        )

    def in_cooldown(self, camera_id: str, employee_id: str) -> bool:
        with self._lock:
            last = self._last.get((camera_id, employee_id))
        return last is not None and self.clock() - last < self.cfg.cooldown_s

    def track_ended(
        self,
        track: Track,
        camera: CameraInfo,
        wall: datetime,
        *,
        min_frames: int | None = None,
        trace_id: str | None = None,
        liveness: LivenessVerdict | None = None,
        spoof_cooldown: bool = False,
    ) -> AttendanceEvent | None:
        """At most one unknown / low_confidence event for an undecided track; under ``enforce``
        a match still held for want of a live verdict becomes ``spoof_suspected`` (rate-limited
        per camera and person with ``spoof_cooldown``, see ``spoof_event``)."""
        need = self.cfg.min_frames if min_frames is None else min_frames
        if track.decided or len(track.observations) < need:
            return None
        if self.cfg.liveness_mode == "enforce" and liveness is not None:
            found = self._leader(track, need)
            if found is not None:
                track.decided = True
                return self.spoof_event(
                    track, found[0], camera, wall, liveness, trace_id, cooldown=spoof_cooldown
                )
        track.decided = True
        low = [o for o in track.observations if o.decision == "low_confidence"]
        kind: EventKind = "low_confidence" if len(low) * 2 >= len(track.observations) else "unknown"
        best = max(o.similarity for o in track.observations)
        return AttendanceEvent(
            event_id=new_event_id(),
            device_id=self.device_id,
            camera_id=camera.camera_id,
            kind=kind,
            employee_id=None,
            name=None,
            similarity=best,
            captured_at=wall,
            trace_id=trace_id,
            details={"frames": len(track.observations), "track_id": track.track_id},
        )
