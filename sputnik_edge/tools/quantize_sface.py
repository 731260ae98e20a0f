"""The int8 SFace of the prepare step: static, per-channel QDQ quantisation on aligned real faces.

Calibration data are faces aligned exactly as the daemon aligns them (the prepared YuNet, the
5-point template) from the two dev *videos*: the Hamilton clip (every 3rd frame) and the live
webcam clip of the liveness set (every 6th frame), faces with a detector score >= 0.8. Neither
the calibration pairs (``calib/``) nor the dev photos (``images/``) are used, so the accuracy
tests that judge the int8 model on those are held out from its calibration.

Steps: fold the block-quantised source like the float recipe, rewrite PRelu for int8
(``onnx_surgery.rewrite_prelu_for_int8``), fold the head's BatchNormalizations into its Gemm
(``onnx_surgery.fold_head_batchnorms``), make the batch dynamic, run onnxruntime's
``quant_pre_process`` (folds BatchNormalization into the convolutions), then
``quantize_static`` (QDQ, per-channel int8 weights, uint8 activations, ranges at the 99.99th
percentile of the calibration activations; ``FLOAT_PREFIX`` stays float). With the
same onnxruntime and onnx versions and the same face data the output is byte for byte the same
(checked: two runs, one sha256); other versions may differ, so ``prepare-models`` compares the
result with the committed MANIFEST's sha256 and says so when it differs.
"""

from __future__ import annotations

import hashlib
import tempfile
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import structlog

from sputnik_edge.tools.onnx_surgery import (
    PrepareError,
    drop_constant_inputs,
    fold_constants,
    fold_head_batchnorms,
    make_dynamic,
    rewrite_prelu_for_int8,
)

log = structlog.get_logger(__name__)

# (file under the faces dir, keep every n-th frame)
CALIBRATION_VIDEOS: tuple[tuple[str, int], ...] = (
    ("video/short_hamilton_clip.mp4", 3),
    ("liveness/webcam_live.webm", 6),
)
MIN_CALIBRATION_SCORE = 0.8
MIN_CALIBRATION_FACES = 100
CALIBRATION_PERCENTILE = 99.99
CALIBRATION_CHUNK = 16
# Nodes kept in float: the input normalisation and the first two convolutions with their PRelus.
# onnxruntime's int8 kernels for a 3-channel full-resolution convolution and for a depthwise one
# are slower than float (profiled: 544 and 225 us of a 5.7 ms face), and the two requantisations
# this saves cost less than the int8 convolutions did; floating any later layer lost time.
# Measured side by side: README "Speed".
FLOAT_PREFIX: tuple[str, ...] = (
    "_minusscalar0",
    "_mulscalar0",
    "conv_1_conv2d",
    "conv_1_relu__neg",
    "conv_1_relu__relu",
    "conv_1_relu__add",
    "conv_2_dw_conv2d",
    "conv_2_dw_relu__neg",
    "conv_2_dw_relu__relu",
    "conv_2_dw_relu__add",
)


# The int8 embedder: same source file as the float "embedder", templates in the same space (the
# embeddings are interchangeable: README "Models"), so its manifest entry names that model id as
# its template_model_id and a device switching precision keeps its gallery.
@dataclass(frozen=True, slots=True)
class _Int8Recipe:
    name: str
    model_id: str
    out_file: str
    note: str


SFACE_INT8 = _Int8Recipe(
    name="embedder_int8",
    model_id="sface_2021dec_qdq_int8",
    out_file="sface_int8.onnx",
    note=(
        "static int8 QDQ quantisation (per-channel int8 weights, uint8 activations, 99.99th percentile "
        "ranges) of the "
        "folded SFace, calibrated on aligned faces of the dev videos; PRelu as x + Relu(depthwise 1x1 "
        "conv) (3 slopes > 1 clipped to 1); the head's two BatchNormalizations folded into its Gemm; input "
        "normalisation and the first two convolutions kept float; same input as sface.onnx; templates shared "
        "with template_model_id"
    ),
)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def calibration_crops(faces_dir: Path, yunet_path: Path) -> npt.NDArray[np.uint8]:
    """(N, 112, 112, 3) BGR faces aligned like the daemon's, from the dev videos."""
    import cv2

    from sputnik_edge.vision.align import align_face
    from sputnik_edge.vision.detector import YuNetDetector

    detector = YuNetDetector(yunet_path, threads=1)
    crops: list[npt.NDArray[np.uint8]] = []
    for name, step in CALIBRATION_VIDEOS:
        path = faces_dir / name
        if not path.is_file():
            raise PrepareError(
                f"calibration video {path} not found (the int8 SFace is calibrated on the dev "
                "videos: pass --faces-dir or set SPUTNIK_FACES_DIR)"
            )
        cap = cv2.VideoCapture(str(path))
        index = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if index % step == 0:
                crops.extend(
                    align_face(frame, d.landmarks)
                    for d in detector.detect(frame)
                    if d.score >= MIN_CALIBRATION_SCORE
                )
            index += 1
        cap.release()
    if len(crops) < MIN_CALIBRATION_FACES:
        raise PrepareError(
            f"only {len(crops)} calibration faces in {faces_dir} (want {MIN_CALIBRATION_FACES})"
        )
    return np.stack(crops)


