"""The PNG plots of docs/BENCHMARKS.md (matplotlib: the tools extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

from sputnik_edge.tools.bench.formatting import timed
from sputnik_edge.tools.bench.markdown import PIPELINE_LABEL
from sputnik_edge.tools.bench.results import (
    STAGE_NAMES,
    MatchResult,
    ReferenceResult,
    StagesResult,
    StreamResult,
)

matplotlib.use("Agg")  # files only, never a window

COLORS = {"ours": "tab:blue", "opencv_zoo": "tab:orange", "face_recognition": "tab:green"}


def _plt() -> Any:
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 10, "axes.grid": True, "grid.alpha": 0.3})
    return plt


def _save(plt: Any, fig: Any, out: Path) -> None:
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def plot_stages(data: StagesResult, out: Path) -> None:
    plt = _plt()
    res = data.resolutions
    labels = list(res)
    stages = [s for s in STAGE_NAMES if any(r.stages[s].stats.n for r in res.values())]
    x = np.arange(len(stages))
    width = 0.8 / len(labels)
    fig, ax = plt.subplots(figsize=(13.5, 5.4))
    cmap = plt.get_cmap("viridis")
    for i, label in enumerate(labels):
        med = [res[label].stages[s].stats.median_ms or 0.0 for s in stages]
        p95 = [res[label].stages[s].stats.p95_ms or 0.0 for s in stages]
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
    per = [res[labels[0]].stages[s].per.replace(" with ", "\nwith ") for s in stages]
    ax.set_xticks(x, [f"{s}\nper {p}" for s, p in zip(stages, per, strict=True)], fontsize=8)
    ax.set_ylabel("median ms (log; value in the bar); whisker: p95")
    ax.set_title("Per-stage time by input resolution (real frames, real components)")
    ax.legend(title="input", ncol=len(labels), loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=9)
    _save(plt, fig, out)


def plot_reference(data: ReferenceResult, out: Path) -> None:
    plt = _plt()
    rows = data.per_image
    pipes = data.summary.pipelines()
    y = np.arange(len(rows))
    h = 0.8 / len(pipes)
    fig, ax = plt.subplots(figsize=(11, 0.38 * len(rows) + 1.8))
    for i, p in enumerate(pipes):
        ax.barh(
            y + (i - (len(pipes) - 1) / 2) * h,
            [r.ms(p) for r in rows],
            h,
            label=PIPELINE_LABEL[p],
            color=COLORS[p],
        )
    names = [f"{Path(r.image).name} ({r.width}x{r.height}, {r.ours_faces} f)" for r in rows]
    ax.set_yticks(y, names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("ms per image, detect + align + embed every face (log)")
    ratios = ", ".join(
        f"{PIPELINE_LABEL[p]}: {getattr(data.summary, f'ratio_{p}').per_image_total:.2f}x" for p in pipes[1:]
    )
    title = f"Same images, timed {timed(data.order)}. Total time relative to ours: {ratios}"
    ax.set_title(title, fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    _save(plt, fig, out)


def plot_match(data: MatchResult, out: Path) -> None:
    plt = _plt()
    sizes = [int(k) for k in data.sizes]
    fig, ax = plt.subplots(figsize=(8.5, 5.5))
    variants = [(data.sizes, "BLAS threads: default")]
    if data.single_thread_blas is not None:
        variants.append((data.single_thread_blas, "OPENBLAS_NUM_THREADS=1"))
    colors = iter(["tab:blue", "tab:cyan", "tab:green", "tab:olive"])
    for by_size, blas in variants:
        for batch, marker in (("batch1", "o"), ("batch4", "s")):
            stats = [getattr(by_size[str(s)], batch).stats for s in sizes]
            med = [st.median_ms for st in stats]
            p95 = [st.p95_ms for st in stats]
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
    _save(plt, fig, out)


def plot_latency(data: StreamResult, out: Path) -> None:
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    for run, color in zip(data.runs.values(), ("tab:blue", "tab:orange", "tab:green"), strict=False):
        label = f"fps_limit {run.fps_limit:g}" if run.fps_limit else "every frame (fps_limit 0)"
        samples = run.samples_ms
        for ax, values in zip(axes, (samples.frame_latency, samples.processing), strict=True):
            vals = np.sort(np.asarray(values, dtype=float))
            if vals.size:
                ax.plot(
                    vals,
                    np.arange(1, vals.size + 1) / vals.size,
                    lw=2,
                    color=color,
                    label=f"{label}: frames (n={vals.size})",
                )
        ev = samples.event_latency
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
    _save(plt, fig, out)
