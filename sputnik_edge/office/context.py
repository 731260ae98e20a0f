"""Everything a request of the office server may use, built once per process: ``OfficeState``.

The routes see the central store, the authenticator, the recogniser with its central gallery,
the metrics and the gateway's counters through this one typed object (``app.state.office``),
never through module globals, so tests run several servers in one process.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy import Connection, func, select

from sputnik_edge import __version__
from sputnik_edge.api.ratelimit import RateLimiter
from sputnik_edge.api.routes.gateway import GatewayStats
from sputnik_edge.central.schema import employees, erasures, face_templates
from sputnik_edge.central.store import CentralStore
from sputnik_edge.config import RecognitionSection
from sputnik_edge.office.auth import Authenticator, Principal
from sputnik_edge.office.config import OfficeCameraSection, OfficeSettings
from sputnik_edge.office.security import LoginRateLimiter
from sputnik_edge.recognition.enrol_clip import select_clip
from sputnik_edge.recognition.enrol_select import Selection, SelectionRules
from sputnik_edge.recognition.gallery import EMBEDDING_DIM, Gallery
from sputnik_edge.recognition.recognizer import EnrollmentError, Recognizer
from sputnik_edge.recognition.types import FaceResult
from sputnik_edge.vision.types import FloatArray, ImageArray, Quality

log = structlog.get_logger(__name__)


class OfficeMetrics:
    """A registry of its own per server (tests run several in one process)."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.requests = Counter(
            "sputnik_office_http_requests",
            "HTTP requests by route and status",
            ["route", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "sputnik_office_http_request_seconds", "HTTP request duration", ["route"], registry=r
        )
        self.login_failures = Counter(
            "sputnik_office_login_failures", "Refused logins by reason", ["reason"], registry=r
        )
        self.snapshots = Counter(
            "sputnik_office_gateway_snapshots", "Gateway snapshots by outcome", ["outcome"], registry=r
        )
        self.gateway_events = Counter(
            "sputnik_office_gateway_events", "Attendance events recorded by the gateway", ["kind"], registry=r
        )
        self.enrolments = Counter(
            "sputnik_office_enrolments", "Photo enrolments by outcome", ["outcome"], registry=r
        )
        # Read at each scrape (deploy/monitoring/alerts.yml alerts on both).
        self.database_up = Gauge(
            "sputnik_office_database_up", "1 when the central database answered at this scrape", registry=r
        )
        self.device_silent = Gauge(
            "sputnik_office_device_silent_seconds",
            "Seconds since each device's last heartbeat, by the database clock",
            ["device"],
            registry=r,
        )
        self.gallery_templates = Gauge("sputnik_office_gallery_templates", "Templates in memory", registry=r)
        self.gallery_employees = Gauge("sputnik_office_gallery_employees", "Employees in memory", registry=r)


@dataclass(frozen=True, slots=True)
class GalleryInfo:
    employees: int
    templates: int
    change_seq: int


def _gallery_seq(conn: Connection) -> int:
    # Every change the gallery depends on (employee, template, erasure) takes a change_seq, and each
    # max() is one step down its index.
    parts = [
        select(func.coalesce(func.max(t.c.change_seq), 0)).scalar_subquery()
        for t in (employees, face_templates, erasures)
    ]
    return int(conn.execute(select(func.greatest(*parts))).scalar_one())


