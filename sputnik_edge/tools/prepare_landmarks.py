"""The liveness stage's face mesh: MediaPipe's face_landmark.tflite and its ONNX conversion.

The .tflite is copied verbatim from a mediapipe 0.10.14 wheel (checked against its pinned
sha256; the copy in models/ serves when no wheel is given) and kept beside the ONNX file for the
parity test. The ONNX file was converted once, at development time, in a throwaway venv:

    python3.11 -m venv /tmp/venv-convert
    /tmp/venv-convert/bin/pip install tf2onnx==1.17.0 tensorflow-cpu==2.21.0
    /tmp/venv-convert/bin/python -m tf2onnx.convert --tflite face_landmark.tflite \
        --output face_landmark.onnx --opset 17

tf2onnx's output is not byte-reproducible (two runs give different sha256), so this step does not
convert again: it re-verifies the committed ONNX against its pinned sha256 and copies it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import zipfile
from pathlib import Path

from sputnik_edge.tools.onnx_surgery import PrepareError

__all__ = ["FACE_LANDMARK_ONNX_SHA256", "FACE_LANDMARK_SHA256", "landmark_entry", "read_mediapipe_file"]

SOURCE_PACKAGE = "mediapipe"
SOURCE_VERSION = "0.10.14"
SOURCE_FILE = "face_landmark.tflite"
FACE_LANDMARK_SHA256 = "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814"
ONNX_FILE = "face_landmark.onnx"
FACE_LANDMARK_ONNX_SHA256 = "81e07fbedca0b1e947b76200a5f9d260ebe0fa16f3cbc1aaa24d183a447b1bea"
NOTE = (
    "MediaPipe face mesh (468 x/y/z points + face flag) for the liveness stage; converted from "
    "mediapipe/modules/face_landmark/face_landmark.tflite with tf2onnx 1.17.0 + tensorflow-cpu "
    "2.21.0, opset 17 (see sputnik_edge/tools/prepare_landmarks.py); input 1x192x192x3 RGB in "
    "[0, 1]; the .tflite is kept as face_landmark.tflite for the parity test"
)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_mediapipe_file(source: Path | None, name: str, sha256: str, fallback: Path | None) -> bytes:
    """``name`` from a mediapipe 0.10 wheel or folder, the installed mediapipe, or ``fallback``
    (an earlier verbatim copy); always checked against ``sha256``."""
    data: bytes | None = None
    origin = str(source) if source else SOURCE_PACKAGE
    if source is None:
        try:
            dist = importlib.metadata.distribution(SOURCE_PACKAGE)
        except importlib.metadata.PackageNotFoundError:
            dist = None
        for entry in (dist.files or ()) if dist else ():
            if entry.name == name:
                data = Path(str(dist.locate_file(entry))).read_bytes()  # type: ignore[union-attr]
    elif source.is_file() and zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as zf:
            for info in zf.infolist():
                if info.filename.rsplit("/", 1)[-1] == name:
                    data = zf.read(info)
    elif source.is_dir():
        found = sorted(source.rglob(name))
        data = found[0].read_bytes() if found else None
    else:
        raise PrepareError(f"mediapipe source {source} is neither a wheel file nor a folder")
    # A wheel without the file (an older mediapipe) still gets the pinned copy from models/.
    if data is None and fallback is not None and fallback.is_file():
        data, origin = fallback.read_bytes(), str(fallback)
    if data is None:
        raise PrepareError(
            f"{origin} lacks {name}: pass --blazeface-source with a mediapipe 0.10 wheel "
            f"(pip download --no-deps mediapipe=={SOURCE_VERSION})"
        )
    digest = _sha256(data)
    if digest != sha256:
        raise PrepareError(f"{name} from {origin} has sha256 {digest}, expected {sha256}")
    return data


def landmark_entry(
    out_dir: Path, source: Path | None, shipped_dir: Path
) -> tuple[list[Path], dict[str, object]]:
    """Write face_landmark.tflite and .onnx into ``out_dir``; return them and the manifest entry."""
    tflite = read_mediapipe_file(source, SOURCE_FILE, FACE_LANDMARK_SHA256, shipped_dir / SOURCE_FILE)
    shipped_onnx = shipped_dir / ONNX_FILE
    if not shipped_onnx.is_file():
        raise PrepareError(f"{shipped_onnx} is missing: convert it as described in {__name__}")
    onnx_bytes = shipped_onnx.read_bytes()
    if _sha256(onnx_bytes) != FACE_LANDMARK_ONNX_SHA256:
        raise PrepareError(
            f"{shipped_onnx} has sha256 {_sha256(onnx_bytes)}, expected {FACE_LANDMARK_ONNX_SHA256}"
        )
    written = []
    for file, data in ((SOURCE_FILE, tflite), (ONNX_FILE, onnx_bytes)):
        path = out_dir / file
        if path.resolve() != (shipped_dir / file).resolve():
            path.write_bytes(data)
        written.append(path)
    entry: dict[str, object] = {
        "name": "face_landmark",
        "model_id": "mediapipe_face_landmark_0_10_14",
        "file": ONNX_FILE,
        "sha256": FACE_LANDMARK_ONNX_SHA256,
        "source_package": SOURCE_PACKAGE,
        "source_version": SOURCE_VERSION,
        "source_file": SOURCE_FILE,
        "source_sha256": FACE_LANDMARK_SHA256,
        "upstream": "https://github.com/google-ai-edge/mediapipe/tree/master/mediapipe/modules/face_landmark",
        "licence": "Apache-2.0",
        "licence_file": "licenses/Apache-2.0.txt",
        "input_size": [192, 192],
        "note": NOTE,
    }
    return written, entry
