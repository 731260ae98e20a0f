"""Clip enrolment makes its templates with the enrolment (float) model, as photo enrolment does."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sputnik_edge.config import RecognitionSection
from sputnik_edge.recognition.enrol_clip import observe
from sputnik_edge.recognition.recognizer import Recognizer
from sputnik_edge.vision.videoio import sampled_frames
from tests.conftest import require


def test_clip_observations_carry_float_embeddings_when_identification_runs_int8(faces_dir: Path) -> None:
    clip = faces_dir / "liveness" / "webcam_live.webm"
    require(clip.is_file(), f"{clip} missing")
    rec = Recognizer.from_config(RecognitionSection(embedder_precision="int8"))
    assert rec.enrol_embedder is not rec.embedder  # int8 identifies, float enrols
    frames = list(sampled_frames(clip, sample_fps=5.0, last=40))
    seen = observe(rec, frames)
    embedded = [o for o in seen if o.embedding is not None]
    assert len(embedded) >= 3
    by_frame = dict(frames)
    for o in embedded:
        cand = next(c for c in rec.analyze(by_frame[o.frame]) if c.quality.ok)
        float_emb = rec.enrol_embedder.embed(cand.aligned[None])[0]
        int8_emb = rec.embed([cand])[0]
        np.testing.assert_allclose(o.embedding, float_emb, atol=1e-5)
        # ... and not the identification model's (which would fail if observe used rec.embed).
        assert not np.allclose(o.embedding, int8_emb, atol=1e-3)
