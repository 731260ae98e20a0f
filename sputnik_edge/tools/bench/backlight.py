"""``backlight``: what the backlight pass costs per frame (the recognizer's ``analyze`` with the pass
off and on, called alternately on the same frames) and the detector-score curve behind the
``det_score_threshold`` / ``quality_min_det_score`` defaults: real faces in video against
detections on the same frames with every face erased."""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from sputnik_edge.recognition.recognizer import Recognizer, iou
from sputnik_edge.tools.bench.backlight_results import BacklightCost, BacklightResult, ScoreCurve
from sputnik_edge.tools.bench.context import BenchContext, BenchError, progress
from sputnik_edge.tools.bench.stats import ratio, stats_ms
from sputnik_edge.tools.synthetic_backlight import backlit_scene
from sputnik_edge.vision.exposure import BacklightSettings, enhance, is_backlit
from sputnik_edge.vision.imageio import load_image
from sputnik_edge.vision.types import ImageArray

WEBCAM = "liveness/webcam_live.webm"
AUTO_BOXES = "video_faces_auto.csv"
THRESHOLDS = tuple(round(0.3 + 0.05 * i, 2) for i in range(14))  # 0.3 .. 0.95
_FLOOR = 0.3  # the lowest score collected


def _frames(path: Path, step: int) -> Iterator[tuple[int, ImageArray]]:
    cap = cv2.VideoCapture(str(path))
    i = 0
    try:
        while True:
            ok, img = cap.read()
            if not ok:
                return
            if i % step == 0:
                yield i, np.asarray(img, dtype=np.uint8)
            i += 1
    finally:
        cap.release()


def _synthetic(ctx: BenchContext, rec: Recognizer) -> list[ImageArray]:
    out = []
    with (ctx.faces_dir / "labels.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            photo = load_image(ctx.faces_dir / row["path"])
            faces = rec.detector.detect(photo)
            if len(faces) == 1:
                out.append(backlit_scene(photo, faces[0], "extreme").image)
    return out


def _cost(off: Recognizer, on: Recognizer, frames: list[ImageArray], repeats: int) -> BacklightCost:
    settings = on.backlight or BacklightSettings()
    t_off: list[float] = []
    t_on: list[float] = []
    backlit = second = faces_off = faces_on = 0
    for img in frames:
        on.analyze(img)  # warm this size
        for _ in range(repeats):
            t0 = time.perf_counter()
            a = off.analyze(img)
            t1 = time.perf_counter()
            b = on.analyze(img)
            t_on.append(time.perf_counter() - t1)
            t_off.append(t1 - t0)
        lit = is_backlit(img, settings)
        backlit += lit
        second += lit and not any(c.quality.ok for c in a)
        faces_off += sum(c.quality.ok for c in a)
        faces_on += sum(c.quality.ok for c in b)
    s_off, s_on = stats_ms(t_off), stats_ms(t_on)
    return BacklightCost(
        frames=len(frames),
        backlit_frames=backlit,
        second_pass_frames=second,
        off=s_off,
        on=s_on,
        ratio_on_over_off=ratio(s_on.median_ms or 0.0, s_off.median_ms or 0.0),
        faces_off=faces_off,
        faces_on=faces_on,
    )


def _erase_boxes(
    img: ImageArray, boxes: list[tuple[float, float, float, float]], grow: float = 1.6
) -> ImageArray:
    out = img.copy()
    h, w = img.shape[:2]
    for x1, y1, x2, y2 in boxes:
        cx, cy, hw, hh = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) * grow / 2, (y2 - y1) * grow / 2
        a, b, c, d = int(max(0, cx - hw)), int(max(0, cy - hh)), int(min(w, cx + hw)), int(min(h, cy + hh))
        if c > a and d > b:
            # A flat fill: a blurred face stays a face-shaped blob that the CLAHE copy brings back.
            out[b:d, a:c] = out[b:d, a:c].reshape(-1, out.shape[2]).mean(axis=0).astype(np.uint8)
    return out


def _auto_boxes(faces_dir: Path) -> dict[int, list[tuple[float, float, float, float]]]:
    """Face boxes another library (dlib) found in the dev clip: faces we did not pick ourselves."""
    out: dict[int, list[tuple[float, float, float, float]]] = {}
    path = faces_dir / AUTO_BOXES
    if not path.is_file():
        return out
    with path.open(newline="") as fh:
        for r in csv.DictReader(fh):
            box = (float(r["left"]), float(r["top"]), float(r["right"]), float(r["bottom"]))
            out.setdefault(int(r["frame"]), []).append(box)
    return out


