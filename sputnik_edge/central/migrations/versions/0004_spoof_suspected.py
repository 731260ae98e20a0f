"""Liveness: the event kind ``spoof_suspected`` (a recognised face not judged live).

It names whom the face matched but is never presence: the timesheet counts only check_in /
check_out, and the ``attendance_daily`` view leaves these events out altogether (a day with
only spoof attempts gets no row, and they are not in its ``events`` count).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 05:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD = "kind IN ('check_in', 'check_out', 'pass', 'unknown', 'low_confidence')"
_NEW = "kind IN ('check_in', 'check_out', 'pass', 'unknown', 'low_confidence', 'spoof_suspected')"


_DAILY_VIEW = """
CREATE VIEW attendance_daily AS
WITH tz AS (
    SELECT coalesce((SELECT value FROM settings WHERE key = 'office_timezone'), 'UTC') AS name
)
SELECT e.employee_id,
       (e.captured_at AT TIME ZONE tz.name)::date AS day,
       min(e.captured_at AT TIME ZONE tz.name) FILTER (WHERE e.kind = 'check_in') AS first_in,
       max(e.captured_at AT TIME ZONE tz.name) FILTER (WHERE e.kind = 'check_out') AS last_out,
       count(*) AS events
FROM attendance_events AS e CROSS JOIN tz
WHERE e.employee_id IS NOT NULL{extra}
GROUP BY e.employee_id, (e.captured_at AT TIME ZONE tz.name)::date
"""


def _replace_view(extra: str) -> None:
    op.execute(sa.text("DROP VIEW IF EXISTS attendance_daily"))
    op.execute(sa.text(_DAILY_VIEW.format(extra=extra)))


def upgrade() -> None:
    op.drop_constraint("ck_attendance_events_kind", "attendance_events", type_="check")
    op.create_check_constraint("ck_attendance_events_kind", "attendance_events", _NEW)
    _replace_view(" AND e.kind <> 'spoof_suspected'")


def downgrade() -> None:
    # Events of the new kind cannot satisfy the old constraint: they go first.
    op.execute("DELETE FROM attendance_events WHERE kind = 'spoof_suspected'")
    op.drop_constraint("ck_attendance_events_kind", "attendance_events", type_="check")
    op.create_check_constraint("ck_attendance_events_kind", "attendance_events", _OLD)
    _replace_view("")  # as 0001 made it
