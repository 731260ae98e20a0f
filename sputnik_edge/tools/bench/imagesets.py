"""``imagesets``: ours against the OpenCV Zoo reference (and ``face_recognition`` when importable)
per image and per face on two image sets, small and large photos, interleaved image by image.

Small: the calibration images of at most 250 px a side (``calib/``: dlib's "johns" and the
face-api.js sitcom stills, 150x150, one face each, LFW-class). On such photos the detector's
downscale saves nothing and the embedding dominates, so this is where a faster embedder shows.
Large: the dev photos (``labels.csv`` + ``multi_face.csv``, 320x240 to 1920x2333), the set of
the ``reference`` section.

Timed in blocks (each pipeline through the whole set in turn, the first one rotating per round):
each pipeline then runs in its own steady state, as on a device and as one process per pipeline
would. Ours and the reference are also timed interleaved image by image, where each runs with the
other's weights in the cache (on the small photos that cost ours about 12 % and the reference
about 1 %, measured); both are reported.
"""

from __future__ import annotations

import csv

import numpy as np

from sputnik_edge.tools.bench.accuracy import face_recognition_module
from sputnik_edge.tools.bench.context import BenchContext, BenchError, progress
from sputnik_edge.tools.bench.imagesets_results import (
    FaceRatio,
    ImageSet,
    ImageSetsResult,
    Interleaved,
    SetTime,
)
from sputnik_edge.tools.bench.reference import time_pipelines
from sputnik_edge.tools.bench.results import ReferenceImage
from sputnik_edge.tools.bench.stats import ratio
from sputnik_edge.tools.reference import ReferencePipeline
from sputnik_edge.vision.imageio import decode_image, load_image

SMALL_MAX_SIDE = 250


def small_images(ctx: BenchContext) -> list[tuple[str, np.ndarray]]:
    """(path under calib/, BGR) of every calibration image no larger than SMALL_MAX_SIDE."""
    root = ctx.faces_dir / "calib"
    labels = root / "labels.csv"
    if not labels.is_file():
        raise BenchError(f"{labels} not found (set --faces-dir or SPUTNIK_FACES_DIR)")
    with labels.open(newline="") as fh:
        paths = [row["path"] for row in csv.DictReader(fh)]
    out = []
    for rel in paths:
        image = load_image(root / rel)
        if max(image.shape[:2]) <= SMALL_MAX_SIDE:
            out.append((f"calib/{rel}", image))
    if not out:
        raise BenchError(f"no calibration image of at most {SMALL_MAX_SIDE} px in {root}")
    return out


def _sizes(images: list[tuple[str, np.ndarray]]) -> str:
    dims = sorted({(int(i.shape[1]), int(i.shape[0])) for _, i in images}, key=lambda d: d[0] * d[1])
    lo, hi = dims[0], dims[-1]
    return f"{lo[0]}x{lo[1]}" if lo == hi else f"{lo[0]}x{lo[1]} to {hi[0]}x{hi[1]}"


def _set_time(rows: list[ReferenceImage], pipeline: str) -> SetTime:
    total = sum(r.ms(pipeline) for r in rows)
    faces = sum(r.faces(pipeline) for r in rows)
    return SetTime(
        ms_per_image=round(total / len(rows), 2), ms_per_face=round(total / max(1, faces), 2), faces=faces
    )


def _ratio(other: SetTime, ours: SetTime) -> FaceRatio:
    return FaceRatio(
        per_image=ratio(other.ms_per_image, ours.ms_per_image),
        per_face=ratio(other.ms_per_face, ours.ms_per_face),
    )


def _interleaved(rows: list[ReferenceImage]) -> Interleaved:
    ours, zoo = _set_time(rows, "ours"), _set_time(rows, "opencv_zoo")
    return Interleaved(ours=ours, opencv_zoo=zoo, ratio_opencv_zoo=_ratio(zoo, ours))


def image_set(
    name: str,
    description: str,
    rows: list[ReferenceImage],
    images: int,
    sizes: str,
    rounds: int,
    fr: bool,
    interleaved: list[ReferenceImage] | None = None,
) -> ImageSet:
    ours, zoo = _set_time(rows, "ours"), _set_time(rows, "opencv_zoo")
    dlib = _set_time(rows, "face_recognition") if fr else None
    return ImageSet(
        name=name,
        description=description,
        images=images,
        sizes=sizes,
        rounds=rounds,
        ours=ours,
        opencv_zoo=zoo,
        face_recognition=dlib,
        ratio_opencv_zoo=_ratio(zoo, ours),
        ratio_face_recognition=_ratio(dlib, ours) if dlib is not None else None,
        interleaved=_interleaved(interleaved) if interleaved else None,
    )


def bench_imagesets(ctx: BenchContext) -> ImageSetsResult:
    rec = ctx.recognizer()
    try:
        ref = ReferencePipeline()
    except FileNotFoundError as exc:
        raise BenchError(str(exc)) from None
    fr, _error = face_recognition_module()
    small = small_images(ctx)
    large = [(n, decode_image(d, name=n).image) for n, d in ctx.photos()]
    if ctx.quick:
        small, large = small[:4], large[:2]
    rounds = ctx.iterations(3, 1)
    sets = []
    # blocks with every pipeline, then interleaved with ours and the reference
    steps = rounds * (len(small) + len(large)) * ((3 if fr is not None else 2) + 2)
    with progress(steps, "imagesets", ctx.progress) as bar:
        for name, description, images in (
            ("small", f"calibration images of at most {SMALL_MAX_SIDE} px a side (LFW-class)", small),
            ("large", "the dev photos (labels.csv + multi_face.csv)", large),
        ):
            rows, _crops = time_pipelines(rec, ref, fr, images, rounds, bar, order="blocks")
            mixed, _crops = time_pipelines(rec, ref, None, images, rounds, bar, order="interleaved")
            sets.append(
                image_set(name, description, rows, len(images), _sizes(images), rounds, fr is not None, mixed)
            )
    return ImageSetsResult(
        ratio_definition="reference_ms / ours_ms (above 1: ours is faster)",
        order="blocks",
        face_recognition_available=fr is not None,
        sets=sets,
    )