def _blobs(crops: npt.NDArray[np.uint8]) -> Iterator[dict[str, npt.NDArray[np.float32]]]:
    # The embedder's own preprocessing: RGB, raw 0..255 as float32, NCHW.
    for crop in crops:
        yield {"data": np.ascontiguousarray(crop[None, ..., ::-1].transpose(0, 3, 1, 2), np.float32)}


def int8_graph(source: bytes, dynamic_inputs: dict[int, str], dynamic_outputs: dict[int, str]) -> Any:
    """The float graph the quantiser starts from: folded, PRelu in its int8-friendly form."""
    import onnx

    model = onnx.load_from_string(source)
    fold_constants(model)
    drop_constant_inputs(model)
    rewritten, clipped = rewrite_prelu_for_int8(model)
    folded = fold_head_batchnorms(model)
    make_dynamic(model, dynamic_inputs, dynamic_outputs)
    log.info(
        "int8_graph_rewritten", prelu_rewritten=rewritten, slopes_clipped=clipped, bn_nodes_folded=folded
    )
    return model


def quantize(model: Any, crops: npt.NDArray[np.uint8]) -> bytes:
    """Static QDQ quantisation of ``model`` (an onnx.ModelProto) calibrated on ``crops``."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    # The quantiser's strided mode feeds the histograms CALIBRATION_CHUNK faces at a time (it
    # needs a whole number of chunks); in one go it keeps every intermediate tensor of every
    # face: 19 GB for 218 faces.
    usable = crops[: len(crops) - len(crops) % CALIBRATION_CHUNK]

    class _Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.set_range(0, len(usable))

        def __len__(self) -> int:
            return len(usable)

        def set_range(self, start_index: int, end_index: int) -> None:
            self._it = _blobs(usable[start_index:end_index])

        def get_next(self) -> dict[str, npt.NDArray[np.float32]] | None:
            return next(self._it, None)

    with tempfile.TemporaryDirectory(prefix="sface-int8-") as tmp:
        src, pre, out = (Path(tmp) / n for n in ("float.onnx", "pre.onnx", "int8.onnx"))
        onnx.save(model, str(src))
        # Symbolic shape inference would need sympy; plain ONNX inference is enough for SFace.
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        names = {n.name for n in onnx.load(str(pre)).graph.node}
        missing = [n for n in FLOAT_PREFIX if n not in names]
        if missing:
            raise PrepareError(f"nodes to keep in float are not in the graph: {missing}")
        quantize_static(
            str(pre),
            str(out),
            _Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            weight_type=QuantType.QInt8,
            activation_type=QuantType.QUInt8,
            # Percentile ranges clip the rare activation outliers that MinMax spends most of the
            # 8 bits on: calib-pair accuracy 99.59 % against MinMax's 99.45 %, and the dev-set
            # photo nearest the match threshold stays above it (README "Models").
            calibrate_method=CalibrationMethod.Percentile,
            nodes_to_exclude=list(FLOAT_PREFIX),
            extra_options={
                "CalibPercentile": CALIBRATION_PERCENTILE,
                "CalibStridedMinMax": CALIBRATION_CHUNK,
            },
        )
        result = onnx.load(str(out))
    result.producer_name = "sputnik_edge.tools.quantize_sface"
    onnx.checker.check_model(result, full_check=True)
    return bytes(result.SerializeToString())


def sface_int8(
    source: bytes,
    dynamic: tuple[dict[int, str], dict[int, str]],
    yunet_path: Path,
    faces_dir: Path,
    committed_dir: Path,
) -> tuple[bytes, bool]:
    """The int8 SFace, quantised here (True), or without face data the committed copy (False)."""
    if not (faces_dir / CALIBRATION_VIDEOS[0][0]).is_file():
        committed = committed_dir / SFACE_INT8.out_file
        expected = committed_sha(committed_dir, SFACE_INT8.name)
        if not committed.is_file() or expected is None:
            raise PrepareError(
                f"no face data at {faces_dir} to calibrate {SFACE_INT8.out_file} and no committed copy "
                "(pass --faces-dir or set SPUTNIK_FACES_DIR)"
            )
        data = committed.read_bytes()
        if _sha256(data) != expected:
            raise PrepareError(f"{committed} does not match its MANIFEST sha256 {expected}")
        log.info("model_kept", model=SFACE_INT8.name, reason="no face data", path=str(committed))
        return data, False
    crops = calibration_crops(faces_dir, yunet_path)
    data = quantize(int8_graph(source, *dynamic), crops)
    expected = committed_sha(committed_dir, SFACE_INT8.name)
    log.info(
        "model_quantised",
        model=SFACE_INT8.name,
        calibration_faces=len(crops),
        matches_committed=expected == _sha256(data) if expected else None,
    )
    return data, True


def committed_sha(models_dir: Path, name: str) -> str | None:
    """sha256 of model ``name`` in ``models_dir/MANIFEST``, None when it has no such entry."""
    try:
        tables = tomllib.loads((models_dir / "MANIFEST").read_text(encoding="utf-8")).get("model", [])
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return next((str(t["sha256"]) for t in tables if t.get("name") == name and "sha256" in t), None)
