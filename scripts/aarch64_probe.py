#!/usr/bin/env python3
"""The probe of scripts/check_aarch64_models.py: one side's run of the recognizer, as JSON.

Runs under the x86-64 venv and under the emulated aarch64 CPython alike, so it imports only the
standard library until it runs. Builds the recognizer as the daemon does (``Recognizer.from_config``
checks each model file against models/MANIFEST), then for each probe photo: the faces, their boxes,
landmarks and quality verdict, the int8 embedding and the gallery's decision of each face that
passed the gate; and both embedders on the crops of ``inputs``.

    python scripts/aarch64_probe.py FACES_DIR OUT.json INPUTS.npz

The first side to run (x86-64; INPUTS.npz not there yet) makes the templates from the ENROL photos
and writes them with its crops to INPUTS.npz, which the second side reads: the same gallery, and
the same crops for both embedders. OUT.json and INPUTS.npz hold face data: the caller puts them
in a private temporary directory; both are created mode 0600.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

# Templates (person -> photo), made by the float model as enrolment makes them.
ENROL = {"barack_obama": "images/barack_obama/obama.jpg", "joe_biden": "images/joe_biden/biden.jpg"}
# Probe photo -> whom the gallery must find there (None: several faces, compared side by side only).
# Few on purpose: under emulation one float embedding takes ~4 s.
PROBES: dict[str, str | None] = {
    "images/barack_obama/obama2.jpg": "barack_obama",  # another photo than the template's
    "multi_face/obama_and_biden.jpg": None,  # both people and a small background face
}


def probe(faces_dir: Path, out: Path, inputs: Path) -> None:
    """Write one side's JSON. The x86 side (``inputs`` not there yet) also writes the templates and
    its crops to ``inputs``, which the aarch64 side reads: the gallery and the crops it embeds."""
    import numpy as np
    import onnxruntime as ort

    from sputnik_edge.config import RecognitionSection
    from sputnik_edge.recognition.gallery import Gallery
    from sputnik_edge.recognition.recognizer import Recognizer
    from sputnik_edge.vision.imageio import load_image

    # The daemon's defaults (int8 identifies, float makes templates), but 1 thread: the 2 cores here
    # are shared, and onnxruntime's thread count does not change what a convolution computes.
    cfg = RecognitionSection(threads=1)
    rec = Recognizer.from_config(cfg)
    sessions = {"yunet": rec.detector, "int8": rec.embedder, "float": rec.enrol_embedder}
    res: dict[str, Any] = {
        "machine": platform.machine(),
        "versions": f"onnxruntime {ort.__version__}, numpy {np.__version__}",
        "available_providers": ort.get_available_providers(),
        "providers": {k: m._session.get_providers() for k, m in sessions.items()},  # type: ignore[attr-defined]
        "det_threshold": cfg.det_score_threshold,
        "match_threshold": cfg.match_threshold,
        "photos": {},
        "model": {},
        "ms": {"detect": [], "int8": [], "float": []},
    }

    def timed(kind: str, fn: Any, *a: Any) -> Any:
        t0 = time.perf_counter()
        value = fn(*a)
        res["ms"][kind].append((time.perf_counter() - t0) * 1000)
        return value

    def match(emb: Any) -> list[Any]:
        m = rec.match(emb)[0]
        return [m.decision, m.employee_id, m.similarity]

    reference = not inputs.exists()
    if reference:  # a device gets its templates from the central database, made where a person enrolled
        owners = sorted(ENROL)
        found = [rec.analyze(load_image(faces_dir / ENROL[o])) for o in owners]
        best = [max(f, key=lambda c: c.detection.score).aligned for f in found]
        templates = rec.enrol_embedder.embed(np.stack(best))
    else:
        with np.load(inputs) as data:
            owners, templates = [str(o) for o in data["owners"]], data["templates"]
    rec.set_gallery(Gallery.build(owners, templates, {o: o for o in owners}))
    crops: dict[str, Any] = {}
    for photo in PROBES:
        image = load_image(faces_dir / photo)
        faces = []
        for i, c in enumerate(timed("detect", rec.analyze, image)):
            face = {"box": list(c.detection.bbox), "landmarks": c.detection.landmarks.tolist()}
            face |= {"score": c.detection.score, "gate": c.quality.ok}
            if c.quality.ok:  # as Recognizer.recognize: only faces that passed the gate are embedded
                emb = timed("int8", rec.embedder.embed, c.aligned[None])
                face |= {"int8": emb[0].tolist(), "decision": match(emb)}
                crops[f"{photo}#{i}"] = c.aligned
            faces.append(face)
        res["photos"][photo] = {"scale": max(1.0, max(image.shape[:2]) / cfg.detect_max_side), "faces": faces}
    if reference:
        with os.fdopen(os.open(inputs, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as npz:
            np.savez(npz, owners=np.array(owners), templates=templates, **crops)
    with np.load(inputs) as data:
        for key in sorted(k for k in data.files if "#" in k):
            crop = data[key][None]
            f32, int8 = timed("float", rec.enrol_embedder.embed, crop), rec.embedder.embed(crop)
            res["model"][key] = {"float": f32[0].tolist(), "int8": int8[0].tolist(), "decision": match(f32)}
    with os.fdopen(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as fh:
        json.dump(res, fh)


if __name__ == "__main__":
    probe(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
