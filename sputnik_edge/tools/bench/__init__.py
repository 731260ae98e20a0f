"""``sputnik-edge bench``: size a device with the real components on real frames.

Sections (select with ``--only``), one module each:

- ``stages``: per-stage times (decode, detect, align, quality, embed, match, policy, outbox commit) of
  the daemon's own frame path on frames of the dev video upscaled to 640x360, 1280x720 and
  1920x1080 and on the dev photos.
- ``reference``: our detect+align+embed against the OpenCV Zoo reference pipeline (and the
  ``face_recognition`` library when importable) on the same images, in blocks; the embedder's
  overhead over a bare onnxruntime call; verification accuracy of each on ``calib/pairs.csv``.
- ``stream``: an in-process EdgeApp on the looped clip (file camera), at the configured fps limit
  and with every frame processed: throughput, latency, CPU, RSS.
- ``match``: 1:N identification against synthetic galleries of 1k, 10k and 100k templates.
- ``memory``: ``sputnik-edge run`` as a subprocess with a 10k gallery and a 1080p camera: cold
  start to ``ready`` and peak RSS.
- ``outbox``: durable local commits per second.
- ``central``: push and pull rates against PostgreSQL (only with a database URL).
- ``detectors``: YuNet against BlazeFace (the mediapipe extra).
- ``fleet``: 50, 200 and 500 simulated devices (the real sync code) against one PostgreSQL: push,
  pull and heartbeat latency, delivery and database load (only with a database URL).

``runner`` runs them into a typed ``results.BenchResult`` (its ``to_json()`` is bench.json);
``targets`` judges it, ``console`` prints it, ``report`` renders docs/BENCHMARKS.md from the JSON.

Timings are wall-clock ``perf_counter`` on a possibly shared machine: compare ratios measured in
one run, not absolute numbers across runs.
"""

from sputnik_edge.tools.bench.console import format_report
from sputnik_edge.tools.bench.context import RESOLUTIONS, SECTIONS, BenchError
from sputnik_edge.tools.bench.results import STAGE_NAMES, BenchResult
from sputnik_edge.tools.bench.runner import BenchOptions, parse_sections, run_bench
from sputnik_edge.tools.paths import default_faces_dir

__all__ = [
    "RESOLUTIONS",
    "SECTIONS",
    "STAGE_NAMES",
    "BenchError",
    "BenchOptions",
    "BenchResult",
    "default_faces_dir",
    "format_report",
    "parse_sections",
    "run_bench",
]
