"""Attendance read paths of the office: events newest first by (captured_at, event_id).

Measured with ``sputnik_edge.tools.timesheet_bench`` at 1,000 employees, 30 days, 1M events: without
it, every page of ``GET /api/v1/attendance/events`` (first, deep, by department or kind) sorted
the whole table, and the daily view scanned it all for two days of events. p50 on a shared
2-core machine, 0002 -> 0003: first page 540 -> 6 ms, a page half-way down 405 -> 7 ms, by
department 212 -> 24 ms, by kind 226 -> 10 ms, daily 676 -> 576 ms; the month's timesheet reads
most of the table either way and does not use it.

Built inside the migration's transaction (alembic runs in one), so it holds a SHARE lock on
attendance_events while it builds: event pushes wait for it (seconds at a million rows) and are
retried by the devices' outbox.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_attendance_events_captured_at_event_id", "attendance_events", ["captured_at", "event_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_attendance_events_captured_at_event_id", table_name="attendance_events")
