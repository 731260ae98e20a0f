"""Central PostgreSQL schema (DESIGN section 6) as SQLAlchemy Core tables.

This module describes the schema the code expects; the alembic migrations in ``migrations/``
are what creates it. ``tests/integration/test_central_schema.py`` compares the two so they cannot
drift apart silently.

Change tracking: every insert or update of ``employees``, ``face_templates`` and ``erasures`` gets
``change_seq = nextval('change_seq_seq')`` from a trigger, and devices pull ``WHERE change_seq > :last``.
A sequence alone is not enough for that: a transaction that drew seq 5 may commit after one that drew
seq 6, and a device that pulled in between would jump past 5 forever. The trigger therefore also takes
a transaction-level advisory lock (``GALLERY_LOCK_KEY``), which serialises gallery writers from their
first change to their commit, so sequence order equals commit order. Gallery writes are rare (enrolment),
so the serialisation costs nothing in practice; event pushes do not touch these tables.
"""

from __future__ import annotations

from sqlalchemy import (
    REAL,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

# Also hard-coded in migrations/versions/0001_initial.py (migrations must not import app code);
# a test checks that the installed trigger function uses this very key.
GALLERY_LOCK_KEY = 0x5370_7574_6E69_6B01  # "Sputnik" + 1

CHANGE_SEQ_SEQUENCE = "change_seq_seq"
DEFAULT_OFFICE_TIMEZONE = "UTC"
EVENT_KIND_CHECK = "kind IN ('check_in', 'check_out', 'pass', 'unknown', 'low_confidence', 'spoof_suspected')"

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

employees = Table(
    "employees",
    metadata,
    Column("employee_id", Text, primary_key=True),
    Column("full_name", Text, nullable=False),
    Column("department", Text, nullable=True),
    Column("is_active", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    # Filled by the trigger; NOT NULL is checked after BEFORE triggers run.
    Column("change_seq", BigInteger, nullable=False),
    Index(None, "change_seq"),
)

face_photos = Table(
    "face_photos",
    metadata,
    Column("photo_id", UUID(as_uuid=False), primary_key=True),
    Column(
        "employee_id",
        Text,
        ForeignKey("employees.employee_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    # Kept so templates can be recomputed when the embedding model changes.
    Column("image", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
)

face_templates = Table(
    "face_templates",
    metadata,
    Column("template_id", UUID(as_uuid=False), primary_key=True),
    Column(
        "employee_id",
        Text,
        ForeignKey("employees.employee_id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("model_id", Text, nullable=False),
    # float32 little-endian, as produced by ndarray.astype("<f4").tobytes()
    Column("embedding", LargeBinary, nullable=False),
    Column("quality", REAL, nullable=True),
    Column(
        "photo_id",
        UUID(as_uuid=False),
        ForeignKey("face_photos.photo_id", ondelete="SET NULL"),
        nullable=True,
    ),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Column("deleted_at", DateTime(timezone=True), nullable=True),
    Column("change_seq", BigInteger, nullable=False),
    CheckConstraint(
        "octet_length(embedding) > 0 AND octet_length(embedding) % 4 = 0", name="embedding_float32"
    ),
    Index(None, "model_id", "change_seq"),
)

# Right-to-erasure tombstones: the person's data is gone, only the id stays so devices that pull
# later learn to drop their cached copy, and late events from offline devices get anonymised.
erasures = Table(
    "erasures",
    metadata,
    Column("employee_id", Text, primary_key=True),
    Column("erased_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Column("change_seq", BigInteger, nullable=False),
    Index(None, "change_seq"),
)

devices = Table(
    "devices",
    metadata,
    Column("device_id", Text, primary_key=True),
    Column("name", Text, nullable=True),
    Column("location", Text, nullable=True),
    Column("software_version", Text, nullable=True),
    Column("model_id", Text, nullable=True),
    Column("gallery_seq", BigInteger, nullable=True),
    Column("outbox_backlog", Integer, nullable=True),
    Column("clock_offset_ms", Double, nullable=True),
    Column("last_seen_at", DateTime(timezone=True), nullable=True),
)

# No foreign key to employees: events must be accepted even when a device knows an employee the
# central database has not seen yet (or no longer has). Erasure deletes the events explicitly.
attendance_events = Table(
    "attendance_events",
    metadata,
    Column("event_id", UUID(as_uuid=False), primary_key=True),
    Column("device_id", Text, nullable=False),
    Column("camera_id", Text, nullable=True),
    Column("employee_id", Text, nullable=True),
    Column("kind", Text, nullable=False),
    Column("similarity", REAL, nullable=True),
    Column("captured_at", DateTime(timezone=True), nullable=False),
    Column("device_seq", BigInteger, nullable=True),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Column("trace_id", Text, nullable=True),
    Column("details", JSONB, nullable=True),
    CheckConstraint(EVENT_KIND_CHECK, name="kind"),
    Index(None, "employee_id", "captured_at"),
    Index(None, "device_id", "device_seq"),
    # 0003: the office's event pages, newest first with a (captured_at, event_id) keyset cursor.
    Index(None, "captured_at", "event_id"),
)

settings = Table(
    "settings",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

# Views are not part of MetaData; columns listed for readers of this module:
# attendance_daily(employee_id text, day date, first_in timestamp, last_out timestamp, events bigint),
# day / first_in / last_out are local times in settings.office_timezone.
ATTENDANCE_DAILY_VIEW = "attendance_daily"

# ---- the office server (sputnik-office), migration 0002 --------------------------------------------

OFFICE_ROLE_CHECK = "role IN ('admin', 'hr', 'viewer')"

office_users = Table(
    "office_users",
    metadata,
    Column("user_id", BigInteger, Identity(), primary_key=True),
    Column("username", Text, nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),  # argon2id, never the password
    Column("role", Text, nullable=False),
    Column("is_active", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Column("last_login_at", DateTime(timezone=True), nullable=True),
    CheckConstraint(OFFICE_ROLE_CHECK, name="role"),
)

# Server-side sessions so that logout and disabling a user end a session at once; the cookie only
# carries the signed session id.
office_sessions = Table(
    "office_sessions",
    metadata,
    Column("session_id", Text, primary_key=True),
    Column("user_id", BigInteger, ForeignKey("office_users.user_id", ondelete="CASCADE"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Index(None, "user_id"),
)

office_api_tokens = Table(
    "office_api_tokens",
    metadata,
    Column("token_id", UUID(as_uuid=False), primary_key=True),
    Column("user_id", BigInteger, ForeignKey("office_users.user_id", ondelete="CASCADE"), nullable=False),
    Column("name", Text, nullable=False),
    Column("token_hash", Text, nullable=False, unique=True),  # sha256 of the token, shown once
    Column("hint", Text, nullable=True),  # the first characters, to tell tokens apart
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Column("last_used_at", DateTime(timezone=True), nullable=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)

# Every change made through the office: who, when, what, with the request's trace id.
office_audit = Table(
    "office_audit",
    metadata,
    Column("audit_id", BigInteger, Identity(), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Column("actor", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("target_type", Text, nullable=True),
    Column("target_id", Text, nullable=True),
    Column("details", JSONB, nullable=True),
    Column("trace_id", Text, nullable=True),
    Index(None, "at"),
)

# Weekly schedules per department (scope_key = department) or per employee (scope_key = id):
# week is a JSON list of 7 entries (Monday first), each null or ["HH:MM", "HH:MM"].
work_schedules = Table(
    "work_schedules",
    metadata,
    Column("scope", Text, primary_key=True),
    Column("scope_key", Text, primary_key=True),
    Column("week", JSONB, nullable=False),
    Column("grace_minutes", Integer, nullable=False, server_default=text("0")),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    CheckConstraint("scope IN ('department', 'employee')", name="scope"),
)

# HR's corrections: an added check-in/out, or a voided event. Originals are never changed.
attendance_corrections = Table(
    "attendance_corrections",
    metadata,
    Column("correction_id", UUID(as_uuid=False), primary_key=True),
    Column("action", Text, nullable=False),
    Column("event_id", UUID(as_uuid=False), nullable=True),
    Column("employee_id", Text, nullable=True),
    Column("punch_kind", Text, nullable=True),
    Column("at", DateTime(timezone=True), nullable=True),
    Column("reason", Text, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    CheckConstraint(
        "(action = 'void' AND event_id IS NOT NULL) OR (action = 'add' AND employee_id IS NOT NULL "
        "AND punch_kind IN ('check_in', 'check_out') AND at IS NOT NULL)",
        name="shape",
    ),
    Index(None, "employee_id", "at"),
    Index(None, "event_id"),
)

# Face crops and embeddings of `unknown` events, uploaded by devices that opt in
# (central.upload_unknown_snapshots); expire after the office's configured days.
unknown_faces = Table(
    "unknown_faces",
    metadata,
    Column("event_id", UUID(as_uuid=False), primary_key=True),
    Column("device_id", Text, nullable=False),
    Column("camera_id", Text, nullable=True),
    Column("captured_at", DateTime(timezone=True), nullable=False),
    Column("model_id", Text, nullable=False),
    Column("embedding", LargeBinary, nullable=False),
    Column("crop", LargeBinary, nullable=True),  # JPEG
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Index(None, "captured_at"),
)
