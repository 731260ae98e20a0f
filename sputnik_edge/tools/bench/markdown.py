"""The tables of docs/BENCHMARKS.md, one function per section of a ``BenchResult``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sputnik_edge.tools.bench.formatting import (
    MISSING,
    ms_cells,
    num,
    pct,
    target_value,
    timed,
    times_x,
    verdict,
)
from sputnik_edge.tools.bench.results import (
    STAGE_NAMES,
    BenchResult,
    DetectorsResult,
    MatchResult,
    MemoryResult,
    OutboxResult,
    ReferenceResult,
    StagesResult,
    StreamResult,
)

PIPELINE_LABEL = {
    "ours": "ours (onnxruntime)",
    "opencv_zoo": "OpenCV Zoo reference",
    "face_recognition": "face_recognition (dlib)",
}


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    out += [
        "| " + " | ".join(c if isinstance(c, str) else num(c, grouped=True) for c in r) + " |" for r in rows
    ]
    return "\n".join(out)


def md_machine(r: BenchResult) -> str:
    m = r.machine
    env = ", ".join(f"{k}={v}" for k, v in m.env.items() if v) or "none set"
    rows = [
        ["CPU", f"{m.cpu_model} ({m.arch})"],
        ["cores", f"{m.logical_cores} logical, {m.physical_cores} physical"],
        ["RAM", f"{m.ram_mb:,} MB"],
        ["OS", m.os],
        ["Python / numpy", f"{m.python} / {m.numpy}"],
        ["onnxruntime / OpenCV", f"{m.onnxruntime} / {m.opencv} ({m.opencv_threads} threads)"],
        ["thread env vars", env],
        ["load average at start / end", f"{m.loadavg_start} / {m.loadavg_end}"],
        ["config", ", ".join(f"{k} {v}" for k, v in vars_of(r.config).items())],
    ]
    return table(["", ""], rows)


def vars_of(record: Any) -> dict[str, Any]:
    """A flat record's fields in declaration order (slots dataclasses have no __dict__)."""
    return {name: getattr(record, name) for name in record.__dataclass_fields__}


def md_targets(r: BenchResult) -> str:
    rows = [[t.name, t.goal, target_value(t), verdict(t.passed, markdown=True)] for t in r.targets]
    return table(["target", "goal", "measured", ""], rows)


def md_stages(d: StagesResult) -> str:
    res = d.resolutions
    first = next(iter(res.values()))
    header = ["stage", "per"] + [f"{k} (median / p95 ms)" for k in res]
    rows: list[list[Any]] = []
    for s in STAGE_NAMES:
        row: list[Any] = [s if s != "total" else "**total**", first.stages[s].per]
        row += [ms_cells(r.stages[s].stats) for r in res.values()]
        rows.append(row)
    rows.append(["faces per frame", ""] + [num(r.faces_per_frame, 2, grouped=True) for r in res.values()])
    rows.append(["images", ""] + [f"{r.images} x {d.repeats}" for r in res.values()])
    return table(header, rows)


def _reference_times(d: ReferenceResult, pipes: list[str]) -> list[str]:
    s = d.summary
    rows = []
    for p in pipes:
        t = getattr(s, p)
        rel = "1.00"
        if p != "ours":
            vs = getattr(s, f"ratio_{p}")
            rel = f"{vs.per_image_total:.2f} (median per image {vs.median_of_ratios:.2f})"
        rows.append(
            [
                PIPELINE_LABEL[p],
                num(t.ms_per_image, grouped=True),
                num(t.ms_per_face, grouped=True),
                t.faces,
                rel,
            ]
        )
    parts = [table(["pipeline", "ms / image", "ms / face", "faces found", "time relative to ours"], rows)]
    fr = d.face_recognition
    if not fr.available:
        parts.append(f"\nface_recognition was not available: {fr.error}")
    else:
        parts.append(
            f"\nface_recognition: {fr.model}; installed by hand for the benchmark "
            "(`pip install face_recognition face_recognition_models dlib-bin`), not a project "
            "dependency."
        )
    parts.append(f"\nPer image (median of {d.rounds} rounds, timed {timed(d.order)}, ms):\n")
    prow = []
    for r in d.per_image:
        row = [Path(r.image).name, f"{r.width}x{r.height}"]
        row += [f"{r.ms(p):.1f} ({r.detect_ms(p):.1f} det, {r.faces(p)} f)" for p in pipes]
        ratios = [num(r.ratio_opencv_zoo, 2, grouped=True), num(r.ratio_face_recognition, 2, grouped=True)]
        prow.append(row + ratios[: len(pipes) - 1])
    header = (
        ["image", "size"]
        + [PIPELINE_LABEL[p] for p in pipes]
        + [f"{PIPELINE_LABEL[p]} / ours" for p in pipes[1:]]
    )
    parts.append(table(header, prow))
    return parts


