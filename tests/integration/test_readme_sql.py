"""The office queries in the README run against a migrated central database and mean what they say."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration


def readme_sql() -> list[str]:
    readme = (REPO_ROOT / "README.md").read_text()
    return re.findall(r"```sql\n(.*?)```", readme, flags=re.S)


def test_readme_office_queries_run(central_url: str) -> None:
    queries = readme_sql()
    assert len(queries) >= 4
    from sputnik_edge.central.errors import normalise_url

    engine = create_engine(normalise_url(central_url))
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO employees(employee_id, full_name) VALUES ('ann', 'Ann'), ('bob', 'Bob')")
        )
        seconds_ago = (("ann", "check_in", 2), ("bob", "check_in", 3), ("bob", "check_out", 1))
        for emp, kind, ago in seconds_ago:
            conn.execute(
                text(
                    "INSERT INTO attendance_events(event_id, device_id, camera_id, employee_id, kind, "
                    "captured_at, device_seq) VALUES (:id, 'door-1', 'cam', :emp, :kind, :at, 1)"
                ),
                {"id": str(uuid.uuid4()), "emp": emp, "kind": kind, "at": now - timedelta(seconds=ago)},
            )
    with engine.connect() as conn:
        results = [conn.execute(text(q)).mappings().all() for q in queries]
    today, who_is_in = results[0], results[1]
    assert {r["employee_id"] for r in today} == {"ann", "bob"}
    bob = next(r for r in today if r["employee_id"] == "bob")
    assert bob["last_out"] > bob["first_in"]
    assert [r["employee_id"] for r in who_is_in] == ["ann"]
    engine.dispose()
