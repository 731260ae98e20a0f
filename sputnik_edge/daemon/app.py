"""EdgeApp: builds the parts, starts them in dependency order, stops them in reverse.

store -> recogniser (gallery from the local cache) -> policy/engine -> scheduler -> cameras ->
pipeline workers -> HTTP API -> watchdog. READY=1 goes to systemd only when every camera
pipeline and the HTTP server have reported progress.
"""

from __future__ import annotations

import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog

from sputnik_edge import __version__
from sputnik_edge.api.context import CameraInfoOut, CameraView, GalleryInfo
from sputnik_edge.attendance.policy import AttendancePolicy, CameraInfo, PolicyConfig
from sputnik_edge.attendance.tracker import IouTracker
from sputnik_edge.capture.thread import CaptureThread
from sputnik_edge.config import CameraSection, Settings
from sputnik_edge.daemon.outputs import Outputs
from sputnik_edge.daemon.systemd import SystemdNotifier
from sputnik_edge.daemon.watchdog import ProgressMonitor, WatchdogThread, ready_when
from sputnik_edge.health import CameraHealth, HealthReport, build_health, disk_free_mb
from sputnik_edge.liveness.stage import build_liveness
from sputnik_edge.logging import clear_context
from sputnik_edge.metrics import Metrics
from sputnik_edge.outputs.types import DeviceState
from sputnik_edge.pipeline.engine import AttendanceEngine, FrameOutcome, SnapshotSettings
from sputnik_edge.pipeline.preview import camera_hints
from sputnik_edge.pipeline.worker import CameraWorker
from sputnik_edge.recognition.recognizer import Recognizer
from sputnik_edge.redaction import redact_url
from sputnik_edge.store.local import LocalStore
from sputnik_edge.store.snapshots import cleanup_snapshots, remove_snapshots
from sputnik_edge.store.tables import StoredEvent
from sputnik_edge.vision.onnx import release_freed_heap
from sputnik_edge.vision.types import ImageArray

if TYPE_CHECKING:
    from sputnik_edge.central.sync import CentralSync

log = structlog.get_logger(__name__)


