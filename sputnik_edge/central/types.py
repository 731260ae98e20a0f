"""Values exchanged with the central store."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class EmployeeRow:
    employee_id: str
    full_name: str
    department: str | None
    is_active: bool
    change_seq: int


@dataclass(frozen=True, slots=True)
class TemplateRow:
    """One face template. ``embedding`` is a read-only float32 view into the pull's matrix."""

    template_id: str
    employee_id: str
    embedding: npt.NDArray[np.float32]
    quality: float | None
    deleted: bool
    change_seq: int


@dataclass(frozen=True, slots=True)
class GalleryDelta:
    """Everything that changed after ``since_seq`` for one model id.

    Apply in this order: drop every employee in ``erased`` (with all their templates), then upsert
    ``employees``, then upsert ``templates`` (removing those with ``deleted``). An id can be in both
    ``erased`` and ``employees`` when someone was re-enrolled after an erasure; the order above gives
    the right result because erasure hard-deleted the old templates. Templates of inactive employees
    are included; the device decides not to match them. Store ``max_seq`` and pass it as the next
    ``since_seq``.
    """

    since_seq: int
    max_seq: int
    employees: list[EmployeeRow] = field(default_factory=list)
    templates: list[TemplateRow] = field(default_factory=list)
    erased: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.employees or self.templates or self.erased)


@dataclass(frozen=True, slots=True)
class DeviceHeartbeat:
    device_id: str
    name: str | None = None
    location: str | None = None
    software_version: str | None = None
    model_id: str | None = None
    gallery_seq: int | None = None
    outbox_backlog: int | None = None


@dataclass(frozen=True, slots=True)
class EmployeeSummary:
    employee_id: str
    full_name: str
    department: str | None
    is_active: bool
    templates: int
