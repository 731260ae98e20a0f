"""``sputnik-edge bench``: size a device with the real components on real frames.

Sections (select with ``--only``):

- ``stages``: per-stage times (decode, detect, align, quality, embed, match, policy, outbox commit) on
  frames of the dev video upscaled to 640x360, 1280x720 and 1920x1080 and on the dev photos.
- ``reference``: our detect+align+embed against the OpenCV Zoo reference pipeline (and the
  ``face_recognition`` library when importable) on the same images, interleaved; the embedder's
  overhead over a bare onnxruntime call; verification accuracy of each on ``calib/pairs.csv``.
- ``stream``: an in-process EdgeApp on the looped clip (file camera), at the configured fps limit
  and with every frame processed: throughput, latency, CPU, RSS.
- ``match``: 1:N identification against synthetic galleries of 1k, 10k and 100k templates.
- ``memory``: ``sputnik-edge run`` as a subprocess with a 10k gallery and a 1080p camera: cold
  start to ``ready`` and peak RSS.
- ``outbox``: durable local commits per second.
- ``central``: push and pull rates against PostgreSQL (only with a database URL).

Timings are wall-clock ``perf_counter`` on a possibly shared machine: compare ratios measured in
one run, not absolute numbers across runs.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import structlog

from sputnik_edge.tools.paths import default_faces_dir

if TYPE_CHECKING:
    from sputnik_edge.attendance.types import AttendanceEvent
    from sputnik_edge.cli import Ctx
    from sputnik_edge.config import Settings
    from sputnik_edge.recognition.gallery import Gallery
    from sputnik_edge.recognition.recognizer import Recognizer
    from sputnik_edge.vision.types import ImageArray

log = structlog.get_logger(__name__)

SECTIONS = ("stages", "reference", "stream", "match", "memory", "outbox", "central", "detectors")
RESOLUTIONS = ((640, 360), (1280, 720), (1920, 1080))
CLIP = "video/short_hamilton_clip.mp4"
ENROL_PHOTO = {"lin_manuel_miranda": "images/lin_manuel_miranda/lin-manuel-miranda.png"}
STAGE_NAMES = ("decode", "detect", "align", "quality", "embed", "match", "policy", "outbox", "total")
STAGE_UNIT = {
    "decode": "frame",
    "detect": "frame",
    "align": "face",
    "quality": "face",
    "embed": "frame with faces",
    "match": "frame with faces",
    "policy": "face",
    "outbox": "event",
    "total": "frame",
}

AddCommand = Callable[[str, Callable[["Ctx"], int], str], argparse.ArgumentParser]


class BenchError(RuntimeError):
    """A section cannot run here (missing data, optional library, service)."""


# ---- small helpers ---------------------------------------------------------------------------------


def stats_ms(samples_s: Sequence[float]) -> dict[str, float | int]:
    """median / p95 / mean / min / max in milliseconds of samples given in seconds."""
    if not samples_s:
        return {"n": 0}
    a = np.asarray(samples_s, dtype=np.float64) * 1000.0
    return {
        "n": int(a.size),
        "median_ms": round(float(np.median(a)), 3),
        "p95_ms": round(float(np.percentile(a, 95)), 3),
        "p99_ms": round(float(np.percentile(a, 99)), 3),
        "mean_ms": round(float(a.mean()), 3),
        "min_ms": round(float(a.min()), 3),
        "max_ms": round(float(a.max()), 3),
    }


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 3) if b > 0 else None


def _progress(total: int, desc: str, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, file=sys.stderr, disable=not enabled, leave=False, unit="it")


def _fs_type(path: Path) -> str:
    """Filesystem type of ``path`` from /proc/mounts (fsync costs depend on it)."""
    best, fstype = "", "unknown"
    try:
        target = str(path.resolve())
        with open("/proc/mounts") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) < 3 or len(parts[1]) <= len(best):
                    continue
                if target == parts[1] or target.startswith(parts[1].rstrip("/") + "/"):
                    best, fstype = parts[1], parts[2]
    except OSError:
        pass
    return fstype


def machine_info() -> dict[str, Any]:
    import cv2
    import onnxruntime as ort
    import psutil

    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    env_keys = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENCV_FOR_THREADS_NUM")
    load = os.getloadavg()
    return {
        "cpu_model": cpu,
        "arch": platform.machine(),
        "logical_cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "ram_mb": psutil.virtual_memory().total // (1024 * 1024),
        "os": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "onnxruntime": ort.__version__,
        "opencv": cv2.__version__,
        "opencv_threads": cv2.getNumThreads(),
        "env": {k: os.environ.get(k) for k in env_keys},
        "loadavg_start": [round(x, 2) for x in load],
    }


# ---- shared inputs ---------------------------------------------------------------------------------


@dataclass
class BenchContext:
    """Lazily loaded inputs shared by the sections."""

    settings: Settings
    faces_dir: Path
    quick: bool
    progress: bool
    seconds: float | None = None
    database_url: str = ""
    _recognizer: Recognizer | None = None
    _frames: list[ImageArray] | None = None
    _photos: list[tuple[str, bytes]] | None = None
    _enrol: dict[str, tuple[str, np.ndarray]] | None = None

    def recognizer(self) -> Recognizer:
        if self._recognizer is None:
            from sputnik_edge.recognition.recognizer import Recognizer

            self._recognizer = Recognizer.from_config(self.settings.recognition)
        return self._recognizer

    def clip_path(self) -> Path:
        path = self.faces_dir / CLIP
        if not path.is_file():
            raise BenchError(f"dev video not found: {path} (set --faces-dir or SPUTNIK_FACES_DIR)")
        return path

    def video_frames(self) -> list[ImageArray]:
        """Every frame of the dev clip (640x360 BGR)."""
        if self._frames is None:
            import cv2

            cap = cv2.VideoCapture(str(self.clip_path()))
            frames: list[ImageArray] = []
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                frames.append(np.asarray(frame, dtype=np.uint8))
            cap.release()
            if not frames:
                raise BenchError(f"cannot decode {self.clip_path()}")
            self._frames = frames
        return self._frames

    def photos(self) -> list[tuple[str, bytes]]:
        """(relative path, file bytes) of the dev photos: labels.csv, then multi_face.csv."""
        if self._photos is None:
            out: list[tuple[str, bytes]] = []
            for name in ("labels.csv", "multi_face.csv"):
                path = self.faces_dir / name
                if not path.is_file():
                    raise BenchError(f"{path} not found (set --faces-dir or SPUTNIK_FACES_DIR)")
                with path.open(newline="") as fh:
                    for row in csv.DictReader(fh):
                        out.append((row["path"], (self.faces_dir / row["path"]).read_bytes()))
            self._photos = out
        return self._photos

    def enrolment(self) -> dict[str, tuple[str, np.ndarray]]:
        """employee id -> (name, template) for each dev identity, from one photo each."""
        if self._enrol is None:
            from sputnik_edge.recognition.recognizer import EnrollmentError
            from sputnik_edge.vision.imageio import load_image

            rec = self.recognizer()
            with (self.faces_dir / "labels.csv").open(newline="") as fh:
                rows = list(csv.DictReader(fh))
            by_id: dict[str, list[str]] = {}
            for row in rows:
                by_id.setdefault(row["identity"], []).append(row["path"])
            enrol: dict[str, tuple[str, np.ndarray]] = {}
            for ident, paths in by_id.items():
                preferred = ENROL_PHOTO.get(ident)
                ordered = ([preferred] if preferred else []) + [p for p in paths if p != preferred]
                for rel in ordered:
                    try:
                        vec, _ = rec.enrollment_template(load_image(self.faces_dir / rel), rel)
                    except EnrollmentError:
                        continue
                    enrol[ident] = (ident.replace("_", " ").title(), vec)
                    break
            self._enrol = enrol
        return self._enrol

    def dev_gallery(self) -> Gallery:
        from sputnik_edge.recognition.gallery import Gallery

        enrol = self.enrolment()
        ids = list(enrol)
        return Gallery.build(ids, np.stack([enrol[i][1] for i in ids]), {i: enrol[i][0] for i in ids})

    def enrol_into(self, store: Any, model_id: str) -> None:
        for ident, (name, vec) in self.enrolment().items():
            store.enroll(ident, name, None, model_id, vec[None], [1.0])


def _iterations(ctx: BenchContext, full: int, quick: int) -> int:
    return quick if ctx.quick else full


# ---- 1. stages -------------------------------------------------------------------------------------


def bench_stages(ctx: BenchContext) -> dict[str, Any]:
    """Per-stage times of the recognise -> policy -> outbox path, frame by frame."""
    import cv2

    from sputnik_edge.attendance.policy import AttendancePolicy, CameraInfo, PolicyConfig
    from sputnik_edge.attendance.tracker import Track
    from sputnik_edge.store.local import LocalStore
    from sputnik_edge.vision.align import align_face
    from sputnik_edge.vision.imageio import decode_image
    from sputnik_edge.vision.quality import assess

    rec = ctx.recognizer()
    rec.set_gallery(ctx.dev_gallery())
    frames = ctx.video_frames()
    n_frames = _iterations(ctx, 30, 3)
    picks = np.linspace(0, len(frames) - 1, n_frames).round().astype(int)
    groups: list[tuple[str, list[tuple[str, bytes]]]] = []
    for w, h in RESOLUTIONS:
        items = []
        for i in picks:
            img = cv2.resize(frames[int(i)], (w, h), interpolation=cv2.INTER_LINEAR)
            ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
            if not ok:
                raise BenchError("JPEG encoding failed")
            items.append((f"frame{int(i)}", buf.tobytes()))
        groups.append((f"{w}x{h}", items))
    photos = ctx.photos() if not ctx.quick else ctx.photos()[:3]
    groups.append(("photos", photos))
    repeats = _iterations(ctx, 2, 1)

    policy = AttendancePolicy(PolicyConfig(min_frames=1, cooldown_s=0), ctx.settings.device.id)
    camera = CameraInfo("bench", "in")
    tmp = Path(tempfile.mkdtemp(prefix="sputnik-bench-stages-"))
    store = LocalStore(tmp / "edge.db", device_id=ctx.settings.device.id)
    out: dict[str, Any] = {
        "resolutions": {},
        "frames_per_resolution": int(n_frames),
        "repeats": repeats,
        "gallery_employees": rec.gallery.n_employees,
    }
    try:
        total_steps = sum(len(items) for _, items in groups) * repeats
        with _progress(total_steps, "stages", ctx.progress) as bar:
            for label, items in groups:
                times: dict[str, list[float]] = {k: [] for k in STAGE_NAMES}
                faces_seen = events = 0
                for _ in range(repeats):
                    for _name, data in items:
                        t0 = time.perf_counter()
                        img = decode_image(data, name=_name).image
                        t1 = time.perf_counter()
                        dets = rec.detector.detect(img)
                        t2 = time.perf_counter()
                        aligned = []
                        for d in dets:
                            a0 = time.perf_counter()
                            aligned.append(align_face(img, d.landmarks))
                            times["align"].append(time.perf_counter() - a0)
                        quals = []
                        for d, a in zip(dets, aligned, strict=True):
                            q0 = time.perf_counter()
                            quals.append(assess(d, a, img.shape, rec.limits))
                            times["quality"].append(time.perf_counter() - q0)
                        good = [a for a, q in zip(aligned, quals, strict=True) if q.ok]
                        faces_seen += len(dets)
                        if good:
                            e0 = time.perf_counter()
                            emb = rec.embedder.embed(np.stack(good))
                            e1 = time.perf_counter()
                            matches = rec.gallery.match(emb, rec.thresholds)
                            e2 = time.perf_counter()
                            times["embed"].append(e1 - e0)
                            times["match"].append(e2 - e1)
                            wall = datetime.now(UTC)
                            for k, m in enumerate(matches):
                                p0 = time.perf_counter()
                                now = time.monotonic()
                                track = Track(k + 1, dets[0].bbox, first_seen=now, last_seen=now)
                                ev = policy.observe(track, m, camera, wall, min_frames=1)
                                if ev is None and not track.decided:
                                    ev = policy.track_ended(track, camera, wall, min_frames=1)
                                p1 = time.perf_counter()
                                times["policy"].append(p1 - p0)
                                if ev is not None:
                                    store.record_event(ev)
                                    times["outbox"].append(time.perf_counter() - p1)
                                    events += 1
                        times["decode"].append(t1 - t0)
                        times["detect"].append(t2 - t1)
                        times["total"].append(time.perf_counter() - t0)
                        bar.update(1)
                out["resolutions"][label] = {
                    "images": len(items),
                    "faces_per_frame": round(faces_seen / max(1, repeats * len(items)), 2),
                    "events": events,
                    "stages": {k: {"per": STAGE_UNIT[k], **stats_ms(v)} for k, v in times.items()},
                }
    finally:
        store.close()
        shutil.rmtree(tmp, ignore_errors=True)
    out["detect_max_side"] = ctx.settings.recognition.detect_max_side
    return out


# ---- 2. reference ----------------------------------------------------------------------------------


def _face_recognition_module() -> Any:
    try:
        import face_recognition
    except Exception as exc:  # ImportError, or its model package missing (it exits / raises)
        raise BenchError(f"face_recognition not importable: {type(exc).__name__}: {exc}") from None
    return face_recognition


def _fr_available() -> tuple[Any, str | None]:
    try:
        return _face_recognition_module(), None
    except (BenchError, SystemExit) as exc:
        return None, str(exc) or "face_recognition not importable"


def _bbox_detection(bbox: tuple[float, float, float, float], landmarks: np.ndarray, score: float) -> Any:
    from sputnik_edge.vision.types import Detection

    return Detection(bbox=bbox, landmarks=landmarks.astype(np.float32), score=score)


def _centre_crop(image: np.ndarray, size: int = 112) -> np.ndarray:
    import cv2

    h, w = image.shape[:2]
    side = min(h, w)
    y0, x0 = (h - side) // 2, (w - side) // 2
    return np.ascontiguousarray(
        cv2.resize(image[y0 : y0 + side, x0 : x0 + side], (size, size), interpolation=cv2.INTER_AREA)
    )


def _ref_verification_embedding(ref: Any, image: np.ndarray) -> tuple[np.ndarray, bool]:
    """The reference pipeline's embedding of a photo's subject (same subject rule as ours)."""
    from sputnik_edge.tools.eval import pick_subject

    rows = ref.detect(image)
    if len(rows) == 0:
        feat = ref.feature(_centre_crop(image))
        return feat / np.linalg.norm(feat), False
    dets = [
        _bbox_detection(
            (float(r[0]), float(r[1]), float(r[0] + r[2]), float(r[1] + r[3])),
            r[4:14].reshape(5, 2),
            float(r[14]),
        )
        for r in rows
    ]
    subject = pick_subject(dets, image.shape)
    row = rows[dets.index(subject)]
    return np.asarray(ref.embed(image, row), dtype=np.float32), True


def _fr_verification_embedding(fr: Any, rgb: np.ndarray) -> tuple[np.ndarray, bool]:
    from sputnik_edge.tools.eval import pick_subject

    locs = fr.face_locations(rgb)
    if not locs:
        h, w = rgb.shape[:2]
        enc = fr.face_encodings(rgb, [(0, w, h, 0)])
        return np.asarray(enc[0], dtype=np.float32), False
    dets = [
        _bbox_detection((float(left), float(top), float(right), float(bottom)), np.zeros((5, 2)), 1.0)
        for top, right, bottom, left in locs
    ]
    subject = pick_subject(dets, rgb.shape)
    loc = locs[dets.index(subject)]
    return np.asarray(fr.face_encodings(rgb, [loc])[0], dtype=np.float32), True


def _accuracy(ctx: BenchContext, ref: Any, fr: Any) -> dict[str, Any]:
    """Best-threshold accuracy of ours, the reference and face_recognition on calib/pairs.csv."""
    from sputnik_edge.tools.eval import best_threshold, evaluate_pairs, read_pairs
    from sputnik_edge.vision.imageio import load_image

    root = ctx.faces_dir / "calib"
    pairs = read_pairs(root / "pairs.csv")
    if ctx.quick:  # small pre-cropped photos only: face_recognition's HOG takes seconds on big ones
        small = [p for p in pairs if p.path_a.startswith("dlib_johns/")]
        pairs = [p for p in small if p.same][:8] + [p for p in small if not p.same][:8]
    rec = ctx.recognizer()
    ours = evaluate_pairs(rec, pairs, root)
    paths = sorted({p for pair in pairs for p in (pair.path_a, pair.path_b)})
    labels = np.array([p.same for p in pairs], bool)
    pipelines: dict[str, dict[str, np.ndarray]] = {"opencv_zoo": {}}
    if fr is not None:
        pipelines["face_recognition"] = {}
    misses = dict.fromkeys(pipelines, 0)
    with _progress(len(paths), "accuracy", ctx.progress) as bar:
        for p in paths:
            image = load_image(root / p)
            vec, found = _ref_verification_embedding(ref, image)
            pipelines["opencv_zoo"][p] = vec
            misses["opencv_zoo"] += int(not found)
            if fr is not None:
                vec, found = _fr_verification_embedding(fr, np.ascontiguousarray(image[:, :, ::-1]))
                pipelines["face_recognition"][p] = vec
                misses["face_recognition"] += int(not found)
            bar.update(1)
    result: dict[str, Any] = {
        "pairs": len(pairs),
        "images": len(paths),
        "ours": {
            "acc_best": ours.summary["acc_best"],
            "threshold_best": ours.summary["threshold_best"],
            "no_detection": ours.summary["no_detection"],
        },
    }
    for name, emb in pipelines.items():
        a = np.stack([emb[p.path_a] for p in pairs])
        b = np.stack([emb[p.path_b] for p in pairs])
        # dlib's distance is smaller for more similar faces; negate it into a score.
        scores = -np.linalg.norm(a - b, axis=1) if name == "face_recognition" else np.einsum("ij,ij->i", a, b)
        thr, acc = best_threshold(scores.astype(np.float32), labels)
        entry: dict[str, Any] = {
            "acc_best": round(acc, 5),
            "threshold_best": round(thr, 4),
            "no_detection": misses[name],
        }
        if name == "face_recognition":
            entry["threshold_best"] = round(-thr, 4)
            entry["score"] = "euclidean distance (accept below threshold)"
            entry["acc_at_default_0.6"] = round(float(np.mean((-scores <= 0.6) == labels)), 5)
        result[name] = entry
    return result


def _embedder_overhead(ctx: BenchContext, crops: list[np.ndarray]) -> dict[str, Any]:
    """SFaceEmbedder.embed against a bare session.run on the same, already preprocessed batch."""
    from sputnik_edge.vision.onnx import create_session

    emb = ctx.recognizer().embedder
    session = create_session(emb.model_path, ctx.settings.recognition.threads)
    inp, outp = session.get_inputs()[0].name, session.get_outputs()[0].name
    iters = _iterations(ctx, 60, 5)
    result: dict[str, Any] = {}
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
        result[f"batch{batch}"] = {
            "embed": stats_ms(ours_t),
            "bare_session_run": stats_ms(bare_t),
            "ratio": _ratio(o, b),
            "embed_ms_per_face": round(1000 * o / batch, 3),
        }
    return result


def bench_reference(ctx: BenchContext) -> dict[str, Any]:
    from sputnik_edge.tools.reference import ReferencePipeline
    from sputnik_edge.vision.align import align_face
    from sputnik_edge.vision.imageio import decode_image

    rec = ctx.recognizer()
    try:
        ref = ReferencePipeline()
    except FileNotFoundError as exc:
        raise BenchError(str(exc)) from None
    fr, fr_error = _fr_available()
    photos = ctx.photos() if not ctx.quick else ctx.photos()[:2]
    images = [(name, decode_image(data, name=name).image) for name, data in photos]
    rounds = _iterations(ctx, 3, 1)

    # Warm every pipeline once so first-call allocations are not timed.
    warm = images[0][1]
    rec.embedder.embed(
        np.stack(
            [align_face(warm, d.landmarks) for d in rec.detector.detect(warm)]
            or [np.zeros((112, 112, 3), np.uint8)]
        )
    )
    for row in ref.detect(warm):
        ref.embed(warm, row)
    if fr is not None:
        fr.face_encodings(np.ascontiguousarray(warm[:, :, ::-1]))

    per_image: dict[str, dict[str, Any]] = {
        name: {
            "width": int(img.shape[1]),
            "height": int(img.shape[0]),
            "ours": [],
            "ours_detect": [],
            "opencv_zoo": [],
            "opencv_zoo_detect": [],
            "face_recognition": [],
            "face_recognition_detect": [],
        }
        for name, img in images
    }
    faces: dict[str, dict[str, int]] = {name: {} for name, _ in images}
    crops: list[np.ndarray] = []
    with _progress(rounds * len(images), "reference", ctx.progress) as bar:
        for r in range(rounds):
            for name, img in images:
                rgb = np.ascontiguousarray(img[:, :, ::-1])
                slot = per_image[name]
                # ours: detect + align + one batched embed
                t0 = time.perf_counter()
                dets = rec.detector.detect(img)
                t1 = time.perf_counter()
                aligned = [align_face(img, d.landmarks) for d in dets]
                if aligned:
                    rec.embedder.embed(np.stack(aligned))
                t2 = time.perf_counter()
                slot["ours"].append(t2 - t0)
                slot["ours_detect"].append(t1 - t0)
                faces[name]["ours"] = len(dets)
                if r == 0:
                    crops.extend(aligned)
                # OpenCV Zoo: FaceDetectorYN + alignCrop + FaceRecognizerSF features, one face at a time
                t0 = time.perf_counter()
                rows = ref.detect(img)
                t1 = time.perf_counter()
                for row in rows:
                    ref.embed(img, row)
                t2 = time.perf_counter()
                slot["opencv_zoo"].append(t2 - t0)
                slot["opencv_zoo_detect"].append(t1 - t0)
                faces[name]["opencv_zoo"] = len(rows)
                if fr is not None:
                    t0 = time.perf_counter()
                    locs = fr.face_locations(rgb)
                    t1 = time.perf_counter()
                    fr.face_encodings(rgb, locs)
                    t2 = time.perf_counter()
                    slot["face_recognition"].append(t2 - t0)
                    slot["face_recognition_detect"].append(t1 - t0)
                    faces[name]["face_recognition"] = len(locs)
                bar.update(1)

    pipelines = ["ours", "opencv_zoo"] + (["face_recognition"] if fr is not None else [])
    table = []
    totals = dict.fromkeys(pipelines, 0.0)
    face_totals = dict.fromkeys(pipelines, 0)
    for name, _ in images:
        slot = per_image[name]
        line: dict[str, Any] = {"image": name, "width": slot["width"], "height": slot["height"]}
        for p in pipelines:
            med = float(np.median(slot[p]))
            totals[p] += med
            n_faces = faces[name].get(p, 0)
            face_totals[p] += n_faces
            line[f"{p}_ms"] = round(1000 * med, 2)
            line[f"{p}_detect_ms"] = round(1000 * float(np.median(slot[f"{p}_detect"])), 2)
            line[f"{p}_faces"] = n_faces
        line["ratio_opencv_zoo"] = _ratio(line["opencv_zoo_ms"], line["ours_ms"])
        if fr is not None:
            line["ratio_face_recognition"] = _ratio(line["face_recognition_ms"], line["ours_ms"])
        table.append(line)
    summary: dict[str, Any] = {}
    for p in pipelines:
        summary[p] = {
            "ms_per_image": round(1000 * totals[p] / len(images), 2),
            "ms_per_face": round(1000 * totals[p] / max(1, face_totals[p]), 2),
            "faces": face_totals[p],
        }
    for p in pipelines[1:]:
        summary[f"ratio_{p}"] = {
            "per_image_total": _ratio(totals[p], totals["ours"]),
            "median_of_ratios": round(float(np.median([r[f"ratio_{p}"] for r in table])), 3),
        }
    result: dict[str, Any] = {
        "images": len(images),
        "rounds": rounds,
        "ratio_definition": "reference_ms / ours_ms (above 1: ours is faster)",
        "summary": summary,
        "per_image": table,
        "face_recognition": {
            "available": fr is not None,
            "error": fr_error,
            "model": "HOG detector (upsample 1), 5-point landmarks, dlib ResNet",
        },
        "embedder_overhead": _embedder_overhead(ctx, crops or [np.zeros((112, 112, 3), np.uint8)]),
    }
    result["accuracy"] = _accuracy(ctx, ref, fr)
    return result


# ---- 3. stream -------------------------------------------------------------------------------------


class _RssSampler(threading.Thread):
    """Peak RSS of a process, sampled every ``period`` seconds."""

    def __init__(self, pid: int | None = None, period: float = 0.2) -> None:
        super().__init__(name="bench-rss", daemon=True)
        import psutil

        self.proc = psutil.Process(pid)
        self.period = period
        self.peak = self.proc.memory_info().rss
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.wait(self.period):
            with contextlib.suppress(Exception):
                self.peak = max(self.peak, self.proc.memory_info().rss)

    def stop(self) -> int:
        self.stop_event.set()
        self.join(timeout=2)
        with contextlib.suppress(Exception):
            self.peak = max(self.peak, self.proc.memory_info().rss)
        return self.peak


def _timed_engine_class() -> type:
    from sputnik_edge.pipeline.engine import AttendanceEngine, FrameOutcome

    class TimedEngine(AttendanceEngine):
        """The real engine, recording per-frame and per-event latency from frame capture."""

        frame_latency: list[float]
        busy: list[float]
        event_latency: list[float]
        kinds: list[str]
        recording = False
        _frame_mono: float | None = None

        def process_frame(
            self, camera: Any, tracker: Any, image: Any, wall: Any, mono: float, trace_id: str | None = None
        ) -> FrameOutcome:
            self._frame_mono = mono
            start = time.monotonic()
            try:
                out = super().process_frame(camera, tracker, image, wall, mono, trace_id)
            finally:
                self._frame_mono = None
            if self.recording:
                end = time.monotonic()
                self.frame_latency.append(end - mono)
                self.busy.append(end - start)
            return out

        def commit(self, ev: AttendanceEvent, snapshot: Any) -> AttendanceEvent:
            stored = super().commit(ev, snapshot)
            if self.recording:
                self.kinds.append(f"{ev.kind}:{ev.employee_id or '-'}")
                if self._frame_mono is not None:
                    self.event_latency.append(time.monotonic() - self._frame_mono)
            return stored

    return TimedEngine


def _bench_settings(ctx: BenchContext, tmp: Path, source: Path, fps_limit: float, **http: Any) -> Settings:
    from sputnik_edge.config import (
        AttendanceSection,
        CameraSection,
        CentralSection,
        HttpSection,
        StorageSection,
    )

    return ctx.settings.model_copy(
        update={
            "cameras": [
                CameraSection(id="bench", source=str(source), direction="in", fps_limit=fps_limit, loop=True)
            ],
            "storage": StorageSection(database=tmp / "edge.db", snapshots_dir=tmp / "snapshots"),
            # Many events instead of one check-in per 5 minutes: no cooldown, tracks end quickly.
            "attendance": AttendanceSection(
                cooldown_s=0, track_max_age_s=0.3, min_frames=ctx.settings.attendance.min_frames
            ),
            "central": CentralSection(),
            "http": HttpSection(**http) if http else HttpSection(enabled=False),
        }
    )


def _configured_fps_limit(ctx: BenchContext) -> float:
    cams = ctx.settings.cameras
    return cams[0].fps_limit if cams else 10.0


def _run_stream(ctx: BenchContext, fps_limit: float, seconds: float) -> dict[str, Any]:
    import psutil

    from sputnik_edge.daemon.app import EdgeApp

    tmp = Path(tempfile.mkdtemp(prefix="sputnik-bench-stream-"))
    try:
        settings = _bench_settings(ctx, tmp, ctx.clip_path(), fps_limit)
        from sputnik_edge.store.local import LocalStore

        seed = LocalStore(settings.storage.database, device_id=settings.device.id)
        ctx.enrol_into(seed, ctx.recognizer().model_id)
        seed.close()
        app = EdgeApp(settings)
        engine_cls = _timed_engine_class()
        engine = engine_cls(app.recognizer, app.policy, app.store, app.engine.snapshots, app.metrics)
        engine.frame_latency, engine.busy, engine.event_latency, engine.kinds = [], [], [], []
        app.engine = engine
        proc = psutil.Process()
        app.start()
        try:
            deadline = time.monotonic() + 30
            worker = app.workers["bench"]
            while worker.frames == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            capture = app.captures["bench"]
            st0 = capture.status()
            frames0 = worker.frames
            sampler = _RssSampler()
            sampler.start()
            cpu0 = proc.cpu_times()
            t0 = time.monotonic()
            engine.recording = True
            with _progress(int(seconds), f"stream fps_limit={fps_limit:g}", ctx.progress) as bar:
                end = t0 + seconds
                while (now := time.monotonic()) < end:
                    time.sleep(min(1.0, end - now))
                    bar.update(1)
            engine.recording = False
            wall = time.monotonic() - t0
            cpu1 = proc.cpu_times()
            st1 = capture.status()
            frames1 = worker.frames
            peak = sampler.stop()
        finally:
            app.stop()
        source_fps = _clip_fps(ctx.clip_path())
        processed = frames1 - frames0
        read = st1.frames_read - st0.frames_read
        target_fps = min(fps_limit, source_fps) if fps_limit > 0 else source_fps
        processed_fps = processed / wall
        cpu_s = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
        kinds: dict[str, int] = {}
        for k in engine.kinds:
            kinds[k] = kinds.get(k, 0) + 1
        return {
            "fps_limit": fps_limit,
            "seconds": round(wall, 2),
            "source_fps": round(source_fps, 2),
            "target_fps": round(target_fps, 2),
            "frames_read": read,
            "frames_processed": processed,
            "frames_skipped_by_limit": st1.frames_skipped - st0.frames_skipped,
            "frames_dropped": st1.frames_dropped - st0.frames_dropped,
            "read_fps": round(read / wall, 2),
            "processed_fps": round(processed_fps, 2),
            "realtime_factor": round(processed_fps / target_fps, 3),
            "read_realtime_factor": round(read / wall / source_fps, 3),
            "frame_latency": stats_ms(engine.frame_latency),
            "processing": stats_ms(engine.busy),
            "samples_ms": {
                "frame_latency": [round(1000 * v, 1) for v in engine.frame_latency],
                "processing": [round(1000 * v, 1) for v in engine.busy],
                "event_latency": [round(1000 * v, 1) for v in engine.event_latency],
            },
            "event_latency": stats_ms(engine.event_latency),
            "events": len(engine.kinds),
            "events_by_kind": dict(sorted(kinds.items())),
            "cpu_cores": round(cpu_s / wall, 3),
            "peak_rss_mb": round(peak / 2**20, 1),
            "gallery_employees": app.recognizer.gallery.n_employees,
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _clip_fps(path: Path) -> float:
    import cv2

    cap = cv2.VideoCapture(str(path))
    fps = float(cap.get(cv2.CAP_PROP_FPS)) or 25.0
    cap.release()
    return fps


def bench_stream(ctx: BenchContext) -> dict[str, Any]:
    seconds = ctx.seconds if ctx.seconds is not None else (5.0 if ctx.quick else 30.0)
    configured = _configured_fps_limit(ctx)
    runs = {}
    for fps_limit in dict.fromkeys((configured, 0.0)):
        runs[f"fps_limit_{fps_limit:g}"] = _run_stream(ctx, fps_limit, seconds)
    return {
        "clip": CLIP,
        "seconds_per_run": seconds,
        "attendance": {
            "cooldown_s": 0,
            "track_max_age_s": 0.3,
            "min_frames": ctx.settings.attendance.min_frames,
        },
        "latency_definition": "frame_latency: capture (frame read) to end of processing, including the "
        "wait in the latest-frame slot; processing: process_frame alone; "
        "event_latency: capture of the deciding frame to the durable outbox commit",
        "note": "in-process: RSS includes whatever earlier sections loaded; see the memory section",
        "runs": runs,
    }


# ---- 4. match --------------------------------------------------------------------------------------


def match_sizes(quick: bool, progress: bool = False) -> dict[str, Any]:
    """Gallery.match timings for 1k, 10k and 100k synthetic templates, with a breakdown."""
    from sputnik_edge.recognition.gallery import EMBEDDING_DIM, Gallery, Thresholds, l2_normalise

    rng = np.random.default_rng(0)
    thresholds = Thresholds()
    sizes = (1_000, 10_000, 100_000)
    per_employee = 2
    out: dict[str, Any] = {"templates_per_employee": per_employee, "sizes": {}}
    with _progress(len(sizes), "match", progress) as bar:
        for size in sizes:
            emb = l2_normalise(rng.standard_normal((size, EMBEDDING_DIM)).astype(np.float32))
            owners = [f"emp-{i // per_employee:06d}" for i in range(size)]
            t0 = time.perf_counter()
            gallery = Gallery.build(owners, emb, {})
            build_s = time.perf_counter() - t0
            iters = 5 if quick else (200 if size < 100_000 else 60)
            entry: dict[str, Any] = {
                "templates": size,
                "employees": gallery.n_employees,
                "build_ms": round(1000 * build_s, 1),
                "matrix_mb": round(gallery.matrix.nbytes / 2**20, 1),
            }
            for batch in (1, 4):
                queries = [
                    l2_normalise(rng.standard_normal((batch, EMBEDDING_DIM)).astype(np.float32))
                    for _ in range(iters)
                ]
                gallery.match(queries[0], thresholds)
                times, mm, top = [], [], []
                ends = np.append(gallery.starts[1:], gallery.n_templates)
                for q in queries:
                    t0 = time.perf_counter()
                    gallery.match(q, thresholds)
                    t1 = time.perf_counter()
                    sims = gallery.matrix @ q.T  # the same two steps match() takes, timed apart
                    t2 = time.perf_counter()
                    for i in range(sims.shape[1]):
                        col = np.ascontiguousarray(sims[:, i])
                        row = int(np.argmax(col))
                        emp = int(gallery.owner[row])
                        col[gallery.starts[emp] : ends[emp]] = -np.inf
                        col.max()
                    t3 = time.perf_counter()
                    times.append(t1 - t0)
                    mm.append(t2 - t1)
                    top.append(t3 - t2)
                s = stats_ms(times)
                entry[f"batch{batch}"] = {
                    **s,
                    "ms_per_query": round(float(s["median_ms"]) / batch, 3),
                    "breakdown_median_ms": {
                        "matmul": round(1000 * float(np.median(mm)), 3),
                        "top2": round(1000 * float(np.median(top)), 3),
                    },
                }
            out["sizes"][str(size)] = entry
            bar.update(1)
    return out


_MATCH_CHILD = (
    "import json, sys; from sputnik_edge.tools.bench import match_sizes; "
    "print(json.dumps(match_sizes(sys.argv[1] == 'quick')))"
)


def bench_match(ctx: BenchContext) -> dict[str, Any]:
    """In this process (BLAS threads as configured), then in a child with OPENBLAS_NUM_THREADS=1."""
    out = match_sizes(ctx.quick, ctx.progress)
    out["blas_threads"] = os.environ.get("OPENBLAS_NUM_THREADS") or "default (one per core)"
    if os.environ.get("OPENBLAS_NUM_THREADS") != "1":
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
        child = subprocess.run(
            [sys.executable, "-c", _MATCH_CHILD, "quick" if ctx.quick else "full"],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if child.returncode != 0:
            out["single_thread_blas_error"] = child.stderr.strip().splitlines()[-1:] or ["failed"]
        else:
            out["single_thread_blas"] = json.loads(child.stdout.strip().splitlines()[-1])["sizes"]
    return out


# ---- 5. memory and cold start ----------------------------------------------------------------------


def _write_1080p_clip(src: Path, dst: Path, max_frames: int) -> tuple[int, str]:
    """The dev clip upscaled to 1920x1080; returns (frames, codec).

    H.264 like a real camera stream when the ffmpeg command is there; else MPEG-4 Part 2 through
    OpenCV, whose decoder holds more memory than a camera's H.264 would (recorded in the JSON)."""
    import cv2

    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg:
        done = subprocess.run(
            [
                ffmpeg,
                "-loglevel",
                "error",
                "-y",
                "-i",
                str(src),
                "-frames:v",
                str(max_frames),
                "-vf",
                "scale=1920:1080",
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-an",
                str(dst),
            ],
            capture_output=True,
            timeout=300,
        )
        if done.returncode == 0:
            cap = cv2.VideoCapture(str(dst))
            n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
            cap.release()
            return n, "h264"
    cap = cv2.VideoCapture(str(src))
    fps = float(cap.get(cv2.CAP_PROP_FPS)) or 30.0
    writer = cv2.VideoWriter(str(dst), cv2.VideoWriter.fourcc(*"mp4v"), fps, (1920, 1080))
    if not writer.isOpened():
        cap.release()
        raise BenchError("cv2.VideoWriter cannot write mp4 here")
    n = 0
    while n < max_frames:
        ok, frame = cap.read()
        if not ok:
            break
        writer.write(cv2.resize(frame, (1920, 1080), interpolation=cv2.INTER_LINEAR))
        n += 1
    writer.release()
    cap.release()
    return n, "mpeg4"


