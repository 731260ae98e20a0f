"""``sputnik-edge bench`` without ``--json``: a compact human table of a bench result."""

from __future__ import annotations

from sputnik_edge.tools.bench.fleet_report import console_fleet
from sputnik_edge.tools.bench.formatting import ms_cells, num, verdict
from sputnik_edge.tools.bench.imagesets_report import console_embedders, console_imagesets
from sputnik_edge.tools.bench.results import (
    STAGE_NAMES,
    STAGE_UNIT,
    BenchResult,
    ReferenceResult,
    Sections,
    StagesResult,
    StreamResult,
)


def _stages(st: StagesResult) -> list[str]:
    res = st.resolutions
    lines = ["\nstages: median / p95 ms", f"{'stage':<9} {'per':<17}" + "".join(f"{r:>20}" for r in res)]
    for stage in STAGE_NAMES:
        row = f"{stage:<9} {STAGE_UNIT[stage]:<17}"
        for r in res.values():
            timing = r.stages.get(stage)
            row += f"{ms_cells(timing.stats) if timing else '-':>20}"
        lines.append(row)
    return lines


def _reference(rf: ReferenceResult) -> list[str]:
    lines = [f"\nreference (same images, {rf.order}): ms per image / per face"]
    s = rf.summary
    for p in s.pipelines():
        t = getattr(s, p)
        lines.append(f"  {p:<17} {t.ms_per_image:>9.1f} {t.ms_per_face:>9.1f}  ({t.faces} faces)")
    for p in s.pipelines()[1:]:
        r = getattr(s, f"ratio_{p}")
        lines.append(f"  ratio_{p}: {r.per_image_total}x total, median {r.median_of_ratios}x")
    if not rf.face_recognition.available:
        lines.append(f"  face_recognition unavailable: {rf.face_recognition.error}")
    for b, d in rf.embedder_overhead.items():
        lines.append(
            f"  embedder {b}: embed {d.embed.median_ms} ms vs bare run "
            f"{d.bare_session_run.median_ms} ms -> {d.ratio}x"
        )
    acc = rf.accuracy
    scored = [(p, getattr(acc, p)) for p in ("ours", "opencv_zoo", "face_recognition")]
    lines.append(
        f"  accuracy on {acc.pairs} pairs: "
        + ", ".join(f"{p} {a.acc_best:.4f}" for p, a in scored if a is not None)
    )
    return lines


def _stream(st: StreamResult) -> list[str]:
    lines = [
        "\nstream (EdgeApp, looped clip)",
        f"  {'run':<14}{'proc fps':>9}{'RT x':>7}{'frame p50/p95':>16}{'event p50/p95/p99':>21}"
        f"{'events':>8}{'CPU':>7}{'RSS MB':>8}",
    ]
    for name, r in st.runs.items():
        frame = ms_cells(r.frame_latency, nd=0, sep="/")
        event = ms_cells(r.event_latency, ("median_ms", "p95_ms", "p99_ms"), nd=0, sep="/")
        lines.append(
            f"  {name:<14}{r.processed_fps:>9.2f}{r.realtime_factor:>7.2f}{frame:>16}{event:>21}"
            f"{r.events:>8}{r.cpu_cores:>7.2f}{r.peak_rss_mb:>8.0f}"
        )
    return lines


def _rest(s: Sections) -> list[str]:
    lines: list[str] = []
    if s.match is not None:
        lines.append("\nmatch (1:N, synthetic): median / p95 ms per call")
        single = s.match.single_thread_blas or {}
        for size, d in s.match.sizes.items():
            b1, b4 = d.batch1.stats, d.batch4.stats
            one = single[size].batch1.stats.median_ms if size in single else None
            lines.append(
                f"  {int(size):>7} templates: 1 query {b1.median_ms} / {b1.p95_ms}, "
                f"batch of 4 {b4.median_ms} / {b4.p95_ms}; 1 query, 1 BLAS thread {num(one, 3)}"
            )
    if s.memory is not None:
        lines.append("\nmemory / cold start (sputnik-edge run subprocess)")
        for name, m in s.memory.runs.items():
            lines.append(
                f"  {name:<22} cold start {m.cold_start_s} s (app {m.app_startup_s} s), "
                f"peak RSS {m.peak_rss_mb} MB, CPU {m.cpu_cores} cores, "
                f"{m.processed_fps} fps, stop {m.stop_s} s"
            )
    if s.outbox is not None:
        o = s.outbox
        lines.append(
            f"\noutbox: {o.events_per_s} events/s durable ({o.commit.median_ms} ms median, "
            f"p95 {o.commit.p95_ms} ms, fs {o.directory_fs})"
        )
    if s.central is not None:
        c = s.central
        lines.append(
            f"\ncentral: push {c.push.events_per_s} events/s, pull {c.pull.templates_per_s} templates/s"
        )
    if s.fleet is not None:
        lines += console_fleet(s.fleet)
    if s.liveness is not None:
        lv = s.liveness
        lines.append(
            f"\nliveness: {lv.timing.liveness_face.median_ms} ms per face "
            f"({lv.timing.ratio_liveness_over_embed}x one embed), engine monitor/off "
            f"{lv.engine.ratio_mean_monitor_over_off}x mean per frame"
        )
        lines += [f"  {x.name}: APCER {x.total.apcer}, BPCER {x.total.bpcer}" for x in lv.sets]
    return lines


def format_report(result: BenchResult) -> str:
    m = result.machine
    lines = [
        f"machine: {m.cpu_model}, {m.logical_cores} cores, {m.ram_mb} MB, "
        f"python {m.python}, onnxruntime {m.onnxruntime}, opencv {m.opencv}"
    ]
    s = result.sections
    if s.stages is not None:
        lines += _stages(s.stages)
    if s.reference is not None:
        lines += _reference(s.reference)
    if s.stream is not None:
        lines += _stream(s.stream)
    lines += _rest(s)
    if s.backlight is not None:
        from sputnik_edge.tools.bench.backlight_results import md_backlight

        lines += ["\nbacklight", md_backlight(s.backlight)]
    if s.imagesets is not None:
        lines += console_imagesets(s.imagesets)
    if s.embedders is not None:
        lines += console_embedders(s.embedders)
    for name, err in result.errors.items():
        lines.append(f"\n{name}: {err}")
    if result.targets:
        lines.append("\ntargets")
        for t in result.targets:
            lines.append(f"  {verdict(t.passed)} {t.name}: {num(t.value, 3)} {t.unit} (goal {t.goal})")
    return "\n".join(lines)
