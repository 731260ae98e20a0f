"""Bounded HTTP load from a thread pool, with latency percentiles (loadtest and the office load)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import numpy as np


def percentiles(ms: list[float]) -> dict[str, float]:
    if not ms:
        return {"p50_ms": float("nan"), "p99_ms": float("nan")}
    a = np.asarray(ms)
    return {
        "p50_ms": round(float(np.percentile(a, 50)), 2),
        "p95_ms": round(float(np.percentile(a, 95)), 2),
        "p99_ms": round(float(np.percentile(a, 99)), 2),
        "max_ms": round(float(a.max()), 2),
    }


def hammer(
    call: Callable[[Any], int],
    requests: int,
    concurrency: int,
    max_seconds: float,
    new_client: Callable[[], httpx.Client] = lambda: httpx.Client(timeout=30),
) -> dict[str, Any]:
    """``requests`` calls of ``call(client)`` (returning the HTTP status) from ``concurrency``
    threads, each with its own client, stopping early after ``max_seconds``; a 5xx or a transport
    error counts as an error."""
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors = 0
    lock = threading.Lock()
    deadline = time.monotonic() + max_seconds
    local = threading.local()

    def one(_: int) -> None:
        nonlocal errors
        if time.monotonic() > deadline:
            return
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = new_client()
        t0 = time.perf_counter()
        try:
            status = call(client)
        except httpx.HTTPError:
            status = 0
        dt = (time.perf_counter() - t0) * 1000
        with lock:
            latencies.append(dt)
            statuses[str(status)] = statuses.get(str(status), 0) + 1
            if status >= 500 or status == 0:
                errors += 1

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(requests)))
    wall = time.perf_counter() - t0
    done = len(latencies)
    return {
        "requests": done,
        "concurrency": concurrency,
        "errors": errors,
        "error_rate": round(errors / max(1, done), 5),
        "throughput_rps": round(done / wall, 1),
        "statuses": dict(sorted(statuses.items())),
        **percentiles(latencies),
    }