def _seed_random_gallery(store: Any, model_id: str, n: int) -> None:
    """``n`` employees with one random template each, in one transaction."""
    from sputnik_edge.store.local import employees, templates

    rng = np.random.default_rng(1)
    vecs = rng.standard_normal((n, 128)).astype("<f4")
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    now = datetime.now(UTC).isoformat()
    with store.engine.begin() as conn:
        conn.execute(
            employees.insert(),
            [
                {
                    "employee_id": f"emp-{i:06d}",
                    "full_name": f"Employee {i}",
                    "is_active": True,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(n)
            ],
        )
        conn.execute(
            templates.insert(),
            [
                {
                    "template_id": str(uuid.uuid4()),
                    "employee_id": f"emp-{i:06d}",
                    "model_id": model_id,
                    "embedding": vecs[i].tobytes(),
                    "quality": 0.9,
                    "created_at": now,
                }
                for i in range(n)
            ],
        )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))


def _write_config(path: Path, sections: dict[str, dict[str, Any]], cameras: list[dict[str, Any]]) -> None:
    lines: list[str] = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in values.items() if v is not None]
        lines.append("")
    for cam in cameras:
        lines.append("[[cameras]]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in cam.items()]
        lines.append("")
    path.write_text("\n".join(lines))


def _child_env() -> dict[str, str]:
    """The environment without configuration overrides, so the bench config is what runs."""
    from sputnik_edge.config import FLAT_ALIASES

    return {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith("SPUTNIK_") and k.upper() not in FLAT_ALIASES
    }


def _poll_health(port: int, proc: subprocess.Popen[bytes], timeout_s: float) -> dict[str, Any] | None:
    import httpx

    deadline = time.monotonic() + timeout_s
    url = f"http://127.0.0.1:{port}/health"
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            body = httpx.get(url, timeout=0.5).json()
            if body.get("ready"):
                return dict(body)
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.02)
    return None


