"""Faults the device meets in the field, against real components and the real daemon.

- the snapshot folder on a tiny tmpfs that fills up: events still land in the outbox;
- a corrupt local SQLite file: refuse / salvage / move aside, by the daemon and the CLI;
- wall-clock jumps: the device sequence and the cooldown do not follow the wall clock;
- a camera that sends garbage: down with an error, bounded reconnects and logs, daemon healthy.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Engine, text

from sputnik_edge.attendance.policy import AttendancePolicy, CameraInfo, PolicyConfig
from sputnik_edge.attendance.tracker import Track
from sputnik_edge.attendance.types import AttendanceEvent, new_event_id
from sputnik_edge.central.store import CentralStore
from sputnik_edge.central.sync import CentralSync
from sputnik_edge.metrics import Metrics
from sputnik_edge.recognition.gallery import EMBEDDING_DIM, l2_normalise
from sputnik_edge.recognition.types import MatchResult
from sputnik_edge.store.local import LocalStore
from tests.conftest import require
from tests.integration.conftest import sync_settings
from tests.support.daemon import Daemon, base_config, free_port, shared_recognizer, write_config
from tests.unit.store.test_recovery import Fixture, build_store

# ---- helpers -----------------------------------------------------------------------------------------


def json_lines(daemon: Daemon) -> list[dict[str, Any]]:
    out = []
    for line in daemon.log_lines():
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                out.append(json.loads(line))
    return out


def post_photo(daemon: Daemon, photo: Path, camera_id: str = "gateway") -> Any:
    import httpx

    with photo.open("rb") as fh:
        return httpx.post(
            daemon.base_url + "/api/v1/gateway/snapshot",
            files={"file": (photo.name, fh, "application/octet-stream")},
            data={"camera_id": camera_id},
            timeout=30,
        )


@contextlib.contextmanager
def running(daemon: Daemon) -> Iterator[Daemon]:
    daemon.start()
    try:
        daemon.wait_http(60)
        yield daemon
    finally:
        code = daemon.terminate()
        assert code == 0, daemon.log_text()[-3000:]


def cli(config: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sputnik_edge", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# ---- 1. disk full on the snapshot folder -----------------------------------------------------------


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A real 64 KiB tmpfs; skipped locally (failed in CI) when mounting is not allowed."""
    mnt = tmp_path / "tinyfs"
    mnt.mkdir()
    try:
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(mnt)],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
        mounted, reason = result.returncode == 0, result.stderr.strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        mounted, reason = False, str(exc)
    require(mounted, f"cannot mount a tmpfs here: {reason}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=False, timeout=10)


def test_snapshot_disk_full_records_events_and_skips_snapshots(
    tmp_path: Path, tiny_tmpfs: Path, face_labels: list[tuple[Path, str]]
) -> None:
    snaps = tiny_tmpfs / "snapshots"
    port = free_port()
    cfg = base_config(tmp_path, port, storage={"snapshots_dir": str(snaps)})
    daemon = Daemon(write_config(tmp_path / "config.toml", cfg), port)
    photos = [p for p, _ in face_labels]  # nobody is enrolled: every face is unknown, with a snapshot
    with running(daemon):
        event_ids: list[str] = []
        skipped_after = 0
        for i in range(60):  # bounded: 64 KiB holds only a handful of face crops
            r = post_photo(daemon, photos[i % len(photos)])
            assert r.status_code == 200, r.text
            event_ids += [e["event_id"] for e in r.json()["events"]]
            if any(e.get("event") == "snapshot_skipped" for e in json_lines(daemon)):
                skipped_after += 1
                if skipped_after >= 4:
                    break
        assert skipped_after >= 4, "the 64 KiB folder never filled up"
        skips = [e for e in json_lines(daemon) if e.get("event") == "snapshot_skipped"]
        assert skips and all(e["level"] == "warning" for e in skips)
        assert all("space" in e["error"].lower() for e in skips), skips
        # Every event is in the outbox, with or without its snapshot.
        stored = {e["event_id"] for e in daemon.events()}
        assert set(event_ids) <= stored
        assert {e["event_id"] for e in skips} <= set(event_ids)
        files = list(snaps.rglob("*.jpg"))
        assert 0 < len(files) < len(event_ids)
        assert not list(snaps.rglob("*.tmp"))  # no half-written files left behind
        assert {f.stem for f in files}.isdisjoint(e["event_id"] for e in skips)
        health = daemon.get("/health")
        assert health.status_code == 200 and health.json()["outbox"]["backlog"] == len(stored)
        assert not [e for e in json_lines(daemon) if e.get("level") in ("error", "critical")]
        # Free the space: snapshots resume without a restart.
        for f in files:
            f.unlink()
        for photo in photos[:5]:
            r = post_photo(daemon, photo)
            assert r.status_code == 200
            if r.json()["events"]:
                new_id = r.json()["events"][0]["event_id"]
                assert any(f.stem == new_id for f in snaps.rglob("*.jpg"))
                break
        else:
            pytest.fail("no photo produced an event after the disk was freed")


# ---- 2. corrupt local SQLite file ------------------------------------------------------------------


def corrupt_event_pages(fx: Fixture, n: int = 5) -> set[str]:
    leaves = fx.leaf_pages(fx.ids)
    bad = random.Random(5).sample(sorted(leaves), n)
    fx.overwrite_pages(bad)
    return set().union(*(leaves[b] for b in bad))


def test_daemon_refuses_a_corrupt_store_then_starts_after_salvage(tmp_path: Path) -> None:
    port = free_port()
    cfg = base_config(tmp_path, port)
    fx = build_store(Path(cfg["storage"]["database"]), 3000)
    lost = corrupt_event_pages(fx)
    config = write_config(tmp_path / "config.toml", cfg)

    daemon = Daemon(config, port).start()
    assert daemon.proc is not None
    assert daemon.proc.wait(timeout=60) == 2
    errors = [line for line in daemon.log_lines() if line.startswith("error:")]
    assert len(errors) == 1, daemon.log_text()
    assert str(fx.path) in errors[0] and "unsent event(s)" in errors[0]
    assert "sputnik-edge store salvage" in errors[0] and "store discard --yes" in errors[0]
    assert fx.path.exists() and not list(fx.path.parent.glob("edge.db.corrupt-*"))

    result = cli(config, "store", "salvage")
    assert result.returncode == 0, result.stderr
    assert f"events: {len(fx.ids) - len(lost)} row(s) saved, {len(lost)} lost" in result.stdout
    expected_unsent = fx.unsent - lost

    with running(Daemon(config, port)) as d:
        health = d.get("/health").json()
        assert health["outbox"]["backlog"] == len(expected_unsent)
        listed = d.events()
        assert listed and {e["event_id"] for e in listed} <= set(fx.ids) - lost
        assert {e["event_id"] for e in listed if not e["synced"]} <= expected_unsent
    store = LocalStore(fx.path)
    try:
        assert {e.event_id for e in store.pending(limit=5000)} == expected_unsent
    finally:
        store.close()


def test_daemon_refuses_a_truncated_store(tmp_path: Path) -> None:
    port = free_port()
    cfg = base_config(tmp_path, port)
    fx = build_store(Path(cfg["storage"]["database"]), 3000)
    os.truncate(fx.path, fx.path.stat().st_size // 2)
    daemon = Daemon(write_config(tmp_path / "config.toml", cfg), port).start()
    assert daemon.proc is not None and daemon.proc.wait(timeout=60) == 2
    (line,) = [x for x in daemon.log_lines() if x.startswith("error:")]
    assert str(fx.path) in line and "unsent event" in line and "store salvage" in line
    # The half that survived holds the index: it says how many unsent events the file may hold.
    assert "may hold 1000 unsent event(s)" in line or "cannot be read well enough to tell" in line


def test_daemon_moves_a_corrupt_store_aside_when_central_can_refill_it(
    tmp_path: Path, central_url: str
) -> None:
    rec = shared_recognizer()
    with CentralStore(central_url) as central:
        central.upsert_employee("e-central", "From Central")
        vec = l2_normalise(np.random.default_rng(1).standard_normal((1, EMBEDDING_DIM)).astype(np.float32))
        central.add_templates("e-central", rec.model_id, vec, [0.9])
    port = free_port()
    cfg = base_config(tmp_path, port, central={"database_url": central_url, "gallery_interval_s": 1})
    fx = build_store(Path(cfg["storage"]["database"]), 1000, unsent_every=0)  # everything synced
    pages = fx.leaf_pages(fx.template_ids)
    fx.overwrite_pages(sorted(pages)[:3])
    daemon = Daemon(write_config(tmp_path / "config.toml", cfg), port)
    with running(daemon) as d:
        moved = d.wait_for(
            lambda: [e for e in json_lines(d) if e.get("event") == "local_db_moved_aside"], 30, "moved aside"
        )
        aside = Path(moved[0]["path"])
        assert aside.exists() and aside.name.startswith("edge.db.corrupt-")
        assert stat.S_IMODE(aside.stat().st_mode) == 0o600
        # The fresh store pulls the gallery from central from seq 0.
        d.wait_for(lambda: d.get("/health").json()["gallery"]["templates"] == 1, 30, "gallery pulled")
        assert d.get("/health").json()["outbox"]["backlog"] == 0
    store = LocalStore(fx.path)
    try:
        assert [e.employee_id for e in store.list_employees()] == ["e-central"]
        assert int(store.get_state("gallery_seq", "0") or 0) > 0
        assert store.count_events() == 0
    finally:
        store.close()


# ---- 3. clock jumps ----------------------------------------------------------------------------------


def event_at(captured_at: datetime, employee_id: str | None = None) -> AttendanceEvent:
    return AttendanceEvent(
        event_id=new_event_id(),
        device_id="door-1",
        camera_id="entrance",
        kind="check_in" if employee_id else "unknown",
        employee_id=employee_id,
        name=None,
        similarity=0.9 if employee_id else 0.1,
        captured_at=captured_at,
    )


WALL = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
# The wall clock as a device with a bad RTC / NTP step would see it: back an hour, forward a day...
JUMPS = [timedelta(0), timedelta(seconds=5), timedelta(hours=-1), timedelta(hours=-1, seconds=3),
         timedelta(days=1), timedelta(days=-400), timedelta(seconds=10)]  # fmt: skip


def test_seq_ignores_the_wall_clock_and_survives_restarts(tmp_path: Path) -> None:
    db = tmp_path / "edge.db"
    store = LocalStore(db)
    recorded = [store.record_event(event_at(WALL + j)) for j in JUMPS]
    seqs = [e.seq for e in recorded]
    assert seqs == list(range(1, len(JUMPS) + 1))
    pending = store.pending()
    assert [e.event_id for e in pending] == [e.event_id for e in recorded]  # seq order, not time order
    assert [e.captured_at for e in pending] != sorted(e.captured_at for e in pending)
    store.close()

    store = LocalStore(db)
    nxt = store.record_event(event_at(WALL - timedelta(days=3)))
    assert nxt.seq == len(JUMPS) + 1
    # Pruning the newest events (a wall clock far in the future makes everything "old") must not
    # let seq go back after a restart.
    count, _ = store.prune_events(WALL + timedelta(days=10_000), standalone=True)
    assert count == len(JUMPS) + 1 and store.count_events() == 0
    store.close()
    store = LocalStore(db)
    assert store.record_event(event_at(WALL)).seq == len(JUMPS) + 2
    store.close()


def test_push_goes_in_seq_order_whatever_the_capture_times(tmp_path: Path, central_url: str) -> None:
    settings = sync_settings(tmp_path, central_url, batch_size=2)
    store = LocalStore(settings.storage.database, device_id="door-1")
    recorded = [store.record_event(event_at(WALL + j)) for j in JUMPS]
    sync = CentralSync(settings, store, "sface-test", Metrics())
    try:
        sync.push_once(force=True, max_batches=1)  # one batch of two: must be the two lowest seq
        central_engine: Engine = sync.central.engine

        def central_rows() -> dict[str, int]:
            with central_engine.connect() as conn:
                rows = conn.execute(text("SELECT event_id::text, device_seq FROM attendance_events"))
                return {r[0]: int(r[1]) for r in rows}

        assert central_rows() == {e.event_id: e.seq for e in recorded[:2]}
        # recorded[2] was captured before both (clock jumped back) yet still goes after them.
        assert recorded[2].captured_at < recorded[0].captured_at
        sync.push_once(force=True, max_batches=1)
        assert central_rows() == {e.event_id: e.seq for e in recorded[:4]}
        sync.push_once(force=True)
        assert central_rows() == {e.event_id: e.seq for e in recorded}
        assert store.backlog() == 0
    finally:
        sync.close()
        store.close()


class FakeMono:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def decide(policy: AttendancePolicy, wall: datetime, track_id: int) -> AttendanceEvent | None:
    track = Track(track_id=track_id, bbox=(0.0, 0.0, 10.0, 10.0), first_seen=0.0, last_seen=0.0)
    match = MatchResult("match", "e1", "E One", 0.8, 0.3)
    return policy.observe(track, match, CameraInfo("entrance", "in"), wall, min_frames=1)


def test_cooldown_follows_the_monotonic_clock_not_the_wall_clock() -> None:
    mono = FakeMono()
    policy = AttendancePolicy(PolicyConfig(min_frames=1, cooldown_s=300), "door-1", clock=mono)
    first = decide(policy, WALL, 1)
    assert first is not None and first.captured_at == WALL
    # Wall clock jumps a day forward: still within 300 s of monotonic time -> suppressed.
    mono.now += 10
    assert decide(policy, WALL + timedelta(days=1), 2) is None
    # Wall clock jumps back an hour: no reset, no extension -> still suppressed.
    mono.now += 100
    assert decide(policy, WALL - timedelta(hours=1), 3) is None
    assert policy.in_cooldown("entrance", "e1")
    # 300 s of monotonic time after the first event the cooldown is over, whatever the wall says.
    mono.now = 1000.0 + 300.5
    again = decide(policy, WALL - timedelta(hours=2), 4)
    assert again is not None and again.captured_at == WALL - timedelta(hours=2)
    # And the new cooldown starts from that monotonic instant.
    mono.now += 299
    assert decide(policy, WALL + timedelta(days=30), 5) is None


# ---- 4. a camera sending garbage ------------------------------------------------------------------


class GarbageTcpServer:
    """Accepts TCP connections on 127.0.0.1 and sends random bytes until the client goes away."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._feed, args=(conn,), daemon=True).start()

    def _feed(self, conn: socket.socket) -> None:
        rng = random.Random(self.accepted)
        with conn:
            for _ in range(500):  # at most ~5 s per connection
                if self._stop.is_set():
                    return
                try:
                    conn.sendall(rng.randbytes(4096))
                except OSError:
                    return
                time.sleep(0.01)

    def __enter__(self) -> GarbageTcpServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.sock.close()
        self._thread.join(timeout=5)


class GarbageMjpegServer:
    """An HTTP server answering multipart/x-mixed-replace whose "JPEG" parts are random bytes."""

    def __init__(self) -> None:
        stop = self._stop = threading.Event()
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                rng = random.Random(outer.requests)
                for _ in range(300):
                    if stop.is_set():
                        return
                    body = rng.randbytes(3000)
                    head = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(body)
                    try:
                        self.wfile.write(head + body + b"\r\n")
                    except OSError:
                        return
                    time.sleep(0.03)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> GarbageMjpegServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("kind", ["tcp_random_bytes", "mjpeg_garbage_parts"])
def test_camera_sending_garbage_is_down_with_bounded_retries(
    tmp_path: Path, kind: str, face_labels: list[tuple[Path, str]]
) -> None:
    server_cm: GarbageTcpServer | GarbageMjpegServer
    server_cm = GarbageTcpServer() if kind == "tcp_random_bytes" else GarbageMjpegServer()
    with server_cm as server:
        source = (
            f"rtsp://127.0.0.1:{server.port}/stream"
            if isinstance(server, GarbageTcpServer)
            else f"http://127.0.0.1:{server.port}/mjpeg"
        )
        port = free_port()
        camera = {"id": "junk", "source": source, "open_timeout_s": 2, "read_timeout_s": 2}
        cfg = base_config(tmp_path, port, cameras=[camera])
        daemon = Daemon(write_config(tmp_path / "config.toml", cfg), port)
        with running(daemon) as d:

            def camera_down() -> Any:
                cam = d.camera("junk")
                return cam if cam["state"] == "down" and cam["last_error"] else None

            cam = d.wait_for(camera_down, 30, "camera down with an error")
            assert cam["frames_read"] == 0

            def warnings() -> list[dict[str, Any]]:
                return [
                    e
                    for e in json_lines(d)
                    if str(e.get("event", "")).startswith("camera_") and e.get("level") == "warning"
                ]

            before = len(warnings())
            lines_before = len(d.log_text().splitlines())
            # Attempts continue: wait for two more at least. A TCP attempt also waits out the 2 s
            # open timeout, so fewer of them show the backoff in a comparable time.
            attempts = max(before + 2, 3 if kind == "tcp_random_bytes" else 4)
            d.wait_for(lambda: len(warnings()) >= attempts, 30, f"{attempts} failed attempts")
            failed = warnings()
            during = failed[before:]
            # ...but with backoff (0.5 s doubling, capped at 10 s): the n-th failure is followed by
            # a wait of at least 0.5 * 2**(n-1) s before the next attempt, not by a tight loop.
            stamps = [datetime.fromisoformat(e["timestamp"]).timestamp() for e in failed]
            gaps = [b - a for a, b in itertools.pairwise(stamps)]
            steps = [min(0.5 * 2**n, 10.0) for n in range(len(gaps))]
            assert all(gap >= step for gap, step in zip(gaps, steps, strict=True)), (gaps, steps)
            # ...and the next attempt follows its wait (backoff + jitter + both timeouts, with slack).
            assert all(gap <= 1.1 * step + 2 + 2 + 3 for gap, step in zip(gaps, steps, strict=True)), gaps
            lines = len(d.log_text().splitlines()) - lines_before
            assert lines < 100 * len(during), lines  # FFmpeg's own chatter too
            if kind == "tcp_random_bytes":
                failures = [e["open_failures"] for e in during]
                assert failures == sorted(failures) and failures[-1] > failures[0]
                assert server.accepted >= 2
            else:
                assert d.camera("junk")["reconnects"] >= 1  # it opens, reads nothing, reopens
                assert server.requests >= 2
            # The rest of the daemon works.
            health = d.get("/health")
            assert health.status_code == 200
            body = health.json()
            assert body["status"] == "degraded" and "camera:junk" in body["degraded"]
            assert body["pipeline"]["alive"]
            r = post_photo(d, face_labels[0][0])
            assert r.status_code == 200 and r.json()["faces"]
            assert not [e for e in json_lines(d) if e.get("event") == "camera_thread_crashed"]
