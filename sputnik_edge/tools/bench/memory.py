"""``memory``: ``sputnik-edge run`` as a subprocess (``tools.daemon_process``) with a large gallery
and a 1080p camera: cold start to ``ready``, peak RSS, CPU, time to stop on SIGTERM."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psutil

from sputnik_edge.store.local import LocalStore, employees, templates
from sputnik_edge.tools.bench.context import BenchContext, BenchError, progress
from sputnik_edge.tools.bench.machine import RssSampler
from sputnik_edge.tools.bench.results import DaemonRun, MemoryResult
from sputnik_edge.tools.daemon_process import DaemonError, DaemonProcess


def write_1080p_clip(src: Path, dst: Path, max_frames: int) -> tuple[int, str]:
    """The dev clip upscaled to 1920x1080; returns (frames, codec).

    H.264 like a real camera stream when the ffmpeg command is there; else MPEG-4 Part 2 through
    OpenCV, whose decoder holds more memory than a camera's H.264 would (recorded in the JSON)."""
    import cv2

    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg:
        scale = ["-frames:v", str(max_frames), "-vf", "scale=1920:1080"]
        h264 = ["-c:v", "libx264", "-preset", "veryfast", "-an"]
        cmd = [ffmpeg, "-loglevel", "error", "-y", "-i", str(src), *scale, *h264, str(dst)]
        if subprocess.run(cmd, capture_output=True, timeout=300, check=False).returncode == 0:
            cap = cv2.VideoCapture(str(dst))
            n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
            cap.release()
            return n, "h264"
    cap = cv2.VideoCapture(str(src))
    fps = float(cap.get(cv2.CAP_PROP_FPS)) or 30.0
    writer = cv2.VideoWriter(str(dst), cv2.VideoWriter.fourcc(*"mp4v"), fps, (1920, 1080))
    if not writer.isOpened():
        cap.release()
        raise BenchError("cv2.VideoWriter cannot write mp4 here")
    n = 0
    while n < max_frames:
        ok, frame = cap.read()
        if not ok:
            break
        writer.write(cv2.resize(frame, (1920, 1080), interpolation=cv2.INTER_LINEAR))
        n += 1
    writer.release()
    cap.release()
    return n, "mpeg4"


def seed_random_gallery(store: LocalStore, model_id: str, n: int) -> None:
    """``n`` employees with one random template each, in one transaction (enrol() would commit,
    and fsync, once per employee)."""
    rng = np.random.default_rng(1)
    vecs = rng.standard_normal((n, 128)).astype("<f4")
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    now = datetime.now(UTC).isoformat()
    people = [
        {
            "employee_id": f"emp-{i:06d}",
            "full_name": f"Employee {i}",
            "is_active": True,
            "created_at": now,
            "updated_at": now,
        }
        for i in range(n)
    ]
    rows = [
        {
            "template_id": str(uuid.uuid4()),
            "employee_id": f"emp-{i:06d}",
            "model_id": model_id,
            "embedding": vecs[i].tobytes(),
            "quality": 0.9,
            "created_at": now,
        }
        for i in range(n)
    ]
    with store.engine.begin() as conn:
        conn.execute(employees.insert(), people)
        conn.execute(templates.insert(), rows)


def _app_startup_s(log_text: str) -> float | None:
    """The daemon's own ``startup_s`` from its ``ready`` log line (JSON logs)."""
    startup = None
    for line in log_text.splitlines():
        with contextlib.suppress(ValueError):
            rec = json.loads(line)
            if isinstance(rec, dict) and rec.get("event") == "ready":
                startup = rec.get("startup_s")
    return startup


def _run_daemon(ctx: BenchContext, tmp: Path, source: Path, gallery: int, seconds: float) -> DaemonRun:
    db = tmp / "edge.db"
    store = LocalStore(db, device_id=ctx.settings.device.id)
    model_id = ctx.recognizer().model_id
    ctx.enrol_into(store, model_id)
    if gallery:
        seed_random_gallery(store, model_id, gallery)
    store.close()
    camera = {
        "id": "bench",
        "source": str(source),
        "direction": "in",
        "loop": True,
        "fps_limit": ctx.configured_fps_limit(),
    }
    daemon = DaemonProcess.in_workdir(
        tmp,
        device_id=ctx.settings.device.id,
        cameras=[camera],
        recognition=ctx.settings.recognition.model_dump(mode="json"),
    )
    daemon.start()
    try:
        sampler = RssSampler(daemon.pid)
        sampler.start()
        try:
            health = daemon.wait_ready(timeout=60, poll_s=0.02)
        except DaemonError as exc:
            raise BenchError(f"daemon not ready: {str(exc)[-600:]}") from None
        cold_start = time.monotonic() - daemon.started_at
        ps = psutil.Process(daemon.pid)
        cpu0, w0 = ps.cpu_times(), time.monotonic()
        frames0 = health["cameras"]["bench"]["frames_processed"]
        time.sleep(seconds)
        cpu1, w1 = ps.cpu_times(), time.monotonic()
        body = daemon.get("/health", timeout=2).json()
        frames1 = body["cameras"]["bench"]["frames_processed"]
        peak = sampler.stop()
        full = ps.memory_full_info()  # USS/PSS: what this process adds beyond shared libraries
        t_stop = time.monotonic()
        code = daemon.stop(timeout=30)
        stop_s = time.monotonic() - t_stop
    finally:
        daemon.kill()
    wall = w1 - w0
    return DaemonRun(
        gallery_templates=int(body["gallery"]["templates"]),
        cold_start_s=round(cold_start, 3),
        app_startup_s=_app_startup_s(daemon.log_text()),
        peak_rss_mb=round(peak / 2**20, 1),
        end_rss_mb=round(full.rss / 2**20, 1),
        end_uss_mb=round(full.uss / 2**20, 1),
        end_pss_mb=round(getattr(full, "pss", 0) / 2**20, 1),
        cpu_cores=round(((cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)) / wall, 3),
        processed_fps=round((frames1 - frames0) / wall, 2),
        seconds=round(wall, 2),
        stop_s=round(stop_s, 3),
        exit_code=code,
    )


def bench_memory(ctx: BenchContext) -> MemoryResult:
    gallery = 1_000 if ctx.quick else 10_000
    seconds = 3.0 if ctx.quick else 10.0
    tmp = Path(tempfile.mkdtemp(prefix="sputnik-bench-memory-"))
    try:
        clip = tmp / "clip_1080p.mp4"
        frames, codec = write_1080p_clip(ctx.clip_path(), clip, 60 if ctx.quick else 10_000)
        steps = [
            ("small_gallery_640p", ctx.clip_path(), 0, 0.5 if ctx.quick else 2.0),
            (f"gallery_{gallery}_1080p", clip, gallery, seconds),
        ]
        runs: dict[str, DaemonRun] = {}
        with progress(len(steps), "memory", ctx.progress) as bar:
            for name, source, size, secs in steps:
                sub = tmp / name
                sub.mkdir()
                runs[name] = _run_daemon(ctx, sub, source, size, secs)
                bar.update(1)
        return MemoryResult(
            clip_1080p_frames=frames,
            clip_1080p_codec=codec,
            cold_start_definition="spawn of `python -m sputnik_edge run` to the first /health answer "
            "with ready: true",
            runs=runs,
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
