"""Unknown visitors: group the uploaded faces of `unknown` events, and enrol a group as a person.

Grouping is single-link at a cosine-similarity threshold (union-find over the pairs above it): a
visitor seen at the door on several days becomes one group, whatever the order the faces came in.
A group's id is its earliest event id, so it stays the same while the group only grows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt
from sqlalchemy import Engine, delete, select

from sputnik_edge.central.schema import unknown_faces
from sputnik_edge.central.store import CentralStore

# Same-person pairs of SFace embeddings score above ~0.4 on the calibration set while different
# people stay below ~0.3 (README "Accuracy"): a group needs the stricter side of that gap.
DEFAULT_GROUP_THRESHOLD = 0.45
MAX_FACES = 5000  # newest first; keeps the pairwise matrix (N x N floats) around 100 MB at most


def group_labels(embeddings: npt.NDArray[np.float32], threshold: float) -> npt.NDArray[np.int64]:
    """Connected components of the graph "cosine >= threshold" over L2-normalised rows."""
    n = len(embeddings)
    parent = np.arange(n)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = int(parent[i])
        return i

    if n > 1:
        sims = embeddings @ embeddings.T
        rows, cols = np.nonzero(np.triu(sims >= threshold, k=1))
        for a, b in zip(rows.tolist(), cols.tolist(), strict=True):
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    return np.array([find(i) for i in range(n)], dtype=np.int64)


@dataclass(frozen=True, slots=True)
class UnknownFace:
    event_id: str
    device_id: str
    camera_id: str | None
    captured_at: datetime


@dataclass(frozen=True, slots=True)
class UnknownGroup:
    group_id: str  # the earliest event id of the group
    faces: tuple[UnknownFace, ...]  # earliest first

    @property
    def size(self) -> int:
        return len(self.faces)

    @property
    def first_seen(self) -> datetime:
        return self.faces[0].captured_at

    @property
    def last_seen(self) -> datetime:
        return self.faces[-1].captured_at


class UnknownGroupNotFound(LookupError):
    pass


class UnknownsService:
    def __init__(self, engine: Engine, model_id: str, *, threshold: float = DEFAULT_GROUP_THRESHOLD) -> None:
        self.engine = engine
        self.model_id = model_id
        self.threshold = threshold

    def _load(self) -> tuple[list[UnknownFace], npt.NDArray[np.float32]]:
        query = (
            select(
                unknown_faces.c.event_id,
                unknown_faces.c.device_id,
                unknown_faces.c.camera_id,
                unknown_faces.c.captured_at,
                unknown_faces.c.embedding,
            )
            .where(unknown_faces.c.model_id == self.model_id)
            .order_by(unknown_faces.c.captured_at.desc(), unknown_faces.c.event_id)
            .limit(MAX_FACES)
        )
        with self.engine.connect() as conn:
            rows = list(reversed(conn.execute(query).all()))
        faces = [UnknownFace(str(r.event_id), r.device_id, r.camera_id, r.captured_at) for r in rows]
        if not rows:
            return faces, np.zeros((0, 0), np.float32)
        matrix = np.stack([np.frombuffer(r.embedding, dtype="<f4") for r in rows]).astype(np.float32)
        matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
        return faces, matrix

    def groups(self) -> list[UnknownGroup]:
        """Largest group first, then the most recently seen."""
        faces, matrix = self._load()
        labels = group_labels(matrix, self.threshold)
        members: dict[int, list[UnknownFace]] = {}
        for face, label in zip(faces, labels.tolist(), strict=True):
            members.setdefault(label, []).append(face)
        out = []
        for group in members.values():
            group.sort(key=lambda f: (f.captured_at, f.event_id))
            out.append(UnknownGroup(group[0].event_id, tuple(group)))
        out.sort(key=lambda g: (-g.size, -g.last_seen.timestamp()))
        return out

    def group(self, group_id: str) -> UnknownGroup:
        for g in self.groups():
            if g.group_id == group_id:
                return g
        raise UnknownGroupNotFound(f"no group of unknown faces with id {group_id!r}")

    def crop(self, event_id: str) -> bytes | None:
        with self.engine.connect() as conn:
            value = conn.execute(
                select(unknown_faces.c.crop).where(unknown_faces.c.event_id == event_id)
            ).scalar_one_or_none()
        return None if value is None else bytes(value)

    def enroll_group(
        self,
        central: CentralStore,
        group_id: str,
        *,
        employee_id: str,
        full_name: str | None = None,
        department: str | None = None,
        max_templates: int = 10,
    ) -> list[str]:
        """Make a group's faces templates of an employee (new when ``full_name`` is given, else
        existing); the group's crops and embeddings then leave ``unknown_faces``. Returns the
        template ids."""
        group = self.group(group_id)
        ids = [f.event_id for f in group.faces][-max_templates:]  # the most recent faces
        with self.engine.connect() as conn:
            blobs = dict(
                conn.execute(
                    select(unknown_faces.c.event_id, unknown_faces.c.embedding).where(
                        unknown_faces.c.event_id.in_(ids)
                    )
                ).all()
            )
        matrix = np.stack([np.frombuffer(blobs[i], dtype="<f4") for i in ids if i in blobs])
        if full_name is not None:
            central.upsert_employee(employee_id, full_name, department)
        elif not any(e.employee_id == employee_id for e in central.list_employees()):
            raise UnknownGroupNotFound(f"unknown employee id {employee_id!r} (give a full name to create)")
        template_ids = central.add_templates(employee_id, self.model_id, matrix, [0.0] * len(matrix))
        with self.engine.begin() as conn:
            conn.execute(
                delete(unknown_faces).where(unknown_faces.c.event_id.in_([f.event_id for f in group.faces]))
            )
        return template_ids

    def purge(self, now: datetime, retention_days: int) -> int:
        """Crops and embeddings older than the retention go (biometric data of non-employees)."""
        with self.engine.begin() as conn:
            cutoff = now - timedelta(days=retention_days)
            return int(
                conn.execute(delete(unknown_faces).where(unknown_faces.c.captured_at < cutoff)).rowcount
            )
