"""Employees and their templates: create, update, deactivate, list, and the duplicate-face check."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import structlog
from sqlalchemy import Connection, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from sputnik_edge.central.connection import CentralConnection, require_text, require_uuid
from sputnik_edge.central.errors import (
    UnknownEmployeeError,
)
from sputnik_edge.central.gallery import stack_embeddings
from sputnik_edge.central.schema import (
    employees,
    face_photos,
    face_templates,
)
from sputnik_edge.central.types import (
    EmployeeSummary,
)

log = structlog.get_logger(__name__)


class EnrolmentOps(CentralConnection):
    def upsert_employee(
        self, employee_id: str, full_name: str, department: str | None = None, is_active: bool = True
    ) -> None:
        employee_id = require_text(employee_id, "employee_id")
        full_name = require_text(full_name, "full_name")
        stmt = pg_insert(employees).values(
            employee_id=employee_id, full_name=full_name, department=department, is_active=is_active
        )
        excluded = stmt.excluded
        stmt = stmt.on_conflict_do_update(
            index_elements=[employees.c.employee_id],
            set_={
                "full_name": excluded.full_name,
                "department": excluded.department,
                "is_active": excluded.is_active,
            },
            # An unchanged row must not get a new change_seq, or every device re-pulls it.
            where=(
                employees.c.full_name.is_distinct_from(excluded.full_name)
                | employees.c.department.is_distinct_from(excluded.department)
                | employees.c.is_active.is_distinct_from(excluded.is_active)
            ),
        )

        def run(conn: Connection) -> None:
            self._lock_gallery(conn)
            conn.execute(stmt)

        self._transaction("saving employee", run)
        log.info("central_employee_saved", employee_id=employee_id, is_active=is_active)

    def add_templates(
        self,
        employee_id: str,
        model_id: str,
        embeddings: npt.ArrayLike,
        qualities: Sequence[float],
        photos: Sequence[bytes] | None = None,
    ) -> list[str]:
        """Store N templates (``embeddings`` of shape (N, D)) and optional source photos; returns ids."""
        employee_id = require_text(employee_id, "employee_id")
        model_id = require_text(model_id, "model_id")
        matrix = np.ascontiguousarray(np.asarray(embeddings), dtype="<f4")
        if matrix.ndim != 2 or matrix.shape[0] == 0 or matrix.shape[1] == 0:
            raise ValueError(f"embeddings must have shape (N, D) with N, D > 0, got {matrix.shape}")
        n, dim = matrix.shape
        if not np.isfinite(matrix).all():
            raise ValueError("embeddings contain NaN or infinite values")
        if len(qualities) != n:
            raise ValueError(f"got {n} embeddings but {len(qualities)} qualities")
        if photos is not None and len(photos) != n:
            raise ValueError(f"got {n} embeddings but {len(photos)} photos")
        template_ids = [str(uuid.uuid4()) for _ in range(n)]
        photo_ids = [str(uuid.uuid4()) for _ in range(n)] if photos is not None else [None] * n

        def run(conn: Connection) -> None:
            self._lock_gallery(conn)
            exists = conn.execute(select(literal(1)).where(employees.c.employee_id == employee_id)).first()
            if exists is None:
                raise UnknownEmployeeError(f"unknown employee {employee_id!r}: create it first")
            stored_len = conn.execute(
                select(func.octet_length(face_templates.c.embedding))
                .where(face_templates.c.model_id == model_id)
                .limit(1)
            ).scalar()
            if stored_len is not None and stored_len != dim * 4:
                raise ValueError(f"model {model_id!r} templates have {stored_len // 4} dimensions, got {dim}")
            if photos is not None:
                conn.execute(
                    face_photos.insert(),
                    [
                        {"photo_id": pid, "employee_id": employee_id, "image": bytes(img)}
                        for pid, img in zip(photo_ids, photos, strict=True)
                    ],
                )
            conn.execute(
                face_templates.insert(),
                [
                    {
                        "template_id": tid,
                        "employee_id": employee_id,
                        "model_id": model_id,
                        "embedding": matrix[i].tobytes(),
                        "quality": float(qualities[i]),
                        "photo_id": photo_ids[i],
                    }
                    for i, tid in enumerate(template_ids)
                ],
            )

        self._transaction("adding templates", run)
        log.info("central_templates_added", employee_id=employee_id, model_id=model_id, count=n)
        return template_ids

    def delete_template(self, template_id: str) -> bool:
        """Soft-delete one template (devices learn it through the pull); False if none was live."""
        template_id = require_uuid(template_id, "template_id")

        def run(conn: Connection) -> bool:
            self._lock_gallery(conn)
            result = conn.execute(
                update(face_templates)
                .where(face_templates.c.template_id == template_id, face_templates.c.deleted_at.is_(None))
                .values(deleted_at=func.now())
            )
            return result.rowcount > 0

        return self._transaction("deleting template", run)

    def deactivate_employee(self, employee_id: str) -> bool:
        """Mark an employee inactive (templates stay); False when no such employee exists."""
        employee_id = require_text(employee_id, "employee_id")

        def run(conn: Connection) -> bool:
            self._lock_gallery(conn)
            found = conn.execute(
                select(employees.c.is_active).where(employees.c.employee_id == employee_id)
            ).first()
            if found is None:
                return False
            if found.is_active:
                conn.execute(
                    update(employees).where(employees.c.employee_id == employee_id).values(is_active=False)
                )
            return True

        found = self._transaction("deactivating employee", run)
        log.info("central_employee_deactivated", employee_id=employee_id, found=found)
        return found

    def list_employees(self) -> list[EmployeeSummary]:
        live = face_templates.c.deleted_at.is_(None)
        count = func.count(face_templates.c.template_id).filter(live)
        stmt = (
            select(
                employees.c.employee_id,
                employees.c.full_name,
                employees.c.department,
                employees.c.is_active,
                count.label("templates"),
            )
            .select_from(
                employees.outerjoin(face_templates, face_templates.c.employee_id == employees.c.employee_id)
            )
            .group_by(employees.c.employee_id)
            .order_by(employees.c.employee_id)
        )

        def run(conn: Connection) -> list[EmployeeSummary]:
            return [
                EmployeeSummary(r.employee_id, r.full_name, r.department, r.is_active, int(r.templates))
                for r in conn.execute(stmt)
            ]

        return self._transaction("listing employees", run)

    def find_conflicts(
        self,
        model_id: str,
        embedding: npt.ArrayLike,
        threshold: float,
        *,
        exclude_employee_id: str | None = None,
    ) -> list[tuple[str, float]]:
        """Active employees with a live template of ``model_id`` at cosine >= ``threshold``.

        Returns (employee_id, best cosine) pairs, most similar first. Used at enrolment to catch a
        face that is already enrolled under another id.
        """
        query = np.asarray(embedding, dtype=np.float32).reshape(-1)
        norm = float(np.linalg.norm(query))
        if query.size == 0 or not math.isfinite(norm) or norm == 0.0:
            raise ValueError("embedding must be a non-zero finite vector")
        query = query / norm
        stmt = (
            select(face_templates.c.employee_id, face_templates.c.embedding)
            .join(employees, employees.c.employee_id == face_templates.c.employee_id)
            .where(
                face_templates.c.model_id == model_id,
                face_templates.c.deleted_at.is_(None),
                employees.c.is_active.is_(True),
            )
            .order_by(face_templates.c.employee_id)
        )
        if exclude_employee_id is not None:
            stmt = stmt.where(face_templates.c.employee_id != exclude_employee_id)
        rows = self._transaction("searching templates", lambda conn: conn.execute(stmt).all())
        if not rows:
            return []
        owners = np.array([r.employee_id for r in rows], dtype=object)
        matrix = stack_embeddings([r.embedding for r in rows], model_id)
        if matrix.shape[1] != query.size:
            raise ValueError(
                f"model {model_id!r} templates have {matrix.shape[1]} dimensions, got {query.size}"
            )
        norms = np.linalg.norm(matrix, axis=1)
        norms[norms == 0] = 1.0
        sims = (matrix @ query) / norms
        # Rows are ordered by employee, so each employee's best score is one reduceat segment.
        starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
        best = np.maximum.reduceat(sims, starts)
        hits = [(str(owners[s]), float(b)) for s, b in zip(starts, best, strict=True) if b >= threshold]
        hits.sort(key=lambda h: h[1], reverse=True)
        return hits

    # -- gallery pull -----------------------------------------------------------------------------
