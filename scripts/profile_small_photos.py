#!/usr/bin/env python3
"""Where a face's time goes on the small calibration photos (README "Speed", issue #17), ours
stage by stage beside the OpenCV Zoo reference, with and without ``recognition.spin_within_run``.

    python scripts/profile_small_photos.py [FACES_DIR] [ROUNDS]

Same images, one process, interleaved image by image (the ``imagesets`` bench's set and method);
prints medians per image in ms. Run it on an otherwise idle machine: spinning loses when another
process wants the cores, which is the point of the comparison.
"""

from __future__ import annotations

import csv
import os
import sys
import time
from pathlib import Path

import numpy as np

from sputnik_edge.config import RecognitionSection
from sputnik_edge.recognition.recognizer import Recognizer
from sputnik_edge.tools.bench.imagesets import SMALL_MAX_SIDE
from sputnik_edge.tools.reference import ReferencePipeline
from sputnik_edge.vision.imageio import load_image


def small_photos(root: Path) -> list[np.ndarray]:
    """The imagesets bench's small set: calib/labels.csv images of at most SMALL_MAX_SIDE px."""
    labels = root / "calib" / "labels.csv"
    if not labels.is_file():
        return []
    with labels.open(newline="") as fh:
        images = [load_image(root / "calib" / row["path"]) for row in csv.DictReader(fh)]
    return [i for i in images if max(i.shape[:2]) <= SMALL_MAX_SIDE]


def main(argv: list[str]) -> int:
    root = Path(argv[0] if argv else os.environ.get("SPUTNIK_FACES_DIR", "../shared/faces"))
    rounds = int(argv[1]) if len(argv) > 1 else 3
    images = small_photos(root)
    if not images:
        print(f"no image of at most {SMALL_MAX_SIDE} px under {root / 'calib'}", file=sys.stderr)
        return 1
    recs = {
        "default": Recognizer.from_config(RecognitionSection()),
        "spin_within_run": Recognizer.from_config(RecognitionSection(spin_within_run=True)),
    }
    ref = ReferencePipeline()
    times: dict[str, list[float]] = {}

    def add(key: str, seconds: float) -> None:
        times.setdefault(key, []).append(seconds)

    for _ in range(rounds):
        for image in images:
            for name, rec in recs.items():
                t0 = time.perf_counter()
                dets = rec.detect(image)
                t1 = time.perf_counter()
                aligned = [rec.align(image, d) for d in dets]
                t2 = time.perf_counter()
                if aligned:
                    rec.embedder.embed(np.stack(aligned))
                t3 = time.perf_counter()
                add(f"{name} detect", t1 - t0)
                add(f"{name} align", t2 - t1)
                add(f"{name} embed", t3 - t2)
                add(f"{name} total", t3 - t0)
            t0 = time.perf_counter()
            rows = ref.detect(image)
            t1 = time.perf_counter()
            for row in rows:
                ref.embed(image, row)
            t2 = time.perf_counter()
            add("reference detect", t1 - t0)
            add("reference align + embed", t2 - t1)
            add("reference total", t2 - t0)
    med = {k: 1000 * float(np.median(v)) for k, v in times.items()}
    print(f"{len(images)} images, {rounds} rounds, medians per image (ms)")
    for key, ms in med.items():
        print(f"  {key:28s} {ms:6.2f}")
    for name in recs:
        print(f"  reference / {name}: {med['reference total'] / med[f'{name} total']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
