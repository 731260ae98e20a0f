"""onnxruntime session factory tuned for a small edge CPU."""

from __future__ import annotations

import contextlib
import ctypes
import sys
from pathlib import Path

import onnxruntime as ort


def release_freed_heap() -> None:
    """Give memory glibc keeps after a large free back to the OS.

    Creating a session parses the model protobuf (37 MB for SFace) and frees it again; glibc keeps
    those pages, so without this the daemon carries ~40 MB it never uses. No-op off glibc.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # musl has no malloc_trim
            ctypes.CDLL("libc.so.6").malloc_trim(0)


def create_session(path: Path, threads: int = 0, *, spin_within_run: bool = False) -> ort.InferenceSession:
    """CPU-only session; ``threads`` = 0 lets onnxruntime use one thread per physical core.

    ``spin_within_run``: the pool's threads spin between the operators of one run and go to sleep
    when the run ends (``session.force_spinning_stop``). For SFace's ~100 small operators that
    waking cost is about a fifth of an embed back to back; between runs the pool sleeps. Off by
    default: at a door's 10 fps it cost more CPU per frame and a longer p90 (README, "Speed").

    Sequential execution because these graphs are chains of convolutions: parallel branches would
    only add scheduling overhead, while intra-op threads split each convolution across cores. The
    inter-op pool is pinned to one thread for the same reason.
    """
    if threads < 0:
        raise ValueError(f"threads must be >= 0, got {threads}")
    if not Path(path).is_file():
        raise FileNotFoundError(f"ONNX model {path} not found")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    # Idle pool threads would otherwise spin on the cores the capture and HTTP threads need.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin_within_run else "0")
    if spin_within_run:
        opts.add_session_config_entry("session.force_spinning_stop", "1")
    session = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    release_freed_heap()
    return session
