"""Health rules: one set of thresholds and verdicts for ``/health``, ``doctor`` and the watchdog.

Pure functions over plain values: the daemon gathers the readings, these decide what they mean.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

# Below this much free space on the store's file system the device is "degraded": snapshots are
# skipped first (the event itself is still recorded), and a technician should look.
LOW_DISK_MB = 200

HealthStatus = Literal["ok", "degraded", "down"]


def disk_free_mb(path: Path) -> int:
    """Free space of the file system holding ``path`` (its nearest existing parent)."""
    probe = Path(path)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return int(shutil.disk_usage(probe).free // (1024 * 1024))


def disk_low(free_mb: int) -> bool:
    return free_mb < LOW_DISK_MB


def part_stalled(silent_s: float, max_silence_s: float) -> bool:
    """A watched part (capture loop, pipeline, HTTP) is stalled once silent for longer than allowed."""
    return silent_s > max_silence_s


@dataclass(frozen=True, slots=True)
class CameraHealth:
    state: str  # up | connecting | down | stopped
    source: str  # credentials replaced by ***
    fps_in: float
    frames_read: int
    frames_processed: int
    fps_processed: float
    frames_dropped: int
    last_frame_age_s: float | None
    reconnects: int
    last_error: str | None


@dataclass(frozen=True, slots=True)
class HealthReport:
    """The body of ``GET /health`` (see ``api.schemas.HealthOut``)."""

    status: HealthStatus
    ready: bool
    cameras: dict[str, CameraHealth]
    pipeline: dict[str, Any]
    gallery: dict[str, int]
    outbox: dict[str, int]
    central: dict[str, Any]
    disk_free_mb: int
    degraded: list[str] = field(default_factory=list)
    uptime_s: float = 0.0
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)  # event outputs by id

    @property
    def http_status(self) -> int:
        """503 only when the pipeline is dead: a degraded device still records events."""
        return 503 if self.status == "down" else 200

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_health(
    *,
    ready: bool,
    cameras: Mapping[str, CameraHealth],
    pipeline_alive: bool,
    stalled: list[str],
    gallery_employees: int,
    gallery_templates: int,
    backlog: int,
    central: Mapping[str, Any],
    central_failing: bool,
    disk_free_mb: int,
    uptime_s: float,
    outputs: Mapping[str, Mapping[str, Any]] | None = None,
) -> HealthReport:
    """Apply the rules: a camera that is not up, a failing central sync or a low disk degrade the
    device; a stalled part degrades it too; a dead pipeline thread makes it down."""
    degraded = [f"camera:{cam_id}" for cam_id, cam in cameras.items() if cam.state != "up"]
    if central_failing:
        degraded.append("central")
    if disk_low(disk_free_mb):
        degraded.append("disk")
    # A failing event output degrades the device; its events wait in the outbox.
    degraded += [f"output:{oid}" for oid, out in (outputs or {}).items() if out.get("failing")]
    status: HealthStatus
    if not pipeline_alive:
        status = "down"
    elif stalled or degraded:
        status = "degraded"
    else:
        status = "ok"
    return HealthReport(
        status=status,
        ready=ready,
        cameras=dict(cameras),
        pipeline={"alive": pipeline_alive, "stalled": list(stalled)},
        gallery={"employees": gallery_employees, "templates": gallery_templates},
        outbox={"backlog": backlog},
        central=dict(central),
        disk_free_mb=disk_free_mb,
        degraded=degraded,
        uptime_s=round(uptime_s, 1),
        outputs={k: dict(v) for k, v in (outputs or {}).items()},
    )