def _run_daemon(ctx: BenchContext, tmp: Path, source: Path, gallery: int, seconds: float) -> dict[str, Any]:
    import httpx
    import psutil

    from sputnik_edge.store.local import LocalStore

    db = tmp / "edge.db"
    store = LocalStore(db, device_id=ctx.settings.device.id)
    model_id = ctx.recognizer().model_id
    ctx.enrol_into(store, model_id)
    if gallery:
        _seed_random_gallery(store, model_id, gallery)
    store.close()
    port = _free_port()
    rec = ctx.settings.recognition.model_dump(mode="json")
    cfg = tmp / "config.toml"
    _write_config(
        cfg,
        {
            "device": {"id": ctx.settings.device.id},
            "recognition": rec,
            "storage": {"database": str(db), "snapshots_dir": str(tmp / "snapshots")},
            "http": {"host": "127.0.0.1", "port": port},
            "logging": {"level": "INFO", "format": "json"},
        },
        [
            {
                "id": "bench",
                "source": str(source),
                "direction": "in",
                "loop": True,
                "fps_limit": _configured_fps_limit(ctx),
            }
        ],
    )
    log_path = tmp / "daemon.log"
    with log_path.open("wb") as log_fh:
        t0 = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "sputnik_edge", "run", "--config", str(cfg)],
            stdout=log_fh,
            stderr=subprocess.STDOUT,
            env=_child_env(),
        )
        try:
            sampler = _RssSampler(proc.pid)
            sampler.start()
            health = _poll_health(port, proc, 60.0)
            cold_start = time.monotonic() - t0
            if health is None:
                raise BenchError(
                    f"daemon not ready within 60 s (exit code {proc.poll()}); "
                    f"log tail: {log_path.read_text()[-600:]}"
                )
            ps = psutil.Process(proc.pid)
            cpu0, w0 = ps.cpu_times(), time.monotonic()
            frames0 = health["cameras"]["bench"]["frames_processed"]
            time.sleep(seconds)
            cpu1, w1 = ps.cpu_times(), time.monotonic()
            body = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).json()
            frames1 = body["cameras"]["bench"]["frames_processed"]
            peak = sampler.stop()
            full = ps.memory_full_info()  # USS/PSS: what this process adds beyond shared libraries
            t_stop = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=30)
            stop_s = time.monotonic() - t_stop
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    startup_s = None
    for line in log_path.read_text().splitlines():
        with contextlib.suppress(ValueError):
            rec_line = json.loads(line)
            if isinstance(rec_line, dict) and rec_line.get("event") == "ready":
                startup_s = rec_line.get("startup_s")
    wall = w1 - w0
    return {
        "gallery_templates": int(body["gallery"]["templates"]),
        "cold_start_s": round(cold_start, 3),
        "app_startup_s": startup_s,
        "peak_rss_mb": round(peak / 2**20, 1),
        "end_rss_mb": round(full.rss / 2**20, 1),
        "end_uss_mb": round(full.uss / 2**20, 1),
        "end_pss_mb": round(getattr(full, "pss", 0) / 2**20, 1),
        "cpu_cores": round(((cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)) / wall, 3),
        "processed_fps": round((frames1 - frames0) / wall, 2),
        "seconds": round(wall, 2),
        "stop_s": round(stop_s, 3),
        "exit_code": code,
    }


