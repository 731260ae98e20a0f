"""Central PostgreSQL: schema and migrations, event push, gallery pull, enrolment, heartbeat."""

from sputnik_edge.central.errors import CentralError, SchemaError, UnknownEmployeeError
from sputnik_edge.central.migrate import head_revision, upgrade
from sputnik_edge.central.store import CentralStore
from sputnik_edge.central.types import (
    DeviceHeartbeat,
    EmployeeRow,
    EmployeeSummary,
    GalleryDelta,
    TemplateRow,
)

__all__ = [
    "CentralError",
    "CentralStore",
    "DeviceHeartbeat",
    "EmployeeRow",
    "EmployeeSummary",
    "GalleryDelta",
    "SchemaError",
    "TemplateRow",
    "UnknownEmployeeError",
    "head_revision",
    "upgrade",
]
