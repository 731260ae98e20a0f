"""Liveness: the event kind ``spoof_suspected`` (a recognised face not judged live).

It names whom the face matched but is never presence: the timesheet and the daily view count
only check_in / check_out, as before.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 05:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD = "kind IN ('check_in', 'check_out', 'pass', 'unknown', 'low_confidence')"
_NEW = "kind IN ('check_in', 'check_out', 'pass', 'unknown', 'low_confidence', 'spoof_suspected')"


def upgrade() -> None:
    op.drop_constraint("ck_attendance_events_kind", "attendance_events", type_="check")
    op.create_check_constraint("ck_attendance_events_kind", "attendance_events", _NEW)


def downgrade() -> None:
    # Events of the new kind cannot satisfy the old constraint: they go first.
    op.execute("DELETE FROM attendance_events WHERE kind = 'spoof_suspected'")
    op.drop_constraint("ck_attendance_events_kind", "attendance_events", type_="check")
    op.create_check_constraint("ck_attendance_events_kind", "attendance_events", _OLD)