def bench_memory(ctx: BenchContext) -> dict[str, Any]:
    gallery = 1_000 if ctx.quick else 10_000
    seconds = 3.0 if ctx.quick else 10.0
    tmp = Path(tempfile.mkdtemp(prefix="sputnik-bench-memory-"))
    try:
        clip = tmp / "clip_1080p.mp4"
        frames, codec = _write_1080p_clip(ctx.clip_path(), clip, 60 if ctx.quick else 10_000)
        runs = {}
        steps = [
            ("small_gallery_640p", ctx.clip_path(), 0, 0.5 if ctx.quick else 2.0),
            (f"gallery_{gallery}_1080p", clip, gallery, seconds),
        ]
        with _progress(len(steps), "memory", ctx.progress) as bar:
            for name, source, size, secs in steps:
                sub = tmp / name
                sub.mkdir()
                runs[name] = _run_daemon(ctx, sub, source, size, secs)
                bar.update(1)
        return {
            "clip_1080p_frames": frames,
            "clip_1080p_codec": codec,
            "cold_start_definition": "spawn of `python -m sputnik_edge run` to the first /health answer "
            "with ready: true",
            "runs": runs,
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---- 6. outbox -------------------------------------------------------------------------------------


def bench_outbox(ctx: BenchContext) -> dict[str, Any]:
    from sputnik_edge.attendance.types import AttendanceEvent, new_event_id
    from sputnik_edge.store.local import LocalStore

    n = _iterations(ctx, 300, 20)
    parent = ctx.settings.storage.database.parent
    base = parent if parent.is_dir() and os.access(parent, os.W_OK) else None
    tmp = Path(tempfile.mkdtemp(prefix="sputnik-bench-outbox-", dir=base))
    try:
        store = LocalStore(tmp / "edge.db", device_id=ctx.settings.device.id)
        times = []
        t_all = time.perf_counter()
        for i in range(n):
            ev = AttendanceEvent(
                new_event_id(),
                ctx.settings.device.id,
                "bench",
                "check_in",
                f"emp-{i % 50}",
                "Someone",
                0.7,
                datetime.now(UTC),
                details={"frames": 3, "track_id": i},
            )
            t0 = time.perf_counter()
            store.record_event(ev)
            times.append(time.perf_counter() - t0)
        total = time.perf_counter() - t_all
        stored = store.count_events()
        store.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "events": n,
        "stored": stored,
        "events_per_s": round(n / total, 1),
        "commit": stats_ms(times),
        "directory_fs": _fs_type(tmp.parent),
        "durability": "SQLite WAL, synchronous=FULL (fsync per commit)",
    }


