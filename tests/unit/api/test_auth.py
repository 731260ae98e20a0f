"""The API's bearer-token middleware and OpenAPI error contract, on the real FastAPI app served by
uvicorn over loopback, with a minimal context (no models, no cameras)."""

from __future__ import annotations

import ast
import hmac
import inspect
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import uvicorn

from sputnik_edge.api import app as api_app
from sputnik_edge.api import middleware
from sputnik_edge.config import Settings
from sputnik_edge.metrics import Metrics
from tests.support.daemon import free_port

TOKEN = "unit-token-3e9f1c"


def stub_ctx(tmp: Path, token: str) -> Any:
    settings = Settings(
        storage={"database": str(tmp / "edge.db"), "snapshots_dir": str(tmp / "snaps")},
        http={"api_token": token, "port": 0},
    )
    # Only what these routes ask of api.context.DeviceContext.
    return SimpleNamespace(
        settings=settings,
        version="0.0.test",
        metrics=Metrics(),
        http_started=lambda: None,
        http_progress=lambda: None,
    )


@pytest.fixture
def compare_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bytes, bytes]]:
    """Record every hmac.compare_digest call the API middleware makes (and still compare)."""
    calls: list[tuple[bytes, bytes]] = []

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return hmac.compare_digest(a, b)

    monkeypatch.setattr(middleware, "hmac", SimpleNamespace(compare_digest=spy))
    return calls


@pytest.fixture
def served(tmp_path: Path, compare_calls: list[tuple[bytes, bytes]]) -> Iterator[str]:
    app = api_app.create_app(stub_ctx(tmp_path, TOKEN))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_token_is_compared_with_compare_digest(served: str, compare_calls: list[tuple[bytes, bytes]]) -> None:
    ok = httpx.get(served + "/api/v1/gateway/health", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200
    assert compare_calls == [(TOKEN.encode(), TOKEN.encode())]
    compare_calls.clear()
    bad = httpx.get(served + "/api/v1/gateway/health", headers={"Authorization": "Bearer x" * 3})
    assert bad.status_code == 401
    assert len(compare_calls) == 1 and compare_calls[0][1] == TOKEN.encode()
    compare_calls.clear()
    # Query-string tokens never reach the comparison: only the Authorization header counts.
    assert httpx.get(served + "/api/v1/gateway/health", params={"token": TOKEN}).status_code == 401
    assert compare_calls == []


def test_middleware_source_has_no_plain_comparison_with_the_token() -> None:
    """No ``==``/``!=``/``in`` on the token anywhere in the auth middleware (those leak timing)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(middleware)))
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
            assert "token" not in names, ast.unparse(node)
    calls = [ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)]
    assert "hmac.compare_digest" in calls


def test_openapi_documents_the_error_shape(tmp_path: Path) -> None:
    schema = api_app.create_app(stub_ctx(tmp_path, TOKEN)).openapi()
    error = schema["components"]["schemas"]["ErrorOut"]
    assert error["required"] == ["error"]
    detail = schema["components"]["schemas"]["ErrorDetail"]
    assert set(detail["required"]) == {"code", "message", "trace_id"}
    assert "HTTPValidationError" not in schema["components"]["schemas"]  # FastAPI's {"detail": ...}
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            for status in ("401", "422", "500"):
                ref = op["responses"][status]["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/ErrorOut"), (method, path, status)
    snapshot = schema["paths"]["/api/v1/gateway/snapshot"]["post"]["responses"]
    assert {"400", "413", "415", "422", "429"} <= set(snapshot)
    assert "text/plain" in schema["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
