"""Central PostgreSQL store: one class over the operations, each concern in a module of its own.

``connection`` (engine, retried transactions, schema check), ``push`` (events), ``enrolment``
(employees, templates, duplicate check), ``erasure``, ``gallery`` (pull), ``devices`` (heartbeat).
"""

from __future__ import annotations

from sputnik_edge.central.devices import DeviceOps
from sputnik_edge.central.enrolment import EnrolmentOps
from sputnik_edge.central.erasure import ErasureOps
from sputnik_edge.central.gallery import GalleryOps
from sputnik_edge.central.push import PushOps


class CentralStore(PushOps, EnrolmentOps, ErasureOps, GalleryOps, DeviceOps):
    """Access to the central PostgreSQL database (see ``CentralConnection`` for the error rules)."""
