"""Device side of the central sync: push the outbox, pull the gallery, send heartbeats.

The outbox is the source of truth: an event is marked sent only after the central commit
returned, so a crash between the two re-sends it and ``ON CONFLICT DO NOTHING`` drops the copy.
Failures back off exponentially (capped, with jitter) while events keep landing locally.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from sputnik_edge import __version__
from sputnik_edge.backoff import Backoff
from sputnik_edge.central.errors import CentralError
from sputnik_edge.central.store import CentralStore
from sputnik_edge.central.types import DeviceHeartbeat
from sputnik_edge.config import Settings
from sputnik_edge.metrics import Metrics
from sputnik_edge.store.local import LocalStore
from sputnik_edge.store.snapshots import remove_snapshots

log = structlog.get_logger(__name__)

GALLERY_SEQ_KEY = "gallery_seq"


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """What the sync last did: the ``central`` block of ``/health`` and the output of ``sync --once``."""

    database: str  # password masked
    backlog: int
    pushed: int
    last_push_ok: str | None
    last_pull_ok: str | None
    last_error: str | None
    failures: int
    gallery_seq: int
    clock_offset_ms: float | None
    enabled: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {"enabled": self.enabled, **{k: v for k, v in asdict(self).items() if k != "enabled"}}


class CentralSync:
    def __init__(
        self,
        settings: Settings,
        local: LocalStore,
        model_id: str,
        metrics: Metrics,
        on_gallery_change: Callable[[], Any] = lambda: None,
        central: CentralStore | None = None,
    ) -> None:
        self.settings = settings
        self.local = local
        self.model_id = model_id
        self.metrics = metrics
        self.on_gallery_change = on_gallery_change
        c = settings.central
        self.central = central or CentralStore(
            c.database_url.get_secret_value(), connect_timeout_s=c.connect_timeout_s
        )
        self.batch_size = c.batch_size
        self.push_backoff = Backoff(max_s=max(5.0, 6 * c.sync_interval_s))
        self.pull_backoff = Backoff(max_s=max(5.0, 4 * c.gallery_interval_s))
        self._push_lock = threading.Lock()  # the scheduler and shutdown may both push
        self._pull_lock = threading.Lock()
        self.last_push_ok: datetime | None = None
        self.last_pull_ok: datetime | None = None
        # The standing failure of each operation (push, pull, heartbeat), cleared only by that
        # operation's own success: a push of an empty outbox must not hide a failing pull.
        self._errors: dict[str, str] = {}
        self._errors_lock = threading.Lock()  # jobs run in the scheduler's threads, /health reads
        self.clock_offset_ms: float | None = None
        self.pushed_total = 0

    # ---- push ----------------------------------------------------------------------------------

    def push_once(self, *, force: bool = False, max_batches: int = 1000) -> int:
        """Push pending events oldest first; returns how many were newly inserted centrally."""
        if not force and not self.push_backoff.ready():
            return 0
        inserted = 0
        pushed_batches = 0
        with self._push_lock:
            for _ in range(max_batches):
                batch = self.local.pending(self.batch_size)
                if not batch:
                    break
                unknown = [e.event_id for e in batch if e.kind == "unknown"]
                faces = self.local.faces.for_events(unknown)
                try:
                    inserted += self.central.push_events(batch, faces)
                except CentralError as exc:
                    self._push_failed(batch, str(exc))
                    return inserted
                # Only now, after the central commit: a crash before this line re-sends the batch.
                self.local.mark_synced(e.event_id for e in batch)
                self.local.faces.delete(f.event_id for f in faces)
                pushed_batches += 1
                self.metrics.sync_pushed.inc(len(batch))
                self.pushed_total += len(batch)
                if len(batch) < self.batch_size:
                    break
            self.push_backoff.succeeded()
            self._clear_error("push")
            if pushed_batches:  # an empty outbox proves nothing about the central database
                self.last_push_ok = datetime.now(UTC)
                self.metrics.sync_last_success.set(time.time())
            self.metrics.outbox_backlog.set(self.local.backlog())
        return inserted

    def _push_failed(self, batch: list[Any], error: str) -> None:
        delay = self.push_backoff.failed()
        self._set_error("push", error)
        self.metrics.sync_failures.inc()
        self.local.mark_failed((e.event_id for e in batch), error)
        backlog = self.local.backlog()
        self.metrics.outbox_backlog.set(backlog)  # the gauge must grow while the central is away
        log.warning(
            "sync_push_failed",
            error=error,
            backlog=backlog,
            retry_in_s=round(delay, 1),
            failures=self.push_backoff.failures,
        )

    # ---- gallery pull --------------------------------------------------------------------------

    def pull_once(self, *, force: bool = False) -> int:
        """Apply central gallery changes since the last pull; returns changed rows."""
        if not force and not self.pull_backoff.ready():
            return 0
        with self._pull_lock:
            since = int(self.local.get_state(GALLERY_SEQ_KEY, "0") or 0)
            try:
                delta = self.central.pull_gallery(self.model_id, since)
            except CentralError as exc:
                delay = self.pull_backoff.failed()
                self._set_error("pull", str(exc))
                self.metrics.sync_failures.inc()
                log.warning("gallery_pull_failed", error=str(exc), retry_in_s=round(delay, 1))
                return 0
            self.pull_backoff.succeeded()
            self.last_pull_ok = datetime.now(UTC)
            self._clear_error("pull")
            changed = 0
            if not delta.empty:
                changed, snaps = self.local.apply_gallery_delta(delta, self.model_id)
                remove_snapshots(self.settings.storage.snapshots_dir, snaps)
            if delta.max_seq > since:
                self.local.set_state(GALLERY_SEQ_KEY, str(delta.max_seq))
            if changed:
                log.info(
                    "gallery_pulled",
                    since_seq=since,
                    max_seq=delta.max_seq,
                    employees=len(delta.employees),
                    templates=len(delta.templates),
                    erased=len(delta.erased),
                )
                self.on_gallery_change()
            return changed

    # ---- heartbeat -----------------------------------------------------------------------------

    def heartbeat_once(self) -> float | None:
        s = self.settings
        status = DeviceHeartbeat(
            device_id=s.device.id,
            name=s.device.name or None,
            location=s.device.location or None,
            software_version=s.app.version or __version__,
            model_id=self.model_id,
            gallery_seq=int(self.local.get_state(GALLERY_SEQ_KEY, "0") or 0),
            outbox_backlog=self.local.backlog(),
        )
        try:
            self.clock_offset_ms = self.central.heartbeat(status)
        except CentralError as exc:
            self._set_error("heartbeat", str(exc))
            self.metrics.sync_failures.inc()
            log.warning("heartbeat_failed", error=str(exc))
            return None
        self._clear_error("heartbeat")
        if abs(self.clock_offset_ms) > 5000:
            log.warning("clock_offset_large", clock_offset_ms=round(self.clock_offset_ms, 1))
        return self.clock_offset_ms

    @property
    def last_error(self) -> str | None:
        """The most recent failure that no later success of the same operation has cleared."""
        with self._errors_lock:
            return next(reversed(self._errors.values()), None)

    def _set_error(self, operation: str, error: str) -> None:
        with self._errors_lock:
            self._errors.pop(operation, None)  # re-insert: the dict's order is the order of failures
            self._errors[operation] = error

    def _clear_error(self, operation: str) -> None:
        with self._errors_lock:
            self._errors.pop(operation, None)

    def status(self) -> SyncStatus:
        return SyncStatus(
            database=self.central.display_url,
            backlog=self.local.backlog(),
            pushed=self.pushed_total,
            last_push_ok=self.last_push_ok.isoformat() if self.last_push_ok else None,
            last_pull_ok=self.last_pull_ok.isoformat() if self.last_pull_ok else None,
            last_error=self.last_error,
            failures=self.push_backoff.failures,
            gallery_seq=int(self.local.get_state(GALLERY_SEQ_KEY, "0") or 0),
            clock_offset_ms=None if self.clock_offset_ms is None else round(self.clock_offset_ms, 1),
        )

    def close(self) -> None:
        self.central.close()
