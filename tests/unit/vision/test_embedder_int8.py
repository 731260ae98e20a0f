"""The int8 SFace that ships as the default identification model, judged the way it was chosen:
by verification accuracy on the calibration pairs (held out from its quantisation, which saw only
the dev videos) and by the templates it shares with the float model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sputnik_edge.config import RecognitionSection
from sputnik_edge.recognition.recognizer import Recognizer
from sputnik_edge.tools.eval import _fallback_crop, best_threshold, find_subject, read_pairs
from sputnik_edge.vision.align import align_face
from sputnik_edge.vision.imageio import load_image
from sputnik_edge.vision.models import load_manifest
from tests.conftest import require

# README "Accuracy": the float model's best-threshold accuracy on calib/pairs.csv.
FLOAT_ACC_BEST = 0.9945
ALLOWED_LOSS = 0.002  # the bound: within 0.2 points


@pytest.fixture(scope="module")
def default_recognizer() -> Recognizer:
    return Recognizer.from_config(RecognitionSection())


@pytest.fixture(scope="module")
def calib_crops(faces_dir: Path, default_recognizer: Recognizer) -> tuple[list[str], np.ndarray]:
    """Every image of the calibration pairs aligned once (as ``eval`` does), by path."""
    root = faces_dir / "calib"
    require((root / "pairs.csv").is_file(), f"calibration pairs not found under {root}")
    pairs = read_pairs(root / "pairs.csv")
    paths = sorted({p for pair in pairs for p in (pair.path_a, pair.path_b)})
    crops = []
    for rel in paths:
        image = load_image(root / rel)
        det = find_subject(default_recognizer, image)
        crops.append(_fallback_crop(image) if det is None else align_face(image, det.landmarks))
    return paths, np.stack(crops)


def _pair_scores(
    faces_dir: Path, paths: list[str], a_emb: np.ndarray, b_emb: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    pairs = read_pairs(faces_dir / "calib" / "pairs.csv")
    index = {p: i for i, p in enumerate(paths)}
    a = np.array([index[p.path_a] for p in pairs])
    b = np.array([index[p.path_b] for p in pairs])
    return np.einsum("ij,ij->i", a_emb[a], b_emb[b]), np.array([p.same for p in pairs], bool)


def test_int8_is_the_default_and_shares_the_float_template_space(
    default_recognizer: Recognizer, models_dir: Path
) -> None:
    manifest = load_manifest(models_dir)
    ident, enrol = default_recognizer.embedder, default_recognizer.enrol_embedder
    assert ident.model_path.name == manifest["embedder_int8"].file == "sface_int8.onnx"
    assert enrol.model_path.name == manifest["embedder"].file == "sface.onnx"
    # One model id for galleries: a device switching precision keeps every template.
    assert default_recognizer.model_id == manifest["embedder"].model_id
    assert ident.model_info.model_id == enrol.model_info.model_id
    assert ident.model_info.extra["variant"] == manifest["embedder_int8"].model_id
    assert ident.model_info.sha256 == manifest["embedder_int8"].sha256
    float_rec = Recognizer.from_config(RecognitionSection(embedder_precision="float32"))
    assert float_rec.enrol_embedder is float_rec.embedder
    assert float_rec.model_id == default_recognizer.model_id


def test_int8_keeps_calibration_pair_accuracy(
    faces_dir: Path, default_recognizer: Recognizer, calib_crops: tuple[list[str], np.ndarray]
) -> None:
    paths, crops = calib_crops
    int8 = default_recognizer.embedder.embed(crops)
    flt = default_recognizer.enrol_embedder.embed(crops)
    runs = (("float", flt, flt), ("int8", int8, int8), ("float templates, int8 probes", flt, int8))
    for name, a, b in runs:
        scores, labels = _pair_scores(faces_dir, paths, a, b)
        _threshold, acc = best_threshold(scores, labels)
        assert acc >= FLOAT_ACC_BEST - ALLOWED_LOSS, f"{name}: best-threshold accuracy {acc:.4f}"
    # Quantisation moves embeddings, but each stays the same face's: no vector is far off.
    cos = np.einsum("ij,ij->i", int8, flt)
    assert float(np.median(cos)) > 0.95 and float(cos.min()) > 0.85


def test_enrolment_templates_come_from_the_float_model(
    default_recognizer: Recognizer, face_labels: list[tuple[Path, str]]
) -> None:
    path = face_labels[0][0]
    image = load_image(path)
    template, quality = default_recognizer.enrollment_template(image, path.name)
    assert quality.ok
    cand = next(c for c in default_recognizer.analyze(image) if c.quality.ok)
    flt = default_recognizer.enrol_embedder.embed(cand.aligned[None])[0]
    int8 = default_recognizer.embed([cand])[0]
    assert np.allclose(template, flt, atol=1e-6)
    assert not np.allclose(template, int8, atol=1e-3)  # the identify path really runs int8


def test_spin_within_run_is_opt_in_and_changes_no_embedding(
    calib_crops: tuple[list[str], np.ndarray],
) -> None:
    """``recognition.spin_within_run`` only changes how the pool waits, so every calibration face
    gets the bit-identical embedding, hence the same decisions (README "Speed")."""
    _paths, crops = calib_crops
    default = Recognizer.from_config(RecognitionSection())
    spinning = Recognizer.from_config(RecognitionSection(spin_within_run=True))
    for rec, spin in ((default, "0"), (spinning, "1")):
        sessions = (rec.embedder._session, rec.detector._session, rec.detector._small_session)  # type: ignore[attr-defined]
        for session in sessions:
            opts = session.get_session_options()
            assert opts.get_session_config_entry("session.intra_op.allow_spinning") == spin
    stop = spinning.embedder._session.get_session_options().get_session_config_entry(
        "session.force_spinning_stop"
    )
    assert stop == "1"  # the pool sleeps again when the run ends
    subset = crops[::7]
    np.testing.assert_array_equal(spinning.embedder.embed(subset), default.embedder.embed(subset))
    image = subset[0]
    assert [d.landmarks.tolist() for d in spinning.detect(image)] == [
        d.landmarks.tolist() for d in default.detect(image)
    ]
