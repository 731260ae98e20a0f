from __future__ import annotations

import tomllib
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from sputnik_edge.tools.prepare_models import (
    BLAZEFACE,
    PrepareError,
    main,
    prepare_models,
    read_blazeface,
    run_original,
)
from sputnik_edge.vision.align import align_face
from sputnik_edge.vision.detector import YuNetDetector
from sputnik_edge.vision.models import load_manifest

pytest.importorskip("onnx")


def _session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _yunet_blob(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    ph, pw = -(-h // 32) * 32, -(-w // 32) * 32
    blob = np.zeros((1, 3, ph, pw), np.float32)
    blob[0, :, :h, :w] = img.transpose(2, 0, 1)
    return blob


def test_prepared_yunet_matches_original_on_dev_faces(
    dev_images: list[tuple[Path, np.ndarray]], original_paths: tuple[Path, Path], yunet_path: Path
) -> None:
    original = original_paths[0].read_bytes()
    sess = _session(yunet_path)
    names = [o.name for o in sess.get_outputs()]
    for path, img in dev_images[::3]:
        blob = _yunet_blob(img)
        ref, _engine = run_original(original, blob)
        ours = sess.run(names, {"input": blob})
        for name, a, b in zip(names, ref, ours, strict=True):
            assert b.shape[1] > 0
            diff = float(np.abs(a.reshape(b.shape) - b).max())
            assert diff < 1e-3, f"{path.name} {name}: {diff}"


@pytest.mark.parametrize(("h", "w"), [(320, 320), (480, 640), (256, 256), (640, 864)])
def test_yunet_input_size_is_dynamic(
    h: int,
    w: int,
    dev_images: list[tuple[Path, np.ndarray]],
    original_paths: tuple[Path, Path],
    yunet_path: Path,
) -> None:
    img = cv2.resize(dev_images[0][1], (w, h))
    blob = _yunet_blob(img)
    ours = _session(yunet_path).run(None, {"input": blob})
    ref, _ = run_original(original_paths[0].read_bytes(), blob)
    assert ours[0].shape == (1, (h // 8) * (w // 8), 1)  # cls_8 covers the whole padded grid
    assert max(float(np.abs(a.reshape(b.shape) - b).max()) for a, b in zip(ref, ours, strict=True)) < 1e-3


def test_prepared_sface_matches_original_on_dev_faces(
    dev_images: list[tuple[Path, np.ndarray]],
    original_paths: tuple[Path, Path],
    sface_path: Path,
    native_detector: YuNetDetector,
) -> None:
    original = original_paths[1].read_bytes()
    sess = _session(sface_path)
    crops = [align_face(img, native_detector.detect(img)[0].landmarks) for _, img in dev_images]
    blob = cv2.dnn.blobFromImages(crops, 1.0, (112, 112), (0, 0, 0), swapRB=True, crop=False)
    ours = sess.run(None, {"data": blob})[0]  # one batched call: the batch dim is dynamic
    for i, (path, _) in enumerate(dev_images):
        ref, _engine = run_original(original, blob[i : i + 1])
        diff = float(np.abs(ref[0].reshape(-1) - ours[i]).max())
        assert diff < 1e-3, f"{path.name}: {diff}"


def test_prepared_models_have_no_quantisation_or_dangling_inputs(yunet_path: Path, sface_path: Path) -> None:
    import onnx

    for path in (yunet_path, sface_path):
        model = onnx.load(str(path))
        ops = {n.op_type for n in model.graph.node}
        assert not ops & {"DequantizeLinear", "QuantizeLinear", "PRelu"}
        assert [i.name for i in model.graph.input] in (["input"], ["data"])


def test_prepare_is_reproducible(tmp_path: Path, models_dir: Path) -> None:
    written = prepare_models(tmp_path)
    assert sorted(p.name for p in written) == [
        "MANIFEST",
        "blazeface_full.tflite",
        "face_landmark.onnx",
        "face_landmark.tflite",
        "sface.onnx",
        "sface_int8.onnx",
        "yunet.onnx",
    ]
    ours = load_manifest(tmp_path)
    committed = load_manifest(models_dir)
    assert {k: v.sha256 for k, v in ours.items()} == {k: v.sha256 for k, v in committed.items()}
    fresh = tomllib.loads((tmp_path / "MANIFEST").read_text())
    assert fresh == tomllib.loads((models_dir / "MANIFEST").read_text())


def test_main_reports_bad_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--out", str(tmp_path / "out"), "--source", str(tmp_path)]) == 2
    assert "lacks model file" in capsys.readouterr().err
    assert not (tmp_path / "out" / "MANIFEST").exists()


# ---- BlazeFace: copied verbatim from a mediapipe 0.10 wheel, pinned by sha256 ------------------------


def _fake_wheel(path: Path, model: bytes, version: str = "0.10.14") -> Path:
    """A wheel laid out like mediapipe 0.10's (the real one is 35 MB and not needed offline)."""
    import zipfile

    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"mediapipe-{version}.dist-info/METADATA", f"Name: mediapipe\nVersion: {version}\n")
        zf.writestr(f"mediapipe/modules/face_detection/{BLAZEFACE.source_file}", model)
        zf.writestr("mediapipe/modules/face_detection/face_detection_short_range.tflite", b"other")
    return path


def test_blazeface_from_wheel_is_copied_verbatim(tmp_path: Path, models_dir: Path) -> None:
    shipped = (models_dir / BLAZEFACE.out_file).read_bytes()
    wheel = _fake_wheel(tmp_path / "mediapipe-0.10.14-cp311-none-any.whl", shipped)
    assert read_blazeface(wheel) == shipped
    out = tmp_path / "out"
    # Without face data the int8 SFace is not re-quantised: the committed file is kept, checked.
    prepare_models(out, blazeface_source=wheel, faces_dir=tmp_path / "no-faces")
    assert (out / BLAZEFACE.out_file).read_bytes() == shipped
    assert (out / "sface_int8.onnx").read_bytes() == (models_dir / "sface_int8.onnx").read_bytes()
    spec = load_manifest(out)["blazeface"]
    assert spec.sha256 == spec.source_sha256 == BLAZEFACE.source_sha256
    assert (spec.source_package, spec.licence, spec.input_size) == ("mediapipe", "Apache-2.0", (192, 192))
    assert (models_dir / spec.licence_file).is_file()


def test_blazeface_with_other_bytes_or_missing_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wheel = _fake_wheel(tmp_path / "tampered.whl", b"not the pinned model")
    with pytest.raises(PrepareError, match=BLAZEFACE.source_sha256):
        read_blazeface(wheel)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(PrepareError, match=r"lacks face_detection_full_range_sparse\.tflite"):
        read_blazeface(empty)
    out = tmp_path / "out"
    assert main(["--out", str(out), "--blazeface-source", str(wheel)]) == 2
    assert "expected" in capsys.readouterr().err
    assert not (out / "MANIFEST").exists()


def test_int8_without_face_data_refuses_a_tampered_committed_copy(tmp_path: Path, models_dir: Path) -> None:
    from sputnik_edge.tools.quantize_sface import sface_int8

    committed = tmp_path / "committed"
    committed.mkdir()
    (committed / "MANIFEST").write_bytes((models_dir / "MANIFEST").read_bytes())
    data = bytearray((models_dir / "sface_int8.onnx").read_bytes())
    (committed / "sface_int8.onnx").write_bytes(bytes(data))
    dynamic = ({0: "batch"}, {0: "batch"})
    no_faces = tmp_path / "no-faces"
    kept, quantised = sface_int8(b"", dynamic, models_dir / "yunet.onnx", no_faces, committed)
    assert kept == bytes(data) and quantised is False
    data[-1] ^= 0xFF
    (committed / "sface_int8.onnx").write_bytes(bytes(data))
    with pytest.raises(PrepareError, match="does not match its MANIFEST sha256"):
        sface_int8(b"", dynamic, models_dir / "yunet.onnx", no_faces, committed)
    (committed / "sface_int8.onnx").unlink()
    with pytest.raises(PrepareError, match="SPUTNIK_FACES_DIR"):
        sface_int8(b"", dynamic, models_dir / "yunet.onnx", no_faces, committed)
