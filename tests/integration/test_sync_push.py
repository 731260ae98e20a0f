"""CentralSync push against the real PostgreSQL: concurrent devices, outages, killed backends.

Events keep landing in the local outbox (as the camera pipeline would) while the sync pushes; in
the end every locally recorded event must be in ``attendance_events`` exactly once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from sputnik_edge import __version__
from sputnik_edge.central.sync import CentralSync
from sputnik_edge.metrics import Metrics
from sputnik_edge.store.local import LocalStore
from tests.integration.conftest import TcpProxy, new_event, sync_settings, terminate_backends

pytestmark = pytest.mark.integration

MODEL_ID = "sface-test"


def central_ids(engine: Engine, device_id: str | None = None) -> list[str]:
    sql = "SELECT event_id::text FROM attendance_events"
    params = {}
    if device_id is not None:
        sql += " WHERE device_id = :d"
        params["d"] = device_id
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(text(sql), params)]


def local_ids(store: LocalStore) -> list[str]:
    return [s.event.event_id for s in store.list_events(limit=1_000_000)]


def wait_until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Producer(threading.Thread):
    """Records events into a local store until stopped (bounded by count)."""

    def __init__(self, store: LocalStore, device_id: str, limit: int = 5000, pause_s: float = 0.002):
        super().__init__(daemon=True)
        self.store, self.device_id, self.limit, self.pause_s = store, device_id, limit, pause_s
        self.stop = threading.Event()
        self.count = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set() and self.count < self.limit:
                kind = "unknown" if self.count % 5 == 0 else "check_in"
                self.store.record_event(new_event(self.device_id, self.count, kind=kind))
                self.count += 1
                time.sleep(self.pause_s)
        except BaseException as exc:  # surfaced by the test
            self.error = exc


class Pusher(threading.Thread):
    """Calls push_once() in a loop like the scheduler does (honouring the backoff)."""

    def __init__(self, sync: CentralSync):
        super().__init__(daemon=True)
        self.sync = sync
        self.stop = threading.Event()
        self.rounds = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self.sync.push_once()
                self.rounds += 1
                time.sleep(0.01)
        except BaseException as exc:
            self.error = exc


def drain(sync: CentralSync, timeout: float = 20) -> None:
    """Forced pushes until the outbox is empty (as the shutdown flush does)."""
    deadline = time.monotonic() + timeout
    while sync.local.backlog() and time.monotonic() < deadline:
        sync.push_once(force=True)
    assert sync.local.backlog() == 0, sync.status()


def test_two_devices_push_concurrently_and_every_event_arrives_once(
    tmp_path: Path, central_url: str, central_engine: Engine
) -> None:
    devices = ["door-a", "door-b"]
    stores, syncs, producers, pushers = [], [], [], []
    for dev in devices:
        settings = sync_settings(tmp_path, central_url, dev, batch_size=7, sync_interval_s=0.2)
        store = LocalStore(settings.storage.database, device_id=dev)
        stores.append(store)
        syncs.append(CentralSync(settings, store, MODEL_ID, Metrics()))
        producers.append(Producer(store, dev, limit=400))
        pushers.append(Pusher(syncs[-1]))
    try:
        for t in producers + pushers:
            t.start()
        # Both pushers must be making progress while both producers are still recording.
        wait_until(
            lambda: all(s.pushed_total >= 30 for s in syncs) and all(p.is_alive() for p in producers),
            20,
            "both devices pushing while events are recorded",
        )
        for p in producers:
            p.join(timeout=30)
        for p in pushers:
            p.stop.set()
            p.join(timeout=30)
        assert all(t.error is None for t in producers + pushers), [t.error for t in producers + pushers]
        # The last events may still be in the outboxes: flush them, then heartbeat.
        for s in syncs:
            drain(s)
            assert s.heartbeat_once() is not None
            assert s.status().last_error is None

        total = 0
        for dev, store, prod in zip(devices, stores, producers, strict=True):
            local = local_ids(store)
            assert len(local) == prod.count == 400
            remote = central_ids(central_engine, dev)
            assert len(remote) == len(set(remote)), f"{dev}: duplicate event ids centrally"
            assert set(remote) == set(local), f"{dev}: central and local event sets differ"
            total += len(local)
        assert len(central_ids(central_engine)) == total == 800

        with central_engine.connect() as conn:
            # device_seq preserved: per device, the central copy has the local sequence 1..N once each.
            seqs = conn.execute(
                text(
                    "SELECT device_id, count(DISTINCT device_seq), min(device_seq), max(device_seq) "
                    "FROM attendance_events GROUP BY device_id ORDER BY device_id"
                )
            ).all()
            assert [tuple(r) for r in seqs] == [("door-a", 400, 1, 400), ("door-b", 400, 1, 400)]
            rows = conn.execute(
                text(
                    "SELECT device_id, software_version, model_id, outbox_backlog, last_seen_at "
                    "FROM devices ORDER BY device_id"
                )
            ).all()
        assert [r.device_id for r in rows] == devices
        for r in rows:
            assert r.software_version and r.model_id == MODEL_ID
            assert r.outbox_backlog == 0 and r.last_seen_at is not None
    finally:
        for t in producers + pushers:
            getattr(t, "stop").set()  # noqa: B009
        for s in syncs:
            s.close()
        for store in stores:
            store.close()


def test_heartbeat_reports_the_current_backlog(
    tmp_path: Path, central_url: str, central_engine: Engine
) -> None:
    settings = sync_settings(tmp_path, central_url, "door-hb")
    store = LocalStore(settings.storage.database, device_id="door-hb")
    sync = CentralSync(settings, store, MODEL_ID, Metrics())
    try:
        for i in range(5):
            store.record_event(new_event("door-hb", i))
        sync.heartbeat_once()
        with central_engine.connect() as conn:
            backlog = conn.execute(
                text("SELECT outbox_backlog FROM devices WHERE device_id = 'door-hb'")
            ).scalar()
        assert backlog == 5
        assert sync.push_once() == 5
        sync.heartbeat_once()
        with central_engine.connect() as conn:
            row = conn.execute(
                text("SELECT outbox_backlog, software_version FROM devices WHERE device_id = 'door-hb'")
            ).one()
        assert row.outbox_backlog == 0
        assert row.software_version == __version__
        assert sync.status().clock_offset_ms is not None
    finally:
        sync.close()
        store.close()


def test_outage_mid_push_buffers_and_recovers_exactly_once(
    tmp_path: Path, pg_proxy: tuple[TcpProxy, str], central_engine: Engine
) -> None:
    proxy, url = pg_proxy
    dev = "door-proxy"
    settings = sync_settings(tmp_path, url, dev, batch_size=25, sync_interval_s=0.3)
    store = LocalStore(settings.storage.database, device_id=dev)
    metrics = Metrics()
    sync = CentralSync(settings, store, MODEL_ID, metrics)
    # A fast producer so the outage lands while batches are in flight.
    producer = Producer(store, dev, limit=6000, pause_s=0.001)
    pusher = Pusher(sync)
    try:
        producer.start()
        pusher.start()
        wait_until(lambda: sync.pushed_total >= 100, 15, "first pushes through the proxy")
        assert proxy.accepted >= 1

        # -- the link dies while pushes are running and events keep landing ------------------
        proxy.cut()
        wait_until(lambda: sync.status().last_error, 15, "a failed push to be reported")
        status = sync.status()
        assert status.failures >= 1
        assert "127.0.0.1" in status.last_error and str(proxy.port) in status.last_error
        backlog_at_failure = store.backlog()
        pushed_at_failure = sync.pushed_total
        failures_at_failure = sync.push_backoff.failures
        # Offline, the outbox keeps filling and the pusher tries again after its backoff, and fails
        # again: nothing is pushed (or marked sent) in between.
        wait_until(
            lambda: store.backlog() > backlog_at_failure and sync.push_backoff.failures > failures_at_failure,
            15,
            "the outbox to keep filling and another push to fail while offline",
        )
        assert sync.pushed_total == pushed_at_failure
        assert metrics.registry.get_sample_value("sputnik_sync_failures_total") >= 1
        # Failed attempts are recorded on the events themselves.
        with store.engine.connect() as conn:
            attempts = conn.execute(text("SELECT max(attempts), max(last_error) FROM events")).one()
        assert attempts[0] >= 1 and attempts[1]

        # -- the link comes back: the backoff retries and the backlog drains ---------------------
        proxy.restore()
        wait_until(lambda: sync.status().last_error is None, 30, "push to recover after restore")
        assert sync.push_backoff.failures == 0
        assert metrics.registry.get_sample_value("sputnik_sync_last_success_timestamp") > 0

        # -- the server kills the sync's backends while pushes run: the pool reconnects ---------
        killed = 0
        for _ in range(6):
            killed += terminate_backends(central_engine)
            time.sleep(0.15)
        assert killed >= 1, "the sync held no connection to terminate"

        producer.stop.set()
        producer.join(timeout=10)
        pusher.stop.set()
        pusher.join(timeout=30)
        assert producer.error is None and pusher.error is None, (producer.error, pusher.error)
        drain(sync)

        local = local_ids(store)
        remote = central_ids(central_engine, dev)
        assert len(local) == producer.count
        assert len(remote) == len(set(remote))
        assert set(remote) == set(local)
        assert sync.status().backlog == 0
    finally:
        producer.stop.set()
        pusher.stop.set()
        pusher.join(timeout=30)
        sync.close()
        store.close()


def test_unreachable_database_fails_fast_and_keeps_events(
    tmp_path: Path, pg_proxy: tuple[TcpProxy, str]
) -> None:
    """With the database down from the start, push_once backs off and marks nothing as sent."""
    proxy, url = pg_proxy
    proxy.cut()
    settings = sync_settings(tmp_path, url, "door-down")
    store = LocalStore(settings.storage.database, device_id="door-down")
    sync = CentralSync(settings, store, MODEL_ID, Metrics())
    try:
        for i in range(3):
            store.record_event(new_event("door-down", i))
        assert sync.push_once() == 0
        st = sync.status()
        assert st.backlog == 3 and st.failures == 1 and "connection refused" in st.last_error
        # Within the backoff a scheduled push does not even try; a forced one does.
        assert not sync.push_backoff.ready()
        assert sync.push_once() == 0 and sync.push_backoff.failures == 1
        assert sync.push_once(force=True) == 0 and sync.push_backoff.failures == 2
        assert sync.heartbeat_once() is None
        assert sync.pull_once(force=True) == 0
        proxy.restore()
        assert sync.push_once(force=True) == 3
        assert store.backlog() == 0
        # The pull and heartbeat failures stand until those succeed too.
        assert sync.status().last_error and "pulling gallery" in sync.status().last_error
        assert sync.heartbeat_once() is not None
        assert sync.pull_once(force=True) == 0
        assert sync.status().last_error is None
    finally:
        sync.close()
        store.close()
