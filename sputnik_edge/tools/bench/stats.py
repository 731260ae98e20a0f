"""Distributions of timing samples, as bench.json records them (pure functions)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from sputnik_edge.tools.bench.codec import OMIT


@dataclass(frozen=True, slots=True, kw_only=True)
class Stats:
    """Distribution of samples; only ``n`` when there were none."""

    n: int
    median_ms: float | None = field(default=None, metadata=OMIT)
    p95_ms: float | None = field(default=None, metadata=OMIT)
    p99_ms: float | None = field(default=None, metadata=OMIT)
    mean_ms: float | None = field(default=None, metadata=OMIT)
    min_ms: float | None = field(default=None, metadata=OMIT)
    max_ms: float | None = field(default=None, metadata=OMIT)


def stats_ms(samples_s: Sequence[float]) -> Stats:
    """median / p95 / p99 / mean / min / max in milliseconds of samples given in seconds."""
    if not samples_s:
        return Stats(n=0)
    a = np.asarray(samples_s, dtype=np.float64) * 1000.0
    return Stats(
        n=int(a.size),
        median_ms=round(float(np.median(a)), 3),
        p95_ms=round(float(np.percentile(a, 95)), 3),
        p99_ms=round(float(np.percentile(a, 99)), 3),
        mean_ms=round(float(a.mean()), 3),
        min_ms=round(float(a.min()), 3),
        max_ms=round(float(a.max()), 3),
    )


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b > 0 else None
