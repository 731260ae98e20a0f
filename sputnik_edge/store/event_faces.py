"""Unknown faces waiting for upload: the opt-in path that lets the office group unknown visitors.

Biometric data: stored only when ``central.upload_unknown_snapshots`` is on, in the 0600 SQLite
file, removed as soon as the central database has them and in any case after the snapshot TTL.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import Engine, delete, insert, select

from sputnik_edge.store.tables import event_faces, iso, utcnow
from sputnik_edge.vision.types import FloatArray


@dataclass(frozen=True, slots=True)
class EventFace:
    event_id: str
    model_id: str
    embedding: bytes  # float32 little-endian
    crop: bytes | None  # JPEG


class EventFaceStore:
    def __init__(self, engine: Engine, write_lock: threading.Lock) -> None:
        self._engine = engine
        self._lock = write_lock

    def save(self, event_id: str, model_id: str, embedding: FloatArray, crop_jpeg: bytes | None) -> None:
        row = {
            "event_id": event_id,
            "model_id": model_id,
            "embedding": np.asarray(embedding, dtype="<f4").tobytes(),
            "crop": crop_jpeg,
            "created_at": iso(utcnow()),
        }
        with self._lock, self._engine.begin() as conn:
            conn.execute(insert(event_faces).values(**row))

    def for_events(self, event_ids: Iterable[str]) -> list[EventFace]:
        ids = list(event_ids)
        if not ids:
            return []
        query = select(event_faces).where(event_faces.c.event_id.in_(ids))
        with self._engine.connect() as conn:
            return [
                EventFace(r.event_id, r.model_id, bytes(r.embedding), r.crop) for r in conn.execute(query)
            ]

    def delete(self, event_ids: Iterable[str]) -> int:
        ids = list(event_ids)
        if not ids:
            return 0
        with self._lock, self._engine.begin() as conn:
            return int(conn.execute(delete(event_faces).where(event_faces.c.event_id.in_(ids))).rowcount)

    def prune(self, older_than: datetime) -> int:
        with self._lock, self._engine.begin() as conn:
            cond = event_faces.c.created_at < iso(older_than)
            return int(conn.execute(delete(event_faces).where(cond)).rowcount)

    def count(self) -> int:
        with self._engine.connect() as conn:
            return len(conn.execute(select(event_faces.c.event_id)).all())
