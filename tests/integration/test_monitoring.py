"""deploy/monitoring: the alert rules pass promtool's unit tests (a firing and a quiet case for each
alert), the scrape example is valid, and every device metric an alert uses really exists."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from sputnik_edge.metrics import Metrics
from tests.conftest import REPO_ROOT, require

pytestmark = pytest.mark.integration
MONITORING = REPO_ROOT / "deploy" / "monitoring"


@pytest.fixture(scope="module")
def promtool() -> str:
    exe = shutil.which("promtool")
    require(exe is not None, "promtool missing: apt-get install -y prometheus")
    assert exe is not None
    return exe


def test_rules_unit_tests_pass(promtool: str) -> None:
    res = subprocess.run(
        [promtool, "test", "rules", "alerts_test.yml"],
        cwd=MONITORING,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "SUCCESS" in res.stdout


def test_every_alert_is_tested_firing_and_quiet() -> None:
    rules = yaml.safe_load((MONITORING / "alerts.yml").read_text())
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    tests = yaml.safe_load((MONITORING / "alerts_test.yml").read_text())["tests"]
    firing, quiet = set(), set()
    for case in tests:
        for check in case["alert_rule_test"]:
            (firing if check["exp_alerts"] else quiet).add(check["alertname"])
    assert alerts == firing == quiet


def test_scrape_example_is_valid(promtool: str, tmp_path: Path) -> None:
    shutil.copy(MONITORING / "alerts.yml", tmp_path / "sputnik-alerts.yml")
    for name in ("sputnik-office-token", "sputnik-device-token"):
        (tmp_path / name).write_text("t\n")
    text = (MONITORING / "scrape.example.yml").read_text().replace("/etc/prometheus/", f"{tmp_path}/")
    (tmp_path / "prometheus.yml").write_text(text)
    res = subprocess.run(
        [promtool, "check", "config", "prometheus.yml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert res.returncode == 0, res.stdout + res.stderr


def test_device_alerts_use_metrics_the_device_exports() -> None:
    families = list(Metrics().registry.collect())
    # Labelled metrics have no samples before first use: take the family names (counters: + _total).
    exported = {m.name for m in families} | {m.name + "_total" for m in families if m.type == "counter"}
    rules = yaml.safe_load((MONITORING / "alerts.yml").read_text())
    device = next(g for g in rules["groups"] if g["name"] == "sputnik-edge")
    used = {name for r in device["rules"] for name in re.findall(r"\b(sputnik_[a-z_]+)", r["expr"])}
    assert used and used <= exported, used - exported
