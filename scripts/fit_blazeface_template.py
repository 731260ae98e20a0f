#!/usr/bin/env python3
"""Fit BLAZEFACE_TEMPLATE (sputnik_edge/vision/align.py): where BlazeFace's eyes, nose tip and mouth
centre sit on faces that YuNet's landmarks align to the ArcFace template.

    python scripts/fit_blazeface_template.py [FACES_DIR]   # needs the mediapipe extra

Uses the single-face photos of FACES_DIR/labels.csv (default: $SPUTNIK_FACES_DIR or ../shared/faces),
pairs each confident YuNet face with the BlazeFace face whose eyes and nose fall inside it, and
prints the symmetric median template. Keep the calibration pairs out of the fit: they measure it.
"""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

import numpy as np

from sputnik_edge.config import RecognitionSection
from sputnik_edge.recognition.recognizer import create_detector
from sputnik_edge.vision.align import BLAZEFACE_TEMPLATE, keypoints_in_template, symmetric_template
from sputnik_edge.vision.blazeface import BlazeFaceDetector
from sputnik_edge.vision.imageio import load_image
from sputnik_edge.vision.models import default_models_dir


def main(argv: list[str]) -> int:
    root = Path(argv[0] if argv else os.environ.get("SPUTNIK_FACES_DIR", "../shared/faces"))
    models = default_models_dir()
    yunet = create_detector(RecognitionSection(), models)
    blaze = create_detector(RecognitionSection(detector="blazeface"), models)
    assert isinstance(blaze, BlazeFaceDetector)
    samples = []
    with (root / "labels.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            image = load_image(root / row["path"])
            faces = [d for d in yunet.detect(image) if d.score >= 0.8]
            for face in faces:
                x1, y1, x2, y2 = face.bbox
                for _score, _box, kps in blaze.keypoints(image):
                    cx, cy = kps[:3].mean(axis=0)
                    if x1 <= cx <= x2 and y1 <= cy <= y2:
                        samples.append(keypoints_in_template(face.landmarks, kps[:4]))
                        break
    template = symmetric_template(np.array(samples))
    print(f"{len(samples)} faces from {root}")
    print("fitted:  ", np.round(template, 2).tolist())
    print("in code: ", BLAZEFACE_TEMPLATE.tolist())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
