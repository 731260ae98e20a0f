"""The service's plumbing: which time zone it counts in, and how database failures surface."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine, create_engine, make_url
from sqlalchemy.pool import NullPool

from sputnik_edge.central.errors import CentralError, SchemaError
from sputnik_edge.central.store import CentralStore
from sputnik_edge.office.attendance.service import AttendanceService
from sputnik_edge.office.attendance.types import ParameterError
from sputnik_edge.tools.scratch_db import scratch_database
from tests.office.attendance.helpers import add_employee, punches, set_office_timezone

pytestmark = pytest.mark.integration


def test_zone_from_settings_on_every_call_unless_configured(
    engine: Engine, store: CentralStore, service: AttendanceService
) -> None:
    add_employee(engine, "ann", "Ann")
    punches(store, "ann", ("check_in", datetime(2024, 6, 3, 22, 30, tzinfo=UTC)))
    assert service.timezone().key == "UTC"
    assert service.daily(date(2024, 6, 3))[0].first_in is not None
    set_office_timezone(engine, "Asia/Tokyo")  # 22:30 UTC is 07:30 on the 4th in Tokyo
    assert service.timezone().key == "Asia/Tokyo"
    assert service.daily(date(2024, 6, 3))[0].first_in is None
    assert service.daily(date(2024, 6, 4))[0].first_in == datetime(2024, 6, 3, 22, 30, tzinfo=UTC)
    fixed = AttendanceService(engine, timezone="UTC")
    assert fixed.daily(date(2024, 6, 3))[0].first_in is not None


def test_bad_zones_name_their_source(engine: Engine) -> None:
    with pytest.raises(ParameterError) as info:
        AttendanceService(engine, timezone="Mars/Olympus")
    assert info.value.field == "timezone"
    # A bad stored setting is the server's problem, not the request's.
    set_office_timezone(engine, "Mars/Olympus")
    with pytest.raises(CentralError, match=r"^settings\.office_timezone: unknown time zone 'Mars/Olympus'"):
        AttendanceService(engine).events()


def test_database_failures_are_central_errors_without_the_password(attendance_db_url: str) -> None:
    url = make_url(attendance_db_url).set(password="s3cret-pw", port=1)
    dead = create_engine(url, poolclass=NullPool)
    with pytest.raises(CentralError) as info:
        AttendanceService(dead, timezone="UTC").events()
    assert "s3cret-pw" not in str(info.value) and str(info.value).startswith("listing events failed")


def test_a_database_without_the_schema_says_so(pg_admin_url: str) -> None:
    with scratch_database(pg_admin_url, prefix="sputnik_test_bare") as url:
        bare = create_engine(url, poolclass=NullPool)
        try:
            with pytest.raises(SchemaError, match="db upgrade"):
                AttendanceService(bare, timezone="UTC").events()
        finally:
            bare.dispose()
