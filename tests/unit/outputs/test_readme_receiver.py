"""The README's webhook receiver, run as written (secret path and port swapped for the test's),
accepts what the device sends and refuses a wrong signature."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from sputnik_edge.outputs.webhook import WebhookSink
from tests.conftest import REPO_ROOT
from tests.support.daemon import free_port
from tests.support.waiting import wait_until


def readme_receiver() -> str:
    section = (REPO_ROOT / "README.md").read_text().split("### Webhooks", 1)[1].split("\n### ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1, "the Webhooks section has one Python receiver"
    return blocks[0]


def test_readme_receiver_verifies_the_device_signature(tmp_path: Path) -> None:
    code = readme_receiver()
    assert len([ln for ln in code.splitlines() if ln.strip()]) <= 11  # as the README says
    secret = tmp_path / "secret"
    secret.write_text("readme-secret\n")
    port = free_port()
    code = code.replace("/etc/hr-hook/secret", str(secret)).replace("8088", str(port))
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        good = WebhookSink(f"http://127.0.0.1:{port}/hook", "readme-secret", timeout_s=2)
        bad = WebhookSink(f"http://127.0.0.1:{port}/hook", "wrong", timeout_s=2)
        payload = {"event_id": "0b4f7c9e-1111-4222-8333-944445555666", "kind": "check_in"}
        assert wait_until(lambda: good.deliver([payload]).sent == 1, timeout=10, interval=0.1)
        result = bad.deliver([payload])
        assert result.sent == 0 and result.error == f"HTTP 401 from http://127.0.0.1:{port}/…"
        good.close()
        bad.close()
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=5)
    assert out.splitlines()[0] == "0b4f7c9e-1111-4222-8333-944445555666 check_in"
