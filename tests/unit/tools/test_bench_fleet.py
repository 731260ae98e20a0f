"""The ``fleet`` bench section on a real PostgreSQL: the quick section runs end to end, every event
an outbox recorded is in ``attendance_events`` exactly once, the typed result survives the JSON
codec, and the reports render it. A run past the connection limit shows the device-side failure
and still loses nothing. No timing assertions: this is a benchmark, timings are its output."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from sputnik_edge.tools import bench
from sputnik_edge.tools.bench.fleet import FleetConfig, embedder_model_id, run_fleet
from sputnik_edge.tools.bench.fleet_report import fleet_markdown, md_fleet
from sputnik_edge.tools.bench.fleet_results import FleetResult, FleetRun
from sputnik_edge.tools.bench.report import build_markdown
from sputnik_edge.tools.bench.results import BenchResult
from tests.conftest import REPO_ROOT, require
from tests.unit.tools.bench_helpers import bench_settings

pytestmark = pytest.mark.integration

PG_URL = os.environ.get("SPUTNIK_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


def _leftovers() -> set[str]:
    """Scratch databases and device roles of the fleet bench that exist right now."""
    engine = create_engine(PG_URL, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            dbs = conn.execute(text("SELECT datname FROM pg_database WHERE datname LIKE 'sputnik_fleet%'"))
            roles = conn.execute(text("SELECT rolname FROM pg_roles WHERE rolname LIKE 'sputnik_fleet%'"))
            return set(dbs.scalars()) | set(roles.scalars())
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def before() -> set[str]:
    try:
        found = _leftovers()
    except Exception:
        require(False, f"PostgreSQL not reachable at {make_url(PG_URL)!r}")
        raise
    return found


@pytest.fixture(scope="module")
def quick(before: set[str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[BenchResult]:
    opts = bench.BenchOptions(
        sections=("fleet",), quick=True, progress=False, database_url=PG_URL, command="test quick fleet"
    )
    result = bench.run_bench(bench_settings(tmp_path_factory.mktemp("fleet")), opts)
    assert not result.errors, result.errors
    yield result


def _delivered_exactly_once(run: FleetRun) -> None:
    d = run.delivery
    assert d.recorded > 0
    assert d.delivered == d.recorded, d
    assert d.lost == d.unexpected == d.duplicates == 0, d
    assert d.ok


def test_quick_section_runs_every_device_operation(quick: BenchResult) -> None:
    fleet = quick.sections.fleet
    assert isinstance(fleet, FleetResult)
    assert {"5_direct", "20_direct"} <= set(fleet.runs)
    assert set(fleet.runs) | set(fleet.skipped) == {"5_direct", "20_direct", "20_pgbouncer"}
    for run in fleet.runs.values():
        assert not run.errors.count, run.errors
        assert run.push.n > 0 and run.pull.n > 0 and run.record.n > 0
        assert run.initial_pull_templates == fleet.employees  # a newcomer pulls the whole gallery
        assert run.hr_changes > 0 and run.pull_changed > 0  # incremental pulls carried them
        assert run.db.peak_connections > 0 and run.db.xact_commit_per_s > 0
    assert fleet.runs["20_direct"].heartbeat.n > 0
    if "20_pgbouncer" in fleet.runs:  # 20 devices' pools share a few server connections
        bounced = fleet.runs["20_pgbouncer"].db
        assert bounced.pgbouncer_peak_clients is not None and bounced.peak_connections <= 20


def test_every_recorded_event_is_delivered_once(quick: BenchResult) -> None:
    assert quick.sections.fleet is not None
    for run in quick.sections.fleet.runs.values():
        _delivered_exactly_once(run)


def test_result_round_trips_through_the_codec(quick: BenchResult) -> None:
    data = json.loads(json.dumps(quick.to_json()))
    again = BenchResult.from_json(data)
    assert again == quick
    assert json.dumps(again.to_json()) == json.dumps(data)
    assert "fleet" in data["sections"] and "5_direct" in data["sections"]["fleet"]["runs"]


def test_reports_render_the_section(quick: BenchResult, tmp_path: Path) -> None:
    fleet = quick.sections.fleet
    assert fleet is not None
    md = md_fleet(fleet)
    assert "### 5 devices" in md and "### 20 devices" in md and "**Capacity.**" in md
    assert "| push_once that sent a batch, p50 / p99 ms |" in md
    assert "## Fleet: simulated devices against one PostgreSQL" in build_markdown(quick, {}, None)
    assert "fleet (simulated devices against one PostgreSQL)" in bench.format_report(quick)
    assert fleet_markdown(quick, "fleet.json").startswith("## Fleet")


def test_past_the_connection_limit_devices_fail_and_back_off_but_lose_nothing(before: set[str]) -> None:
    # 8 devices (one connection each at least), the HR writer and a newcomer against 5 slots.
    cfg = FleetConfig(
        runs=((8, "direct"),),
        employees=30,
        window_s=3.0,
        time_scale=0.25,
        connection_limit=5,
        processes=1,
        workers=8,
    )
    result = run_fleet(PG_URL, cfg, embedder_model_id(bench_settings(Path("/nonexistent"))))
    assert result.server.database_connection_limit == 5
    run = result.runs["8_direct"]
    assert run.errors.count.get("push", 0) > 0
    assert "too many connections" in run.errors.first["push"]
    assert run.errors.devices_never_pushed > 0 and run.db.peak_connections <= 5
    _delivered_exactly_once(run)  # the outboxes kept them; the final push delivered them
    assert run.delivery.backlog_at_stop > 0
    assert "The first limit hit is connections" in md_fleet(result)


def test_committed_full_size_result_renders_to_the_committed_markdown() -> None:
    fleet_json, fleet_md = (
        REPO_ROOT / "docs" / "bench" / "fleet.json",
        REPO_ROOT / "docs" / "bench" / "fleet.md",
    )
    result = BenchResult.load(fleet_json)
    assert json.dumps(result.to_json(), indent=2) + "\n" == fleet_json.read_text()
    assert result.sections.fleet is not None and not result.quick
    assert all(r.delivery.ok for r in result.sections.fleet.runs.values())
    assert fleet_markdown(result, "docs/bench/fleet.json") == fleet_md.read_text()


def test_no_scratch_database_or_role_is_left(quick: BenchResult, before: set[str]) -> None:
    assert _leftovers() - before == set()
