"""Delivery cursors of the event outputs (webhooks, MQTT) in the local store.

Each output reads the outbox in device-seq order from its own cursor, independently of the central
push and of the other outputs. The cursor moves only after a delivery succeeded (or the events were
filtered out), so a crash redelivers from the cursor: at least once, the event id as the key.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Engine, func, insert, select, update

from sputnik_edge.store.tables import StoredEvent, events, iso, output_cursors, row_to_event, utcnow


@dataclass(frozen=True, slots=True)
class OutputCursor:
    output_id: str
    seq: int  # every event with seq <= this is delivered or was not wanted
    backlog: int  # events after the cursor
    delivered: int
    dropped: int  # skipped by the backlog cap
    last_success_at: str | None
    last_error: str | None
    last_error_at: str | None

    @property
    def failing(self) -> bool:
        """The last attempt failed (an error newer than the last success)."""
        if self.last_error_at is None:
            return False
        return self.last_success_at is None or self.last_error_at > self.last_success_at


class OutputCursorStore:
    def __init__(self, engine: Engine, write_lock: threading.Lock) -> None:
        self._engine = engine
        self._lock = write_lock

    def ensure(self, output_id: str) -> int:
        """The output's cursor; a new output starts after the newest event (it gets what happens
        from now on, not the whole retained history)."""
        with self._lock, self._engine.begin() as conn:
            seq = conn.execute(
                select(output_cursors.c.seq).where(output_cursors.c.output_id == output_id)
            ).scalar()
            if seq is not None:
                return int(seq)
            newest = int(conn.execute(select(func.coalesce(func.max(events.c.seq), 0))).scalar_one())
            conn.execute(insert(output_cursors).values(output_id=output_id, seq=newest))
            return newest

    def seq(self, output_id: str) -> int | None:
        """The stored cursor (the retention cap may have moved it past the dispatcher's)."""
        with self._engine.connect() as conn:
            value = conn.execute(
                select(output_cursors.c.seq).where(output_cursors.c.output_id == output_id)
            ).scalar()
        return None if value is None else int(value)

    def after(self, seq: int, limit: int) -> list[StoredEvent]:
        """Events after ``seq``, oldest first."""
        query = select(events).where(events.c.seq > seq).order_by(events.c.seq).limit(limit)
        with self._engine.connect() as conn:
            return [StoredEvent(row_to_event(r), r.synced_at, r.snapshot) for r in conn.execute(query)]

    def advance(self, output_id: str, seq: int, delivered: int) -> None:
        """Everything up to ``seq`` is done; ``delivered`` of them were sent (the rest filtered)."""
        values: dict[str, object] = {"seq": func.max(output_cursors.c.seq, seq)}
        if delivered:
            values |= {
                "delivered": output_cursors.c.delivered + delivered,
                "last_success_at": iso(utcnow()),
            }
        with self._lock, self._engine.begin() as conn:
            conn.execute(
                update(output_cursors).where(output_cursors.c.output_id == output_id).values(**values)
            )

    def succeeded(self, output_id: str) -> None:
        """A delivery attempt worked even though nothing was due (a reconnect, a state publish)."""
        with self._lock, self._engine.begin() as conn:
            conn.execute(
                update(output_cursors)
                .where(output_cursors.c.output_id == output_id)
                .values(last_success_at=iso(utcnow()))
            )

    def failed(self, output_id: str, error: str) -> None:
        with self._lock, self._engine.begin() as conn:
            conn.execute(
                update(output_cursors)
                .where(output_cursors.c.output_id == output_id)
                .values(last_error=error[:500], last_error_at=iso(utcnow()))
            )

    def status(self, output_id: str) -> OutputCursor | None:
        with self._engine.connect() as conn:
            r = conn.execute(select(output_cursors).where(output_cursors.c.output_id == output_id)).first()
            if r is None:
                return None
            backlog = conn.execute(
                select(func.count()).select_from(events).where(events.c.seq > r.seq)
            ).scalar_one()
        return OutputCursor(
            r.output_id,
            int(r.seq),
            int(backlog),
            int(r.delivered),
            int(r.dropped),
            r.last_success_at,
            r.last_error,
            r.last_error_at,
        )

    def enforce_cap(self, output_id: str, cap: int) -> int:
        """Skip the oldest undelivered events beyond ``cap`` for this output; returns how many."""
        with self._lock, self._engine.begin() as conn:
            seq = conn.execute(
                select(output_cursors.c.seq).where(output_cursors.c.output_id == output_id)
            ).scalar()
            if seq is None:
                return 0
            pending = select(events.c.seq).where(events.c.seq > seq)
            n = int(conn.execute(select(func.count()).select_from(pending.subquery())).scalar_one())
            if n <= cap:
                return 0
            # The seq of the last event to drop: the (n - cap)-th after the cursor.
            last = conn.execute(pending.order_by(events.c.seq).offset(n - cap - 1).limit(1)).scalar_one()
            conn.execute(
                update(output_cursors)
                .where(output_cursors.c.output_id == output_id)
                .values(seq=last, dropped=output_cursors.c.dropped + (n - cap))
            )
            return n - cap

    def floor(self, output_ids: Iterable[str]) -> int | None:
        """The lowest cursor among ``output_ids`` (None: none of them has one): retention must keep
        every event above it."""
        ids = list(output_ids)
        if not ids:
            return None
        with self._engine.connect() as conn:
            value = conn.execute(
                select(func.min(output_cursors.c.seq)).where(output_cursors.c.output_id.in_(ids))
            ).scalar()
        return None if value is None else int(value)
