#!/usr/bin/env python3
"""Turn a ``sputnik-edge bench --out DIR`` result into docs/BENCHMARKS.md and PNG plots.

    python scripts/bench_report.py [docs/bench/bench.json] [--md docs/BENCHMARKS.md] [--plots docs/bench]

The Markdown is generated: edit this script (or ``<plots>/findings.md``, which is inlined as the
"Findings" section) rather than the output.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
STAGES = ("decode", "detect", "align", "quality", "embed", "match", "policy", "outbox", "total")
PIPELINE_LABEL = {
    "ours": "ours (onnxruntime)",
    "opencv_zoo": "OpenCV Zoo reference",
    "face_recognition": "face_recognition (dlib)",
}
COLORS = {"ours": "tab:blue", "opencv_zoo": "tab:orange", "face_recognition": "tab:green"}


def fmt(v: Any, nd: int = 1) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:,.{nd}f}"
    return str(v)


def table(header: list[str], rows: list[list[Any]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    out += ["| " + " | ".join(fmt(c) if not isinstance(c, str) else c for c in r) + " |" for r in rows]
    return "\n".join(out)


# ---- plots -----------------------------------------------------------------------------------------


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 10, "axes.grid": True, "grid.alpha": 0.3})
    return plt


def plot_stages(data: dict[str, Any], out: Path) -> None:
    import numpy as np

    plt = _plt()
    res = data["resolutions"]
    labels = list(res)
    stages = [s for s in STAGES if any(r["stages"][s].get("n") for r in res.values())]
    x = np.arange(len(stages))
    width = 0.8 / len(labels)
    fig, ax = plt.subplots(figsize=(13.5, 5.4))
    cmap = plt.get_cmap("viridis")
    for i, label in enumerate(labels):
        med = [res[label]["stages"][s].get("median_ms", 0.0) for s in stages]
        p95 = [res[label]["stages"][s].get("p95_ms", 0.0) for s in stages]
        err = [max(0.0, p - m) for m, p in zip(med, p95, strict=True)]
        bars = ax.bar(
            x + (i - (len(labels) - 1) / 2) * width,
            med,
            width,
            yerr=[[0] * len(err), err],
            capsize=2,
            label=label,
            color=cmap(i / max(1, len(labels) - 1) * 0.85),
        )
        # Values inside the bars, at their base, so they never collide with the p95 whiskers.
        text_color = "black" if i == len(labels) - 1 else "white"
        for b, v in zip(bars, med, strict=True):
            if v > 0.05:
                ax.text(
                    b.get_x() + b.get_width() / 2,
                    0.028,
                    f"{v:.1f}" if v < 10 else f"{v:.0f}",
                    ha="center",
                    va="bottom",
                    rotation=90,
                    fontsize=7,
                    color=text_color,
                )
    ax.set_yscale("log")
    ax.set_ylim(0.02, None)
    per = [res[labels[0]]["stages"][s]["per"].replace(" with ", "\nwith ") for s in stages]
    ax.set_xticks(x, [f"{s}\nper {p}" for s, p in zip(stages, per, strict=True)], fontsize=8)
    ax.set_ylabel("median ms (log; value in the bar); whisker: p95")
    ax.set_title("Per-stage time by input resolution (real frames, real components)")
    ax.legend(title="input", ncol=len(labels), loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def plot_reference(data: dict[str, Any], out: Path) -> None:
    import numpy as np

    plt = _plt()
    rows = data["per_image"]
    pipes = [p for p in ("ours", "opencv_zoo", "face_recognition") if f"{p}_ms" in rows[0]]
    y = np.arange(len(rows))
    h = 0.8 / len(pipes)
    fig, ax = plt.subplots(figsize=(11, 0.38 * len(rows) + 1.8))
    for i, p in enumerate(pipes):
        ax.barh(
            y + (i - (len(pipes) - 1) / 2) * h,
            [r[f"{p}_ms"] for r in rows],
            h,
            label=PIPELINE_LABEL[p],
            color=COLORS[p],
        )
    names = [f"{Path(r['image']).name} ({r['width']}x{r['height']}, {r['ours_faces']} f)" for r in rows]
    ax.set_yticks(y, names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("ms per image, detect + align + embed every face (log)")
    s = data["summary"]
    ratios = ", ".join(
        f"{PIPELINE_LABEL[k[6:]]}: {v['per_image_total']:.2f}x"
        for k, v in s.items()
        if k.startswith("ratio_")
    )
    ax.set_title(f"Same images, interleaved runs. Total time relative to ours: {ratios}", fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def plot_match(data: dict[str, Any], out: Path) -> None:
    plt = _plt()
    sizes = [int(k) for k in data["sizes"]]
    fig, ax = plt.subplots(figsize=(8.5, 5.5))
    variants = [("sizes", "BLAS threads: default")]
    if "single_thread_blas" in data:
        variants.append(("single_thread_blas", "OPENBLAS_NUM_THREADS=1"))
    colors = iter(["tab:blue", "tab:cyan", "tab:green", "tab:olive"])
    for key, blas in variants:
        for batch, marker in (("batch1", "o"), ("batch4", "s")):
            med = [data[key][str(s)][batch]["median_ms"] for s in sizes]
            p95 = [data[key][str(s)][batch]["p95_ms"] for s in sizes]
            label = f"{'1 query' if batch == 'batch1' else 'batch of 4'}, {blas}"
            color = next(colors)
            ax.plot(sizes, med, marker=marker, lw=2, color=color, label=f"{label} (median)")
            ax.plot(sizes, p95, marker=marker, ls=":", lw=1, color=color, alpha=0.7)
            if batch == "batch1":
                for s, v in zip(sizes, med, strict=True):
                    ax.annotate(
                        f"{v:.2f}",
                        (s, v),
                        xytext=(5, -3),
                        textcoords="offset points",
                        fontsize=8,
                        color=color,
                    )
    ax.axhline(5, color="tab:red", ls="--", lw=1, label="target: 5 ms per query at 100k")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("gallery templates (log)")
    ax.set_ylabel("ms per call (log)")
    ax.set_title("1:N identification time vs gallery size (dotted: p95)")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def plot_latency(data: dict[str, Any], out: Path) -> None:
    import numpy as np

    plt = _plt()
    runs = data["runs"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    for run, color in zip(runs.values(), ("tab:blue", "tab:orange", "tab:green"), strict=False):
        label = f"fps_limit {run['fps_limit']:g}" if run["fps_limit"] else "every frame (fps_limit 0)"
        samples = run.get("samples_ms", {})
        for ax, key in zip(axes, ("frame_latency", "processing"), strict=True):
            vals = np.sort(np.asarray(samples.get(key, []), dtype=float))
            if vals.size:
                ax.plot(
                    vals,
                    np.arange(1, vals.size + 1) / vals.size,
                    lw=2,
                    color=color,
                    label=f"{label}: frames (n={vals.size})",
                )
        ev = samples.get("event_latency", [])
        if ev:
            axes[0].plot(
                sorted(ev),
                [(i + 1) / len(ev) for i in range(len(ev))],
                "x",
                ms=8,
                mew=2,
                color=color,
                label=f"{label}: events, frame-to-outbox (n={len(ev)})",
            )
    axes[0].axvline(250, color="tab:red", ls="--", lw=1, label="target p95 250 ms")
    axes[0].set_title("capture -> processed (incl. wait for the pipeline)")
    axes[1].set_title("process_frame alone (detect, track, embed, match, policy, outbox)")
    for ax in axes:
        ax.axhline(0.95, color="grey", ls=":", lw=1)
        ax.set_xlabel("ms")
        ax.set_ylabel("cumulative fraction")
        ax.set_ylim(0, 1.01)
        ax.legend(fontsize=8, loc="lower right")
    fig.suptitle("Stream latency, EdgeApp on the looped 30 fps clip")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


# ---- markdown --------------------------------------------------------------------------------------


def md_machine(r: dict[str, Any]) -> str:
    m = r["machine"]
    env = ", ".join(f"{k}={v}" for k, v in m["env"].items() if v) or "none set"
    rows = [
        ["CPU", f"{m['cpu_model']} ({m['arch']})"],
        ["cores", f"{m['logical_cores']} logical, {m['physical_cores']} physical"],
        ["RAM", f"{m['ram_mb']:,} MB"],
        ["OS", m["os"]],
        ["Python / numpy", f"{m['python']} / {m['numpy']}"],
        ["onnxruntime / OpenCV", f"{m['onnxruntime']} / {m['opencv']} ({m['opencv_threads']} threads)"],
        ["thread env vars", env],
        ["load average at start / end", f"{m['loadavg_start']} / {m.get('loadavg_end')}"],
        ["config", ", ".join(f"{k} {v}" for k, v in r["config"].items())],
    ]
    return table(["", ""], rows)


def md_targets(r: dict[str, Any]) -> str:
    rows = []
    for t in r["targets"]:
        verdict = {True: "**pass**", False: "**FAIL**", None: "n/a"}[t["pass"]]
        v = t["value"]
        value = "-" if v is None else f"{v:,.0f} {t['unit']}" if abs(v) >= 100 else f"{v:.3f} {t['unit']}"
        value = value.strip()
        rows.append([t["name"], t["goal"], value, verdict])
    return table(["target", "goal", "measured", ""], rows)


def md_stages(d: dict[str, Any]) -> str:
    res = d["resolutions"]
    header = ["stage", "per"] + [f"{k} (median / p95 ms)" for k in res]
    rows = []
    for s in STAGES:
        row: list[Any] = [s if s != "total" else "**total**", next(iter(res.values()))["stages"][s]["per"]]
        for r in res.values():
            st = r["stages"][s]
            row.append(f"{st['median_ms']:.1f} / {st['p95_ms']:.1f}" if st.get("n") else "-")
        rows.append(row)
    rows.append(["faces per frame", ""] + [fmt(r["faces_per_frame"], 2) for r in res.values()])
    rows.append(["images", ""] + [f"{r['images']} x {d['repeats']}" for r in res.values()])
    return table(header, rows)


def md_reference(d: dict[str, Any]) -> str:
    parts = []
    s = d["summary"]
    pipes = [p for p in ("ours", "opencv_zoo", "face_recognition") if p in s]
    rows = []
    for p in pipes:
        ratio = (
            "1.00"
            if p == "ours"
            else f"{s[f'ratio_{p}']['per_image_total']:.2f} "
            f"(median per image {s[f'ratio_{p}']['median_of_ratios']:.2f})"
        )
        rows.append(
            [PIPELINE_LABEL[p], fmt(s[p]["ms_per_image"]), fmt(s[p]["ms_per_face"]), s[p]["faces"], ratio]
        )
    parts.append(table(["pipeline", "ms / image", "ms / face", "faces found", "time relative to ours"], rows))
    fr = d["face_recognition"]
    if not fr["available"]:
        parts.append(f"\nface_recognition was not available: {fr['error']}")
    else:
        parts.append(
            f"\nface_recognition: {fr['model']}; installed by hand for the benchmark "
            "(`pip install face_recognition face_recognition_models dlib-bin`), not a project "
            "dependency."
        )
    parts.append(f"\nPer image (median of {d['rounds']} interleaved rounds, ms):\n")
    prow = []
    for r in d["per_image"]:
        row = [Path(r["image"]).name, f"{r['width']}x{r['height']}"]
        for p in pipes:
            row.append(f"{r[f'{p}_ms']:.1f} ({r[f'{p}_detect_ms']:.1f} det, {r[f'{p}_faces']} f)")
        row += [fmt(r.get("ratio_opencv_zoo"), 2), fmt(r.get("ratio_face_recognition"), 2)][: len(pipes) - 1]
        prow.append(row)
    parts.append(
        table(
            ["image", "size"]
            + [PIPELINE_LABEL[p] for p in pipes]
            + [f"{PIPELINE_LABEL[p]} / ours" for p in pipes[1:]],
            prow,
        )
    )
    eo = d["embedder_overhead"]
    parts.append(
        "\nEmbedder overhead: `SFaceEmbedder.embed` (validation, BGR->RGB, NCHW float copy, "
        "L2 norm) against a bare `session.run` on the already preprocessed batch, interleaved:\n"
    )
    parts.append(
        table(
            ["batch", "embed median ms", "bare run median ms", "ratio (target <= 1.2)", "embed ms per face"],
            [
                [
                    b,
                    e["embed"]["median_ms"],
                    e["bare_session_run"]["median_ms"],
                    f"{e['ratio']:.3f}",
                    e["embed_ms_per_face"],
                ]
                for b, e in eo.items()
            ],
        )
    )
    acc = d["accuracy"]
    parts.append(
        f"\nAccuracy on `calib/pairs.csv` ({acc['pairs']} pairs, {acc['images']} images; "
        "best-threshold accuracy, the same subject-picking rule for every pipeline):\n"
    )
    arows = []
    for p in pipes:
        if p in acc:
            a = acc[p]
            thr = f"{a['threshold_best']}" + (" (distance)" if p == "face_recognition" else " (cosine)")
            extra = (
                f"; at dlib's default 0.6: {a['acc_at_default_0.6']:.4f}" if "acc_at_default_0.6" in a else ""
            )
            arows.append([PIPELINE_LABEL[p], f"{100 * a['acc_best']:.2f} %", thr + extra, a["no_detection"]])
    parts.append(table(["pipeline", "accuracy", "best threshold", "images without a face"], arows))
    return "\n".join(parts)


def md_stream(d: dict[str, Any]) -> str:
    rows = []
    for run in d["runs"].values():
        fl, el, pr = run["frame_latency"], run["event_latency"], run["processing"]
        rows.append(
            [
                f"{run['fps_limit']:g}" if run["fps_limit"] else "0 (every frame)",
                f"{run['frames_read']} / {run['frames_processed']}",
                f"{run['read_fps']:.1f} / {run['processed_fps']:.1f}",
                f"{run['realtime_factor']:.2f}",
                f"{fl.get('median_ms', 0):.0f} / {fl.get('p95_ms', 0):.0f} / {fl.get('p99_ms', 0):.0f}",
                f"{pr.get('median_ms', 0):.0f} / {pr.get('p95_ms', 0):.0f}",
                (
                    f"{el['median_ms']:.0f} / {el['p95_ms']:.0f} / {el['p99_ms']:.0f} (n={el['n']})"
                    if el.get("n")
                    else "no events"
                ),
                f"{run['cpu_cores']:.2f}",
                f"{run['peak_rss_mb']:.0f}",
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
        f"fps_limit {r['fps_limit']:g}: " + ", ".join(f"{k} x{v}" for k, v in r["events_by_kind"].items())
        for r in d["runs"].values()
    )
    return (
        table(head, rows) + f"\n\n{d['seconds_per_run']:g} s per run after warm-up; attendance for the "
        f"bench: {d['attendance']}. Events: {kinds}.\n\n{d['latency_definition']}. {d['note']}."
    )


def md_match(d: dict[str, Any]) -> str:
    rows = []
    for size, e in d["sizes"].items():
        b1, b4 = e["batch1"], e["batch4"]
        bd = b1["breakdown_median_ms"]
        one = d.get("single_thread_blas", {}).get(size, {}).get("batch1", {})
        rows.append(
            [
                f"{int(size):,}",
                f"{e['employees']:,}",
                e["matrix_mb"],
                e["build_ms"],
                f"{b1['median_ms']:.3f} / {b1['p95_ms']:.3f}",
                f"{b4['median_ms']:.3f} / {b4['p95_ms']:.3f}",
                f"{b4['ms_per_query']:.3f}",
                f"{bd['matmul']:.2f} / {bd['top2']:.2f}",
                f"{one['median_ms']:.3f} / {one['p95_ms']:.3f}" if one else "-",
            ]
        )
    return (
        table(
            [
                "templates",
                "employees",
                "matrix MB",
                "build ms",
                "1 query: median / p95 ms",
                "batch of 4: median / p95 ms",
                "batch of 4: ms per query",
                "1 query: matmul / top-2 ms",
                "1 query, OPENBLAS_NUM_THREADS=1: median / p95 ms",
            ],
            rows,
        )
        + f"\n\nSynthetic random unit vectors, {d['templates_per_employee']} templates per employee."
    )


def md_memory(d: dict[str, Any]) -> str:
    rows = []
    for name, r in d["runs"].items():
        rows.append(
            [
                name,
                r["gallery_templates"],
                f"{r['cold_start_s']:.2f}",
                fmt(r["app_startup_s"], 2),
                r["peak_rss_mb"],
                f"{r['end_uss_mb']} / {r['end_pss_mb']}",
                f"{r['cpu_cores']:.2f}",
                r["processed_fps"],
                f"{r['stop_s']:.2f}",
            ]
        )
    return (
        table(
            [
                "run",
                "templates",
                "cold start s",
                "app startup_s (log)",
                "peak RSS MB",
                "USS / PSS MB at end",
                "CPU cores",
                "processed fps",
                "SIGTERM to exit s",
            ],
            rows,
        )
        + f"\n\nThe 1080p camera is the dev clip upscaled and encoded as {d.get('clip_1080p_codec', 'mpeg4')}"
        " (H.264 is what cameras send; OpenCV's MPEG-4 Part 2 decoder holds about 30 MB more)."
        + f"\n\nCold start: {d['cold_start_definition']}; the app's own `startup_s` counts from EdgeApp "
        "construction and excludes interpreter start and imports."
    )


def md_outbox(d: dict[str, Any]) -> str:
    c = d["commit"]
    return table(
        ["events", "events/s", "commit median ms", "p95 ms", "filesystem", "durability"],
        [[d["events"], d["events_per_s"], c["median_ms"], c["p95_ms"], d["directory_fs"], d["durability"]]],
    )


def md_central(r: dict[str, Any]) -> str:
    if "central" not in r["sections"]:
        return f"Not run: {r['errors'].get('central', 'not selected')}. Run with `--database-url URL`."
    c = r["sections"]["central"]
    p, q = c["push"], c["pull"]
    return table(
        ["", "value"],
        [
            [
                "push",
                f"{p['events_per_s']:,} events/s ({p['events']} events in batches of {p['batch']}, "
                f"{p['ms_per_batch']} ms per batch; "
                f"re-push of a batch inserts {p['duplicate_batch_inserted']})",
            ],
            [
                "pull",
                f"{q['templates_per_s']:,} templates/s ({q['templates']} templates, "
                f"best {q['best_seconds']} s; "
                f"empty pull {q['empty_pull_ms']} ms)",
            ],
        ],
    )


def md_detectors(d: dict[str, Any]) -> str:
    rows = []
    for size, e in d["sizes"].items():
        rows.append(
            [
                size,
                e["yunet"]["wall"]["median_ms"],
                e["blazeface"]["wall"]["median_ms"],
                f"{fmt(e['wall_ratio_blazeface_over_yunet'], 2)}x",
                e["yunet"]["cpu_ms_mean"],
                e["blazeface"]["cpu_ms_mean"],
                f"{fmt(e['cpu_ratio_blazeface_over_yunet'], 2)}x",
            ]
        )
    out = [
        table(
            [
                "frame",
                "YuNet ms (median)",
                "BlazeFace ms (median)",
                "BlazeFace / YuNet",
                "YuNet CPU ms",
                "BlazeFace CPU ms",
                "CPU BlazeFace / YuNet",
            ],
            rows,
        ),
        "",
    ]
    acc, faces = d["accuracy"], d["clip_faces"]
    rows = []
    for name, label in (("yunet", "YuNet (default)"), ("blazeface", "BlazeFace full range")):
        a, f = acc[name], faces[name]
        rows.append(
            [
                label,
                f"{100 * a['acc_best']:.2f} %",
                a["no_detection"],
                f"{100 * a['tar_at_far_1e-2']:.1f} %",
                f"{100 * a['tar_at_match_threshold']:.1f} % / {100 * a['far_at_match_threshold']:.2f} %",
                f"{f['faces']} in {f['frames_with_face']} of {f['frames']}",
            ]
        )
    out.append(
        table(
            [
                "detector",
                f"calib accuracy ({acc['pairs']} pairs)",
                "no detection",
                "TAR at FAR 1e-2",
                "TAR / FAR at match threshold",
                "clip faces (frames)",
            ],
            rows,
        )
    )
    return "\n".join(out)


def md_load_and_soak(bench_dir: Path, plots: dict[str, str]) -> list[str]:
    """Sections from `sputnik-edge loadtest --out` and `sputnik-edge soak --out`, when present."""
    lines: list[str] = []
    load_path, soak_path = bench_dir / "loadtest.json", bench_dir / "soak.json"
    if load_path.is_file():
        load = json.loads(load_path.read_text())
        rows = [
            [
                name,
                d["requests"],
                d["concurrency"],
                d["throughput_rps"],
                d["p50_ms"],
                d["p95_ms"],
                d["p99_ms"],
                d["max_ms"],
                f"{100 * d['error_rate']:.2f} %",
            ]
            for name, d in (
                ("GET /health", load["health"]),
                ("POST gateway snapshot (obama.jpg)", load["gateway"]),
            )
        ]
        lines += [
            "## Load on loopback",
            "",
            "`sputnik-edge loadtest --out docs/bench`: a real daemon (no camera, Obama enrolled, "
            "cooldown 0 so every snapshot runs the whole recognise -> policy -> outbox path), "
            "concurrent clients on 127.0.0.1, bounded in requests and time. Errors are 5xx or "
            "failed connections.",
            "",
            table(
                [
                    "endpoint",
                    "requests",
                    "clients",
                    "req/s",
                    "p50 ms",
                    "p95 ms",
                    "p99 ms",
                    "max ms",
                    "errors",
                ],
                rows,
            ),
            "",
        ]
    if soak_path.is_file():
        soak = json.loads(soak_path.read_text())
        lines += [
            "## Soak",
            "",
            f"`sputnik-edge soak --minutes {soak['minutes']:g} --out docs/bench`: the daemon on the looped "
            "dev clip (one file camera, fps limit 10, 6 people enrolled), RSS and open file "
            "descriptors sampled every 5 s.",
            "",
            table(
                [
                    "minutes",
                    "frames",
                    "fps",
                    "CPU cores",
                    "RSS first / max / last MB",
                    "RSS slope, 2nd half",
                    "open fds min / max",
                    "events",
                ],
                [
                    [
                        soak["minutes"],
                        soak["frames_processed"],
                        soak["processed_fps"],
                        soak["cpu_cores"],
                        f"{soak['rss_mb_first']:.0f} / {soak['rss_mb_max']:.0f} / {soak['rss_mb_last']:.0f}",
                        f"{soak['rss_slope_mb_per_min_second_half']} MB/min",
                        f"{soak['fds_min']} / {soak['fds_max']}",
                        soak["events"],
                    ]
                ],
            ),
            "",
        ]
        if (bench_dir / "soak.png").is_file():
            lines += [f"![soak]({plots.get('soak', 'bench/soak.png')})", ""]
    return lines


def build_markdown(r: dict[str, Any], plots: dict[str, str], findings: str | None) -> str:
    s = r["sections"]
    lines = [
        "# Benchmarks",
        "",
        "Generated by `scripts/bench_report.py` from `docs/bench/bench.json`; do not edit by hand.",
        "",
        "Reproduce (6-15 minutes, depending on machine load; `--quick` for a smoke run, `--only SECTION,...`"
        " for parts):",
        "",
        "```sh",
        "sputnik-edge bench --out docs/bench            # add --database-url URL for the central section",
        "python scripts/bench_report.py docs/bench/bench.json",
        "```",
        "",
        f"This run: `{r['command']}` at {r['generated_at']}"
        + (" (**quick mode**: few iterations, numbers are only a smoke test)" if r.get("quick") else "")
        + ". Face data: the dev photos and clip of `../shared/faces` (read in place, never copied).",
        "",
        "**Read the numbers as ratios.** The machine below was shared with other jobs while the bench ran "
        "(see its load average): absolute times and throughput move from run to run, while ratios "
        "measured side by side in one run (ours vs reference, embed vs bare run) are stable.",
        "",
        "## Machine",
        "",
        md_machine(r),
        "",
        "## Targets",
        "",
        md_targets(r),
        "",
    ]
    if findings:
        lines += ["## Findings", "", findings.strip(), ""]
    if "stages" in s:
        lines += [
            "## Per-stage time",
            "",
            "Frames of the dev clip upscaled to each resolution and JPEG-encoded (quality 90), so "
            "*decode* is a real JPEG decode (`decode_image`, Pillow); *photos* are the dev photos at "
            "their own sizes. The detector downsizes to `recognition.detect_max_side` "
            f"({s['stages']['detect_max_side']}) first. Policy and outbox run with `min_frames` 1 so "
            "every embedded face produces an event (durable SQLite commit).",
            "",
            md_stages(s["stages"]),
            "",
            f"![stages]({plots.get('stages', '')})",
            "",
        ]
    if "reference" in s:
        lines += [
            "## Ours vs reference implementations",
            "",
            f"Runs on the same images, interleaved ({s['reference']['ratio_definition']}).",
            "",
            md_reference(s["reference"]),
            "",
            f"![reference]({plots.get('reference', '')})",
            "",
        ]
    if "stream" in s:
        lines += [
            "## Stream: the daemon path",
            "",
            "An `EdgeApp` in-process with a file camera on the looped clip (29.97 fps, paced like a "
            "camera), 6 dev people enrolled (lin_manuel_miranda among them).",
            "",
            md_stream(s["stream"]),
            "",
            f"![latency]({plots.get('latency', '')})",
            "",
        ]
    if "match" in s:
        lines += [
            "## 1:N identification",
            "",
            md_match(s["match"]),
            "",
            f"![match]({plots.get('match', '')})",
            "",
        ]
    if "memory" in s:
        lines += [
            "## Memory and cold start",
            "",
            "`python -m sputnik_edge run` as a subprocess, HTTP on loopback, one file camera looping "
            "the clip (upscaled to 1080p for the gallery run), RSS sampled every 0.2 s.",
            "",
            md_memory(s["memory"]),
            "",
        ]
    if "outbox" in s:
        lines += ["## Outbox", "", md_outbox(s["outbox"]), ""]
    if "detectors" in s:
        lines += [
            "## Detectors: YuNet vs BlazeFace",
            "",
            "`recognition.detector` = `yunet` (onnxruntime) against `blazeface` (mediapipe's Tasks "
            "API, the `mediapipe` extra), called alternately on the same clip frames; CPU is process "
            "time per call (YuNet spreads over both cores, BlazeFace mostly one). Accuracy: "
            "`sputnik-edge eval` on the calibration pairs, each with its own score defaults. "
            + (
                f"Run separately, in a venv with the extra: `{s['detectors']['command']}`."
                if "command" in s["detectors"]
                else ""
            ),
            "",
            md_detectors(s["detectors"]),
            "",
        ]
    lines += ["## Central database", "", md_central(r), ""]
    lines += md_load_and_soak(Path(plots.get("_dir", REPO / "docs" / "bench")), plots)
    if r.get("errors"):
        lines += ["## Sections not run", ""] + [f"- `{k}`: {v}" for k, v in r["errors"].items()] + [""]
    lines += ["Section run times (s): " + ", ".join(f"{k} {v}" for k, v in r["section_seconds"].items()), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("json_path", nargs="?", default=str(REPO / "docs" / "bench" / "bench.json"))
    ap.add_argument("--md", default=str(REPO / "docs" / "BENCHMARKS.md"))
    ap.add_argument("--plots", default=str(REPO / "docs" / "bench"))
    args = ap.parse_args(argv)
    result = json.loads(Path(args.json_path).read_text())
    plot_dir = Path(args.plots)
    plot_dir.mkdir(parents=True, exist_ok=True)
    md_path = Path(args.md)
    s = result["sections"]
    makers = {
        "stages": (plot_stages, "stages"),
        "reference": (plot_reference, "reference"),
        "match": (plot_match, "match"),
        "latency": (plot_latency, "stream"),
    }
    plots: dict[str, str] = {}
    for name, (func, section) in makers.items():
        if section in s:
            out = plot_dir / f"{name}.png"
            func(s[section], out)
            plots[name] = os.path.relpath(out, md_path.parent)
    plots["_dir"] = str(plot_dir)
    if (plot_dir / "soak.png").is_file():
        plots["soak"] = os.path.relpath(plot_dir / "soak.png", md_path.parent)
    findings_path = plot_dir / "findings.md"
    findings = findings_path.read_text() if findings_path.is_file() else None
    md_path.write_text(build_markdown(result, plots, findings))
    print(f"wrote {md_path} and {len(plots)} plot(s) in {plot_dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
