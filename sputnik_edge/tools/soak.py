"""Load and soak runs against a real daemon on loopback (bounded in count and time).

``sputnik-edge loadtest``: concurrent requests to /health and the snapshot gateway, p50/p99 and
error rate. ``sputnik-edge soak``: the daemon on a looped clip for N minutes, RSS and open file
descriptors sampled, so leaks show as a slope.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

# The tools extra, imported here so that `soak` and `loadtest` without it stop at load_tool with
# one line naming the extra instead of failing half-way through a run.
import matplotlib
import numpy as np
import psutil

from sputnik_edge.tools.daemon_process import DaemonProcess
from sputnik_edge.tools.load import hammer
from sputnik_edge.tools.paths import dev_people

# Soak and loadtest measure the daemon, not its HTTP rate limiter.
_HTTP = {"rate_limit_per_minute": 0}


def enrol(db: Path, photos: dict[str, Path]) -> None:
    from sputnik_edge.config import RecognitionSection
    from sputnik_edge.recognition.recognizer import Recognizer
    from sputnik_edge.store.local import LocalStore
    from sputnik_edge.vision.imageio import load_image

    rec = Recognizer.from_config(RecognitionSection())
    store = LocalStore(db)
    for emp, photo in photos.items():
        vec, q = rec.enrollment_template(load_image(photo), str(photo))
        store.enroll(emp, emp, None, rec.model_id, vec[None], [q.score])
    store.close()


def run_load(
    faces_dir: Path,
    *,
    health_requests: int = 3000,
    gateway_requests: int = 300,
    concurrency: int = 8,
    max_seconds: float = 60,
) -> dict[str, Any]:
    """Load on /health and on the gateway (obama.jpg, Obama enrolled) of a daemon with no camera."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        photo = faces_dir / "images/barack_obama/obama.jpg"
        enrol(work / "edge.db", {"barack_obama": photo})
        daemon = DaemonProcess.in_workdir(
            work, log_level="WARNING", http=_HTTP, attendance={"cooldown_s": 0}
        ).start()
        body = photo.read_bytes()
        try:
            daemon.wait_ready()
            health = hammer(
                lambda c: int(c.get(daemon.url + "/health").status_code),
                health_requests,
                concurrency,
                max_seconds,
            )
            gateway = hammer(
                lambda c: int(
                    c.post(
                        daemon.url + "/api/v1/gateway/snapshot",
                        files={"file": ("obama.jpg", body, "image/jpeg")},
                    ).status_code
                ),
                gateway_requests,
                concurrency,
                max_seconds,
            )
        finally:
            code = daemon.stop()
    return {"health": health, "gateway": gateway, "daemon_exit": code}


def run_soak(
    faces_dir: Path,
    *,
    minutes: float = 10,
    sample_s: float = 5,
    progress: Callable[[float], Any] | None = None,
) -> dict[str, Any]:
    """The daemon on the looped dev clip; RSS and fd count sampled every ``sample_s``."""
    clip = faces_dir / "video/short_hamilton_clip.mp4"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        enrol(work / "edge.db", dev_people(faces_dir))
        cams = [{"id": "soak", "source": str(clip), "loop": True, "fps_limit": 10}]
        daemon = DaemonProcess.in_workdir(
            work, log_level="WARNING", cameras=cams, http=_HTTP, attendance={"cooldown_s": 60}
        ).start()
        samples: list[dict[str, float]] = []
        try:
            daemon.wait_ready()
            proc = psutil.Process(daemon.pid)
            t0 = time.monotonic()
            end = t0 + minutes * 60
            cpu0 = proc.cpu_times()
            while time.monotonic() < end:
                health = httpx.get(daemon.url + "/health", timeout=10).json()
                cam = health["cameras"]["soak"]
                samples.append(
                    {
                        "t_s": round(time.monotonic() - t0, 1),
                        "rss_mb": round(proc.memory_info().rss / 2**20, 2),
                        "fds": proc.num_fds(),
                        "threads": proc.num_threads(),
                        "frames_processed": cam["frames_processed"],
                    }
                )
                if progress:
                    progress(time.monotonic() - t0)
                time.sleep(sample_s)
            cpu1 = proc.cpu_times()
            events = httpx.get(daemon.url + "/api/v1/events", params={"limit": 1000}, timeout=10).json()
        finally:
            code = daemon.stop()
    wall = samples[-1]["t_s"] - samples[0]["t_s"] if len(samples) > 1 else 1.0
    rss = np.array([s["rss_mb"] for s in samples])
    fds = np.array([s["fds"] for s in samples])
    t = np.array([s["t_s"] for s in samples]) / 60
    # Slope over the second half: start-up (model load, first allocations) is not a leak.
    half = len(samples) // 2
    slope = float(np.polyfit(t[half:], rss[half:], 1)[0]) if len(samples) - half >= 3 else 0.0
    return {
        "minutes": minutes,
        "samples": samples,
        "rss_mb_first": float(rss[0]),
        "rss_mb_max": float(rss.max()),
        "rss_mb_last": float(rss[-1]),
        "rss_slope_mb_per_min_second_half": round(slope, 3),
        "fds_min": int(fds.min()),
        "fds_max": int(fds.max()),
        "frames_processed": samples[-1]["frames_processed"],
        "processed_fps": round(
            (samples[-1]["frames_processed"] - samples[0]["frames_processed"]) / max(wall, 1e-9), 2
        ),
        "cpu_cores": round((cpu1.user + cpu1.system - cpu0.user - cpu0.system) / (time.monotonic() - t0), 3),
        "events": len(events["events"]),
        "daemon_exit": code,
    }


def plot_soak(result: dict[str, Any], out: Path) -> None:
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = result["samples"]
    t = [x["t_s"] / 60 for x in s]
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.plot(t, [x["rss_mb"] for x in s], color="tab:blue", label="RSS (MB)")
    ax.set_xlabel("minutes")
    ax.set_ylabel("RSS (MB)", color="tab:blue")
    ax.set_ylim(0, max(x["rss_mb"] for x in s) * 1.3)
    ax2 = ax.twinx()
    ax2.plot(t, [x["fds"] for x in s], color="tab:orange", label="open fds")
    ax2.set_ylabel("open file descriptors", color="tab:orange")
    ax2.set_ylim(0, max(x["fds"] for x in s) * 1.5)
    ax.set_title(
        f"soak: {result['minutes']} min on the looped clip, {result['processed_fps']} fps processed, "
        f"RSS slope {result['rss_slope_mb_per_min_second_half']} MB/min"
    )
    ax.grid(alpha=0.3)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
