#!/usr/bin/env python3
"""Where a face's time goes on the small calibration photos (README "Speed", issue #17), ours
stage by stage beside the OpenCV Zoo reference, with and without ``recognition.spin_within_run``.

    python scripts/profile_small_photos.py [FACES_DIR] [ROUNDS] [--order ORDER]

The ``imagesets`` bench's set. ``--order``:
- ``interleaved``: one process, every pipeline on one image before the next image; each pipeline
  then runs with the others' weights in the cache;
- ``blocks`` (the bench's main figures): one process, each pipeline through the whole set in turn,
  the first one rotating per round;
- ``processes``: one process per pipeline (the issue's own method), run one after the other,
  ROUNDS times each in rotating order; each process times the set once.
Prints medians per image in ms. Run it on an otherwise idle machine: spinning loses when another
process wants the cores, which is the point of the comparison.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from sputnik_edge.config import RecognitionSection
from sputnik_edge.recognition.recognizer import Recognizer
from sputnik_edge.tools.bench.imagesets import SMALL_MAX_SIDE
from sputnik_edge.tools.reference import ReferencePipeline
from sputnik_edge.vision.imageio import load_image

PIPELINES = ("default", "spin_within_run", "reference")
Times = dict[str, list[float]]


def small_photos(root: Path) -> list[np.ndarray]:
    """The imagesets bench's small set: calib/labels.csv images of at most SMALL_MAX_SIDE px."""
    labels = root / "calib" / "labels.csv"
    if not labels.is_file():
        return []
    with labels.open(newline="") as fh:
        images = [load_image(root / "calib" / row["path"]) for row in csv.DictReader(fh)]
    return [i for i in images if max(i.shape[:2]) <= SMALL_MAX_SIDE]


def runner(name: str, times: Times) -> Callable[[np.ndarray], None]:
    """One pipeline's timed detect / align / embed on an image, adding to ``times``."""

    def add(key: str, seconds: float) -> None:
        times.setdefault(f"{name} {key}", []).append(seconds)

    if name == "reference":
        ref = ReferencePipeline()

        def run_ref(image: np.ndarray) -> None:
            t0 = time.perf_counter()
            rows = ref.detect(image)
            t1 = time.perf_counter()
            for row in rows:
                ref.embed(image, row)
            t2 = time.perf_counter()
            add("detect", t1 - t0)
            add("align + embed", t2 - t1)
            add("total", t2 - t0)

        return run_ref
    rec = Recognizer.from_config(RecognitionSection(spin_within_run=name == "spin_within_run"))

    def run_ours(image: np.ndarray) -> None:
        t0 = time.perf_counter()
        dets = rec.detect(image)
        t1 = time.perf_counter()
        aligned = [rec.align(image, d) for d in dets]
        t2 = time.perf_counter()
        if aligned:
            rec.embedder.embed(np.stack(aligned))
        t3 = time.perf_counter()
        add("detect", t1 - t0)
        add("align", t2 - t1)
        add("embed", t3 - t2)
        add("total", t3 - t0)

    return run_ours


def in_process(images: list[np.ndarray], names: list[str], rounds: int, order: str) -> Times:
    times: Times = {}
    runs = [runner(n, times) for n in names]
    for run in runs:  # warm-up, not timed
        run(images[0])
    times.clear()
    for r in range(rounds):
        if order == "interleaved":
            for image in images:
                for run in runs:
                    run(image)
        else:
            k = r % len(runs)
            for run in runs[k:] + runs[:k]:
                for image in images:
                    run(image)
    return times


def in_processes(root: Path, rounds: int) -> Times:
    times: Times = {}
    for r in range(rounds):
        k = r % len(PIPELINES)
        for name in PIPELINES[k:] + PIPELINES[:k]:
            out = subprocess.run(
                [sys.executable, __file__, str(root), "1", "--only", name],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            for key, values in json.loads(out.splitlines()[-1]).items():
                times.setdefault(key, []).extend(values)
    return times


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_dir = os.environ.get("SPUTNIK_FACES_DIR", "../shared/faces")
    parser.add_argument("faces_dir", nargs="?", default=default_dir)
    parser.add_argument("rounds", nargs="?", type=int, default=3)
    parser.add_argument("--order", choices=("interleaved", "blocks", "processes"), default="interleaved")
    parser.add_argument("--only", choices=PIPELINES, help=argparse.SUPPRESS)  # a --order processes child
    args = parser.parse_args(argv)
    root = Path(args.faces_dir)
    images = small_photos(root)
    if not images:
        print(f"no image of at most {SMALL_MAX_SIDE} px under {root / 'calib'}", file=sys.stderr)
        return 1
    if args.only:
        print(json.dumps(in_process(images, [args.only], args.rounds, "blocks")))
        return 0
    if args.order == "processes":
        times = in_processes(root, args.rounds)
    else:
        times = in_process(images, list(PIPELINES), args.rounds, args.order)
    med = {k: 1000 * float(np.median(v)) for k, v in sorted(times.items())}
    print(f"{len(images)} images, {args.rounds} rounds, {args.order}, medians per image (ms)")
    for key, ms in med.items():
        print(f"  {key:28s} {ms:6.2f}")
    for name in PIPELINES[:2]:
        print(f"  reference / {name}: {med['reference total'] / med[f'{name} total']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
