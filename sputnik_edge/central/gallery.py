"""Gallery pull: what changed since a device's last ``change_seq``, for its model id only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import structlog
from sqlalchemy import Connection, select

from sputnik_edge.central.connection import CentralConnection, require_text
from sputnik_edge.central.errors import (
    CentralError,
)
from sputnik_edge.central.schema import (
    employees,
    erasures,
    face_templates,
)
from sputnik_edge.central.types import (
    EmployeeRow,
    GalleryDelta,
    TemplateRow,
)

log = structlog.get_logger(__name__)


class GalleryOps(CentralConnection):
    def pull_gallery(self, model_id: str, since_seq: int) -> GalleryDelta:
        """Everything with ``change_seq > since_seq``: employees, templates of ``model_id`` (soft
        deletions included) and erasures, read from one snapshot."""
        model_id = require_text(model_id, "model_id")
        if since_seq < 0:
            raise ValueError(f"since_seq must be >= 0, got {since_seq}")
        emp_stmt = (
            select(
                employees.c.employee_id,
                employees.c.full_name,
                employees.c.department,
                employees.c.is_active,
                employees.c.change_seq,
            )
            .where(employees.c.change_seq > since_seq)
            .order_by(employees.c.change_seq)
        )
        tpl_stmt = (
            select(
                face_templates.c.template_id,
                face_templates.c.employee_id,
                face_templates.c.embedding,
                face_templates.c.quality,
                face_templates.c.deleted_at.is_not(None).label("deleted"),
                face_templates.c.change_seq,
            )
            .where(face_templates.c.model_id == model_id, face_templates.c.change_seq > since_seq)
            .order_by(face_templates.c.change_seq)
        )
        era_stmt = (
            select(erasures.c.employee_id, erasures.c.change_seq)
            .where(erasures.c.change_seq > since_seq)
            .order_by(erasures.c.change_seq)
        )

        def run(conn: Connection) -> tuple[Sequence[Any], Sequence[Any], Sequence[Any]]:
            return (
                conn.execute(emp_stmt).all(),
                conn.execute(tpl_stmt).all(),
                conn.execute(era_stmt).all(),
            )

        # REPEATABLE READ: the three queries see one snapshot, so max_seq is consistent across them.
        emp_rows, tpl_rows, era_rows = self._transaction("pulling gallery", run, isolation="REPEATABLE READ")

        emps = [EmployeeRow(r[0], r[1], r[2], r[3], r[4]) for r in emp_rows]
        templates: list[TemplateRow] = []
        if tpl_rows:
            matrix = stack_embeddings([r[2] for r in tpl_rows], model_id)
            matrix.flags.writeable = False
            templates = [
                TemplateRow(str(r[0]), r[1], matrix[i], r[3], r[4], r[5]) for i, r in enumerate(tpl_rows)
            ]
        erased = [r[0] for r in era_rows]
        max_seq = max(
            since_seq,
            emp_rows[-1][4] if emp_rows else 0,
            tpl_rows[-1][5] if tpl_rows else 0,
            era_rows[-1][1] if era_rows else 0,
        )
        delta = GalleryDelta(
            since_seq=since_seq, max_seq=max_seq, employees=emps, templates=templates, erased=erased
        )
        log.debug(
            "central_gallery_pulled",
            model_id=model_id,
            since_seq=since_seq,
            max_seq=max_seq,
            employees=len(emps),
            templates=len(templates),
            erased=len(erased),
        )
        return delta

    # -- devices and settings ---------------------------------------------------------------------


def stack_embeddings(blobs: Sequence[bytes | memoryview], model_id: str) -> npt.NDArray[np.float32]:
    """One (N, D) float32 matrix from N bytea values, with a single copy: join, then frombuffer."""
    size = len(blobs[0])
    if any(len(b) != size for b in blobs):
        raise CentralError(f"templates of model {model_id!r} have different embedding sizes")
    joined = b"".join(blobs)
    return np.frombuffer(joined, dtype="<f4").reshape(len(blobs), size // 4).astype(np.float32, copy=False)