def md_reference(d: ReferenceResult) -> str:
    pipes = d.summary.pipelines()
    parts = _reference_times(d, pipes)
    parts.append(
        "\nEmbedder overhead: `SFaceEmbedder.embed` (validation, BGR->RGB, NCHW float copy, "
        "L2 norm) against a bare `session.run` on the already preprocessed batch, interleaved:\n"
    )
    parts.append(
        table(
            ["batch", "embed median ms", "bare run median ms", "ratio (target <= 1.2)", "embed ms per face"],
            [
                [b, e.embed.median_ms, e.bare_session_run.median_ms, f"{e.ratio:.3f}", e.embed_ms_per_face]
                for b, e in d.embedder_overhead.items()
            ],
        )
    )
    acc = d.accuracy
    parts.append(
        f"\nAccuracy on `calib/pairs.csv` ({acc.pairs} pairs, {acc.images} images; "
        "best-threshold accuracy, the same subject-picking rule for every pipeline):\n"
    )
    arows = []
    for p in pipes:
        a = getattr(acc, p)
        if a is None:
            continue
        thr = f"{a.threshold_best}" + (" (distance)" if p == "face_recognition" else " (cosine)")
        extra = f"; at dlib's default 0.6: {a.acc_at_default:.4f}" if a.acc_at_default is not None else ""
        arows.append([PIPELINE_LABEL[p], pct(a.acc_best), thr + extra, a.no_detection])
    parts.append(table(["pipeline", "accuracy", "best threshold", "images without a face"], arows))
    return "\n".join(parts)


def md_stream(d: StreamResult) -> str:
    rows = []
    for run in d.runs.values():
        fl, el, pr = run.frame_latency, run.event_latency, run.processing
        three = ("median_ms", "p95_ms", "p99_ms")
        rows.append(
            [
                f"{run.fps_limit:g}" if run.fps_limit else "0 (every frame)",
                f"{run.frames_read} / {run.frames_processed}",
                f"{run.read_fps:.1f} / {run.processed_fps:.1f}",
                f"{run.realtime_factor:.2f}",
                ms_cells(fl, three, nd=0, zero=True),
                ms_cells(pr, nd=0, zero=True),
                f"{ms_cells(el, three, nd=0)} (n={el.n})" if el.n else "no events",
                f"{run.cpu_cores:.2f}",
                f"{run.peak_rss_mb:.0f}",
            ]
        )
    head = [
        "fps_limit",
        "frames read / processed",
        "read / processed fps",
        "real-time factor",
        "frame latency p50/p95/p99 ms",
        "processing p50/p95 ms",
        "frame-to-outbox p50/p95/p99 ms",
        "CPU cores",
        "peak RSS MB",
    ]
    kinds = "; ".join(
        f"fps_limit {r.fps_limit:g}: " + ", ".join(f"{k} x{v}" for k, v in r.events_by_kind.items())
        for r in d.runs.values()
    )
    attendance = str(vars_of(d.attendance))
    return (
        table(head, rows) + f"\n\n{d.seconds_per_run:g} s per run after warm-up; attendance for the "
        f"bench: {attendance}. Events: {kinds}.\n\n{d.latency_definition}. {d.note}."
    )


def md_match(d: MatchResult) -> str:
    rows = []
    single = d.single_thread_blas or {}
    for size, e in d.sizes.items():
        b1, b4 = e.batch1, e.batch4
        bd = b1.breakdown_median_ms
        one = single[size].batch1.stats if size in single else None
        rows.append(
            [
                f"{int(size):,}",
                f"{e.employees:,}",
                e.matrix_mb,
                e.build_ms,
                ms_cells(b1.stats, nd=3),
                ms_cells(b4.stats, nd=3),
                f"{b4.ms_per_query:.3f}",
                f"{bd.matmul:.2f} / {bd.top2:.2f}",
                ms_cells(one, nd=3) if one else MISSING,
            ]
        )
    header = [
        "templates",
        "employees",
        "matrix MB",
        "build ms",
        "1 query: median / p95 ms",
        "batch of 4: median / p95 ms",
        "batch of 4: ms per query",
        "1 query: matmul / top-2 ms",
        "1 query, OPENBLAS_NUM_THREADS=1: median / p95 ms",
    ]
    return (
        table(header, rows)
        + f"\n\nSynthetic random unit vectors, {d.templates_per_employee} templates per employee."
    )


