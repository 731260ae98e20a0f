"""The Markdown of the ``liveness`` bench section (docs/BENCHMARKS.md)."""

from __future__ import annotations

from sputnik_edge.tools.bench.formatting import pct, times_x
from sputnik_edge.tools.bench.liveness import LivenessBenchResult
from sputnik_edge.tools.bench.markdown import table

__all__ = ["md_liveness"]


def md_liveness(d: LivenessBenchResult) -> str:
    t = d.timing
    rows = [
        ["detect + align + quality (frame)", t.analyze_frame.median_ms, t.analyze_frame.p95_ms],
        ["embed (one face)", t.embed_face.median_ms, t.embed_face.p95_ms],
        ["face mesh (one face)", t.mesh_face.median_ms, t.mesh_face.p95_ms],
        ["border (one face)", t.border_face.median_ms, t.border_face.p95_ms],
        ["planarity (one face)", t.planarity_face.median_ms, t.planarity_face.p95_ms],
        ["**liveness total (one face)**", t.liveness_face.median_ms, t.liveness_face.p95_ms],
    ]
    out = [
        table(["step", "ms (median)", "ms (p95)"], rows),
        "",
        f"Liveness per face = {times_x(t.ratio_liveness_over_analyze)} the frame's detect+quality work "
        f"and {times_x(t.ratio_liveness_over_embed)} one embedding ({t.frames} frames of the live clip). "
        "It runs only on quality-passing faces of tracks not yet judged, and not at all with "
        '`liveness.mode = "off"`.',
        "",
    ]

    e = d.engine
    out += [
        table(
            ["engine, dev clip at 10 fps", "ms per frame (median)", "p95", "mean"],
            [
                ["liveness off", e.off.median_ms, e.off.p95_ms, e.off.mean_ms],
                ["liveness monitor", e.monitor.median_ms, e.monitor.p95_ms, e.monitor.mean_ms],
            ],
        ),
        "",
        f"monitor / off: {times_x(e.ratio_median_monitor_over_off)} median, "
        f"{times_x(e.ratio_mean_monitor_over_off)} mean per frame ({e.frames} frames, alternating).",
        "",
    ]

    def rate(v: float | None) -> str:
        return "n/a" if v is None else pct(v, 1)

    srows = [
        [
            s.name,
            ", ".join(s.cues),
            f"{s.total.live_files} / {s.total.attack_files}",
            rate(s.total.apcer),
            rate(s.total.bpcer),
            f"{s.total.undecided_live} / {s.total.undecided_attack}",
            rate(s.total.bpcer_enforce),
        ]
        for s in d.sets
    ]
    header = [
        "data",
        "cues",
        "live / attack files",
        "APCER",
        "BPCER",
        "undecided live / attack",
        "refused live (enforce)",
    ]
    out += [table(header, srows), ""]
    for s in d.sets:
        if s.files:
            out += [f"Files of *{s.name}*:", ""]
            out.append(
                table(
                    ["file", "label", "verdict", "cues"],
                    [[f.path, f.label, f.verdict, ", ".join(f.cues) or "-"] for f in s.files],
                )
            )
            out.append("")
    return "\n".join(out)
