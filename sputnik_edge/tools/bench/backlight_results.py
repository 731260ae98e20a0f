"""Typed results of the ``backlight`` bench section (``sections.backlight`` of bench.json): what the
backlight pass costs per frame, and the detector-score curve the score floors are set from.

Kept out of ``results`` like the fleet's; ``results.Sections`` refers to it, and the Markdown and
the plot for it live here too so the shared report modules only call them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sputnik_edge.tools.bench.stats import Stats


@dataclass(frozen=True, slots=True, kw_only=True)
class BacklightCost:
    """``analyze`` (detect + align + gate) per frame with the pass off and on, called alternately."""

    frames: int
    backlit_frames: int  # judged backlit (bright_fraction >= min_bright_fraction)
    second_pass_frames: int  # where the second detector pass ran
    off: Stats
    on: Stats
    ratio_on_over_off: float | None
    faces_off: int  # faces passing the quality gate over all frames
    faces_on: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ScoreCurve:
    threshold: float
    real_recall: float  # share of real faces in video whose YuNet score reaches the threshold
    false_per_1000_frames: float  # detections on face-free background at the threshold
    false_enhanced_per_1000_frames: float  # the same on the CLAHE copy (what the second pass sees)


@dataclass(frozen=True, slots=True, kw_only=True)
class BacklightResult:
    cost: dict[str, BacklightCost]  # frame set -> cost: dev_clip, webcam_clip, synthetic_extreme
    is_backlit_ms: Stats  # the judgement alone, a 640x480 frame
    enhance_ms: Stats  # the CLAHE copy alone, a 640x480 frame
    real_faces: int
    background_frames: int
    real_score_percentiles: dict[str, float]  # p1, p5, p50 of the real faces' scores
    max_false_score: float | None
    curve: list[ScoreCurve]
    det_score_threshold: float  # the defaults this run measured against
    quality_min_det_score: float


COST_LABEL = {
    "dev_clip": "dev clip (dark stage, never backlit)",
    "webcam_clip": "webcam clip (bright wall behind him: backlit)",
    "synthetic_extreme": "synthetic window scenes, extreme (second pass on every frame)",
}


def md_backlight(b: BacklightResult) -> str:
    rows = [
        "| frames | judged backlit | second pass ran | ms per frame, pass off (median) | on | on / off "
        "| faces passing the gate, off -> on |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, c in b.cost.items():
        rows.append(
            f"| {COST_LABEL.get(name, name)}: {c.frames} | {c.backlit_frames} | {c.second_pass_frames} "
            f"| {c.off.median_ms} | {c.on.median_ms} | {c.ratio_on_over_off}x "
            f"| {c.faces_off} -> {c.faces_on} |"
        )
    rows += [
        "",
        f"The judgement alone: {b.is_backlit_ms.median_ms} ms per 640x480 frame; the CLAHE copy: "
        f"{b.enhance_ms.median_ms} ms.",
        "",
        f"Score floors: {b.real_faces} real faces in video (the webcam clip's man in every frame, the dev "
        f"clip's faces that another library also boxed) against {b.background_frames} frames of the same "
        "clips with every detected face erased (a flat fill). Real faces score "
        + ", ".join(f"{k} {v}" for k, v in b.real_score_percentiles.items())
        + f"; the best false detection on background scores {b.max_false_score}.",
        "",
        "| score threshold | real faces kept | false detections per 1000 background frames "
        "| ... on the CLAHE copy |",
        "| --- | --- | --- | --- |",
    ]
    for p in b.curve:
        mark = ""
        if p.threshold == b.det_score_threshold:
            mark = " (`det_score_threshold`)"
        elif p.threshold == b.quality_min_det_score:
            mark = " (`quality_min_det_score`)"
        rows.append(
            f"| {p.threshold}{mark} | {100 * p.real_recall:.1f} % | {p.false_per_1000_frames} "
            f"| {p.false_enhanced_per_1000_frames} |"
        )
    return "\n".join(rows)


def plot_score_floors(b: BacklightResult, out: Path) -> None:
    """Real-face recall and false detections against the score threshold (no faces in the image)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [p.threshold for p in b.curve]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(t, [100 * p.real_recall for p in b.curve], "o-", label="real faces kept (%)")
    ax.set_xlabel("YuNet score threshold")
    ax.set_ylabel("real faces kept (%)")
    ax2: Any = ax.twinx()
    ax2.plot(
        t, [p.false_per_1000_frames for p in b.curve], "s--", color="tab:red", label="false / 1000 frames"
    )
    ax2.plot(
        t,
        [p.false_enhanced_per_1000_frames for p in b.curve],
        "^:",
        color="tab:orange",
        label="false / 1000 frames, CLAHE copy",
    )
    ax2.set_ylabel("false detections per 1000 frames")
    for x, name in ((b.det_score_threshold, "det_score_threshold"), (b.quality_min_det_score, "quality_min")):
        ax.axvline(x, color="grey", lw=0.8)
        ax.text(x, 2, name, rotation=90, va="bottom", ha="right", fontsize=8)
    lines = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    labels = ax.get_legend_handles_labels()[1] + ax2.get_legend_handles_labels()[1]
    ax.legend(lines, labels, loc="center left", fontsize=8)
    ax.set_title("Score floors: real faces in video vs detections on background")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
