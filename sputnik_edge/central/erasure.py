"""Right to erasure: an employee's templates, photos and events go everywhere; a tombstone tells devices."""

from __future__ import annotations

import structlog
from sqlalchemy import Connection, delete, func
from sqlalchemy.dialects.postgresql import insert as pg_insert

from sputnik_edge.central.connection import CentralConnection, require_text
from sputnik_edge.central.schema import (
    attendance_events,
    employees,
    erasures,
    face_photos,
    face_templates,
)

log = structlog.get_logger(__name__)


class ErasureOps(CentralConnection):
    def delete_employee(self, employee_id: str) -> bool:
        """Right to erasure: delete the employee, their templates, photos and attendance events.

        Only a tombstone with the id remains so devices drop their cached copy on the next pull.
        Returns False when nothing of that id was stored.
        """
        employee_id = require_text(employee_id, "employee_id")

        def run(conn: Connection) -> bool:
            self._lock_gallery(conn)
            events = conn.execute(
                delete(attendance_events).where(attendance_events.c.employee_id == employee_id)
            ).rowcount
            # Explicit deletes rather than relying on ON DELETE CASCADE alone: erasure must not
            # depend on how a future migration declares the foreign keys.
            conn.execute(delete(face_templates).where(face_templates.c.employee_id == employee_id))
            conn.execute(delete(face_photos).where(face_photos.c.employee_id == employee_id))
            gone = conn.execute(delete(employees).where(employees.c.employee_id == employee_id)).rowcount
            if not gone and not events:
                return False
            tomb = pg_insert(erasures).values(employee_id=employee_id)
            conn.execute(
                tomb.on_conflict_do_update(
                    index_elements=[erasures.c.employee_id], set_={"erased_at": func.now()}
                )
            )
            return True

        found = self._transaction("erasing employee", run)
        log.info("central_employee_erased", employee_id=employee_id, found=found)
        return found
