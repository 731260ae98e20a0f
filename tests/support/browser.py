"""Debian's Chromium driven by Playwright (no browser download), with the flags this machine needs,
plus the page checks every page test makes: accessibility (axe-core), no horizontal scrolling at
390 px, a Content-Security-Policy without inline scripts."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT, require

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


@pytest.fixture(scope="session")
def web_browser() -> Iterator[Any]:
    require(
        shutil.which(CHROMIUM) is not None, f"Chromium missing at {CHROMIUM}: apt-get install -y chromium"
    )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "playwright missing: pip install -e '.[dev]'")
        raise
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def serious_accessibility_violations(page: Any) -> list[str]:
    """axe-core run inside the page; the serious and critical findings, one line each."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]


def horizontal_overflow(page: Any) -> int:
    """Pixels the page is wider than the viewport (0: no horizontal scrolling)."""
    return int(page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth"))


def assert_csp(headers: dict[str, str]) -> None:
    csp = headers.get("content-security-policy", "")
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp, csp


def screenshot(page: Any, name: str) -> Path:
    """Screenshots for the README come from these real runs, so they stay true."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
