"""The dispatcher's cursor rules on a real local store: at least once, filtered events skipped,
partial deliveries resumed from the first event that did not arrive, backoff on failures."""

from __future__ import annotations

import base64
import dataclasses
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sputnik_edge.attendance.types import AttendanceEvent, new_event_id
from sputnik_edge.outputs.dispatcher import DispatchSettings, OutputDispatcher
from sputnik_edge.outputs.mqtt import MqttSettings, MqttSink
from sputnik_edge.outputs.payload import EventFilter
from sputnik_edge.outputs.types import Delivery, DeviceState, Sink
from sputnik_edge.store.local import LocalStore
from tests.support.waiting import wait_until


class Receiver:
    """A sink that accepts the first ``accept`` payloads of each attempt, then fails."""

    def __init__(self) -> None:
        self.got: list[str] = []
        self.bodies: list[dict[str, Any]] = []
        self.accept: int | None = None  # None: everything
        self.attempts = 0
        self.states: list[DeviceState] = []

    def deliver(self, payloads: Sequence[dict[str, Any]]) -> Delivery:
        self.attempts += 1
        n = len(payloads) if self.accept is None else min(self.accept, len(payloads))
        self.got += [str(p["event_id"]) for p in payloads[:n]]
        self.bodies += payloads[:n]
        return Delivery(n, None if n == len(payloads) else "receiver said no")

    def publish_state(self, state: DeviceState) -> None:
        self.states.append(state)

    def close(self) -> None:
        pass


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LocalStore]:
    s = LocalStore(tmp_path / "edge.db")
    yield s
    s.close()


def record(store: LocalStore, kind: str = "unknown", camera: str = "entrance") -> str:
    ev = AttendanceEvent(new_event_id(), "door-1", camera, kind, None, None, 0.2, datetime.now(UTC))  # type: ignore[arg-type]
    return store.record_event(ev).event_id


def dispatcher(store: LocalStore, sink: Receiver, tmp_path: Path, **kw: Any) -> OutputDispatcher:
    settings = DispatchSettings(
        output_id="hook",
        kind="webhook",
        target="http://127.0.0.1/x",
        filter=kw.pop("filter", EventFilter()),
        include_snapshot=False,
        snapshots_dir=tmp_path / "snaps",
        batch_size=kw.pop("batch_size", 50),
        backoff_initial_s=0.05,
        backoff_max_s=0.2,
    )
    return OutputDispatcher(settings, store.outputs, lambda: sink, threading.Event(), **kw)


def test_a_new_output_starts_after_the_history(store: LocalStore, tmp_path: Path) -> None:
    record(store)
    sink = Receiver()
    d = dispatcher(store, sink, tmp_path)
    assert d.round(sink) == d.s.poll_s and sink.got == []
    new = record(store)
    d.round(sink)
    assert sink.got == [new]
    assert store.outputs.status("hook").backlog == 0  # type: ignore[union-attr]


def test_filtered_events_are_skipped_not_sent(store: LocalStore, tmp_path: Path) -> None:
    sink = Receiver()
    d = dispatcher(store, sink, tmp_path, filter=EventFilter(frozenset({"unknown"}), frozenset({"back"})))
    wanted = record(store, "unknown", "back")
    record(store, "check_in", "back")
    record(store, "unknown", "entrance")
    d.round(sink)
    assert sink.got == [wanted]
    st = store.outputs.status("hook")
    assert st is not None and st.backlog == 0 and st.delivered == 1


def test_partial_delivery_resumes_at_the_first_missing_event(store: LocalStore, tmp_path: Path) -> None:
    sink = Receiver()
    d = dispatcher(store, sink, tmp_path)
    ids = [record(store) for _ in range(5)]
    sink.accept = 2
    delay = d.round(sink)
    assert 0 < delay <= 0.2 and d.backoff.failures == 1
    st = store.outputs.status("hook")
    assert st is not None and st.backlog == 3 and st.failing and st.last_error == "receiver said no"
    # A restarted daemon (a new dispatcher on the same store) resumes from the stored cursor.
    sink.accept = None
    again = dispatcher(store, sink, tmp_path)
    again.round(sink)
    assert sink.got == ids  # each once, in order
    st = store.outputs.status("hook")
    assert st is not None and st.backlog == 0 and not st.failing and st.delivered == 5


def test_failures_back_off_and_a_sink_exception_is_a_failed_attempt(
    store: LocalStore, tmp_path: Path
) -> None:
    class Broken(Receiver):
        def deliver(self, payloads: Sequence[dict[str, Any]]) -> Delivery:
            raise OSError("socket exploded")

    sink = Broken()
    d = dispatcher(store, sink, tmp_path)
    record(store)
    delays = [d.round(sink) for _ in range(4)]
    assert d.backoff.failures == 4 and max(delays) <= 0.2
    st = store.outputs.status("hook")
    assert st is not None and st.backlog == 1 and "socket exploded" in (st.last_error or "")


def test_thread_delivers_and_stops_on_the_stop_event(store: LocalStore, tmp_path: Path) -> None:
    sink = Receiver()
    d = dispatcher(store, sink, tmp_path, device_state=lambda: DeviceState({"entrance": "up"}, 3))
    d.start()
    ids = [record(store) for _ in range(3)]
    assert wait_until(lambda: sink.got == ids, timeout=5)
    assert sink.states and sink.states[0] == DeviceState({"entrance": "up"}, 3)
    d.stop_event.set()
    d.join(timeout=2)
    assert not d.is_alive()


