"""``liveness``: the liveness stage's cost per face against the rest of the frame's work, and its
verdicts (APCER / BPCER, ISO/IEC 30107-3) on the shared liveness data and on a synthetic attack set.

Timing alternates, frame by frame on the same frames of the shared live clip: the daemon's
per-frame work before liveness (detect, align, quality), the embedding of one face, and the
liveness stage's three parts for that face (face mesh, border, planarity). Ratios, not absolute
times, are what carries over to another machine. The synthetic set is rendered into a temporary
folder (0700, removed afterwards); its numbers are not real-attack numbers.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from sputnik_edge.liveness import cues
from sputnik_edge.liveness.stage import LivenessStage
from sputnik_edge.liveness.types import CUE_NAMES, LivenessSettings
from sputnik_edge.tools.bench.context import BenchContext, BenchError, progress
from sputnik_edge.tools.bench.stats import Stats, ratio, stats_ms
from sputnik_edge.vision.models import default_models_dir, verify

__all__ = ["LivenessBenchResult", "bench_liveness"]

LIVE_FILES = ("liveness/webcam_live.webm", "liveness/image_T1.jpg", "video/short_hamilton_clip.mp4")
ATTACK_FILES = ("liveness/webcam_phone_replay.webm", "liveness/image_F1.jpg", "liveness/image_F2.jpg")


@dataclass(frozen=True, slots=True, kw_only=True)
class LivenessTiming:
    frames: int
    analyze_frame: Stats  # detect + align + quality of the whole frame
    embed_face: Stats
    mesh_face: Stats
    border_face: Stats
    planarity_face: Stats
    liveness_face: Stats  # the three above, as the stage runs them
    ratio_liveness_over_analyze: float | None
    ratio_liveness_over_embed: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineAB:
    """The dev clip at 10 fps through the engine (recognise -> policy -> outbox), liveness off
    against monitor, frame by frame alternately on the same frames."""

    frames: int
    off: Stats
    monitor: Stats
    ratio_median_monitor_over_off: float | None
    ratio_mean_monitor_over_off: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class LivenessTotals:
    live_files: int
    attack_files: int
    apcer: float | None
    bpcer: float | None
    bpcer_enforce: float | None
    undecided_live: int
    undecided_attack: int


@dataclass(frozen=True, slots=True, kw_only=True)
class LivenessFile:
    path: str
    label: str
    verdict: str
    cues: list[str]


@dataclass(frozen=True, slots=True, kw_only=True)
class LivenessSet:
    name: str
    cues: list[str]
    total: LivenessTotals
    files: list[LivenessFile] = field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True)
class LivenessBenchResult:
    timing: LivenessTiming
    engine: EngineAB
    sets: list[LivenessSet]


def _timing(ctx: BenchContext, stage: LivenessStage) -> LivenessTiming:
    from sputnik_edge.tools.liveness_eval import _video_frames

    rec = ctx.recognizer()
    frames = list(_video_frames(ctx.faces_dir / LIVE_FILES[0], 3))[: ctx.iterations(60, 8)]
    samples: dict[str, list[float]] = {k: [] for k in ("analyze", "embed", "mesh", "border", "planarity")}
    prev = None
    with progress(len(frames), "liveness timing", ctx.progress) as bar:
        for img in frames:
            t0 = time.perf_counter()
            cands = rec.analyze(img)
            samples["analyze"].append(time.perf_counter() - t0)
            if not cands:
                continue
            cand = max(cands, key=lambda c: c.detection.width)
            t0 = time.perf_counter()
            rec.embed([cand])
            samples["embed"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            stage.landmarker.mesh(img, cand.detection)
            samples["mesh"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            grey = np.asarray(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), np.uint8)
            cues.border_score(grey, cand.detection.bbox)
            samples["border"].append(time.perf_counter() - t0)
            if prev is not None:
                t0 = time.perf_counter()
                cues.planarity(prev, grey, cand.detection.bbox)
                samples["planarity"].append(time.perf_counter() - t0)
            prev = grey
            bar.update(1)
    if not samples["mesh"]:
        raise BenchError(f"no face found in {LIVE_FILES[0]}")
    n = min(len(samples["mesh"]), len(samples["planarity"]) + 1)
    per_face = [
        samples["mesh"][i] + samples["border"][i] + (samples["planarity"][i - 1] if i else 0.0)
        for i in range(n)
    ]
    total, analyze, embed = stats_ms(per_face), stats_ms(samples["analyze"]), stats_ms(samples["embed"])
    return LivenessTiming(
        frames=len(frames),
        analyze_frame=analyze,
        embed_face=embed,
        mesh_face=stats_ms(samples["mesh"]),
        border_face=stats_ms(samples["border"]),
        planarity_face=stats_ms(samples["planarity"]),
        liveness_face=total,
        ratio_liveness_over_analyze=ratio(total.median_ms or 0.0, analyze.median_ms or 0.0),
        ratio_liveness_over_embed=ratio(total.median_ms or 0.0, embed.median_ms or 0.0),
    )


def _set(
    ctx: BenchContext, stage: LivenessStage, name: str, live: list[Path], attack: list[Path]
) -> LivenessSet:
    from sputnik_edge.tools.liveness_eval import evaluate, summarise

    summary = summarise(evaluate(ctx.recognizer(), stage, live, attack))
    t = summary["total"]
    assert isinstance(t, dict) and isinstance(summary["files"], list)
    und = t["undecided"]
    root = str(ctx.faces_dir) + "/"
    return LivenessSet(
        name=name,
        cues=list(stage.settings.cues),
        total=LivenessTotals(
            live_files=t["live_files"],
            attack_files=t["attack_files"],
            apcer=t["apcer"],
            bpcer=t["bpcer"],
            bpcer_enforce=t["bpcer_enforce"],
            undecided_live=und["live"],
            undecided_attack=und["attack"],
        ),
        files=[
            LivenessFile(
                path=str(f["path"]).replace(root, "").rsplit("/syn/", 1)[-1],
                label=f["label"],
                verdict=f["verdict"],
                cues=list(f["cues"]),
            )
            for f in summary["files"]
        ],
    )


def _engine_ab(ctx: BenchContext, stage: LivenessStage, tmp: Path) -> EngineAB:
    from datetime import UTC, datetime

    from sputnik_edge.attendance.policy import AttendancePolicy, CameraInfo, PolicyConfig
    from sputnik_edge.attendance.tracker import IouTracker
    from sputnik_edge.liveness.types import LivenessMode
    from sputnik_edge.metrics import Metrics
    from sputnik_edge.pipeline.engine import AttendanceEngine, SnapshotSettings
    from sputnik_edge.store.local import LocalStore

    rec = ctx.recognizer()
    rec.set_gallery(ctx.dev_gallery())
    att = ctx.settings.attendance
    frames = ctx.video_frames()[::3][: ctx.iterations(1000, 10)]
    engines, trackers, stores = {}, {}, []
    modes: tuple[LivenessMode, ...] = ("off", "monitor")
    for mode in modes:
        store = LocalStore(tmp / f"{mode}.db", device_id="bench")
        stores.append(store)
        cfg = PolicyConfig(
            att.min_frames, att.cooldown_s, att.max_embeds_per_track, att.reembed_quality_gain, mode
        )
        engines[mode] = AttendanceEngine(
            rec,
            AttendancePolicy(cfg, "bench"),
            store,
            SnapshotSettings(False, tmp / "snapshots"),
            Metrics(),
            liveness=stage,
        )
        trackers[mode] = IouTracker(att.track_iou, att.track_max_age_s)
    camera = CameraInfo("bench", "in")
    times: dict[str, list[float]] = {"off": [], "monitor": []}
    try:
        with progress(len(frames), "liveness engine", ctx.progress) as bar:
            for i, img in enumerate(frames):
                for mode in modes if i % 2 == 0 else modes[::-1]:
                    t0 = time.perf_counter()
                    engines[mode].process_frame(camera, trackers[mode], img, datetime.now(UTC), 0.1 * i)
                    times[mode].append(time.perf_counter() - t0)
                bar.update(1)
    finally:
        for store in stores:
            store.close()
    off, mon = stats_ms(times["off"]), stats_ms(times["monitor"])
    return EngineAB(
        frames=len(frames),
        off=off,
        monitor=mon,
        ratio_median_monitor_over_off=ratio(mon.median_ms or 0.0, off.median_ms or 0.0),
        ratio_mean_monitor_over_off=ratio(mon.mean_ms or 0.0, off.mean_ms or 0.0),
    )


def _synthetic(ctx: BenchContext, out: Path) -> list[Path]:
    from sputnik_edge.tools.paths import dev_people
    from sputnik_edge.tools.synthetic_attacks import KINDS, render_attack, write_clip
    from sputnik_edge.vision.imageio import load_image

    rec = ctx.recognizer()
    paths = []
    people = sorted(dev_people(ctx.faces_dir).items())[: ctx.iterations(6, 2)]
    for seed, (who, photo) in enumerate(people):
        image = load_image(photo)
        faces = rec.detect(image)
        box = max(faces, key=lambda d: d.width).bbox if faces else None
        for kind in KINDS:
            paths.append(
                write_clip(render_attack(image, kind, seed, 90, face_box=box), out / f"{who}_{kind}.mp4")
            )
    return paths


def bench_liveness(ctx: BenchContext) -> LivenessBenchResult:
    missing = [p for p in (*LIVE_FILES, *ATTACK_FILES) if not (ctx.faces_dir / p).is_file()]
    if missing:
        raise BenchError(f"liveness data missing under {ctx.faces_dir}: {', '.join(missing)}")
    rcfg = ctx.settings.recognition
    models = Path(rcfg.models_dir) if rcfg.models_dir else default_models_dir()
    model = verify(models, "face_landmark")

    def stage(cue_names: tuple[str, ...] = CUE_NAMES) -> LivenessStage:
        return LivenessStage.from_model(
            model, dataclasses.replace(LivenessSettings(), cues=cue_names), rcfg.threads
        )

    timing = _timing(ctx, stage())
    live = [ctx.faces_dir / p for p in LIVE_FILES]
    attack = [ctx.faces_dir / p for p in ATTACK_FILES]
    sets = [_set(ctx, stage(), "shared", live, attack)]
    tmp = Path(tempfile.mkdtemp(prefix="sputnik-liveness-"))
    try:
        engine = _engine_ab(ctx, stage(), tmp)
        syn = tmp / "syn"
        syn.mkdir(mode=0o700)
        synthetic = _synthetic(ctx, syn)
        sets.append(_set(ctx, stage(), "synthetic", live[:1] + live[2:], synthetic))
        for off in CUE_NAMES:  # ablation: the same files with one cue switched off
            kept = tuple(c for c in CUE_NAMES if c != off)
            s = _set(
                ctx,
                stage(kept),
                f"synthetic + shared videos, without {off}",
                live[:1] + live[2:],
                [attack[0], *synthetic],
            )
            sets.append(dataclasses.replace(s, files=[]))
        sets.append(
            dataclasses.replace(
                _set(
                    ctx,
                    stage(),
                    "synthetic + shared videos, all cues",
                    live[:1] + live[2:],
                    [attack[0], *synthetic],
                ),
                files=[],
            )
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return LivenessBenchResult(timing=timing, engine=engine, sets=sets)
