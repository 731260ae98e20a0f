"""The policy's liveness modes: off as before, monitor records and flags, enforce holds or refuses."""

from __future__ import annotations

from sputnik_edge.attendance.policy import AttendancePolicy, PolicyConfig
from sputnik_edge.liveness.types import SINGLE_PHOTO, UNDECIDED, LivenessVerdict
from tests.unit.attendance.test_policy import CAM_IN, WALL, FakeClock, match, track

LIVE = LivenessVerdict("live", 0.9, ("blink",), 6)
SPOOF = LivenessVerdict("spoof", 0.1, ("border",), 4)


def policy(mode: str) -> AttendancePolicy:
    return AttendancePolicy(PolicyConfig(min_frames=3, liveness_mode=mode), "door-1", clock=FakeClock())  # type: ignore[arg-type]


def test_off_ignores_the_verdict_and_records_nothing() -> None:
    p = policy("off")
    t = track()
    events = [p.observe(t, match(), CAM_IN, WALL, liveness=SPOOF) for _ in range(3)]
    ev = events[-1]
    assert ev is not None and ev.kind == "check_in" and "liveness" not in ev.details


def test_monitor_checks_in_with_the_verdict_and_flags_a_spoof_once() -> None:
    p = policy("monitor")
    t = track()
    ev = [p.observe(t, match(), CAM_IN, WALL, liveness=SPOOF) for _ in range(3)][-1]
    assert ev is not None and ev.kind == "check_in"
    assert ev.details["liveness"]["verdict"] == "spoof"
    flag = p.spoof_event(t, None, CAM_IN, WALL, SPOOF)
    assert flag is not None and flag.kind == "spoof_suspected" and flag.employee_id == "ann"
    assert flag.details["liveness"]["cues"] == ["border"]
    assert p.spoof_event(t, None, CAM_IN, WALL, SPOOF) is None  # one per track


def test_enforce_holds_an_undecided_match_until_live() -> None:
    p = policy("enforce")
    t = track()
    for _ in range(5):
        assert p.observe(t, match(), CAM_IN, WALL, liveness=UNDECIDED) is None
    assert not t.decided
    ev = p.reconsider(t, CAM_IN, WALL, liveness=LIVE)
    assert ev is not None and ev.kind == "check_in" and ev.details["liveness"]["verdict"] == "live"
    assert ev.details["frames"] == 5


def test_enforce_turns_a_spoofed_match_into_spoof_suspected_without_cooldown() -> None:
    p = policy("enforce")
    t = track()
    evs = [p.observe(t, match(), CAM_IN, WALL, liveness=SPOOF) for _ in range(3)]
    assert evs[:2] == [None, None]
    ev = evs[2]
    assert ev is not None and ev.kind == "spoof_suspected" and ev.employee_id == "ann" and ev.name == "Ann"
    assert ev.details["mode"] == "enforce"
    # The real person arriving afterwards is not blocked by the attack's event.
    t2 = track(2)
    live = [p.observe(t2, match(), CAM_IN, WALL, liveness=LIVE) for _ in range(3)][-1]
    assert live is not None and live.kind == "check_in"


def test_enforce_track_ending_undecided_is_spoof_suspected_not_unknown() -> None:
    p = policy("enforce")
    t = track()
    for _ in range(3):
        p.observe(t, match(), CAM_IN, WALL, liveness=UNDECIDED)
    ev = p.track_ended(t, CAM_IN, WALL, liveness=UNDECIDED)
    assert ev is not None and ev.kind == "spoof_suspected"
    assert ev.details["liveness"]["verdict"] == "undecided"


def test_enforce_single_photo_is_never_a_check_in() -> None:
    p = policy("enforce")
    t = track()
    assert p.observe(t, match(), CAM_IN, WALL, min_frames=1, liveness=SINGLE_PHOTO) is None
    ev = p.track_ended(t, CAM_IN, WALL, min_frames=1, liveness=SINGLE_PHOTO)
    assert ev is not None and ev.kind == "spoof_suspected"
    assert ev.details["liveness"]["verdict"] == "not_checked"
    assert "single photo" in ev.details["liveness"]["reason"]


def test_gateway_spoof_events_keep_the_check_in_cooldown() -> None:
    """Every pushed photo is a track of its own: with spoof_cooldown one spoof_suspected per
    (camera, person) per cooldown_s, and it does not block that person's check-ins."""
    clock = FakeClock()
    p = AttendancePolicy(PolicyConfig(min_frames=3, liveness_mode="enforce"), "door-1", clock=clock)

    def push(i: int, emp: str = "ann") -> str | None:
        t = track(i)
        assert p.observe(t, match(emp), CAM_IN, WALL, min_frames=1, liveness=SINGLE_PHOTO) is None
        ev = p.track_ended(t, CAM_IN, WALL, min_frames=1, liveness=SINGLE_PHOTO, spoof_cooldown=True)
        return None if ev is None else ev.kind

    assert push(1) == "spoof_suspected"
    clock.t += 1.0
    assert [push(i) for i in range(2, 12)] == [None] * 10  # a camera pushing every second
    assert push(12, "bob") == "spoof_suspected"  # someone else is reported
    # Streams still report every attack track (no spoof_cooldown), and the real person checks in.
    t = track(13)
    for _ in range(3):
        p.observe(t, match(), CAM_IN, WALL, liveness=UNDECIDED)
    ended = p.track_ended(t, CAM_IN, WALL, liveness=UNDECIDED)
    assert ended is not None and ended.kind == "spoof_suspected"
    t = track(15)
    live = [p.observe(t, match(), CAM_IN, WALL, liveness=LIVE) for _ in range(3)]
    assert live[-1] is not None and live[-1].kind == "check_in"
    clock.t += p.cfg.cooldown_s
    assert push(16) == "spoof_suspected"  # after cooldown_s, the next photo is reported again
