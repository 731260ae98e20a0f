"""The daemon's event outputs: ``[[outputs]]`` config -> one dispatcher thread each, their status
for /health, /metrics and doctor, and the retention guard."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime

import structlog

from sputnik_edge.config import ConfigError, Settings
from sputnik_edge.config_outputs import MqttOutput, WebhookOutput
from sputnik_edge.metrics import Metrics
from sputnik_edge.outputs.dispatcher import DispatchSettings, OutputDispatcher
from sputnik_edge.outputs.payload import EventFilter, check_event_kinds
from sputnik_edge.outputs.types import DeviceState, OutputStatus, Sink
from sputnik_edge.redaction import url_origin
from sputnik_edge.store.local import LocalStore

log = structlog.get_logger(__name__)


def target_of(out: WebhookOutput | MqttOutput) -> str:
    """What logs, /health and doctor show: a webhook's path and query are often its secret."""
    return url_origin(out.url) if isinstance(out, WebhookOutput) else f"{out.host}:{out.port}"


def make_sink(out: WebhookOutput | MqttOutput, settings: Settings) -> Callable[[], Sink]:
    if isinstance(out, WebhookOutput):
        from sputnik_edge.outputs.webhook import WebhookSink

        return lambda: WebhookSink(
            out.url, out.secret.get_secret_value(), timeout_s=out.timeout_s, headers=out.headers
        )
    from sputnik_edge.outputs.mqtt import MqttSettings, MqttSink

    ms = MqttSettings(
        host=out.host,
        port=out.port,
        device_id=settings.device.id,
        cameras=tuple(c.id for c in settings.cameras if c.enabled),
        topic_prefix=out.topic_prefix,
        client_id=out.client_id or f"sputnik-{settings.device.id}-{out.id}",
        username=out.username,
        password=out.password.get_secret_value(),
        tls=out.tls,
        ca_file=out.ca_file,
        keepalive_s=out.keepalive_s,
        timeout_s=out.timeout_s,
        homeassistant=out.homeassistant,
        discovery_prefix=out.discovery_prefix,
        device_name=settings.device.name,
    )
    return lambda: MqttSink(ms)


class Outputs:
    """Every enabled output of the config, started after the store and stopped before it closes."""

    def __init__(
        self,
        settings: Settings,
        store: LocalStore,
        metrics: Metrics,
        stop_event: threading.Event,
        device_state: Callable[[], DeviceState],
    ) -> None:
        try:
            check_event_kinds(settings.outputs)
        except ValueError as exc:
            raise ConfigError(f"invalid configuration: {exc}") from None
        self.settings = settings
        self.store = store
        self.metrics = metrics
        self.dispatchers: list[OutputDispatcher] = []
        for out in settings.outputs:
            if not out.enabled:
                continue
            ds = DispatchSettings(
                output_id=out.id,
                kind=out.kind,
                target=target_of(out),
                filter=EventFilter(frozenset(out.events), frozenset(out.cameras)),
                include_snapshot=out.include_snapshot,
                snapshots_dir=settings.storage.snapshots_dir,
                batch_size=out.batch_size,
                backoff_initial_s=out.backoff_initial_s,
                backoff_max_s=out.backoff_max_s,
            )
            self.dispatchers.append(
                OutputDispatcher(
                    ds,
                    store.outputs,
                    make_sink(out, settings),
                    stop_event,
                    device_state=device_state if isinstance(out, MqttOutput) else None,
                    on_progress=self._progress,
                )
            )

    def _progress(self, output_id: str, delivered: int, failed: bool) -> None:
        if delivered:
            self.metrics.output_delivered.labels(output_id).inc(delivered)
        if failed:
            self.metrics.output_failures.labels(output_id).inc()

    def start(self) -> None:
        for d in self.dispatchers:
            d.start()
            log.info("output_started", output=d.s.output_id, kind=d.s.kind, target=d.s.target)

    def stop(self, timeout_s: float = 5.0) -> None:
        """The stop event is already set. One deadline for all: a sink blocked in a send (at most
        its own timeout) is left behind as a daemon thread rather than holding up the stop."""
        deadline = time.monotonic() + timeout_s
        for d in self.dispatchers:
            if d.is_alive():
                d.join(timeout=max(0.0, deadline - time.monotonic()))

    def statuses(self) -> list[OutputStatus]:
        return [d.status() for d in self.dispatchers]

    def health(self) -> dict[str, dict[str, object]]:
        return {s.id: s.as_dict() for s in self.statuses()}

    def refresh_metrics(self) -> None:
        for s in self.statuses():
            self.metrics.output_backlog.labels(s.id).set(s.backlog)
            self.metrics.output_up.labels(s.id).set(0 if s.failing else 1)
            if s.last_success_at:
                self.metrics.output_last_success.labels(s.id).set(
                    datetime.fromisoformat(s.last_success_at).timestamp()
                )

    def retention_floor(self) -> int | None:
        """Enforce each output's backlog cap, then the seq above which retention keeps events."""
        for d in self.dispatchers:
            out = next(o for o in self.settings.outputs if o.id == d.s.output_id)
            dropped = self.store.outputs.enforce_cap(out.id, out.max_backlog)
            if dropped:
                log.warning(
                    "output_backlog_dropped", output=out.id, count=dropped, max_backlog=out.max_backlog
                )
                self.metrics.output_dropped.labels(out.id).inc(dropped)
        return self.store.outputs.floor(d.s.output_id for d in self.dispatchers)
