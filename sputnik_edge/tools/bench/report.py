"""docs/BENCHMARKS.md and its plots from a ``sputnik-edge bench --out DIR`` result.

    python scripts/bench_report.py [docs/bench/bench.json] [--md docs/BENCHMARKS.md] [--plots docs/bench]
    python scripts/bench_report.py docs/bench/fleet.json --fleet-md docs/bench/fleet.md

The Markdown is generated: edit this module (or ``<plots>/findings.md``, which is inlined as the
"Findings" section) rather than the output. The bench JSON is read as a typed ``BenchResult``;
``loadtest.json`` and ``soak.json`` next to it (from ``sputnik-edge loadtest/soak --out``) add
their sections when present.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from sputnik_edge.tools.bench.backlight_results import md_backlight, plot_score_floors
from sputnik_edge.tools.bench.fleet_report import fleet_markdown, md_fleet
from sputnik_edge.tools.bench.formatting import timed
from sputnik_edge.tools.bench.imagesets_report import md_embedders, md_imagesets
from sputnik_edge.tools.bench.liveness_report import md_liveness
from sputnik_edge.tools.bench.markdown import (
    md_central,
    md_detectors,
    md_machine,
    md_match,
    md_memory,
    md_outbox,
    md_reference,
    md_stages,
    md_stream,
    md_targets,
    table,
)
from sputnik_edge.tools.bench.results import BenchResult, Sections
from sputnik_edge.tools.paths import REPO_ROOT


def render_plots(s: Sections, plot_dir: Path, md_dir: Path) -> dict[str, str]:
    """Write the plots of the sections present; name -> path relative to the Markdown's folder."""
    from sputnik_edge.tools.bench import plots as p

    made: dict[str, Path] = {}
    if s.stages is not None:
        p.plot_stages(s.stages, made.setdefault("stages", plot_dir / "stages.png"))
    if s.reference is not None:
        p.plot_reference(s.reference, made.setdefault("reference", plot_dir / "reference.png"))
    if s.match is not None:
        p.plot_match(s.match, made.setdefault("match", plot_dir / "match.png"))
    if s.stream is not None:
        p.plot_latency(s.stream, made.setdefault("latency", plot_dir / "latency.png"))
    if s.backlight is not None:
        plot_score_floors(s.backlight, made.setdefault("score_floors", plot_dir / "score_floors.png"))
    return {name: os.path.relpath(path, md_dir) for name, path in made.items()}


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
    lines += md_office_load(bench_dir / "office_load.json")
    # Measured by their own tools, inlined as written (fleet.md carries its own heading).
    for title, name in (("## Office timesheets and event pages", "timesheet.md"), (None, "fleet.md")):
        if (bench_dir / name).is_file():
            lines += [*([title, ""] if title else []), (bench_dir / name).read_text().strip(), ""]
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


def md_office_load(path: Path) -> list[str]:
    """The office server through nginx (`python -m sputnik_edge.tools.office_load --out docs/bench`)."""
    if not path.is_file():
        return []
    load = json.loads(path.read_text())
    calls = [
        ("POST /api/v1/auth/login (Argon2 check)", "login"),
        ("GET /api/v1/attendance/timesheet, 31 days", "timesheet"),
        ("GET /api/v1/attendance/events, 100 a page", "events"),
        ("POST /api/v1/gateway/snapshot (camera token)", "gateway"),
    ]
    rows = []
    for label, key in calls:
        d = load.get(key)
        if d is None:
            continue
        answers = ", ".join(f"{n} x {code}" for code, n in d.get("statuses", {}).items())
        rows.append(
            [label, d["requests"], d["concurrency"], d["throughput_rps"], d["p50_ms"], d["p99_ms"], answers]
        )
    return [
        "## Office server through nginx",
        "",
        "`python -m sputnik_edge.tools.office_load`: the compose stack (office image, PostgreSQL, nginx "
        "with TLS) under podman on this 2-core machine, 100 employees with a month of check-ins and "
        "check-outs, concurrent clients on loopback, bounded in requests and time (60 s a call). "
        "Logins are few on purpose: they are rate-limited per user and address.",
        "",
        table(["call", "requests", "clients", "req/s", "p50 ms", "p99 ms", "answers"], rows),
        "",
    ]


