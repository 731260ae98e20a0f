"""Verification accuracy of ours, the OpenCV Zoo reference and ``face_recognition`` on the
calibration pairs, each picking the photo's subject by the same rule (``eval.pick_subject``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from sputnik_edge.tools.bench.context import BenchContext, BenchError, progress
from sputnik_edge.tools.bench.results import PipelineAccuracy, ReferenceAccuracy
from sputnik_edge.tools.eval import Pair, best_threshold, evaluate_pairs, pick_subject, read_pairs
from sputnik_edge.tools.reference import ReferencePipeline
from sputnik_edge.vision.imageio import load_image
from sputnik_edge.vision.types import Detection


def face_recognition_module() -> tuple[Any, str | None]:
    """The ``face_recognition`` library (installed by hand, never a dependency), or why not."""
    from PIL import ImageFile

    # Its import sets Pillow's process-wide LOAD_TRUNCATED_IMAGES, which would make our image
    # validation (vision.imageio) accept truncated JPEGs in the same process: put it back.
    truncated = ImageFile.LOAD_TRUNCATED_IMAGES
    try:
        import face_recognition
    except Exception as exc:  # ImportError, or its model package missing (it exits / raises)
        return None, f"face_recognition not importable: {type(exc).__name__}: {exc}"
    except SystemExit as exc:
        return None, str(exc) or "face_recognition not importable"
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = truncated
    return face_recognition, None


def _detection(bbox: tuple[float, float, float, float], landmarks: np.ndarray, score: float) -> Detection:
    return Detection(bbox=bbox, landmarks=landmarks.astype(np.float32), score=score)


def _centre_crop(image: np.ndarray, size: int = 112) -> np.ndarray:
    import cv2

    h, w = image.shape[:2]
    side = min(h, w)
    y0, x0 = (h - side) // 2, (w - side) // 2
    return np.ascontiguousarray(
        cv2.resize(image[y0 : y0 + side, x0 : x0 + side], (size, size), interpolation=cv2.INTER_AREA)
    )


def _reference_embedding(ref: ReferencePipeline, image: np.ndarray) -> tuple[np.ndarray, bool]:
    """The reference pipeline's embedding of the photo's subject; (centre crop's, False) if none."""
    rows = ref.detect(image)
    if len(rows) == 0:
        feat = ref.feature(_centre_crop(image))
        return feat / np.linalg.norm(feat), False
    dets = [
        _detection(
            (float(r[0]), float(r[1]), float(r[0] + r[2]), float(r[1] + r[3])),
            r[4:14].reshape(5, 2),
            float(r[14]),
        )
        for r in rows
    ]
    subject = pick_subject(dets, image.shape)
    row = rows[dets.index(subject)] if subject is not None else rows[0]
    return np.asarray(ref.embed(image, row), dtype=np.float32), True


def _fr_embedding(fr: Any, rgb: np.ndarray) -> tuple[np.ndarray, bool]:
    locs = fr.face_locations(rgb)
    if not locs:
        h, w = rgb.shape[:2]
        enc = fr.face_encodings(rgb, [(0, w, h, 0)])
        return np.asarray(enc[0], dtype=np.float32), False
    dets = [
        _detection((float(left), float(top), float(right), float(bottom)), np.zeros((5, 2)), 1.0)
        for top, right, bottom, left in locs
    ]
    subject = pick_subject(dets, rgb.shape)
    loc = locs[dets.index(subject)] if subject is not None else locs[0]
    return np.asarray(fr.face_encodings(rgb, [loc])[0], dtype=np.float32), True


def calibration_pairs(ctx: BenchContext) -> list[Pair]:
    path = ctx.faces_dir / "calib" / "pairs.csv"
    if not path.is_file():
        raise BenchError(f"{path} not found (set --faces-dir or SPUTNIK_FACES_DIR)")
    pairs = read_pairs(path)
    if ctx.quick:  # small pre-cropped photos only: face_recognition's HOG takes seconds on big ones
        small = [p for p in pairs if p.path_a.startswith("dlib_johns/")]
        pairs = [p for p in small if p.same][:8] + [p for p in small if not p.same][:8]
    return pairs


def _best(scores: np.ndarray, labels: np.ndarray, distance: bool, misses: int) -> PipelineAccuracy:
    thr, acc = best_threshold(scores.astype(np.float32), labels)
    if not distance:
        return PipelineAccuracy(acc_best=round(acc, 5), threshold_best=round(thr, 4), no_detection=misses)
    # dlib's distance is smaller for more similar faces: scored negated, reported as a distance.
    return PipelineAccuracy(
        acc_best=round(acc, 5),
        threshold_best=round(-thr, 4),
        no_detection=misses,
        score="euclidean distance (accept below threshold)",
        acc_at_default=round(float(np.mean((-scores <= 0.6) == labels)), 5),
    )


def reference_accuracy(ctx: BenchContext, ref: ReferencePipeline, fr: Any) -> ReferenceAccuracy:
    """Best-threshold accuracy of each pipeline on ``calib/pairs.csv``."""
    root = ctx.faces_dir / "calib"
    pairs = calibration_pairs(ctx)
    ours = evaluate_pairs(ctx.recognizer(), pairs, root).summary
    paths = sorted({p for pair in pairs for p in (pair.path_a, pair.path_b)})
    labels = np.array([p.same for p in pairs], bool)
    zoo: dict[str, np.ndarray] = {}
    dlib: dict[str, np.ndarray] = {}
    misses = {"opencv_zoo": 0, "face_recognition": 0}
    with progress(len(paths), "accuracy", ctx.progress) as bar:
        for p in paths:
            image = load_image(root / p)
            zoo[p], found = _reference_embedding(ref, image)
            misses["opencv_zoo"] += int(not found)
            if fr is not None:
                dlib[p], found = _fr_embedding(fr, np.ascontiguousarray(image[:, :, ::-1]))
                misses["face_recognition"] += int(not found)
            bar.update(1)

    def scores(emb: dict[str, np.ndarray], distance: bool) -> np.ndarray:
        a = np.stack([emb[p.path_a] for p in pairs])
        b = np.stack([emb[p.path_b] for p in pairs])
        return -np.linalg.norm(a - b, axis=1) if distance else np.einsum("ij,ij->i", a, b)

    return ReferenceAccuracy(
        pairs=len(pairs),
        images=len(paths),
        ours=PipelineAccuracy(
            acc_best=ours["acc_best"],
            threshold_best=ours["threshold_best"],
            no_detection=ours["no_detection"],
        ),
        opencv_zoo=_best(scores(zoo, False), labels, False, misses["opencv_zoo"]),
        face_recognition=(
            _best(scores(dlib, True), labels, True, misses["face_recognition"]) if fr is not None else None
        ),
    )
