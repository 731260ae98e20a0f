"""``reference``: our detect + align + embed against the OpenCV Zoo reference pipeline (and
``face_recognition`` when importable) on the same images, in blocks (``time_pipelines``); the
embedder's overhead over a bare onnxruntime call; accuracy on the calib pairs."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from sputnik_edge.recognition.recognizer import Recognizer
from sputnik_edge.tools.bench.accuracy import face_recognition_module, reference_accuracy
from sputnik_edge.tools.bench.context import BenchContext, BenchError, progress
from sputnik_edge.tools.bench.results import (
    EmbedderOverhead,
    FaceRecognitionInfo,
    PipelineRatio,
    PipelineTime,
    ReferenceImage,
    ReferenceResult,
    ReferenceSummary,
)
from sputnik_edge.tools.bench.stats import ratio, stats_ms
from sputnik_edge.tools.reference import ReferencePipeline
from sputnik_edge.vision.imageio import decode_image
from sputnik_edge.vision.onnx import create_session

_BLANK_FACE = np.zeros((112, 112, 3), np.uint8)


def embedder_overhead(ctx: BenchContext, crops: list[np.ndarray]) -> dict[str, EmbedderOverhead]:
    """SFaceEmbedder.embed against a bare session.run on the same, already preprocessed batch."""
    emb = ctx.recognizer().embedder
    session = create_session(emb.model_path, ctx.settings.recognition.threads)
    inp, outp = session.get_inputs()[0].name, session.get_outputs()[0].name
    iters = ctx.iterations(60, 5)
    result: dict[str, EmbedderOverhead] = {}
    for batch in (1, 4):
        chosen = np.stack([crops[i % len(crops)] for i in range(batch)])
        blob = np.ascontiguousarray(chosen[..., ::-1].transpose(0, 3, 1, 2)).astype(np.float32)
        session.run([outp], {inp: blob})
        emb.embed(chosen)
        ours_t: list[float] = []
        bare_t: list[float] = []
        for _ in range(iters):  # interleaved so both see the same machine noise
            t0 = time.perf_counter()
            emb.embed(chosen)
            t1 = time.perf_counter()
            session.run([outp], {inp: blob})
            t2 = time.perf_counter()
            ours_t.append(t1 - t0)
            bare_t.append(t2 - t1)
        o, b = float(np.median(ours_t)), float(np.median(bare_t))
        result[f"batch{batch}"] = EmbedderOverhead(
            embed=stats_ms(ours_t),
            bare_session_run=stats_ms(bare_t),
            ratio=ratio(o, b),
            embed_ms_per_face=round(1000 * o / batch, 3),
        )
    return result


class _Timings:
    """Per image and pipeline: total and detection times of each round, faces found."""

    def __init__(self) -> None:
        self.total: dict[str, list[float]] = {}
        self.detect: dict[str, list[float]] = {}
        self.faces: dict[str, int] = {}

    def add(self, pipeline: str, t0: float, t1: float, t2: float, faces: int) -> None:
        self.total.setdefault(pipeline, []).append(t2 - t0)
        self.detect.setdefault(pipeline, []).append(t1 - t0)
        self.faces[pipeline] = faces

    def ms(self, pipeline: str) -> float:
        return round(1000 * float(np.median(self.total[pipeline])), 2)

    def detect_ms(self, pipeline: str) -> float:
        return round(1000 * float(np.median(self.detect[pipeline])), 2)


def _row(name: str, img: np.ndarray, t: _Timings, fr: bool) -> ReferenceImage:
    return ReferenceImage(
        image=name,
        width=int(img.shape[1]),
        height=int(img.shape[0]),
        ours_ms=t.ms("ours"),
        ours_detect_ms=t.detect_ms("ours"),
        ours_faces=t.faces["ours"],
        opencv_zoo_ms=t.ms("opencv_zoo"),
        opencv_zoo_detect_ms=t.detect_ms("opencv_zoo"),
        opencv_zoo_faces=t.faces["opencv_zoo"],
        face_recognition_ms=t.ms("face_recognition") if fr else None,
        face_recognition_detect_ms=t.detect_ms("face_recognition") if fr else None,
        face_recognition_faces=t.faces["face_recognition"] if fr else None,
        ratio_opencv_zoo=ratio(t.ms("opencv_zoo"), t.ms("ours")),
        ratio_face_recognition=ratio(t.ms("face_recognition"), t.ms("ours")) if fr else None,
    )


def summarize_rows(rows: list[ReferenceImage], pipelines: list[str]) -> ReferenceSummary:
    # Sums of the per-image medians (in ms, as rounded in the rows).
    totals = {p: sum(r.ms(p) for r in rows) for p in pipelines}
    faces = {p: sum(r.faces(p) for r in rows) for p in pipelines}
    times = {
        p: PipelineTime(
            ms_per_image=round(totals[p] / len(rows), 2),
            ms_per_face=round(totals[p] / max(1, faces[p]), 2),
            faces=faces[p],
        )
        for p in pipelines
    }

    def vs_ours(p: str) -> PipelineRatio:
        per_row = [r.ms(p) / r.ms("ours") for r in rows if r.ms("ours") > 0]
        return PipelineRatio(
            per_image_total=ratio(totals[p], totals["ours"]),
            median_of_ratios=round(float(np.median(per_row)), 3) if per_row else 0.0,
        )

    has_fr = "face_recognition" in pipelines
    return ReferenceSummary(
        ours=times["ours"],
        opencv_zoo=times["opencv_zoo"],
        face_recognition=times["face_recognition"] if has_fr else None,
        ratio_opencv_zoo=vs_ours("opencv_zoo"),
        ratio_face_recognition=vs_ours("face_recognition") if has_fr else None,
    )


ORDERS = ("interleaved", "blocks")


def time_pipelines(
    rec: Recognizer,
    ref: ReferencePipeline,
    fr: Any,
    images: list[tuple[str, np.ndarray]],
    rounds: int,
    bar: Any,
    order: str = "interleaved",
) -> tuple[list[ReferenceImage], list[np.ndarray]]:
    """Per-image rows of every pipeline on ``images`` over ``rounds`` rounds (``fr``: the
    face_recognition module or None); also the crops ours aligned in the first round.

    ``order`` "interleaved": image by image, every pipeline on one image before the next, so all
    see the same moment's machine noise, but each runs with the other's weights in the cache.
    "blocks": each pipeline through the whole set in turn, first pipeline rotating per round, so
    each runs in its own steady state, as on a device (and as one process per pipeline would).
    ``bar`` advances once per pipeline and image."""
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    # Warm every pipeline once so first-call allocations are not timed.
    warm = images[0][1]
    rec.embedder.embed(np.stack([rec.align(warm, d) for d in rec.detect(warm)] or [_BLANK_FACE]))
    for row in ref.detect(warm):
        ref.embed(warm, row)
    if fr is not None:
        fr.face_encodings(np.ascontiguousarray(warm[:, :, ::-1]))

    timings = {name: _Timings() for name, _ in images}
    crops: list[np.ndarray] = []

    def ours(name: str, img: np.ndarray, first_round: bool) -> None:
        # the recogniser's detect and align, one batched embed
        t0 = time.perf_counter()
        dets = rec.detect(img)
        t1 = time.perf_counter()
        aligned = [rec.align(img, d) for d in dets]
        if aligned:
            rec.embedder.embed(np.stack(aligned))
        timings[name].add("ours", t0, t1, time.perf_counter(), len(dets))
        if first_round:
            crops.extend(aligned)

    def zoo(name: str, img: np.ndarray, first_round: bool) -> None:
        # FaceDetectorYN + alignCrop + FaceRecognizerSF features, one face at a time
        t0 = time.perf_counter()
        rows = ref.detect(img)
        t1 = time.perf_counter()
        for row in rows:
            ref.embed(img, row)
        timings[name].add("opencv_zoo", t0, t1, time.perf_counter(), len(rows))

    def dlib(name: str, img: np.ndarray, first_round: bool) -> None:
        rgb = np.ascontiguousarray(img[:, :, ::-1])
        t0 = time.perf_counter()
        locs = fr.face_locations(rgb)
        t1 = time.perf_counter()
        fr.face_encodings(rgb, locs)
        timings[name].add("face_recognition", t0, t1, time.perf_counter(), len(locs))

    pipelines = [ours, zoo] + ([dlib] if fr is not None else [])
    for r in range(rounds):
        if order == "interleaved":
            for name, img in images:
                for run in pipelines:
                    run(name, img, r == 0)
                    bar.update(1)
        else:
            k = r % len(pipelines)
            for run in pipelines[k:] + pipelines[:k]:
                for name, img in images:
                    run(name, img, r == 0)
                    bar.update(1)
    return [_row(name, img, timings[name], fr is not None) for name, img in images], crops


def bench_reference(ctx: BenchContext) -> ReferenceResult:
    rec = ctx.recognizer()
    try:
        ref = ReferencePipeline()
    except FileNotFoundError as exc:
        raise BenchError(str(exc)) from None
    fr, fr_error = face_recognition_module()
    photos = ctx.photos() if not ctx.quick else ctx.photos()[:2]
    images = [(name, decode_image(data, name=name).image) for name, data in photos]
    rounds = ctx.iterations(3, 1)

    with progress(rounds * len(images) * (3 if fr is not None else 2), "reference", ctx.progress) as bar:
        rows_out, crops = time_pipelines(rec, ref, fr, images, rounds, bar, order="blocks")
    pipelines = ["ours", "opencv_zoo"] + (["face_recognition"] if fr is not None else [])
    return ReferenceResult(
        images=len(images),
        rounds=rounds,
        ratio_definition="reference_ms / ours_ms (above 1: ours is faster)",
        order="blocks",
        summary=summarize_rows(rows_out, pipelines),
        per_image=rows_out,
        face_recognition=FaceRecognitionInfo(
            available=fr is not None,
            error=fr_error,
            model="HOG detector (upsample 1), 5-point landmarks, dlib ResNet",
        ),
        embedder_overhead=embedder_overhead(ctx, crops or [_BLANK_FACE]),
        accuracy=reference_accuracy(ctx, ref, fr),
    )