class OfficeRecognition:
    """The device's recogniser (same models, thresholds and quality gate) over the central gallery.

    Before each use the gallery's change_seq is compared with the one loaded; when it moved, the
    active employees' live templates of this model id are reloaded as one matrix. Inference runs
    one call at a time: on a small server parallel calls only fight over the same cores.
    """

    def __init__(
        self,
        central: CentralStore,
        cfg: RecognitionSection,
        recognizer: Recognizer | None = None,
        on_reload: Callable[[GalleryInfo], None] = lambda _info: None,
    ) -> None:
        self._central = central
        self._cfg = cfg
        self._recognizer = recognizer
        self._on_reload = on_reload
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()
        self._seq = -1

    @property
    def recognizer(self) -> Recognizer:
        if self._recognizer is None:
            with self._load_lock:
                if self._recognizer is None:
                    self._recognizer = Recognizer.from_config(self._cfg)
        return self._recognizer

    @property
    def model_id(self) -> str:
        return self.recognizer.model_id

    def refresh(self) -> GalleryInfo:
        rec = self.recognizer
        with self._load_lock:
            seq = self._central._transaction("reading gallery version", _gallery_seq)
            if seq != self._seq:
                rec.set_gallery(self._load(rec.model_id, seq))
                self._seq = seq
                info = self.info()
                log.info("office_gallery_loaded", employees=info.employees, templates=info.templates, seq=seq)
                self._on_reload(info)
        return self.info()

    def info(self) -> GalleryInfo:
        g = self.recognizer.gallery
        return GalleryInfo(g.n_employees, g.n_templates, max(self._seq, 0))

    def _load(self, model_id: str, seq: int) -> Gallery:
        stmt = (
            select(face_templates.c.employee_id, face_templates.c.embedding, employees.c.full_name)
            .join(employees, employees.c.employee_id == face_templates.c.employee_id)
            .where(
                face_templates.c.model_id == model_id,
                face_templates.c.deleted_at.is_(None),
                employees.c.is_active.is_(True),
            )
            .order_by(face_templates.c.employee_id)
        )
        rows = self._central._transaction("loading gallery", lambda conn: conn.execute(stmt).all())
        if not rows:
            return Gallery.empty(seq)
        matrix = np.frombuffer(b"".join(r.embedding for r in rows), dtype="<f4").astype(np.float32)
        matrix = matrix.reshape(len(rows), EMBEDDING_DIM)
        names = {r.employee_id: r.full_name for r in rows}
        return Gallery.build([r.employee_id for r in rows], matrix, names, seq, copy=False)

    def identify(self, image: ImageArray) -> list[FaceResult]:
        self.refresh()
        with self._run_lock:
            return self.recognizer.recognize(image)

    def enrollment_template(self, image: ImageArray, name: str = "file") -> tuple[FloatArray, Quality]:
        """The device's enrolment gate; a face the quality gate stopped is reported with its first
        reason as the code (face_too_small, blurry, pose_yaw, ...), not only ``low_quality``."""
        rec = self.recognizer
        with self._run_lock:
            try:
                return rec.enrollment_template(image, name)
            except EnrollmentError as exc:
                if exc.code != "low_quality":
                    raise
                # Run again only on this failure path, to learn which limit the face missed.
                candidates = rec.analyze(image)
                best = max(candidates, key=lambda c: c.detection.score, default=None)
                reason = best.quality.reasons[0] if best and best.quality.reasons else exc.code
                raise EnrollmentError(reason, str(exc)) from None

    def select_clip(self, frames: Iterable[tuple[int, ImageArray]], rules: SelectionRules) -> Selection:
        """Templates from a clip (``enrol_clip``); the run lock is taken per frame, not per clip."""
        return select_clip(self.recognizer, frames, rules, self._run_lock)


@dataclass(frozen=True)
class OfficeState:
    settings: OfficeSettings
    central: CentralStore
    auth: Authenticator
    recognition: OfficeRecognition
    metrics: OfficeMetrics
    version: str
    ephemeral_secret: bool  # no http.secret_key: sessions end with the process
    gateway_stats: GatewayStats = field(default_factory=GatewayStats)
    gateway_limiter: RateLimiter = field(default_factory=lambda: RateLimiter(0))
    camera_locks: dict[str, threading.Lock] = field(default_factory=dict)
    camera_heartbeats: dict[str, float] = field(default_factory=dict)  # camera id -> monotonic time
    # token hash -> (principal, monotonic time it was last verified), for /metrics only: see deps.
    scrape_tokens: dict[str, tuple[Principal, float]] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    def camera(self, camera_id: str) -> OfficeCameraSection | None:
        return next((c for c in self.settings.cameras if c.id == camera_id), None)

    def uptime_s(self) -> float:
        return time.monotonic() - self.started

    def close(self) -> None:
        self.central.close()


def build_state(settings: OfficeSettings, *, recognizer: Recognizer | None = None) -> OfficeState:
    """Wire the parts (no network yet: the database is first used by the first request)."""
    http = settings.http
    central = CentralStore(
        settings.central.database_url.get_secret_value(), connect_timeout_s=settings.central.connect_timeout_s
    )
    secret = http.secret_key.get_secret_value()
    ephemeral = not secret
    if ephemeral:
        secret = secrets.token_urlsafe(48)
    limiter = LoginRateLimiter(
        per_address=http.login_attempts_per_address,
        per_username=http.login_attempts_per_username,
        window_seconds=http.login_window_s,
    )
    metrics = OfficeMetrics()

    def on_reload(info: GalleryInfo) -> None:
        metrics.gallery_templates.set(info.templates)
        metrics.gallery_employees.set(info.employees)

    return OfficeState(
        settings=settings,
        central=central,
        auth=Authenticator(central, secret, limiter, session_max_age_s=http.session_max_age_s),
        recognition=OfficeRecognition(central, settings.recognition, recognizer, on_reload),
        metrics=metrics,
        version=settings.app.version or __version__,
        ephemeral_secret=ephemeral,
        gateway_limiter=RateLimiter(http.gateway_rate_limit_per_minute),
        camera_locks={c.id: threading.Lock() for c in settings.cameras},
    )
