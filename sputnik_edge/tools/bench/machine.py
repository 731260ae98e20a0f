"""The machine a bench ran on, and process measurements (RSS, filesystem) the sections share."""

from __future__ import annotations

import contextlib
import os
import platform
import threading
from pathlib import Path

import numpy as np

# The tools extra: imported at module level so that `sputnik-edge bench` without it stops at
# load_tool with one line naming the extra.
import psutil

from sputnik_edge.tools.bench.results import Machine

THREAD_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENCV_FOR_THREADS_NUM")


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def machine_info() -> Machine:
    import cv2
    import onnxruntime as ort

    return Machine(
        cpu_model=_cpu_model(),
        arch=platform.machine(),
        logical_cores=os.cpu_count(),
        physical_cores=psutil.cpu_count(logical=False),
        ram_mb=psutil.virtual_memory().total // (1024 * 1024),
        os=platform.platform(),
        python=platform.python_version(),
        numpy=np.__version__,
        onnxruntime=ort.__version__,
        opencv=cv2.__version__,
        opencv_threads=cv2.getNumThreads(),
        env={k: os.environ.get(k) for k in THREAD_ENV},
        loadavg_start=loadavg(),
    )


def fs_type(path: Path) -> str:
    """Filesystem type of ``path`` from /proc/mounts (fsync costs depend on it)."""
    best, fstype = "", "unknown"
    try:
        target = str(path.resolve())
        with open("/proc/mounts") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) < 3 or len(parts[1]) <= len(best):
                    continue
                if target == parts[1] or target.startswith(parts[1].rstrip("/") + "/"):
                    best, fstype = parts[1], parts[2]
    except OSError:
        pass
    return fstype


class RssSampler(threading.Thread):
    """Peak RSS of a process (this one by default), sampled every ``period`` seconds."""

    def __init__(self, pid: int | None = None, period: float = 0.2) -> None:
        super().__init__(name="bench-rss", daemon=True)
        self.proc = psutil.Process(pid)
        self.period = period
        self.peak = self.proc.memory_info().rss
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.wait(self.period):
            # The process may exit between samples; the peak so far stands.
            with contextlib.suppress(psutil.Error):
                self.peak = max(self.peak, self.proc.memory_info().rss)

    def stop(self) -> int:
        self.stop_event.set()
        self.join(timeout=2)
        with contextlib.suppress(psutil.Error):
            self.peak = max(self.peak, self.proc.memory_info().rss)
        return self.peak
