"""How bench numbers are written, in the console report and in docs/BENCHMARKS.md alike."""

from __future__ import annotations

from sputnik_edge.tools.bench.results import Target
from sputnik_edge.tools.bench.stats import Stats

MISSING = "-"


def num(v: float | int | str | bool | None, nd: int = 1, *, grouped: bool = False) -> str:
    """A value for a table cell: floats to ``nd`` decimals (thousands separated if ``grouped``),
    None as ``-``, booleans as yes/no."""
    if v is None:
        return MISSING
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:,.{nd}f}" if grouped else f"{v:.{nd}f}"
    return str(v)


def pct(fraction: float, nd: int = 2) -> str:
    return f"{100 * fraction:.{nd}f} %"


def times_x(v: float | None, nd: int = 2) -> str:
    return f"{num(v, nd, grouped=True)}x"


def ms_cells(
    stats: Stats,
    keys: tuple[str, ...] = ("median_ms", "p95_ms"),
    nd: int = 1,
    sep: str = " / ",
    zero: bool = False,
) -> str:
    """``median / p95`` (or the given statistics) of a distribution; without samples ``-``, or
    zeros where a table shows them so."""
    if not stats.n:
        return sep.join(num(0.0, nd) for _ in keys) if zero else MISSING
    return sep.join(num(float(getattr(stats, k)), nd) for k in keys)


def target_value(t: Target) -> str:
    """A target's measured value with its unit; large values without decimals."""
    if t.value is None:
        return MISSING
    text = f"{t.value:,.0f} {t.unit}" if abs(t.value) >= 100 else f"{t.value:.3f} {t.unit}"
    return text.strip()


def verdict(passed: bool | None, *, markdown: bool = False) -> str:
    if markdown:
        return {True: "**pass**", False: "**FAIL**", None: "n/a"}[passed]
    return {True: "PASS", False: "FAIL", None: "n/a "}[passed]


def timed(order: str) -> str:
    """How a section's pipelines were timed (reference.time_pipelines' ``order``), for prose."""
    return {"blocks": "in blocks", "interleaved": "interleaved image by image"}.get(order, order)
