"""``detectors``: YuNet (onnxruntime) against BlazeFace (mediapipe, the optional extra): per-frame
time and CPU, alternating call by call on the same frames, faces found on the clip, and accuracy
on the calibration pairs, each detector with its own score defaults."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from sputnik_edge.config import RecognitionSection
from sputnik_edge.recognition.recognizer import Recognizer
from sputnik_edge.tools.bench.context import RESOLUTIONS, BenchContext, BenchError, progress
from sputnik_edge.tools.bench.results import (
    DETECTORS,
    ClipFaces,
    DetectorAccuracies,
    DetectorAccuracy,
    DetectorSize,
    DetectorsResult,
    DetectorTiming,
)
from sputnik_edge.tools.bench.stats import ratio, stats_ms
from sputnik_edge.tools.eval import Pair, evaluate_pairs, read_pairs
from sputnik_edge.vision.types import ImageArray


def detector_settings(base: RecognitionSection, detector: str) -> RecognitionSection:
    """``base`` with another detector, its score defaults re-derived (the thresholds differ)."""
    data = base.model_dump(exclude={"det_score_threshold", "quality_min_det_score"})
    return RecognitionSection.model_validate({**data, "detector": detector})


def _size(recs: dict[str, Recognizer], imgs: list[ImageArray], repeats: int, bar: Any) -> DetectorSize:
    for rec in recs.values():  # warm this size (buffers, grids)
        rec.detect(imgs[0])
    wall: dict[str, list[float]] = {n: [] for n in DETECTORS}
    cpu: dict[str, list[float]] = {n: [] for n in DETECTORS}
    for _ in range(repeats):
        for img in imgs:
            for n in DETECTORS:
                c0, t0 = time.process_time(), time.perf_counter()
                recs[n].detect(img)
                wall[n].append(time.perf_counter() - t0)
                cpu[n].append(time.process_time() - c0)
            bar.update(1)
    timing = {
        n: DetectorTiming(wall=stats_ms(wall[n]), cpu_ms_mean=round(1000 * float(np.mean(cpu[n])), 3))
        for n in DETECTORS
    }
    y, b = timing["yunet"], timing["blazeface"]
    return DetectorSize(
        yunet=y,
        blazeface=b,
        wall_ratio_blazeface_over_yunet=ratio(b.wall.median_ms or 0.0, y.wall.median_ms or 0.0),
        cpu_ratio_blazeface_over_yunet=ratio(b.cpu_ms_mean, y.cpu_ms_mean),
    )


def _pairs(ctx: BenchContext) -> list[Pair]:
    pairs = read_pairs(ctx.faces_dir / "calib" / "pairs.csv")
    if ctx.quick:
        pairs = [p for p in pairs if p.same][:10] + [p for p in pairs if not p.same][:10]
    return pairs


def _accuracy(ctx: BenchContext, rec: Recognizer, pairs: list[Pair]) -> DetectorAccuracy:
    s = evaluate_pairs(rec, pairs, ctx.faces_dir / "calib").summary
    return DetectorAccuracy(
        acc_best=s["acc_best"],
        threshold_best=s["threshold_best"],
        no_detection=s["no_detection"],
        tar_at_far_1e_2=s["tar_at_far_1e-2"],
        tar_at_match_threshold=s["tar_at_match_threshold"],
        far_at_match_threshold=s["far_at_match_threshold"],
    )


def bench_detectors(ctx: BenchContext) -> DetectorsResult:
    import cv2

    from sputnik_edge.vision.blazeface import mediapipe_available

    if not mediapipe_available():
        raise BenchError(
            "skipped: the mediapipe extra is not installed (pip install 'sputnik-edge[mediapipe]')"
        )
    recs = {n: Recognizer.from_config(detector_settings(ctx.settings.recognition, n)) for n in DETECTORS}
    frames = ctx.video_frames()
    picks = np.linspace(0, len(frames) - 1, ctx.iterations(60, 4)).round().astype(int)
    repeats = ctx.iterations(3, 1)
    sizes: dict[str, DetectorSize] = {}
    with progress(len(RESOLUTIONS) * len(picks) * repeats, "detectors", ctx.progress) as bar:
        for w, h in RESOLUTIONS:
            imgs = [np.asarray(cv2.resize(frames[int(i)], (w, h)), np.uint8) for i in picks]
            sizes[f"{w}x{h}"] = _size(recs, imgs, repeats, bar)
    step = 25 if ctx.quick else 1
    found = {n: [len(recs[n].detect(f)) for f in frames[::step]] for n in DETECTORS}
    clip_faces = {
        n: ClipFaces(
            frames=len(v),
            frames_with_face=sum(1 for x in v if x),
            faces=sum(v),
            score_threshold=recs[n].detector.score_threshold,
        )
        for n, v in found.items()
    }
    pairs = _pairs(ctx)
    return DetectorsResult(
        sizes=sizes,
        clip_faces=clip_faces,
        accuracy=DetectorAccuracies(
            pairs=len(pairs),
            yunet=_accuracy(ctx, recs["yunet"], pairs),
            blazeface=_accuracy(ctx, recs["blazeface"], pairs),
        ),
    )
