"""The timesheet bench at its smallest: it fills a scratch database and reports every timing."""

from __future__ import annotations

import json

import pytest

from sputnik_edge.tools import timesheet_bench

pytestmark = pytest.mark.integration

TIMINGS = {
    "timesheet_all",
    "timesheet_department",
    "timesheet_employee",
    "events_first_page",
    "events_deep_page",
    "events_employee_page",
    "events_department_page",
    "events_kind_page",
    "daily",
}


def test_quick_bench_has_the_right_shape(pg_admin_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert timesheet_bench.main(["--database-url", pg_admin_url, "--quick", "--runs", "2"]) == 0
    out = capsys.readouterr().out
    result = json.loads(out[out.index("{") :])
    quick = timesheet_bench.QUICK
    assert (result["employees"], result["days"], result["events"]) == (
        quick["employees"],
        quick["days"],
        quick["events"],
    )
    assert result["timesheet_rows"] == quick["employees"] * quick["days"]
    assert set(result["timings"]) == TIMINGS
    for timing in result["timings"].values():
        assert len(timing["runs_ms"]) == 2
        assert 0 < timing["p50_ms"] <= timing["p99_ms"] == max(timing["runs_ms"])
        assert timing["client_cpu_p50_ms"] >= 0
