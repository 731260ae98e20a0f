"""Conditions to wait for instead of sleeping: what a running daemon has done, read from its own
/health and /metrics."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.support.daemon import Daemon


def metric(daemon: Daemon, name: str, **labels: str) -> float:
    """The value of one sample on the daemon's /metrics (0.0 while the series does not exist yet,
    as a counter that has not counted anything)."""
    r = daemon.get("/metrics")
    r.raise_for_status()
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


def frames_processed(daemon: Daemon, camera_id: str) -> int:
    return int(daemon.camera(camera_id)["frames_processed"])


def frames_read(daemon: Daemon, camera_id: str) -> int:
    return int(daemon.camera(camera_id)["frames_read"])


def wait_processed_past(daemon: Daemon, camera_id: str, count: int, timeout: float = 20) -> int:
    """Wait until the camera's pipeline has finished more than ``count`` frames; returns how many.

    One camera's frames are processed one after the other, and an event is committed before its
    frame counts as processed: once a frame counted after a moment in time is done, everything
    decided from the frames before that moment is in the outbox."""
    return int(
        daemon.wait_for(
            lambda: (n := frames_processed(daemon, camera_id)) > count and n,
            timeout,
            f"camera {camera_id} to process more than {count} frames",
        )
    )


def settle(daemon: Daemon, camera_id: str, timeout: float = 20) -> None:
    """Wait until one more frame than now has been processed (see ``wait_processed_past``)."""
    wait_processed_past(daemon, camera_id, frames_processed(daemon, camera_id), timeout)
