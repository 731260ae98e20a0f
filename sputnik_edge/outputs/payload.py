"""The one JSON shape an event leaves the device in (webhook body, MQTT events topic), and the
per-output filter. Only the documented fields: never a template, never a crop unless asked for."""

from __future__ import annotations

import base64
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sputnik_edge.attendance.types import EVENT_KINDS, AttendanceEvent

# The documented payload (README "Event outputs"); receivers may rely on exactly these keys.
PAYLOAD_FIELDS = (
    "event_id",  # UUID; the idempotency key: a redelivery carries the same one
    "seq",  # the device's event counter, only grows
    "device_id",
    "camera_id",
    "kind",  # one of attendance.types.EVENT_KINDS
    "employee_id",  # null for unknown / low_confidence
    "name",
    "similarity",  # null when no face matched at all
    "captured_at",  # UTC ISO 8601
    "track_id",  # the camera track the event was decided on; null if none
    # {"verdict", "score", "cues"} of the event's liveness check, null when liveness is off: under
    # liveness.mode = "monitor" a photo held to the camera still gives a check_in, with verdict "spoof"
    "liveness",
)
LIVENESS_FIELDS = ("verdict", "score", "cues")
SNAPSHOT_FIELD = "snapshot_jpeg_base64"  # only with include_snapshot = true, when a snapshot exists


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events an output wants; an empty set means all."""

    kinds: frozenset[str] = frozenset()
    cameras: frozenset[str] = frozenset()

    def wants(self, event: AttendanceEvent) -> bool:
        return (not self.kinds or event.kind in self.kinds) and (
            not self.cameras or event.camera_id in self.cameras
        )


def unknown_kinds(kinds: Collection[str]) -> list[str]:
    """Kinds no event can have."""
    return sorted(set(kinds) - set(EVENT_KINDS))


def check_event_kinds(outputs: Sequence[Any]) -> None:
    """The ``events`` of each ``[[outputs]]`` against the attendance stage's kinds (config.py imports
    no stage, so the CLI and the daemon check this after loading); the message names the key."""
    for i, out in enumerate(outputs):
        bad = unknown_kinds(out.events)
        if bad:
            raise ValueError(
                f"outputs[{i}].events: unknown event kind(s) {', '.join(map(repr, bad))} "
                f"(known: {', '.join(EVENT_KINDS)})"
            )


def event_payload(event: AttendanceEvent, snapshot_jpeg: bytes | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": event.event_id,
        "seq": event.seq,
        "device_id": event.device_id,
        "camera_id": event.camera_id,
        "kind": event.kind,
        "employee_id": event.employee_id,
        "name": event.name,
        "similarity": None if event.similarity is None else round(event.similarity, 4),
        "captured_at": event.captured_at.isoformat(),
        "track_id": _track_id(event.details),
        "liveness": _liveness(event.details),
    }
    if snapshot_jpeg is not None:
        body[SNAPSHOT_FIELD] = base64.b64encode(snapshot_jpeg).decode("ascii")
    return body


def _track_id(details: dict[str, Any]) -> int | None:
    value = details.get("track_id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _liveness(details: dict[str, Any]) -> dict[str, Any] | None:
    """Only the verdict, score and cues of ``details.liveness`` (not its raw evidence)."""
    found = details.get("liveness")
    if not isinstance(found, dict) or "verdict" not in found:
        return None
    return {"verdict": found["verdict"], "score": found.get("score"), "cues": list(found.get("cues") or [])}


def read_snapshot(root: Path, rel_path: str | None) -> bytes | None:
    """The event's snapshot file, if it still exists inside ``root`` (the TTL may have removed it)."""
    if not rel_path:
        return None
    path = (root / rel_path).resolve()
    if root.resolve() not in path.parents:  # never follow a path out of the folder
        return None
    try:
        return path.read_bytes()
    except OSError:
        return None
