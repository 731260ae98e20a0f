"""Initial central schema: employees, templates, photos, erasures, devices, events, settings, view.

Revision ID: 0001
Revises:
Create Date: 2024-06-01 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Same value as sputnik_edge.central.schema.GALLERY_LOCK_KEY; migrations stay frozen, so no import.
_GALLERY_LOCK_KEY = 0x5370_7574_6E69_6B01
_TRACKED_TABLES = ("employees", "face_templates", "erasures")

_BUMP_FUNCTION = f"""
CREATE FUNCTION sputnik_bump_change_seq() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Serialise gallery writers until commit so change_seq order equals commit order and a
    -- device pulling "change_seq > last" can never skip a row committed late.
    PERFORM pg_advisory_xact_lock({_GALLERY_LOCK_KEY});
    NEW.change_seq := nextval('change_seq_seq');
    RETURN NEW;
END
$$
"""

_TOUCH_FUNCTION = """
CREATE FUNCTION sputnik_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END
$$
"""

# day / first_in / last_out are local wall-clock values in the office time zone: that is what the
# office reads, and a timestamptz would be shown in whatever zone the reader's session has.
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
WHERE e.employee_id IS NOT NULL
GROUP BY e.employee_id, (e.captured_at AT TIME ZONE tz.name)::date
"""


def _timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
    ]


def upgrade() -> None:
    op.execute(sa.text("CREATE SEQUENCE change_seq_seq AS bigint"))

    op.create_table(
        "employees",
        sa.Column("employee_id", sa.Text(), nullable=False),
        sa.Column("full_name", sa.Text(), nullable=False),
        sa.Column("department", sa.Text(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        *_timestamps(),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.Column("change_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("employee_id", name="pk_employees"),
    )
    op.create_index("ix_employees_change_seq", "employees", ["change_seq"])

    op.create_table(
        "face_photos",
        sa.Column("photo_id", postgresql.UUID(as_uuid=False), nullable=False),
        sa.Column("employee_id", sa.Text(), nullable=False),
        sa.Column("image", sa.LargeBinary(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("photo_id", name="pk_face_photos"),
        sa.ForeignKeyConstraint(
            ["employee_id"],
            ["employees.employee_id"],
            name="fk_face_photos_employee_id_employees",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_face_photos_employee_id", "face_photos", ["employee_id"])

    op.create_table(
        "face_templates",
        sa.Column("template_id", postgresql.UUID(as_uuid=False), nullable=False),
        sa.Column("employee_id", sa.Text(), nullable=False),
        sa.Column("model_id", sa.Text(), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.Column("quality", sa.REAL(), nullable=True),
        sa.Column("photo_id", postgresql.UUID(as_uuid=False), nullable=True),
        *_timestamps(),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("change_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("template_id", name="pk_face_templates"),
        sa.ForeignKeyConstraint(
            ["employee_id"],
            ["employees.employee_id"],
            name="fk_face_templates_employee_id_employees",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["photo_id"],
            ["face_photos.photo_id"],
            name="fk_face_templates_photo_id_face_photos",
            ondelete="SET NULL",
        ),
        sa.CheckConstraint(
            "octet_length(embedding) > 0 AND octet_length(embedding) % 4 = 0",
            name="ck_face_templates_embedding_float32",
        ),
    )
    op.create_index("ix_face_templates_employee_id", "face_templates", ["employee_id"])
    op.create_index("ix_face_templates_model_id_change_seq", "face_templates", ["model_id", "change_seq"])

    op.create_table(
        "erasures",
        sa.Column("employee_id", sa.Text(), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.Column("change_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("employee_id", name="pk_erasures"),
    )
    op.create_index("ix_erasures_change_seq", "erasures", ["change_seq"])

    op.create_table(
        "devices",
        sa.Column("device_id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("location", sa.Text(), nullable=True),
        sa.Column("software_version", sa.Text(), nullable=True),
        sa.Column("model_id", sa.Text(), nullable=True),
        sa.Column("gallery_seq", sa.BigInteger(), nullable=True),
        sa.Column("outbox_backlog", sa.Integer(), nullable=True),
        sa.Column("clock_offset_ms", sa.Double(), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("device_id", name="pk_devices"),
    )

    op.create_table(
        "attendance_events",
        sa.Column("event_id", postgresql.UUID(as_uuid=False), nullable=False),
        sa.Column("device_id", sa.Text(), nullable=False),
        sa.Column("camera_id", sa.Text(), nullable=True),
        sa.Column("employee_id", sa.Text(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("similarity", sa.REAL(), nullable=True),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("device_seq", sa.BigInteger(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.Column("trace_id", sa.Text(), nullable=True),
        sa.Column("details", postgresql.JSONB(), nullable=True),
        sa.PrimaryKeyConstraint("event_id", name="pk_attendance_events"),
        sa.CheckConstraint(
            "kind IN ('check_in', 'check_out', 'pass', 'unknown', 'low_confidence')",
            name="ck_attendance_events_kind",
        ),
    )
    op.create_index(
        "ix_attendance_events_employee_id_captured_at", "attendance_events", ["employee_id", "captured_at"]
    )
    op.create_index(
        "ix_attendance_events_device_id_device_seq", "attendance_events", ["device_id", "device_seq"]
    )

    op.create_table(
        "settings",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_settings"),
    )
    op.execute(sa.text("INSERT INTO settings (key, value) VALUES ('office_timezone', 'UTC')"))

    op.execute(sa.text(_BUMP_FUNCTION))
    op.execute(sa.text(_TOUCH_FUNCTION))
    for table in _TRACKED_TABLES:
        op.execute(
            sa.text(
                f"CREATE TRIGGER {table}_change_seq BEFORE INSERT OR UPDATE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION sputnik_bump_change_seq()"
            )
        )
    op.execute(
        sa.text(
            "CREATE TRIGGER employees_updated_at BEFORE UPDATE ON employees "
            "FOR EACH ROW EXECUTE FUNCTION sputnik_touch_updated_at()"
        )
    )
    op.execute(sa.text(_DAILY_VIEW))


def downgrade() -> None:
    op.execute(sa.text("DROP VIEW IF EXISTS attendance_daily"))
    for table in ("settings", "attendance_events", "devices", "erasures", "face_templates", "face_photos"):
        op.drop_table(table)
    op.drop_table("employees")
    op.execute(sa.text("DROP FUNCTION IF EXISTS sputnik_touch_updated_at()"))
    op.execute(sa.text("DROP FUNCTION IF EXISTS sputnik_bump_change_seq()"))
    op.execute(sa.text("DROP SEQUENCE IF EXISTS change_seq_seq"))
