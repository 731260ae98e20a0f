"""What the dispatcher and the sinks hand each other."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Delivery:
    """The result of one attempt: the first ``sent`` payloads arrived; ``error`` says why the rest
    did not (None: all of them arrived)."""

    sent: int
    error: str | None = None


@dataclass(frozen=True, slots=True)
class DeviceState:
    """The device's state as MQTT publishes it (retained): camera states and the outbox backlog."""

    cameras: dict[str, str] = field(default_factory=dict)  # camera id -> starting | up | down | stopped
    backlog: int = 0


class Sink(Protocol):
    def deliver(self, payloads: Sequence[dict[str, Any]]) -> Delivery: ...

    def publish_state(self, state: DeviceState) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class OutputStatus:
    """One output in /health, /metrics and doctor."""

    id: str
    kind: str
    enabled: bool
    backlog: int
    delivered: int
    dropped: int
    last_success_at: str | None
    last_error: str | None
    last_error_at: str | None
    failing: bool
    target: str  # scheme://host[:port]/… (path and query masked) or host:port

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "enabled": self.enabled,
            "target": self.target,
            "backlog": self.backlog,
            "delivered": self.delivered,
            "dropped": self.dropped,
            "last_success_at": self.last_success_at,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
            "failing": self.failing,
        }
