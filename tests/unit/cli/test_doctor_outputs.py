"""`doctor` shows each event output as the daemon last recorded it; a failing one fails doctor."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomli_w

from sputnik_edge.cli import main
from sputnik_edge.store.local import LocalStore
from tests.conftest import clear_config_env


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_config_env(monkeypatch)


def test_doctor_lines_per_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "state" / "edge.db"
    cfg = {
        "storage": {"database": str(db), "snapshots_dir": str(tmp_path / "snaps")},
        "outputs": [
            {
                "id": "hr",
                "kind": "webhook",
                "url": "http://u:url-pw@127.0.0.1:9/api/webhook/path-sec",
                "secret": "k",
            },
            {"id": "home", "kind": "mqtt", "host": "127.0.0.1"},
            {"id": "old", "kind": "mqtt", "host": "127.0.0.1", "enabled": False},
        ],
    }
    config = tmp_path / "config.toml"
    config.write_bytes(tomli_w.dumps(cfg).encode())
    store = LocalStore(db)
    store.outputs.ensure("hr")
    store.outputs.failed("hr", "ConnectError: [Errno 111] Connection refused")
    store.close()
    code = main(["doctor", "--config", str(config)])
    lines = {ln[5:].split(":", 1)[0]: ln for ln in capsys.readouterr().out.splitlines()}
    assert code == 1  # the failing output
    assert lines["output hr"].startswith("FAIL") and "Connection refused" in lines["output hr"]
    assert "url-pw" not in lines["output hr"] and "path-sec" not in lines["output hr"]
    assert "webhook http://127.0.0.1:9/…:" in lines["output hr"]  # the path may be the secret
    assert lines["output home"].startswith("ok") and "not started yet" in lines["output home"]
    assert lines["output old"].startswith("ok") and "disabled" in lines["output old"]
