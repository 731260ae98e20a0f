"""Office server tables: users, sessions, API tokens, audit, work schedules, corrections, unknown faces.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _now(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable, server_default=sa.text("now()"))


def upgrade() -> None:
    op.create_table(
        "office_users",
        sa.Column("user_id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("username", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        _now("created_at"),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("user_id", name="pk_office_users"),
        sa.UniqueConstraint("username", name="uq_office_users_username"),
        sa.CheckConstraint("role IN ('admin', 'hr', 'viewer')", name="ck_office_users_role"),
    )
    op.create_table(
        "office_sessions",
        sa.Column("session_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        _now("created_at"),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("session_id", name="pk_office_sessions"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["office_users.user_id"],
            name="fk_office_sessions_user_id_office_users",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_office_sessions_user_id", "office_sessions", ["user_id"])
    op.create_table(
        "office_api_tokens",
        sa.Column("token_id", postgresql.UUID(as_uuid=False), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.Text(), nullable=False),
        sa.Column("hint", sa.Text(), nullable=True),
        _now("created_at"),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("token_id", name="pk_office_api_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_office_api_tokens_token_hash"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["office_users.user_id"],
            name="fk_office_api_tokens_user_id_office_users",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "office_audit",
        sa.Column("audit_id", sa.BigInteger(), sa.Identity(), nullable=False),
        _now("at"),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("target_type", sa.Text(), nullable=True),
        sa.Column("target_id", sa.Text(), nullable=True),
        sa.Column("details", postgresql.JSONB(), nullable=True),
        sa.Column("trace_id", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("audit_id", name="pk_office_audit"),
    )
    op.create_index("ix_office_audit_at", "office_audit", ["at"])
    op.create_table(
        "work_schedules",
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("scope_key", sa.Text(), nullable=False),
        sa.Column("week", postgresql.JSONB(), nullable=False),
        sa.Column("grace_minutes", sa.Integer(), nullable=False, server_default=sa.text("0")),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("scope", "scope_key", name="pk_work_schedules"),
        sa.CheckConstraint("scope IN ('department', 'employee')", name="ck_work_schedules_scope"),
    )
    op.create_table(
        "attendance_corrections",
        sa.Column("correction_id", postgresql.UUID(as_uuid=False), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("event_id", postgresql.UUID(as_uuid=False), nullable=True),
        sa.Column("employee_id", sa.Text(), nullable=True),
        sa.Column("punch_kind", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        _now("created_at"),
        sa.PrimaryKeyConstraint("correction_id", name="pk_attendance_corrections"),
        sa.CheckConstraint(
            "(action = 'void' AND event_id IS NOT NULL) OR (action = 'add' AND employee_id IS NOT NULL "
            "AND punch_kind IN ('check_in', 'check_out') AND at IS NOT NULL)",
            name="ck_attendance_corrections_shape",
        ),
    )
    op.create_index(
        "ix_attendance_corrections_employee_id_at", "attendance_corrections", ["employee_id", "at"]
    )
    op.create_index("ix_attendance_corrections_event_id", "attendance_corrections", ["event_id"])
    op.create_table(
        "unknown_faces",
        sa.Column("event_id", postgresql.UUID(as_uuid=False), nullable=False),
        sa.Column("device_id", sa.Text(), nullable=False),
        sa.Column("camera_id", sa.Text(), nullable=True),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_id", sa.Text(), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.Column("crop", sa.LargeBinary(), nullable=True),
        _now("received_at"),
        sa.PrimaryKeyConstraint("event_id", name="pk_unknown_faces"),
    )
    op.create_index("ix_unknown_faces_captured_at", "unknown_faces", ["captured_at"])


def downgrade() -> None:
    for table in (
        "unknown_faces",
        "attendance_corrections",
        "work_schedules",
        "office_audit",
        "office_api_tokens",
        "office_sessions",
        "office_users",
    ):
        op.drop_table(table)