class EdgeApp:
    """The daemon. Implements ``api.context.DeviceContext``, the one thing the HTTP API sees."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.version = settings.app.version or __version__
        self.stop_event = threading.Event()
        self.metrics = Metrics()
        self.monitor = ProgressMonitor()
        self.notifier = SystemdNotifier()
        self.started_mono = time.monotonic()
        self.cameras: dict[str, CameraSection] = {c.id: c for c in settings.cameras if c.enabled}
        self.captures: dict[str, CaptureThread] = {}
        self.workers: dict[str, CameraWorker] = {}
        self.sync: CentralSync | None = None
        self.scheduler: Any = None
        self.http_server: Any = None
        self._http_thread: threading.Thread | None = None
        self._gallery_signature: tuple[int, str] | None = None
        self.ready = False

        self.store = self._open_store()
        self.recognizer = Recognizer.from_config(settings.recognition)
        self.reload_gallery()
        att = settings.attendance
        self.policy = AttendancePolicy(
            PolicyConfig(
                att.min_frames,
                att.cooldown_s,
                att.max_embeds_per_track,
                att.reembed_quality_gain,
                liveness_mode=settings.liveness.mode,
            ),
            settings.device.id,
        )
        recent = [e.event for e in self.store.list_events(limit=1000)]
        self.policy.seed_cooldowns(recent, datetime.now(UTC))
        self.engine = AttendanceEngine(
            self.recognizer,
            self.policy,
            self.store,
            SnapshotSettings(
                settings.storage.save_snapshots,
                settings.storage.snapshots_dir,
                upload_unknowns=settings.central.enabled and settings.central.upload_unknown_snapshots,
            ),
            self.metrics,
            liveness=build_liveness(settings),
        )
        self.outputs = Outputs(settings, self.store, self.metrics, self.stop_event, self.device_state)

    def _open_store(self) -> LocalStore:
        """The local store; a corrupt file is moved aside only when that provably loses nothing
        (no unsent events, central configured), else CorruptStoreError refuses the start."""
        from sputnik_edge.store.recovery import open_store

        s = self.settings
        return open_store(s.storage.database, device_id=s.device.id, central_configured=s.central.enabled)

    # ---- gallery -----------------------------------------------------------------------------

    def reload_gallery(self, force: bool = False) -> bool:
        signature = self.store.gallery_signature(self.recognizer.model_id)
        if not force and signature == self._gallery_signature:
            return False
        version = int(self.store.get_state("gallery_seq", "0") or 0)
        gallery = self.store.load_gallery(self.recognizer.model_id, version)
        self.recognizer.set_gallery(gallery)
        self._gallery_signature = signature
        self.metrics.gallery_size.set(gallery.n_templates)
        log.info(
            "gallery_loaded", employees=gallery.n_employees, templates=gallery.n_templates, version=version
        )
        return True

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        s = self.settings
        log.info(
            "starting",
            version=self.version,
            device_id=s.device.id,
            cameras=len(self.cameras),
            model_id=self.recognizer.model_id,
            central=s.central.enabled,
        )
        self.outputs.start()  # event outputs read the outbox from their own cursors
        self._start_sync()
        self._start_scheduler()
        for cam in self.cameras.values():
            self._start_camera(cam)
        if s.http.enabled:
            self._start_http()
        period = self.notifier.watchdog_period()
        if period:
            WatchdogThread(self.notifier, self.monitor, self.stop_event, period).start()
        threading.Thread(target=self._announce_ready, name="ready", daemon=True).start()

    def _announce_ready(self) -> None:
        if ready_when(self.notifier, self.monitor, self.stop_event, timeout_s=120):
            release_freed_heap()  # start-up garbage (gallery rows, imports) back to the OS
            self.ready = True
            log.info("ready", startup_s=round(time.monotonic() - self.started_mono, 3))

    def _start_camera(self, cam: CameraSection) -> None:
        capture = CaptureThread(
            cam.id,
            cam.source,
            self.stop_event,
            fps_limit=cam.fps_limit,
            open_timeout_s=cam.open_timeout_s,
            read_timeout_s=cam.read_timeout_s,
            loop_file=cam.loop,
        )
        a = self.settings.attendance
        worker = CameraWorker(
            CameraInfo(cam.id, cam.direction),
            capture,
            self.engine,
            IouTracker(a.track_iou, a.track_max_age_s),
            self.monitor.beat,
            self.stop_event,
        )
        silence = cam.open_timeout_s + cam.read_timeout_s + 15
        self.monitor.register(worker.part, max_silence_s=30)
        self.monitor.register(worker.capture_part, max_silence_s=silence)
        self.captures[cam.id] = capture
        self.workers[cam.id] = worker
        capture.start()
        worker.start()
        log.info("camera_started", camera_id=cam.id, source=redact_url(cam.source), direction=cam.direction)

    def _start_http(self) -> None:
        import uvicorn

        from sputnik_edge.api.app import create_app

        api = create_app(self)
        config = uvicorn.Config(
            api,
            host=self.settings.http.host,
            port=self.settings.http.port,
            log_config=None,
            access_log=False,
            lifespan="on",
            proxy_headers=False,  # no trusted proxy: X-Forwarded-For must not pick a rate-limit bucket
            timeout_graceful_shutdown=3,
        )
        self.http_server = uvicorn.Server(config)
        self.monitor.register("http", max_silence_s=60)
        self._http_thread = threading.Thread(target=self._serve_http, name="http", daemon=True)
        self._http_thread.start()

    def _serve_http(self) -> None:
        server = self.http_server
        # uvicorn installs signal handlers only on the main thread; here the app owns signals.
        server.install_signal_handlers = lambda: None
        try:
            server.run()
        except SystemExit:
            log.error("http_failed", host=self.settings.http.host, port=self.settings.http.port)
        finally:
            if not self.stop_event.is_set():
                log.error("http_stopped_unexpectedly")

    # ---- what the HTTP API may ask (api.context.DeviceContext) ---------------------------------

    def http_started(self) -> None:
        """Called by the API lifespan once the server accepts connections."""
        self.monitor.beat("http")

    def http_progress(self) -> None:
        self.monitor.beat("http")

    def camera_health(self) -> dict[str, CameraHealth]:
        out = {}
        for cam_id, cap in self.captures.items():
            st = cap.status()
            worker = self.workers.get(cam_id)
            out[cam_id] = CameraHealth(
                state=st.state,
                source=st.source,
                fps_in=round(st.fps_in, 2),
                frames_read=st.frames_read,
                frames_processed=worker.frames if worker else 0,
                fps_processed=round(worker.fps_processed, 2) if worker else 0.0,
                frames_dropped=st.frames_dropped,
                last_frame_age_s=None if st.last_frame_age_s is None else round(st.last_frame_age_s, 2),
                reconnects=st.reconnects,
                last_error=st.last_error,
            )
        return out

    def health(self) -> HealthReport:
        _, stalled = self.monitor.healthy()
        sync = self.sync.status() if self.sync is not None else None
        gallery = self.recognizer.gallery
        return build_health(
            ready=self.ready,
            cameras=self.camera_health(),
            pipeline_alive=self.pipeline_alive(),
            stalled=stalled,
            gallery_employees=gallery.n_employees,
            gallery_templates=gallery.n_templates,
            backlog=self.store.backlog(),
            central=sync.as_dict() if sync is not None else {"enabled": False},
            central_failing=bool(sync is not None and sync.last_error),
            disk_free_mb=disk_free_mb(self.settings.storage.database.parent),
            uptime_s=self.uptime_s(),
            outputs=self.outputs.health(),
        )

    def device_state(self) -> DeviceState:
        """What MQTT outputs publish as retained state."""
        cams: dict[str, str] = {cam_id: cap.status().state for cam_id, cap in self.captures.items()}
        return DeviceState(cams, self.store.backlog())

    def gallery_info(self) -> GalleryInfo:
        g = self.recognizer.gallery
        return GalleryInfo(employees=g.n_employees, templates=g.n_templates, version=g.version)

    def camera_list(self) -> list[CameraInfoOut]:
        return [CameraInfoOut(c.id, redact_url(c.source), c.direction) for c in self.cameras.values()]

    def recent_events(self, since: datetime | None, limit: int) -> list[StoredEvent]:
        return self.store.list_events(since=since, limit=limit)

    def camera_view(self, camera_id: str) -> CameraView | None:
        """Hints and the live preview of a configured camera (None: no such camera)."""
        if camera_id not in self.cameras:
            return None
        worker = self.workers.get(camera_id)
        if worker is None:
            return CameraView(camera_id, None, camera_hints([]))
        return CameraView(camera_id, worker.preview.latest(), worker.preview.hints())

    def process_snapshot(self, camera_id: str, image: ImageArray, trace_id: str) -> FrameOutcome:
        cam = self.cameras.get(camera_id)
        camera = CameraInfo(camera_id, cam.direction if cam else "in")
        return self.engine.process_snapshot(camera, image, trace_id=trace_id)

    def _start_scheduler(self) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler

        sched = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
        s = self.settings
        sched.add_job(self._job("snapshot_cleanup", self.cleanup_snapshots), "interval", minutes=10)
        sched.add_job(self._job("event_retention", self.prune_events), "interval", minutes=30)
        sched.add_job(
            self._job("gallery_reload", self.reload_gallery), "interval", seconds=s.central.gallery_interval_s
        )
        sched.add_job(self._job("metrics_refresh", self.refresh_metrics), "interval", seconds=5)
        if self.sync is not None:
            now = datetime.now(UTC)  # first runs at start, not one interval later
            sched.add_job(
                self._job("sync", self.sync.push_once),
                "interval",
                seconds=s.central.sync_interval_s,
                next_run_time=now,
            )
            sched.add_job(
                self._job("gallery_pull", self.sync.pull_once),
                "interval",
                seconds=s.central.gallery_interval_s,
                next_run_time=now,
            )
            sched.add_job(
                self._job("heartbeat", self.sync.heartbeat_once),
                "interval",
                seconds=s.central.heartbeat_interval_s,
                next_run_time=now,
            )
        sched.start()
        self.scheduler = sched
        # First runs now rather than one interval after start.
        self.cleanup_snapshots()
        self.refresh_metrics()

    def _start_sync(self) -> None:
        if not self.settings.central.enabled:
            return
        from sputnik_edge.central.sync import CentralSync

        self.sync = CentralSync(
            self.settings,
            self.store,
            self.recognizer.model_id,
            self.metrics,
            on_gallery_change=lambda: self.reload_gallery(force=True),
        )

    def _job(self, name: str, func: Any) -> Any:
        def run() -> None:
            try:
                func()
            except Exception as exc:  # a failing job is logged and retried next time, never fatal
                self.metrics.job_failures.labels(name).inc()
                log.warning("job_failed", job=name, error=str(exc), error_type=type(exc).__name__)

        run.__name__ = run.__qualname__ = name  # the scheduler names jobs after these
        return run

    def cleanup_snapshots(self) -> int:
        removed = cleanup_snapshots(
            self.settings.storage.snapshots_dir, self.settings.storage.snapshot_ttl_days
        )
        if removed:
            log.info("snapshots_removed", count=removed)
        # Unknown faces not yet uploaded (central away) expire like the snapshots.
        ttl = timedelta(days=self.settings.storage.snapshot_ttl_days)
        faces = self.store.faces.prune(datetime.now(UTC) - ttl)
        if faces:
            log.info("unknown_faces_expired", count=faces)
        return removed

    def prune_events(self) -> int:
        cutoff = datetime.now(UTC) - timedelta(days=self.settings.storage.event_retention_days)
        count, snaps = self.store.prune_events(
            cutoff,
            standalone=not self.settings.central.enabled,
            keep_after_seq=self.outputs.retention_floor(),
        )
        remove_snapshots(self.settings.storage.snapshots_dir, snaps)
        if count:
            log.info("events_pruned", count=count)
        return count

    def refresh_metrics(self) -> None:
        self.metrics.outbox_backlog.set(self.store.backlog())
        self.metrics.disk_free.set(disk_free_mb(self.settings.storage.database.parent) * 1024 * 1024)
        for cam_id, cap in self.captures.items():
            st = cap.status()
            self.metrics.reconnects.labels(cam_id).set(st.reconnects)
            self.metrics.camera_up.labels(cam_id).set(1 if st.state == "up" else 0)
            self.metrics.frames_dropped.labels(cam_id).set(st.frames_dropped)
        self.outputs.refresh_metrics()

    def pipeline_alive(self) -> bool:
        return all(w.is_alive() for w in self.workers.values()) or self.stop_event.is_set()

    def uptime_s(self) -> float:
        return time.monotonic() - self.started_mono

    def stop(self) -> None:
        """Reverse order: stop intake, finish frames in hand, flush, close the store."""
        if self.stop_event.is_set() and not self.workers and self.http_server is None:
            return
        log.info("stopping")
        self.notifier.stopping()
        self.stop_event.set()
        if self.http_server is not None:
            self.http_server.should_exit = True
        for cap in self.captures.values():
            cap.join(timeout=6)
        for worker in self.workers.values():
            worker.join(timeout=8)
        if self._http_thread is not None:
            self._http_thread.join(timeout=5)
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
        if self.sync is not None:
            try:
                self.sync.push_once(force=True)  # best effort: the outbox keeps whatever does not make it
            except Exception as exc:
                log.warning("final_sync_failed", error=str(exc))
            self.sync.close()
        self.outputs.stop()
        self.store.close()
        clear_context()
        log.info("stopped")

    def run_forever(self) -> int:
        """Run until SIGTERM/SIGINT; returns the exit code."""

        def on_signal(signum: int, _frame: Any) -> None:
            log.info("signal_received", signal=signal.Signals(signum).name)
            self.stop_event.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        self.start()
        while not self.stop_event.wait(1.0):
            if self._http_thread is not None and not self._http_thread.is_alive():
                log.error("http_server_died")
                self.stop()
                return 1
        self.stop()
        return 0
