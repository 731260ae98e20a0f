"""Device heartbeats: version, model, gallery seq, backlog, and the clock offset to the database."""

from __future__ import annotations

import math
import time

import structlog
from sqlalchemy import Connection, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from sputnik_edge.central.connection import CentralConnection, require_text
from sputnik_edge.central.schema import (
    devices,
)
from sputnik_edge.central.types import (
    DeviceHeartbeat,
)

log = structlog.get_logger(__name__)

_CLOCK_SAMPLES = 3


class DeviceOps(CentralConnection):
    def heartbeat(self, status: DeviceHeartbeat) -> float:
        """Record the device's state and return its clock offset in ms (database clock minus local
        clock, positive when the device is behind), measured as NTP does: the database time is
        compared to the midpoint of the local times around the query; the fastest of a few samples
        wins because its midpoint is the least uncertain."""
        device_id = require_text(status.device_id, "device_id")
        clock_stmt = select(func.clock_timestamp())

        def run(conn: Connection) -> float:
            best_rtt = math.inf
            offset_ms = 0.0
            for _ in range(_CLOCK_SAMPLES):
                t0 = time.time()
                db_now = conn.execute(clock_stmt).scalar_one()
                t1 = time.time()
                if t1 - t0 < best_rtt:
                    best_rtt = t1 - t0
                    offset_ms = (db_now.timestamp() - (t0 + t1) / 2) * 1000.0
            values = {
                "name": status.name,
                "location": status.location,
                "software_version": status.software_version,
                "model_id": status.model_id,
                "gallery_seq": status.gallery_seq,
                "outbox_backlog": status.outbox_backlog,
                "clock_offset_ms": offset_ms,
                "last_seen_at": func.now(),
            }
            stmt = pg_insert(devices).values(device_id=device_id, **values)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[devices.c.device_id],
                    set_={k: getattr(stmt.excluded, k) for k in values},
                )
            )
            return offset_ms

        offset = self._transaction("recording heartbeat", run)
        log.debug("central_heartbeat", device_id=device_id, clock_offset_ms=round(offset, 1))
        return offset
