"""The local SQLite schema (SQLAlchemy Core tables), the records read from it and the row mapping."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

from sputnik_edge.attendance.types import AttendanceEvent
from sputnik_edge.recognition.gallery import EMBEDDING_DIM

metadata = MetaData()

employees = Table(
    "employees",
    metadata,
    Column("employee_id", String, primary_key=True),
    Column("full_name", String, nullable=False),
    Column("department", String),
    Column("is_active", Boolean, nullable=False, default=True),
    Column("created_at", String, nullable=False),
    Column("updated_at", String, nullable=False),
    Column("change_seq", Integer),  # central change_seq when pulled, None when local only
)

templates = Table(
    "face_templates",
    metadata,
    Column("template_id", String, primary_key=True),
    Column("employee_id", String, ForeignKey("employees.employee_id", ondelete="CASCADE"), nullable=False),
    Column("model_id", String, nullable=False),
    Column("embedding", LargeBinary, nullable=False),
    Column("quality", Float),
    Column("created_at", String, nullable=False),
    Index("ix_templates_model", "model_id", "employee_id"),
)

events = Table(
    "events",
    metadata,
    Column("event_id", String, primary_key=True),
    Column("seq", Integer, nullable=False, unique=True),
    Column("device_id", String, nullable=False),
    Column("camera_id", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("employee_id", String),
    Column("name", String),
    Column("similarity", Float),
    Column("captured_at", String, nullable=False),
    Column("trace_id", String),
    Column("details", Text, nullable=False, default="{}"),
    Column("snapshot", String),
    Column("synced_at", String),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", String),
    Index("ix_events_pending", "synced_at", "seq"),
    Index("ix_events_captured", "captured_at"),
)

# Face crop and embedding of an `unknown` event, kept only when central.upload_unknown_snapshots is
# on, until the push delivered them (or the snapshot TTL ran out). Deleted with their event.
event_faces = Table(
    "event_faces",
    metadata,
    Column("event_id", String, ForeignKey("events.event_id", ondelete="CASCADE"), primary_key=True),
    Column("model_id", String, nullable=False),
    Column("embedding", LargeBinary, nullable=False),
    Column("crop", LargeBinary),  # JPEG
    Column("created_at", String, nullable=False),
)

# Per event output (webhook, MQTT): the device seq up to which every event is delivered or filtered
# out, and the last result. Retention keeps events above the lowest cursor of the enabled outputs.
output_cursors = Table(
    "output_cursors",
    metadata,
    Column("output_id", String, primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("delivered", Integer, nullable=False, default=0),
    Column("dropped", Integer, nullable=False, default=0),
    Column("last_success_at", String),
    Column("last_error", String),
    Column("last_error_at", String),
)

state = Table(
    "sync_state",
    metadata,
    Column("key", String, primary_key=True),
    Column("value", String, nullable=False),
)


@dataclass(frozen=True, slots=True)
class EmployeeRecord:
    employee_id: str
    full_name: str
    department: str | None
    is_active: bool
    templates: int
    created_at: str


@dataclass(frozen=True, slots=True)
class StoredEvent:
    event: AttendanceEvent
    synced_at: str | None
    snapshot: str | None

    def as_dict(self) -> dict[str, Any]:
        e = self.event
        return {
            "event_id": e.event_id,
            "seq": e.seq,
            "kind": e.kind,
            "employee_id": e.employee_id,
            "name": e.name,
            "camera_id": e.camera_id,
            "similarity": None if e.similarity is None else round(e.similarity, 4),
            "captured_at": e.captured_at.isoformat(),
            "synced": self.synced_at is not None,
        }


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def template_rows(
    employee_id: str,
    model_id: str,
    embeddings: np.ndarray,
    qualities: Sequence[float],
    template_ids: Sequence[str] | None,
) -> tuple[list[str], list[dict[str, Any]]]:
    """Insert rows for templates (little-endian float32 blobs) and their ids."""
    emb = np.asarray(embeddings, dtype="<f4").reshape(-1, EMBEDDING_DIM)
    ids = list(template_ids) if template_ids is not None else [str(uuid.uuid4()) for _ in emb]
    now = iso(utcnow())
    rows = [
        {
            "template_id": tid,
            "employee_id": employee_id,
            "model_id": model_id,
            "embedding": vec.tobytes(),
            "quality": float(q),
            "created_at": now,
        }
        for tid, vec, q in zip(ids, emb, qualities, strict=True)
    ]
    return ids, rows


def event_row(ev: AttendanceEvent, seq: int, snapshot: str | None) -> dict[str, Any]:
    """The events-table row of an event, with its device sequence number."""
    return {
        "event_id": ev.event_id,
        "seq": seq,
        "device_id": ev.device_id,
        "camera_id": ev.camera_id,
        "kind": ev.kind,
        "employee_id": ev.employee_id,
        "name": ev.name,
        "similarity": ev.similarity,
        "captured_at": iso(ev.captured_at),
        "trace_id": ev.trace_id,
        "details": json.dumps(ev.details, sort_keys=True),
        "snapshot": snapshot,
    }


def row_to_event(r: Any) -> AttendanceEvent:
    return AttendanceEvent(
        event_id=r.event_id,
        device_id=r.device_id,
        camera_id=r.camera_id,
        kind=r.kind,
        employee_id=r.employee_id,
        name=r.name,
        similarity=r.similarity,
        captured_at=datetime.fromisoformat(r.captured_at),
        seq=r.seq,
        trace_id=r.trace_id,
        details=json.loads(r.details or "{}"),
    )
