"""The health rules shared by /health, doctor and the watchdog (pure functions)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sputnik_edge.health import (
    LOW_DISK_MB,
    CameraHealth,
    build_health,
    disk_free_mb,
    disk_low,
    part_stalled,
)


def camera(state: str = "up") -> CameraHealth:
    return CameraHealth(state, "rtsp://***@cam/1", 10.0, 100, 90, 9.5, 3, 0.1, 0, None)


def report(**overrides: object):  # type: ignore[no-untyped-def]
    args: dict[str, object] = {
        "ready": True,
        "cameras": {"entrance": camera()},
        "pipeline_alive": True,
        "stalled": [],
        "gallery_employees": 3,
        "gallery_templates": 5,
        "backlog": 0,
        "central": {"enabled": False},
        "central_failing": False,
        "disk_free_mb": LOW_DISK_MB + 1,
        "uptime_s": 12.34,
    }
    args.update(overrides)
    return build_health(**args)  # type: ignore[arg-type]


def test_all_good_is_ok_and_200() -> None:
    r = report()
    assert r.status == "ok" and r.degraded == [] and r.http_status == 200
    body = r.as_dict()
    assert body["cameras"]["entrance"]["state"] == "up"
    assert body["gallery"] == {"employees": 3, "templates": 5}
    assert body["uptime_s"] == 12.3


@pytest.mark.parametrize(
    ("overrides", "degraded"),
    [
        ({"cameras": {"entrance": camera("down"), "exit": camera()}}, ["camera:entrance"]),
        ({"central_failing": True}, ["central"]),
        ({"disk_free_mb": LOW_DISK_MB - 1}, ["disk"]),
        ({"stalled": ["pipeline:entrance"]}, []),
    ],
)
def test_each_rule_degrades(overrides: dict[str, object], degraded: list[str]) -> None:
    r = report(**overrides)
    assert r.status == "degraded" and r.degraded == degraded and r.http_status == 200


def test_dead_pipeline_is_down_and_503() -> None:
    r = report(pipeline_alive=False, disk_free_mb=0)
    assert r.status == "down" and r.http_status == 503 and "disk" in r.degraded


def test_one_low_disk_threshold() -> None:
    assert disk_low(LOW_DISK_MB - 1) and not disk_low(LOW_DISK_MB)


def test_disk_free_of_a_path_that_does_not_exist_yet(tmp_path: Path) -> None:
    # A fresh device: the state folder is created on first start; doctor must still answer.
    assert disk_free_mb(tmp_path / "not" / "yet" / "there") == disk_free_mb(tmp_path) > 0


def test_stall_rule() -> None:
    assert part_stalled(30.1, 30) and not part_stalled(30, 30)
