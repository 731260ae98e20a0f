"""One thread per output: read the outbox from the output's cursor, deliver, advance.

The thread only reads committed events and writes its own cursor row, so a slow, failing or
hanging receiver delays nothing but itself: recognition, the central push and the other outputs
never wait for it. Failures back off (capped, jittered, per output) on the daemon's stop event.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import structlog

from sputnik_edge.backoff import Backoff
from sputnik_edge.outputs.payload import EventFilter, event_payload, read_snapshot
from sputnik_edge.outputs.types import DeviceState, OutputStatus, Sink
from sputnik_edge.redaction import redact_text
from sputnik_edge.store.output_cursors import OutputCursorStore
from sputnik_edge.store.tables import StoredEvent

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class DispatchSettings:
    output_id: str
    kind: str
    target: str  # for status and logs: scheme://host[:port]/… or host:port, no secrets
    filter: EventFilter
    include_snapshot: bool
    snapshots_dir: Path
    batch_size: int = 50
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 60.0
    poll_s: float = 0.5  # how often an idle output looks for new events
    state_every_s: float = 5.0  # how often MQTT gets the retained device state


# The pipeline commits an event first and attaches its face crop a moment later: an output that
# wants the crop waits this long for it on the kinds the pipeline keeps a crop of
# (pipeline.engine: unknown / low_confidence, and spoof_suspected, which names whom it matched).
SNAPSHOT_GRACE_S = 2.0
SNAPSHOT_KINDS = frozenset({"unknown", "low_confidence", "spoof_suspected"})


def settled(batch: list[StoredEvent], now: datetime) -> list[StoredEvent]:
    """``batch`` up to the first event whose snapshot may still be on its way."""
    for i, e in enumerate(batch):
        young = (now - e.event.captured_at).total_seconds() < SNAPSHOT_GRACE_S
        if e.snapshot is None and e.event.kind in SNAPSHOT_KINDS and young:
            return batch[:i]
    return batch


class OutputDispatcher(threading.Thread):
    def __init__(
        self,
        settings: DispatchSettings,
        cursors: OutputCursorStore,
        make_sink: Callable[[], Sink],
        stop_event: threading.Event,
        *,
        device_state: Callable[[], DeviceState] | None = None,
        on_progress: Callable[[str, int, bool], None] | None = None,
    ) -> None:
        super().__init__(name=f"output-{settings.output_id}", daemon=True)
        self.s = settings
        self.cursors = cursors
        self.make_sink = make_sink
        self.stop_event = stop_event
        self.device_state = device_state
        self.on_progress = on_progress  # (output id, events delivered, failed): metrics
        self.backoff = Backoff(settings.backoff_initial_s, settings.backoff_max_s, jitter=(0.5, 1.0))
        self.cursor = cursors.ensure(settings.output_id)
        # An error is in the cursor row that no success has cleared (perhaps from the last run).
        last = cursors.status(settings.output_id)
        self._failure_recorded = last is not None and last.failing

    def run(self) -> None:
        sink: Sink | None = None
        next_state = 0.0
        try:
            while not self.stop_event.is_set():
                if sink is None:
                    sink = self._build_sink()
                    if sink is None:
                        continue  # it waited its backoff already
                try:
                    delay = self.round(sink)
                    if self.device_state is not None and self.backoff.failures == 0:
                        now = self.backoff.clock()
                        if now >= next_state:
                            sink.publish_state(self.device_state())
                            next_state = now + self.s.state_every_s
                except Exception as exc:  # the store busy or closing: retry later, never give up
                    delay = self.backoff.failed()
                    log.warning(
                        "output_round_failed",
                        output=self.s.output_id,
                        error=redact_text(str(exc)),
                        error_type=type(exc).__name__,
                        backoff_s=round(delay, 2),
                    )
                    self._record_failure(f"{type(exc).__name__}: {exc}")
                self.stop_event.wait(delay)
        finally:
            if sink is not None:
                sink.close()

    def _build_sink(self) -> Sink | None:
        """The sink, or None after a failure (a bad TLS file, ...) recorded as the output's last
        error, so /health, /metrics and doctor show it, and one backoff waited on the stop event:
        an output never ends while the daemon runs (the file may be fixed or mounted later)."""
        try:
            return self.make_sink()
        except Exception as exc:
            delay = self.backoff.failed()
            log.error(
                "output_start_failed",
                output=self.s.output_id,
                target=self.s.target,
                error=redact_text(str(exc)),
                error_type=type(exc).__name__,
                backoff_s=round(delay, 2),
            )
            self._record_failure(f"could not start the output: {type(exc).__name__}: {exc}")
            self.stop_event.wait(delay)
            return None

    def _record_failure(self, error: str) -> None:
        self._failure_recorded = True
        try:
            self.cursors.failed(self.s.output_id, redact_text(error))
        except Exception as exc:  # the store itself failing: the log line above still says it
            log.warning("output_status_write_failed", output=self.s.output_id, error=redact_text(str(exc)))

    def round(self, sink: Sink) -> float:
        """One pass: deliver what is due; returns how long to wait before the next."""
        self.cursor = max(self.cursor, self.cursors.seq(self.s.output_id) or 0)
        batch = self.cursors.after(self.cursor, self.s.batch_size)
        if self.s.include_snapshot:
            batch = settled(batch, datetime.now(UTC))
        if not batch:
            return self.s.poll_s
        wanted = [e for e in batch if self.s.filter.wants(e.event)]
        payloads = [
            event_payload(
                e.event,
                read_snapshot(self.s.snapshots_dir, e.snapshot) if self.s.include_snapshot else None,
            )
            for e in wanted
        ]
        try:
            result = sink.deliver(payloads) if payloads else None
        except Exception as exc:  # a sink bug counts as a failed attempt, the events stay due
            result = None
            error: str | None = f"{type(exc).__name__}: {exc}"
            sent = 0
        else:
            sent = result.sent if result is not None else 0
            error = result.error if result is not None else None
        # Everything before the first event that did not arrive is done (delivered or unwanted).
        done_seq = batch[-1].event.seq if error is None or sent >= len(wanted) else wanted[sent].event.seq - 1
        if done_seq > self.cursor:
            self.cursors.advance(self.s.output_id, done_seq, sent)
            self.cursor = done_seq
        if self.on_progress is not None:
            self.on_progress(self.s.output_id, sent, error is not None)
        if error is None:
            if self._failure_recorded:  # the output works again even if nothing was due
                self.cursors.succeeded(self.s.output_id)
                self._failure_recorded = False
            self.backoff.succeeded()
            return 0.0 if len(batch) == self.s.batch_size else self.s.poll_s
        self._record_failure(error)
        delay = self.backoff.failed()
        log.warning(
            "output_delivery_failed",
            output=self.s.output_id,
            target=self.s.target,
            error=error,
            delivered=sent,
            pending=len(wanted) - sent,
            backoff_s=round(delay, 2),
        )
        return delay

    def status(self) -> OutputStatus:
        c = self.cursors.status(self.s.output_id)
        return OutputStatus(
            id=self.s.output_id,
            kind=self.s.kind,
            enabled=True,
            backlog=c.backlog if c else 0,
            delivered=c.delivered if c else 0,
            dropped=c.dropped if c else 0,
            last_success_at=c.last_success_at if c else None,
            last_error=c.last_error if c else None,
            last_error_at=c.last_error_at if c else None,
            failing=c.failing if c else False,
            target=self.s.target,
        )
