"""What the HTTP API may ask of the daemon: a Protocol returning plain dataclasses.

The routes never reach into the daemon's threads, stores or recogniser; the daemon implements
this (``daemon.app.EdgeApp``) and tests can implement it with anything that keeps the promise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from fastapi import Request

from sputnik_edge.config import Settings
from sputnik_edge.health import HealthReport
from sputnik_edge.metrics import Metrics
from sputnik_edge.pipeline.engine import FrameOutcome
from sputnik_edge.pipeline.preview import CameraHints, LatestFrame
from sputnik_edge.store.tables import StoredEvent
from sputnik_edge.vision.types import ImageArray


@dataclass(frozen=True, slots=True)
class GalleryInfo:
    employees: int
    templates: int
    version: int


@dataclass(frozen=True, slots=True)
class CameraInfoOut:
    id: str
    source: str  # credentials replaced by ***
    direction: str


@dataclass(frozen=True, slots=True)
class CameraView:
    camera_id: str
    latest: LatestFrame | None  # the newest processed frame, in memory only
    hints: CameraHints


class DeviceContext(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def version(self) -> str: ...

    @property
    def metrics(self) -> Metrics: ...

    def health(self) -> HealthReport: ...

    def gallery_info(self) -> GalleryInfo: ...

    def camera_list(self) -> list[CameraInfoOut]: ...

    def uptime_s(self) -> float: ...

    def camera_view(self, camera_id: str) -> CameraView | None: ...

    def recent_events(self, since: datetime | None, limit: int) -> list[StoredEvent]: ...

    def process_snapshot(self, camera_id: str, image: ImageArray, trace_id: str) -> FrameOutcome:
        """Recognise one pushed photo through the same engine as the cameras (one frame decides)."""
        ...

    def refresh_metrics(self) -> None: ...

    def http_started(self) -> None: ...

    def http_progress(self) -> None: ...


def device_context(request: Request) -> DeviceContext:
    """FastAPI dependency: the context the app was created with."""
    ctx: DeviceContext = request.app.state.ctx
    return ctx