# ---- 7. central ------------------------------------------------------------------------------------


def bench_central(ctx: BenchContext) -> dict[str, Any]:
    from sputnik_edge.central.errors import CentralError
    from sputnik_edge.tools.central_bench import bench_pull, bench_push

    url = ctx.database_url or ctx.settings.central.database_url.get_secret_value()
    if not url:
        raise BenchError("skipped: no --database-url and no central.database_url configured")
    try:
        push = bench_push(url, n=1000 if ctx.quick else 20000, batch=ctx.settings.central.batch_size)
        pull = bench_pull(url, n_employees=500 if ctx.quick else 10000)
    except CentralError as exc:
        raise BenchError(str(exc)) from None
    return {"push": push, "pull": pull}


# ---- targets, report -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    goal: str
    value: float | None
    unit: str
    ok: bool | None

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "goal": self.goal, "value": self.value, "unit": self.unit, "pass": self.ok}


def _get(data: dict[str, Any], *path: str) -> Any:
    cur: Any = data
    for key in path:
        if not isinstance(cur, dict) or key not in cur:
            return None
        cur = cur[key]
    return cur


def evaluate_targets(sections: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, each with the measured value and pass/fail (None: not measured)."""
    out: list[Target] = []

    def add(name: str, goal: str, value: Any, unit: str, ok: Callable[[float], bool]) -> None:
        v = None if value is None else float(value)
        out.append(Target(name, goal, v, unit, None if v is None else bool(ok(v))))

    runs = _get(sections, "stream", "runs") or {}
    limited = next((r for k, r in runs.items() if k != "fps_limit_0"), None)
    every = runs.get("fps_limit_0")
    if limited is not None:
        add(
            f"stream at fps_limit {limited['fps_limit']:g}: keeps real time",
            ">= 0.95 of target fps",
            limited["realtime_factor"],
            "x",
            lambda v: v >= 0.95,
        )
        add(
            f"stream at fps_limit {limited['fps_limit']:g}: average CPU",
            "< 1 core",
            limited["cpu_cores"],
            "cores",
            lambda v: v < 1.0,
        )
        add(
            f"stream at fps_limit {limited['fps_limit']:g}: p95 frame-to-outbox latency",
            "< 250 ms",
            _get(limited, "event_latency", "p95_ms"),
            "ms",
            lambda v: v < 250,
        )
        add(
            f"stream at fps_limit {limited['fps_limit']:g}: p95 frame latency",
            "< 250 ms",
            _get(limited, "frame_latency", "p95_ms"),
            "ms",
            lambda v: v < 250,
        )
    if every is not None:
        add(
            "stream, every frame (30 fps clip): real time",
            ">= 0.95 of 29.97 fps",
            every["realtime_factor"],
            "x",
            lambda v: v >= 0.95,
        )
        add("stream, every frame: average CPU", "< 1 core", every["cpu_cores"], "cores", lambda v: v < 1.0)
        add(
            "stream, every frame: p95 frame-to-outbox latency",
            "< 250 ms",
            _get(every, "event_latency", "p95_ms"),
            "ms",
            lambda v: v < 250,
        )
    if "match" in sections:
        add(
            "1:N match at 100k templates",
            "< 5 ms per query",
            _get(sections, "match", "sizes", "100000", "batch1", "median_ms"),
            "ms",
            lambda v: v < 5,
        )
        one = _get(sections, "match", "single_thread_blas", "100000", "batch1", "median_ms")
        if one is not None:
            add(
                "1:N match at 100k templates, OPENBLAS_NUM_THREADS=1",
                "< 5 ms per query",
                one,
                "ms",
                lambda v: v < 5,
            )
    mem_runs = _get(sections, "memory", "runs") or {}
    big = next((r for k, r in mem_runs.items() if k.startswith("gallery_")), None)
    if big is not None:
        add(
            f"peak RSS, {big['gallery_templates']} templates + 1080p camera",
            "< 300 MB",
            big["peak_rss_mb"],
            "MB",
            lambda v: v < 300,
        )
        add(
            f"cold start to ready, {big['gallery_templates']} templates",
            "< 3 s",
            big["cold_start_s"],
            "s",
            lambda v: v < 3,
        )
    small = mem_runs.get("small_gallery_640p")
    if small is not None:
        add("cold start to ready, small gallery", "< 3 s", small["cold_start_s"], "s", lambda v: v < 3)
    for batch in ("batch1", "batch4") if "reference" in sections else ():
        add(
            f"embedder overhead vs bare session.run ({batch})",
            "<= 1.2",
            _get(sections, "reference", "embedder_overhead", batch, "ratio"),
            "x",
            lambda v: v <= 1.2,
        )
    ours = _get(sections, "reference", "accuracy", "ours", "acc_best")
    ref = _get(sections, "reference", "accuracy", "opencv_zoo", "acc_best")
    if ours is not None and ref is not None:
        add(
            "accuracy ours - OpenCV Zoo reference (calib pairs)",
            ">= -0.005",
            round(float(ours) - float(ref), 5),
            "",
            lambda v: v >= -0.005,
        )
    return [t.as_dict() for t in out]


def _fmt(v: Any, nd: int = 1) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


def format_report(result: dict[str, Any]) -> str:
    """A compact human table of a bench result."""
    lines: list[str] = []
    m = result["machine"]
    lines.append(
        f"machine: {m['cpu_model']}, {m['logical_cores']} cores, {m['ram_mb']} MB, "
        f"python {m['python']}, onnxruntime {m['onnxruntime']}, opencv {m['opencv']}"
    )
    s = result["sections"]
    if "stages" in s:
        st = s["stages"]["resolutions"]
        lines.append("\nstages: median / p95 ms")
        head = f"{'stage':<9} {'per':<17}" + "".join(f"{r:>20}" for r in st)
        lines.append(head)
        for stage in STAGE_NAMES:
            row = f"{stage:<9} {STAGE_UNIT[stage]:<17}"
            for r in st.values():
                d = r["stages"][stage]
                cell = f"{_fmt(d.get('median_ms'))} / {_fmt(d.get('p95_ms'))}" if d.get("n") else "-"
                row += f"{cell:>20}"
            lines.append(row)
    if "reference" in s:
        rf = s["reference"]
        lines.append("\nreference (same images, interleaved): ms per image / per face")
        for p, d in rf["summary"].items():
            if p.startswith("ratio_"):
                lines.append(f"  {p}: {d['per_image_total']}x total, median {d['median_of_ratios']}x")
            else:
                lines.append(
                    f"  {p:<17} {d['ms_per_image']:>9.1f} {d['ms_per_face']:>9.1f}  ({d['faces']} faces)"
                )
        if not rf["face_recognition"]["available"]:
            lines.append(f"  face_recognition unavailable: {rf['face_recognition']['error']}")
        for b, d in rf["embedder_overhead"].items():
            lines.append(
                f"  embedder {b}: embed {d['embed']['median_ms']} ms vs bare run "
                f"{d['bare_session_run']['median_ms']} ms -> {d['ratio']}x"
            )
        acc = rf["accuracy"]
        lines.append(
            f"  accuracy on {acc['pairs']} pairs: "
            + ", ".join(f"{k} {v['acc_best']:.4f}" for k, v in acc.items() if isinstance(v, dict))
        )
    if "stream" in s:
        lines.append("\nstream (EdgeApp, looped clip)")
        lines.append(
            f"  {'run':<14}{'proc fps':>9}{'RT x':>7}{'frame p50/p95':>16}{'event p50/p95/p99':>21}"
            f"{'events':>8}{'CPU':>7}{'RSS MB':>8}"
        )
        for name, r in s["stream"]["runs"].items():
            fl, el = r["frame_latency"], r["event_latency"]
            lines.append(
                f"  {name:<14}{r['processed_fps']:>9.2f}{r['realtime_factor']:>7.2f}"
                f"{_fmt(fl.get('median_ms'), 0) + '/' + _fmt(fl.get('p95_ms'), 0):>16}"
                f"{'/'.join(_fmt(el.get(k), 0) for k in ('median_ms', 'p95_ms', 'p99_ms')):>21}"
                f"{r['events']:>8}{r['cpu_cores']:>7.2f}{r['peak_rss_mb']:>8.0f}"
            )
    if "match" in s:
        lines.append("\nmatch (1:N, synthetic): median / p95 ms per call")
        for size, d in s["match"]["sizes"].items():
            b1, b4 = d["batch1"], d["batch4"]
            one = _get(s["match"], "single_thread_blas", size, "batch1", "median_ms")
            lines.append(
                f"  {int(size):>7} templates: 1 query {b1['median_ms']} / {b1['p95_ms']}, "
                f"batch of 4 {b4['median_ms']} / {b4['p95_ms']}; 1 query, 1 BLAS thread {_fmt(one, 3)}"
            )
    if "memory" in s:
        lines.append("\nmemory / cold start (sputnik-edge run subprocess)")
        for name, r in s["memory"]["runs"].items():
            lines.append(
                f"  {name:<22} cold start {r['cold_start_s']} s (app {r['app_startup_s']} s), "
                f"peak RSS {r['peak_rss_mb']} MB, CPU {r['cpu_cores']} cores, "
                f"{r['processed_fps']} fps, stop {r['stop_s']} s"
            )
    if "outbox" in s:
        o = s["outbox"]
        lines.append(
            f"\noutbox: {o['events_per_s']} events/s durable ({o['commit']['median_ms']} ms median, "
            f"p95 {o['commit']['p95_ms']} ms, fs {o['directory_fs']})"
        )
    if "central" in s:
        c = s["central"]
        lines.append(
            f"\ncentral: push {c['push']['events_per_s']} events/s, pull "
            f"{c['pull']['templates_per_s']} templates/s"
        )
    for name, err in result.get("errors", {}).items():
        lines.append(f"\n{name}: {err}")
    if result.get("targets"):
        lines.append("\ntargets")
        for t in result["targets"]:
            verdict = {True: "PASS", False: "FAIL", None: "n/a "}[t["pass"]]
            lines.append(f"  {verdict} {t['name']}: {_fmt(t['value'], 3)} {t['unit']} (goal {t['goal']})")
    return "\n".join(lines)


# ---- driver ----------------------------------------------------------------------------------------

# ---- 8. detectors ----------------------------------------------------------------------------------


def _detector_settings(base: Any, detector: str) -> Any:
    """``base`` with another detector, its score defaults re-derived (the thresholds differ)."""
    from sputnik_edge.config import RecognitionSection

    data = base.model_dump(exclude={"det_score_threshold", "quality_min_det_score"})
    return RecognitionSection.model_validate({**data, "detector": detector})


def bench_detectors(ctx: BenchContext) -> dict[str, Any]:
    """YuNet (onnxruntime) against BlazeFace (mediapipe): per-frame time and CPU, alternating call
    by call on the same frames, faces found on the clip, and accuracy on the calibration pairs."""
    import cv2

    from sputnik_edge.recognition.recognizer import Recognizer
    from sputnik_edge.tools.eval import evaluate_pairs, read_pairs
    from sputnik_edge.vision.blazeface import mediapipe_available

    if not mediapipe_available():
        raise BenchError(
            "skipped: the mediapipe extra is not installed (pip install 'sputnik-edge[mediapipe]')"
        )
    names = ("yunet", "blazeface")
    recs = {n: Recognizer.from_config(_detector_settings(ctx.settings.recognition, n)) for n in names}
    frames = ctx.video_frames()
    picks = np.linspace(0, len(frames) - 1, _iterations(ctx, 60, 4)).round().astype(int)
    repeats = _iterations(ctx, 3, 1)
    sizes: dict[str, Any] = {}
    with _progress(len(RESOLUTIONS) * len(picks) * repeats, "detectors", ctx.progress) as bar:
        for w, h in RESOLUTIONS:
            imgs = [np.asarray(cv2.resize(frames[int(i)], (w, h)), np.uint8) for i in picks]
            for rec in recs.values():  # warm this size (buffers, grids)
                rec.detector.detect(imgs[0])
            wall: dict[str, list[float]] = {n: [] for n in names}
            cpu: dict[str, list[float]] = {n: [] for n in names}
            for _ in range(repeats):
                for img in imgs:
                    for n in names:
                        c0, t0 = time.process_time(), time.perf_counter()
                        recs[n].detector.detect(img)
                        wall[n].append(time.perf_counter() - t0)
                        cpu[n].append(time.process_time() - c0)
                    bar.update(1)
            entry: dict[str, Any] = {
                n: {"wall": stats_ms(wall[n]), "cpu_ms_mean": round(1000 * float(np.mean(cpu[n])), 3)}
                for n in names
            }
            entry["wall_ratio_blazeface_over_yunet"] = _ratio(
                entry["blazeface"]["wall"]["median_ms"], entry["yunet"]["wall"]["median_ms"]
            )
            entry["cpu_ratio_blazeface_over_yunet"] = _ratio(
                entry["blazeface"]["cpu_ms_mean"], entry["yunet"]["cpu_ms_mean"]
            )
            sizes[f"{w}x{h}"] = entry
    found = {
        n: [len(recs[n].detector.detect(f)) for f in frames[:: 1 if not ctx.quick else 25]] for n in names
    }
    faces = {
        n: {
            "frames": len(v),
            "frames_with_face": int(sum(1 for x in v if x)),
            "faces": int(sum(v)),
            "score_threshold": recs[n].detector.score_threshold,
        }
        for n, v in found.items()
    }
    root = ctx.faces_dir / "calib"
    pairs = read_pairs(root / "pairs.csv")
    if ctx.quick:
        pairs = [p for p in pairs if p.same][:10] + [p for p in pairs if not p.same][:10]
    accuracy: dict[str, Any] = {"pairs": len(pairs)}
    for n in names:
        summary = evaluate_pairs(recs[n], pairs, root).summary
        accuracy[n] = {
            k: summary[k]
            for k in (
                "acc_best",
                "threshold_best",
                "no_detection",
                "tar_at_far_1e-2",
                "tar_at_match_threshold",
                "far_at_match_threshold",
            )
        }
    return {"sizes": sizes, "clip_faces": faces, "accuracy": accuracy}


RUNNERS: dict[str, Callable[[BenchContext], dict[str, Any]]] = {
    "stages": bench_stages,
    "reference": bench_reference,
    "stream": bench_stream,
    "match": bench_match,
    "memory": bench_memory,
    "outbox": bench_outbox,
    "central": bench_central,
    "detectors": bench_detectors,
}


@dataclass(frozen=True, slots=True)
class BenchOptions:
    sections: tuple[str, ...] = SECTIONS
    quick: bool = False
    faces_dir: Path = field(default_factory=default_faces_dir)
    progress: bool = True
    stream_seconds: float | None = None
    database_url: str = ""
    command: str = "sputnik-edge bench"


def parse_sections(text: str | None) -> tuple[str, ...]:
    if not text:
        return SECTIONS
    chosen = tuple(dict.fromkeys(s.strip() for s in text.split(",") if s.strip()))
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown or not chosen:
        raise ValueError(
            f"--only: unknown section(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(SECTIONS)}"
        )
    return chosen


@contextlib.contextmanager
def _quiet_native_logs() -> Iterator[None]:
    """OpenCV's DNN engine warns on every net it builds; the bench output stays readable."""
    import cv2

    prev = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(prev)


def run_bench(settings: Settings, opts: BenchOptions) -> dict[str, Any]:
    """Run the selected sections; a failing section is reported under ``errors``, never fatal."""
    if not (opts.faces_dir / "labels.csv").is_file():
        needs = {"stages", "reference", "stream", "memory"} & set(opts.sections)
        if needs:
            raise BenchError(
                f"face data not found at {opts.faces_dir} (needed by "
                f"{', '.join(sorted(needs))}); set --faces-dir or SPUTNIK_FACES_DIR"
            )
    ctx = BenchContext(
        settings=settings,
        faces_dir=opts.faces_dir,
        quick=opts.quick,
        progress=opts.progress,
        seconds=opts.stream_seconds,
        database_url=opts.database_url,
    )
    result: dict[str, Any] = {
        "schema": 1,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": opts.command,
        "quick": opts.quick,
        "machine": machine_info(),
        "config": {
            "detect_max_side": settings.recognition.detect_max_side,
            "onnx_threads": settings.recognition.threads,
            "camera_fps_limit": _configured_fps_limit(ctx),
            "min_frames": settings.attendance.min_frames,
        },
        "sections": {},
        "section_seconds": {},
        "errors": {},
    }
    with _quiet_native_logs():
        for name in opts.sections:
            t0 = time.monotonic()
            log.info("bench_section_start", section=name)
            try:
                result["sections"][name] = RUNNERS[name](ctx)
            except BenchError as exc:
                result["errors"][name] = str(exc)
                log.warning("bench_section_skipped", section=name, error=str(exc))
            except Exception as exc:  # one broken section must not lose the others' numbers
                result["errors"][name] = f"{type(exc).__name__}: {exc}"
                log.exception("bench_section_failed", section=name)
            result["section_seconds"][name] = round(time.monotonic() - t0, 1)
            log.info("bench_section_done", section=name, seconds=result["section_seconds"][name])
    result["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    result["targets"] = evaluate_targets(result["sections"])
    return result
