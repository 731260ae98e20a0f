"""``embedders``: the ways of running SFace measured side by side, per face, on the same aligned
dev crops, interleaved round by round: the float32 and int8 models with the daemon's session
options, and the int8 model with one onnxruntime option changed at a time. Verification accuracy
on the calibration pairs for each model (session options do not change the arithmetic)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from sputnik_edge.tools.bench.context import BenchContext, BenchError, progress
from sputnik_edge.tools.bench.imagesets_results import EmbedderCandidate, EmbedderCandidates
from sputnik_edge.tools.bench.stats import ratio
from sputnik_edge.tools.eval import _fallback_crop, best_threshold, find_subject, read_pairs
from sputnik_edge.vision.align import align_face
from sputnik_edge.vision.imageio import decode_image, load_image
from sputnik_edge.vision.models import default_models_dir, load_manifest


@dataclass(frozen=True, slots=True)
class _Variant:
    name: str
    manifest_entry: str
    options: str
    tweak: Callable[[ort.SessionOptions], None]
    kept: bool
    note: str


def _none(_o: ort.SessionOptions) -> None:
    return None


def _threads(n: int) -> Callable[[ort.SessionOptions], None]:
    def tweak(o: ort.SessionOptions) -> None:
        o.intra_op_num_threads = n

    return tweak


def _extended(o: ort.SessionOptions) -> None:
    o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED


def _parallel(o: ort.SessionOptions) -> None:
    o.execution_mode = ort.ExecutionMode.ORT_PARALLEL
    o.inter_op_num_threads = 2


def _denormal(o: ort.SessionOptions) -> None:
    o.add_session_config_entry("session.set_denormal_as_zero", "1")


def _no_arena(o: ort.SessionOptions) -> None:
    o.enable_cpu_mem_arena = False


def _spinning(o: ort.SessionOptions) -> None:
    o.add_session_config_entry("session.intra_op.allow_spinning", "1")


def _spin_within_run(o: ort.SessionOptions) -> None:
    o.add_session_config_entry("session.intra_op.allow_spinning", "1")
    o.add_session_config_entry("session.force_spinning_stop", "1")


DAEMON = "daemon's (vision/onnx.py: ORT_ENABLE_ALL, sequential, no spinning)"
VARIANTS = (
    _Variant("float32", "embedder", DAEMON, _none, False, "templates are made with it"),
    _Variant("int8", "embedder_int8", DAEMON, _none, True, "the default identification model"),
    _Variant("int8, 1 thread", "embedder_int8", "intra_op_num_threads 1", _threads(1), False, ""),
    _Variant("int8, extended", "embedder_int8", "ORT_ENABLE_EXTENDED", _extended, False, ""),
    _Variant("int8, parallel", "embedder_int8", "ORT_PARALLEL, 2 inter-op threads", _parallel, False, ""),
    _Variant("int8, denormal as zero", "embedder_int8", "session.set_denormal_as_zero", _denormal, False, ""),
    _Variant("int8, no arena", "embedder_int8", "enable_cpu_mem_arena False", _no_arena, False, ""),
    # Before the always-spinning variant: its pool still spins for a while after its run.
    _Variant(
        "int8, spin within run",
        "embedder_int8",
        "allow_spinning 1, force_spinning_stop 1 (recognition.spin_within_run)",
        _spin_within_run,
        False,
        "opt-in: more CPU and a longer p90 at 10 fps",
    ),
    _Variant("int8, spinning", "embedder_int8", "allow_spinning 1", _spinning, False, "burns idle cores"),
)


def _session(path: Path, threads: int, tweak: Callable[[ort.SessionOptions], None]) -> ort.InferenceSession:
    # The daemon's options (vision/onnx.create_session) with one change applied on top.
    o = ort.SessionOptions()
    o.intra_op_num_threads = threads
    o.inter_op_num_threads = 1
    o.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    o.log_severity_level = 3
    o.add_session_config_entry("session.intra_op.allow_spinning", "0")
    tweak(o)
    return ort.InferenceSession(str(path), sess_options=o, providers=["CPUExecutionProvider"])


def _blob(crops: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(crops[..., ::-1].transpose(0, 3, 1, 2), dtype=np.float32)


def _calib_accuracy(ctx: BenchContext, sessions: dict[str, ort.InferenceSession]) -> dict[str, float]:
    root = ctx.faces_dir / "calib"
    if not (root / "pairs.csv").is_file():
        return {}
    pairs = read_pairs(root / "pairs.csv")
    paths = sorted({p for pair in pairs for p in (pair.path_a, pair.path_b)})
    rec = ctx.recognizer()
    crops = []
    for rel in paths:
        image = load_image(root / rel)
        det = find_subject(rec, image)
        crops.append(_fallback_crop(image) if det is None else align_face(image, det.landmarks))
    blob = _blob(np.stack(crops))
    index = {p: i for i, p in enumerate(paths)}
    a = np.array([index[p.path_a] for p in pairs])
    b = np.array([index[p.path_b] for p in pairs])
    labels = np.array([p.same for p in pairs], bool)
    out = {}
    for name, sess in sessions.items():
        inp = sess.get_inputs()[0].name
        emb = np.concatenate([sess.run(None, {inp: blob[i : i + 1]})[0] for i in range(len(blob))])
        emb /= np.linalg.norm(emb, axis=1, keepdims=True)
        out[name] = round(best_threshold(np.einsum("ij,ij->i", emb[a], emb[b]), labels)[1], 5)
    return out


def bench_embedders(ctx: BenchContext) -> EmbedderCandidates:
    rec = ctx.recognizer()
    models_dir = ctx.settings.recognition.models_dir or default_models_dir()
    manifest = load_manifest(models_dir)
    missing = {v.manifest_entry for v in VARIANTS} - manifest.keys()
    if missing:
        raise BenchError(f"{models_dir / 'MANIFEST'} lacks {', '.join(sorted(missing))}")
    images = [decode_image(data, name=name).image for name, data in ctx.photos()[:8]]
    crops = [rec.align(img, d) for img in images for d in rec.detect(img)[:1]]
    if len(crops) < 4:
        raise BenchError("fewer than 4 faces found in the dev photos")
    threads = ctx.settings.recognition.threads
    sessions = {
        v.name: _session(models_dir / manifest[v.manifest_entry].file, threads, v.tweak) for v in VARIANTS
    }
    one, four = _blob(np.stack(crops[:1])), _blob(np.stack(crops[:4]))
    b1: dict[str, list[float]] = {v.name: [] for v in VARIANTS}
    b4: dict[str, list[float]] = {v.name: [] for v in VARIANTS}
    for sess in sessions.values():
        inp = sess.get_inputs()[0].name
        sess.run(None, {inp: four})
    rounds = ctx.iterations(40, 3)
    with progress(rounds, "embedders", ctx.progress) as bar:
        for _ in range(rounds):  # interleaved: every variant sees the same machine noise
            for name, sess in sessions.items():
                inp = sess.get_inputs()[0].name
                t0 = time.perf_counter()
                sess.run(None, {inp: one})
                t1 = time.perf_counter()
                sess.run(None, {inp: four})
                b1[name].append(t1 - t0)
                b4[name].append((time.perf_counter() - t1) / 4)
            bar.update(1)
    models = {v.name: sessions[v.name] for v in VARIANTS if v.tweak is _none}
    acc = _calib_accuracy(ctx, models) if not ctx.quick else {}
    base = float(np.median(b1["float32"]))
    return EmbedderCandidates(
        crops=len(crops),
        rounds=rounds,
        threads=threads,
        candidates=[
            EmbedderCandidate(
                name=v.name,
                model=manifest[v.manifest_entry].file,
                options=v.options,
                ms_per_face_batch1=round(1000 * float(np.median(b1[v.name])), 3),
                ms_per_face_batch4=round(1000 * float(np.median(b4[v.name])), 3),
                speedup_batch1=ratio(base, float(np.median(b1[v.name]))),
                acc_best=acc.get(v.name),
                kept=v.kept,
                note=v.note,
            )
            for v in VARIANTS
        ],
    )
