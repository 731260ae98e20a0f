"""``central``: push and pull rates against PostgreSQL (only with a database URL), each in a
scratch database (``tools.central_bench``)."""

from __future__ import annotations

from sputnik_edge.central import CentralError
from sputnik_edge.tools.bench.codec import from_json
from sputnik_edge.tools.bench.context import BenchContext, BenchError
from sputnik_edge.tools.bench.results import CentralPull, CentralPush, CentralResult
from sputnik_edge.tools.central_bench import bench_pull, bench_push


def bench_central(ctx: BenchContext) -> CentralResult:
    url = ctx.database_url or ctx.settings.central.database_url.get_secret_value()
    if not url:
        raise BenchError("skipped: no --database-url and no central.database_url configured")
    try:
        push = bench_push(url, n=1000 if ctx.quick else 20000, batch=ctx.settings.central.batch_size)
        pull = bench_pull(url, n_employees=500 if ctx.quick else 10000)
    except CentralError as exc:
        raise BenchError(str(exc)) from None
    return CentralResult(push=from_json(CentralPush, push), pull=from_json(CentralPull, pull))