def test_a_failing_round_backs_off_and_the_thread_carries_on(store: LocalStore, tmp_path: Path) -> None:
    sink = Receiver()
    calls = {"n": 0}

    def flaky_state() -> DeviceState:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("database is locked")
        return DeviceState({}, 0)

    d = dispatcher(store, sink, tmp_path, device_state=flaky_state)
    d.s = dataclasses.replace(d.s, state_every_s=0.01)
    d.start()
    try:
        first = record(store)
        assert wait_until(lambda: sink.got == [first] and calls["n"] >= 2, timeout=5)
        assert d.is_alive()
    finally:
        d.stop_event.set()
        d.join(timeout=2)


def test_an_output_wanting_crops_waits_briefly_for_them(store: LocalStore, tmp_path: Path) -> None:
    snaps = tmp_path / "snaps"
    (snaps / "d").mkdir(parents=True)
    (snaps / "d" / "a.jpg").write_bytes(b"\xff\xd8\xff-jpeg")
    sink = Receiver()
    d = dispatcher(store, sink, tmp_path)
    d.s = dataclasses.replace(d.s, include_snapshot=True)
    unknown = record(store)  # committed; its crop is not attached yet
    assert d.round(sink) == d.s.poll_s and sink.got == []
    store.set_snapshot(unknown, "d/a.jpg")
    d.round(sink)
    assert sink.got == [unknown]
    assert base64.b64decode(sink.bodies[0]["snapshot_jpeg_base64"]) == b"\xff\xd8\xff-jpeg"
    # An old event without a crop (snapshots off, or removed by the TTL) goes without one.
    old = AttendanceEvent(
        new_event_id(), "door-1", "e", "unknown", None, None, None, datetime(2020, 1, 1, tzinfo=UTC)
    )
    store.record_event(old)
    d.round(sink)
    assert sink.got == [unknown, old.event_id]
    assert "snapshot_jpeg_base64" not in sink.bodies[1]


def test_a_spoof_suspected_event_waits_for_its_crop_though_it_names_someone(
    store: LocalStore, tmp_path: Path
) -> None:
    """spoof_suspected names whom the face matched and gets its crop after the commit, like unknown."""
    snaps = tmp_path / "snaps"
    (snaps / "d").mkdir(parents=True)
    (snaps / "d" / "s.jpg").write_bytes(b"\xff\xd8\xff-spoof")
    sink = Receiver()
    d = dispatcher(store, sink, tmp_path, filter=EventFilter(frozenset({"spoof_suspected"})))
    d.s = dataclasses.replace(d.s, include_snapshot=True)
    ev = AttendanceEvent(
        new_event_id(), "door-1", "entrance", "spoof_suspected", "e1", "Ada", 0.8, datetime.now(UTC)
    )
    store.record_event(ev)
    assert d.round(sink) == d.s.poll_s and sink.got == []
    store.set_snapshot(ev.event_id, "d/s.jpg")
    d.round(sink)
    assert sink.got == [ev.event_id]
    assert base64.b64decode(sink.bodies[0]["snapshot_jpeg_base64"]) == b"\xff\xd8\xff-spoof"


def test_a_check_in_has_no_crop_to_wait_for(store: LocalStore, tmp_path: Path) -> None:
    sink = Receiver()
    d = dispatcher(store, sink, tmp_path)
    d.s = dataclasses.replace(d.s, include_snapshot=True)
    ev = AttendanceEvent(
        new_event_id(), "door-1", "entrance", "check_in", "e1", "Ada", 0.8, datetime.now(UTC)
    )
    store.record_event(ev)
    d.round(sink)
    assert sink.got == [ev.event_id] and "snapshot_jpeg_base64" not in sink.bodies[0]


def test_a_sink_that_cannot_be_built_is_reported_and_retried(store: LocalStore, tmp_path: Path) -> None:
    """A real MQTT sink with an unreadable CA file fails in paho's tls_set: the output shows as
    failing with the reason (what /health, sputnik_output_up and doctor read) and keeps trying;
    once the sink builds it delivers and is healthy again."""
    bad_ca = tmp_path / "ca.pem"
    bad_ca.write_text("not a certificate\n")
    receiver = Receiver()
    fixed = threading.Event()
    builds = {"n": 0}

    def make() -> Sink:
        builds["n"] += 1
        if fixed.is_set():
            return receiver
        return MqttSink(
            MqttSettings(host="127.0.0.1", port=1, device_id="d", cameras=(), tls=True, ca_file=bad_ca)
        )

    d = dispatcher(store, receiver, tmp_path)
    d.make_sink = make
    d.start()
    try:
        assert wait_until(lambda: builds["n"] >= 2, timeout=5)  # retried, not ended
        assert d.is_alive()
        st = d.status()
        assert st.failing and "could not start the output" in (st.last_error or ""), st
        assert "SSLError" in (st.last_error or "")
        fixed.set()
        ev = record(store)
        assert wait_until(lambda: receiver.got == [ev], timeout=5)
        assert wait_until(lambda: not d.status().failing, timeout=5)
    finally:
        d.stop_event.set()
        d.join(timeout=2)
    assert not d.is_alive()


def test_a_round_that_raises_is_the_outputs_last_error(store: LocalStore, tmp_path: Path) -> None:
    sink = Receiver()

    def broken_state() -> DeviceState:
        raise RuntimeError("database is locked")

    d = dispatcher(store, sink, tmp_path, device_state=broken_state)
    d.start()
    try:
        assert wait_until(lambda: "database is locked" in (d.status().last_error or ""), timeout=5)
        assert d.is_alive()
    finally:
        d.stop_event.set()
        d.join(timeout=2)
