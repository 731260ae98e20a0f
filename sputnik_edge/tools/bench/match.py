"""``match``: 1:N identification against synthetic galleries of 1k, 10k and 100k templates, in
this process (BLAS threads as configured) and in a child with ``OPENBLAS_NUM_THREADS=1``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np

from sputnik_edge.recognition.gallery import EMBEDDING_DIM, Gallery, Thresholds, l2_normalise
from sputnik_edge.tools.bench.codec import from_json
from sputnik_edge.tools.bench.context import BenchContext, progress
from sputnik_edge.tools.bench.results import MatchBatch, MatchBreakdown, MatchResult, MatchSize, MatchSizes
from sputnik_edge.tools.bench.stats import stats_ms

SIZES = (1_000, 10_000, 100_000)
TEMPLATES_PER_EMPLOYEE = 2


def _top2_by_hand(gallery: Gallery, sims: np.ndarray, ends: np.ndarray) -> None:
    # The best template, then the best of the other employees: the shape of match()'s second step.
    for i in range(sims.shape[1]):
        col = np.ascontiguousarray(sims[:, i])
        emp = int(gallery.owner[int(np.argmax(col))])
        col[gallery.starts[emp] : ends[emp]] = -np.inf
        col.max()


def _batch(gallery: Gallery, rng: np.random.Generator, batch: int, iters: int) -> MatchBatch:
    thresholds = Thresholds()
    queries = [
        l2_normalise(rng.standard_normal((batch, EMBEDDING_DIM)).astype(np.float32)) for _ in range(iters)
    ]
    gallery.match(queries[0], thresholds)
    times, mm, top = [], [], []
    ends = np.append(gallery.starts[1:], gallery.n_templates)
    for q in queries:
        t0 = time.perf_counter()
        gallery.match(q, thresholds)
        t1 = time.perf_counter()
        sims = gallery.matrix @ q.T  # the breakdown, timed apart from the real call above
        t2 = time.perf_counter()
        _top2_by_hand(gallery, sims, ends)
        t3 = time.perf_counter()
        times.append(t1 - t0)
        mm.append(t2 - t1)
        top.append(t3 - t2)
    stats = stats_ms(times)
    return MatchBatch(
        stats=stats,
        ms_per_query=round(float(stats.median_ms or 0.0) / batch, 3),
        breakdown_median_ms=MatchBreakdown(
            matmul=round(1000 * float(np.median(mm)), 3), top2=round(1000 * float(np.median(top)), 3)
        ),
    )


def match_sizes(quick: bool, show_progress: bool = False) -> MatchSizes:
    """Gallery.match timings for each gallery size, one query and a batch of four."""
    rng = np.random.default_rng(0)
    sizes: dict[str, MatchSize] = {}
    with progress(len(SIZES), "match", show_progress) as bar:
        for size in SIZES:
            emb = l2_normalise(rng.standard_normal((size, EMBEDDING_DIM)).astype(np.float32))
            owners = [f"emp-{i // TEMPLATES_PER_EMPLOYEE:06d}" for i in range(size)]
            t0 = time.perf_counter()
            gallery = Gallery.build(owners, emb, {})
            build_s = time.perf_counter() - t0
            iters = 5 if quick else (200 if size < 100_000 else 60)
            sizes[str(size)] = MatchSize(
                templates=size,
                employees=gallery.n_employees,
                build_ms=round(1000 * build_s, 1),
                matrix_mb=round(gallery.matrix.nbytes / 2**20, 1),
                batch1=_batch(gallery, rng, 1, iters),
                batch4=_batch(gallery, rng, 4, iters),
            )
            bar.update(1)
    return MatchSizes(templates_per_employee=TEMPLATES_PER_EMPLOYEE, sizes=sizes)


_CHILD = (
    "import json, sys; from sputnik_edge.tools.bench.match import match_sizes; "
    "from sputnik_edge.tools.bench.codec import to_json; "
    "print(json.dumps(to_json(match_sizes(sys.argv[1] == 'quick'))))"
)


def bench_match(ctx: BenchContext) -> MatchResult:
    here = match_sizes(ctx.quick, ctx.progress)
    single: dict[str, MatchSize] | None = None
    error: list[str] | None = None
    if os.environ.get("OPENBLAS_NUM_THREADS") != "1":
        # BLAS reads its thread count once at load: only a new process can run with one thread.
        child = subprocess.run(
            [sys.executable, "-c", _CHILD, "quick" if ctx.quick else "full"],
            env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if child.returncode != 0:
            error = child.stderr.strip().splitlines()[-1:] or ["failed"]
        else:
            single = from_json(MatchSizes, json.loads(child.stdout.strip().splitlines()[-1])).sizes
    return MatchResult(
        templates_per_employee=here.templates_per_employee,
        sizes=here.sizes,
        blas_threads=os.environ.get("OPENBLAS_NUM_THREADS") or "default (one per core)",
        single_thread_blas=single,
        single_thread_blas_error=error,
    )
