"""Attendance events: what the policy decides and the outbox keeps."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

# spoof_suspected: a recognised face the liveness stage did not judge live (README "Liveness"); it
# names whom the face matched and is never presence.
EventKind = Literal["check_in", "check_out", "pass", "unknown", "low_confidence", "spoof_suspected"]
EVENT_KINDS: tuple[EventKind, ...] = (
    "check_in",
    "check_out",
    "pass",
    "unknown",
    "low_confidence",
    "spoof_suspected",
)


def new_event_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class AttendanceEvent:
    """One attendance decision. ``captured_at`` is wall-clock UTC; ``seq`` is a per-device
    counter that only grows (monotonic-based), so order survives wall-clock jumps."""

    event_id: str
    device_id: str
    camera_id: str
    kind: EventKind
    employee_id: str | None
    name: str | None
    similarity: float | None
    captured_at: datetime
    seq: int = 0
    trace_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