def md_memory(d: MemoryResult) -> str:
    rows = [
        [
            name,
            r.gallery_templates,
            f"{r.cold_start_s:.2f}",
            num(r.app_startup_s, 2, grouped=True),
            r.peak_rss_mb,
            f"{r.end_uss_mb} / {r.end_pss_mb}",
            f"{r.cpu_cores:.2f}",
            r.processed_fps,
            f"{r.stop_s:.2f}",
        ]
        for name, r in d.runs.items()
    ]
    header = [
        "run",
        "templates",
        "cold start s",
        "app startup_s (log)",
        "peak RSS MB",
        "USS / PSS MB at end",
        "CPU cores",
        "processed fps",
        "SIGTERM to exit s",
    ]
    return (
        table(header, rows)
        + f"\n\nThe 1080p camera is the dev clip upscaled and encoded as {d.clip_1080p_codec}"
        " (H.264 is what cameras send; OpenCV's MPEG-4 Part 2 decoder holds about 30 MB more)."
        + f"\n\nCold start: {d.cold_start_definition}; the app's own `startup_s` counts from EdgeApp "
        "construction and excludes interpreter start and imports."
    )


def md_outbox(d: OutboxResult) -> str:
    c = d.commit
    return table(
        ["events", "events/s", "commit median ms", "p95 ms", "filesystem", "durability"],
        [[d.events, d.events_per_s, c.median_ms, c.p95_ms, d.directory_fs, d.durability]],
    )


def md_central(r: BenchResult) -> str:
    c = r.sections.central
    if c is None:
        return f"Not run: {r.errors.get('central', 'not selected')}. Run with `--database-url URL`."
    p, q = c.push, c.pull
    return table(
        ["", "value"],
        [
            [
                "push",
                f"{p.events_per_s:,} events/s ({p.events} events in batches of {p.batch}, "
                f"{p.ms_per_batch} ms per batch; re-push of a batch inserts {p.duplicate_batch_inserted})",
            ],
            [
                "pull",
                f"{q.templates_per_s:,} templates/s ({q.templates} templates, best {q.best_seconds} s; "
                f"empty pull {q.empty_pull_ms} ms)",
            ],
        ],
    )


def md_detectors(d: DetectorsResult) -> str:
    rows = [
        [
            size,
            e.yunet.wall.median_ms,
            e.blazeface.wall.median_ms,
            times_x(e.wall_ratio_blazeface_over_yunet),
            e.yunet.cpu_ms_mean,
            e.blazeface.cpu_ms_mean,
            times_x(e.cpu_ratio_blazeface_over_yunet),
        ]
        for size, e in d.sizes.items()
    ]
    header = [
        "frame",
        "YuNet ms (median)",
        "BlazeFace ms (median)",
        "BlazeFace / YuNet",
        "YuNet CPU ms",
        "BlazeFace CPU ms",
        "CPU BlazeFace / YuNet",
    ]
    out = [table(header, rows), ""]
    acc, faces = d.accuracy, d.clip_faces
    arows = []
    for name, label in (("yunet", "YuNet (default)"), ("blazeface", "BlazeFace full range")):
        a, f = getattr(acc, name), faces[name]
        arows.append(
            [
                label,
                pct(a.acc_best),
                a.no_detection,
                pct(a.tar_at_far_1e_2, 1),
                f"{pct(a.tar_at_match_threshold, 1)} / {pct(a.far_at_match_threshold)}",
                f"{f.faces} in {f.frames_with_face} of {f.frames}",
            ]
        )
    header = [
        "detector",
        f"calib accuracy ({acc.pairs} pairs)",
        "no detection",
        "TAR at FAR 1e-2",
        "TAR / FAR at match threshold",
        "clip faces (frames)",
    ]
    out.append(table(header, arows))
    return "\n".join(out)