def build_markdown(r: BenchResult, plots: dict[str, str], findings: str | None) -> str:
    s = r.sections
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
        f"This run: `{r.command}` at {r.generated_at}"
        + (" (**quick mode**: few iterations, numbers are only a smoke test)" if r.quick else "")
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
    if s.stages is not None:
        lines += [
            "## Per-stage time",
            "",
            "Frames of the dev clip upscaled to each resolution and JPEG-encoded (quality 90), so "
            "*decode* is a real JPEG decode (`decode_image`, Pillow); *photos* are the dev photos at "
            "their own sizes. The detector downsizes to `recognition.detect_max_side` "
            f"({s.stages.detect_max_side}) first. Policy and outbox run with `min_frames` 1 so "
            "every embedded face produces an event (durable SQLite commit).",
            "",
            md_stages(s.stages),
            "",
            f"![stages]({plots.get('stages', '')})",
            "",
        ]
    if s.reference is not None:
        lines += [
            "## Ours vs reference implementations",
            "",
            f"Runs on the same images, timed {timed(s.reference.order)} ({s.reference.ratio_definition}).",
            "",
            md_reference(s.reference),
            "",
            f"![reference]({plots.get('reference', '')})",
            "",
        ]
    if s.imagesets is not None:
        lines += [
            "## Small and large photos: per image and per face",
            "",
            "Ours, the OpenCV Zoo reference and face_recognition on two image sets "
            f"({s.imagesets.ratio_definition}), timed {timed(s.imagesets.order)}. Per face: each "
            "pipeline's time divided by the faces it found itself.",
            "",
            md_imagesets(s.imagesets),
            "",
        ]
    if s.embedders is not None:
        lines += [
            "## SFace candidates: precision and session options",
            "",
            "Bare `session.run` on the same aligned crops, all candidates in one process, "
            "interleaved; one option changed at a time on top of the daemon's.",
            "",
            md_embedders(s.embedders),
            "",
        ]
    if s.stream is not None:
        lines += [
            "## Stream: the daemon path",
            "",
            "An `EdgeApp` in-process with a file camera on the looped clip (29.97 fps, paced like a "
            "camera), 6 dev people enrolled (lin_manuel_miranda among them).",
            "",
            md_stream(s.stream),
            "",
            f"![latency]({plots.get('latency', '')})",
            "",
        ]
    if s.match is not None:
        lines += [
            "## 1:N identification",
            "",
            md_match(s.match),
            "",
            f"![match]({plots.get('match', '')})",
            "",
        ]
    if s.memory is not None:
        lines += [
            "## Memory and cold start",
            "",
            "`python -m sputnik_edge run` as a subprocess, HTTP on loopback, one file camera looping "
            "the clip (upscaled to 1080p for the gallery run), RSS sampled every 0.2 s.",
            "",
            md_memory(s.memory),
            "",
        ]
    if s.outbox is not None:
        lines += ["## Outbox", "", md_outbox(s.outbox), ""]
    if s.detectors is not None:
        lines += [
            "## Detectors: YuNet vs BlazeFace",
            "",
            "`recognition.detector` = `yunet` (onnxruntime) against `blazeface` (mediapipe's Tasks "
            "API, the `mediapipe` extra), called alternately on the same clip frames; CPU is process "
            "time per call (YuNet spreads over both cores, BlazeFace mostly one). Accuracy: "
            "`sputnik-edge eval` on the calibration pairs, each with its own score defaults. "
            + (
                f"Run separately, in a venv with the extra: `{s.detectors.command}`."
                if s.detectors.command is not None
                else ""
            ),
            "",
            md_detectors(s.detectors),
            "",
        ]
    if s.backlight is not None:
        lines += [
            "## Backlight pass and score floors",
            "",
            "`sputnik-edge bench --only backlight`: the recognizer's `analyze` (detect, align, quality "
            "gate) with the backlight pass off and on, alternately on the same frames; then YuNet's "
            "scores for real faces in video against detections on face-free background.",
            "",
            md_backlight(s.backlight),
            "",
            f"![score floors]({plots.get('score_floors', '')})",
            "",
        ]
    if s.liveness is not None:
        lines += [
            "## Liveness",
            "",
            "`sputnik-edge bench --only liveness`: cost per face, and `liveness-eval` on the shared "
            "liveness data (few files: the numbers say little) and on synthetic attacks rendered from "
            'the dev photos (**synthetic numbers are not real-attack numbers**). See README "Liveness".',
            "",
            md_liveness(s.liveness),
            "",
        ]
    lines += ["## Central database", "", md_central(r), ""]
    if s.fleet is not None:
        lines += ["## Fleet: simulated devices against one PostgreSQL", "", md_fleet(s.fleet), ""]
    lines += md_load_and_soak(Path(plots.get("_dir", REPO_ROOT / "docs" / "bench")), plots)
    if r.errors:
        lines += ["## Sections not run", ""] + [f"- `{k}`: {v}" for k, v in r.errors.items()] + [""]
    lines += ["Section run times (s): " + ", ".join(f"{k} {v}" for k, v in r.section_seconds.items()), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="bench_report.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("json_path", nargs="?", default=str(REPO_ROOT / "docs" / "bench" / "bench.json"))
    ap.add_argument("--md", default=str(REPO_ROOT / "docs" / "BENCHMARKS.md"))
    ap.add_argument("--plots", default=str(REPO_ROOT / "docs" / "bench"))
    ap.add_argument("--fleet-md", metavar="PATH", help="only write the fleet section to PATH (no plots)")
    args = ap.parse_args(argv)
    try:
        result = BenchResult.load(Path(args.json_path))
        if args.fleet_md:
            text = fleet_markdown(result, os.path.relpath(args.json_path, REPO_ROOT))
    except (OSError, ValueError) as exc:
        print(f"bench_report: {args.json_path}: {exc}", file=sys.stderr)
        return 2
    if args.fleet_md:
        Path(args.fleet_md).write_text(text)
        print(f"wrote {args.fleet_md}", file=sys.stderr)
        return 0
    plot_dir = Path(args.plots)
    plot_dir.mkdir(parents=True, exist_ok=True)
    md_path = Path(args.md)
    plots = render_plots(result.sections, plot_dir, md_path.parent)
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
