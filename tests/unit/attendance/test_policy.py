"""Attendance policy: when the frames of a track become events (the tracker: test_tracker.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from sputnik_edge.attendance.policy import AttendancePolicy, CameraInfo, PolicyConfig
from sputnik_edge.attendance.tracker import Track
from sputnik_edge.recognition.types import MatchResult

CAM_IN = CameraInfo("entrance", "in")
WALL = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def match(emp: str = "ann", sim: float = 0.7) -> MatchResult:
    return MatchResult("match", emp, emp.title(), sim, 0.3)


def low(sim: float = 0.45) -> MatchResult:
    return MatchResult("low_confidence", "ann", "Ann", sim, 0.1)


def unknown(sim: float = 0.1) -> MatchResult:
    return MatchResult("unknown", None, None, sim, 0.05)


def track(i: int = 1) -> Track:
    return Track(i, (0, 0, 10, 10), 0.0, 0.0)


def policy(**kw: float) -> tuple[AttendancePolicy, FakeClock]:
    clock = FakeClock()
    return AttendancePolicy(PolicyConfig(**kw), "door-1", clock=clock), clock  # type: ignore[arg-type]


def test_event_needs_min_frames_agreeing() -> None:
    p, _ = policy(min_frames=3)
    t = track()
    assert p.observe(t, match(), CAM_IN, WALL) is None
    assert p.observe(t, match(), CAM_IN, WALL) is None
    ev = p.observe(t, match(sim=0.8), CAM_IN, WALL)
    assert ev is not None and ev.kind == "check_in" and ev.employee_id == "ann"
    assert ev.similarity == 0.8 and ev.details["frames"] == 3
    assert t.decided and p.observe(t, match(), CAM_IN, WALL) is None  # one event per track


def test_disagreeing_frames_do_not_decide() -> None:
    p, _ = policy(min_frames=3)
    t = track()
    for emp in ("ann", "bob", "ann", "bob", "ann"):
        ev = p.observe(t, match(emp), CAM_IN, WALL)
    assert ev is None  # 3 ann vs 2 bob: the leader must have twice the runner-up
    assert p.observe(t, match("ann"), CAM_IN, WALL) is not None  # 4 vs 2


def test_direction_gives_kind() -> None:
    for direction, kind in (("in", "check_in"), ("out", "check_out"), ("pass", "pass")):
        p, _ = policy(min_frames=1)
        ev = p.observe(track(), match(), CameraInfo("c", direction), WALL)
        assert ev is not None and ev.kind == kind


def test_cooldown_per_employee_per_camera() -> None:
    p, clock = policy(min_frames=1, cooldown_s=300)
    assert p.observe(track(1), match("ann"), CAM_IN, WALL) is not None
    assert p.observe(track(2), match("ann"), CAM_IN, WALL) is None  # same camera, within cooldown
    assert p.observe(track(3), match("bob"), CAM_IN, WALL) is not None  # another employee
    assert p.observe(track(4), match("ann"), CameraInfo("exit", "out"), WALL) is not None  # another camera
    clock.t += 301
    assert p.observe(track(5), match("ann"), CAM_IN, WALL) is not None


def test_track_end_gives_one_nameless_unknown_or_low_confidence() -> None:
    p, _ = policy(min_frames=2)
    t = track()
    p.observe(t, unknown(), CAM_IN, WALL)
    p.observe(t, unknown(0.2), CAM_IN, WALL)
    ev = p.track_ended(t, CAM_IN, WALL)
    assert ev is not None and ev.kind == "unknown" and ev.employee_id is None and ev.name is None
    assert ev.similarity == 0.2
    assert p.track_ended(t, CAM_IN, WALL) is None
    t2 = track(2)
    for _ in range(3):
        p.observe(t2, low(), CAM_IN, WALL)
    ev2 = p.track_ended(t2, CAM_IN, WALL)
    assert ev2 is not None and ev2.kind == "low_confidence" and ev2.employee_id is None
    short = track(3)
    p.observe(short, unknown(), CAM_IN, WALL)
    assert p.track_ended(short, CAM_IN, WALL) is None  # too few frames to say anything


def test_embedding_budget() -> None:
    p, _ = policy(min_frames=3, max_embeds_per_track=4, reembed_quality_gain=0.1)
    t = track()
    assert p.needs_embedding(t, 0.5)
    t.embeds, t.best_quality = 4, 0.5
    assert not p.needs_embedding(t, 0.55)  # budget spent, not clearly better
    assert p.needs_embedding(t, 0.65)
    t.decided = True
    assert not p.needs_embedding(t, 1.0)


def test_seed_cooldowns_from_recent_events() -> None:
    p, _ = policy(min_frames=1, cooldown_s=300)
    first = p.observe(track(), match("ann"), CAM_IN, WALL)
    assert first is not None
    fresh, _ = policy(min_frames=1, cooldown_s=300)
    fresh.seed_cooldowns([first], WALL.replace(minute=2))  # restarted two minutes later
    assert fresh.observe(track(), match("ann"), CAM_IN, WALL) is None
    late, _ = policy(min_frames=1, cooldown_s=300)
    late.seed_cooldowns([first], WALL.replace(minute=10))
    assert late.observe(track(), match("ann"), CAM_IN, WALL) is not None