def _scores(
    ctx: BenchContext, rec: Recognizer, webcam: Path, step: int
) -> tuple[list[float], list[float], list[float], int]:
    """(real-face scores, false scores on background, false scores on its CLAHE copy, frames)."""
    det = rec.detector
    auto = _auto_boxes(ctx.faces_dir)
    real: list[float] = []
    false: list[float] = []
    false_enh: list[float] = []
    n = 0
    for kind, path in (("webcam", webcam), ("dev", ctx.clip_path())):
        for i, img in _frames(path, step):
            found = det.detect(img, score_threshold=_FLOOR)
            if kind == "webcam" and found:
                real.append(found[0].score)  # he is the only person in the room
            elif kind == "dev":
                real += [d.score for d in found if any(iou(d.bbox, a) > 0.3 for a in auto.get(i, []))]
            # Erase every face found (twice: erasing can uncover a weaker one behind it).
            bg = _erase_boxes(img, [d.bbox for d in found])
            bg = _erase_boxes(bg, [d.bbox for d in det.detect(bg, score_threshold=_FLOOR)])
            false += [d.score for d in det.detect(bg, score_threshold=_FLOOR)]
            false_enh += [d.score for d in det.detect(enhance(bg), score_threshold=_FLOOR)]
            n += 1
    return real, false, false_enh, n


def bench_backlight(ctx: BenchContext) -> BacklightResult:
    webcam = ctx.faces_dir / WEBCAM
    if not webcam.is_file():
        raise BenchError(f"webcam clip not found: {webcam} (set --faces-dir or SPUTNIK_FACES_DIR)")
    base = ctx.recognizer()
    on = Recognizer(
        base.detector, base.embedder, base.limits, base.thresholds, base.gallery, BacklightSettings()
    )
    off = Recognizer(base.detector, base.embedder, base.limits, base.thresholds, base.gallery, None)
    step = 15 if ctx.quick else 3
    repeats = ctx.iterations(2, 1)
    sets = {
        "dev_clip": ctx.video_frames()[::step],
        "webcam_clip": [f for _, f in _frames(webcam, step)],
        "synthetic_extreme": _synthetic(ctx, base)[: 6 if ctx.quick else None],
    }
    cost = {}
    with progress(len(sets), "backlight cost", ctx.progress) as bar:
        for name, frames in sets.items():
            cost[name] = _cost(off, on, frames, repeats)
            bar.update(1)
    probe = sets["webcam_clip"][0]
    judge, lift = [], []
    for _ in range(ctx.iterations(200, 20)):
        t0 = time.perf_counter()
        is_backlit(probe)
        t1 = time.perf_counter()
        enhance(probe)
        lift.append(time.perf_counter() - t1)
        judge.append(t1 - t0)
    real, false, false_enh, n = _scores(ctx, base, webcam, step)
    r, f, fe = np.asarray(real), np.asarray(false), np.asarray(false_enh)
    per_1000 = 1000.0 / max(1, n)
    curve = [
        ScoreCurve(
            threshold=t,
            real_recall=round(float((r >= t).mean()) if r.size else 0.0, 4),
            false_per_1000_frames=round(float((f >= t).sum()) * per_1000, 1),
            false_enhanced_per_1000_frames=round(float((fe >= t).sum()) * per_1000, 1),
        )
        for t in THRESHOLDS
    ]
    cfg = ctx.settings.recognition
    return BacklightResult(
        cost=cost,
        is_backlit_ms=replace(stats_ms(judge)),
        enhance_ms=stats_ms(lift),
        real_faces=int(r.size),
        background_frames=n,
        real_score_percentiles={f"p{p}": round(float(np.percentile(r, p)), 3) for p in (1, 5, 50)}
        if r.size
        else {},
        max_false_score=round(float(max(f.max(initial=0), fe.max(initial=0))), 3)
        if (f.size or fe.size)
        else None,
        curve=curve,
        det_score_threshold=cfg.det_score_threshold,
        quality_min_det_score=cfg.quality_min_det_score,
    )
