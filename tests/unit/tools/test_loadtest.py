"""``loadtest`` against a real daemon, bounded to a few requests (``soak`` runs the same daemon
launcher for minutes: run by hand, ``sputnik-edge soak --minutes 1``)."""

from __future__ import annotations

from pathlib import Path

from sputnik_edge.tools.soak import run_load


def test_loadtest_small(faces_dir: Path) -> None:
    result = run_load(faces_dir, health_requests=20, gateway_requests=2, concurrency=2, max_seconds=30)
    assert result["daemon_exit"] == 0
    for name, n in (("health", 20), ("gateway", 2)):
        assert result[name]["requests"] == n and result[name]["errors"] == 0
