"""``GET /api/v1/devices`` (viewer, hr, admin): each device's last heartbeat and whether it went quiet.

Silence is measured against the database clock (``now() - last_seen_at``), the clock the
heartbeat was stamped with, so the office server's own clock does not matter.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import Connection, extract, func, select

from sputnik_edge.central.schema import devices
from sputnik_edge.office.deps import AnyUser, State
from sputnik_edge.office.routes.common import errors

router = APIRouter(prefix="/api/v1/devices", tags=["devices"])


class DeviceOut(BaseModel):
    device_id: str
    name: str | None
    location: str | None
    software_version: str | None
    model_id: str | None
    gallery_seq: int | None
    outbox_backlog: int | None
    clock_offset_ms: float | None
    last_seen_at: datetime | None
    silent_for_s: float | None
    stale: bool  # never seen, or silent for longer than office.device_stale_after_s


class DevicesOut(BaseModel):
    devices: list[DeviceOut]
    stale_after_s: float


@router.get("", response_model=DevicesOut, responses=errors())
def list_devices(state: State, _user: AnyUser) -> DevicesOut:
    stale_after = state.settings.office.device_stale_after_s
    silent = extract("epoch", func.now() - devices.c.last_seen_at)
    stmt = select(devices, silent.label("silent_for_s")).order_by(devices.c.device_id)

    def run(conn: Connection) -> list[DeviceOut]:
        out = []
        for r in conn.execute(stmt):
            silent_s = float(r.silent_for_s) if r.silent_for_s is not None else None
            out.append(
                DeviceOut(
                    device_id=r.device_id,
                    name=r.name,
                    location=r.location,
                    software_version=r.software_version,
                    model_id=r.model_id,
                    gallery_seq=r.gallery_seq,
                    outbox_backlog=r.outbox_backlog,
                    clock_offset_ms=r.clock_offset_ms,
                    last_seen_at=r.last_seen_at,
                    silent_for_s=round(silent_s, 1) if silent_s is not None else None,
                    stale=silent_s is None or silent_s > stale_after,
                )
            )
        return out

    rows = state.central._transaction("listing devices", run)
    return DevicesOut(devices=rows, stale_after_s=stale_after)
