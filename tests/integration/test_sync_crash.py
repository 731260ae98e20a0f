"""SIGKILL stress: a device process dies at random moments, including between the central commit
and marking the batch sent. Nothing may be lost and nothing duplicated.

The device process (forked from a script written to tmp_path, which imports the package once so that
a restart costs milliseconds, not the 1-2 s of imports) records events and pushes them in a loop with
the real LocalStore and CentralSync. Its central store is wrapped so that, after the central commit has
returned, it prints ``window`` and sleeps before CentralSync marks the batch sent: the parent kills
it right there in about half of the rounds, and at a random moment in the others.
"""

from __future__ import annotations

import os
import queue
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from sputnik_edge.central.sync import CentralSync
from sputnik_edge.metrics import Metrics
from sputnik_edge.store.local import LocalStore
from tests.integration.conftest import sync_settings

pytestmark = pytest.mark.integration

DEVICE = "door-crash"
MODEL_ID = "sface-test"
MAX_KILLS = 20
MIN_KILLS = 15
TIME_BUDGET_S = 20.0

CHILD = textwrap.dedent(
    """
    import os, random, sys, time, uuid
    from datetime import UTC, datetime
    from pathlib import Path

    from sputnik_edge.attendance.types import AttendanceEvent
    from sputnik_edge.central.store import CentralStore
    from sputnik_edge.central.sync import CentralSync
    from sputnik_edge.config import Settings
    from sputnik_edge.metrics import Metrics
    from sputnik_edge.store.local import LocalStore

    db_path, url, device, log_path = sys.argv[1:5]
    window_s = float(os.environ.get("SPUTNIK_TEST_COMMIT_WINDOW_S", "0"))


    def say(msg):
        os.write(1, f"{os.getpid()} {msg}\\n".encode())


    class WindowedCentral(CentralStore):
        # Test hook: the central transaction has committed, the local outbox is not updated yet.
        def push_events(self, events, faces=()):
            inserted = super().push_events(events, faces)
            with open(log_path, "a") as log:
                log.write(f"{len(events)} {inserted}\\n")
            say("window")
            time.sleep(window_s)
            return inserted


    def device_main():
        random.seed()
        settings = Settings(
            device={"id": device},
            storage={"database": db_path, "snapshots_dir": str(Path(db_path).parent / "snaps")},
            central={"database_url": url, "batch_size": 4, "connect_timeout_s": 2},
        )
        store = LocalStore(Path(db_path), device_id=device)
        sync = CentralSync(settings, store, "sface-test", Metrics(), central=WindowedCentral(url))
        say("ready")
        i = 0
        while True:
            for _ in range(random.randint(1, 6)):
                kind = random.choice(["check_in", "unknown", "pass"])
                store.record_event(
                    AttendanceEvent(
                        event_id=str(uuid.uuid4()), device_id=device, camera_id="entrance", kind=kind,
                        employee_id=None if kind == "unknown" else "e1", name=None, similarity=0.8,
                        captured_at=datetime.now(UTC), details={"i": i},
                    )
                )
                i += 1
            sync.push_once(force=True)
            time.sleep(random.uniform(0, 0.02))


    # Zygote: the imports above cost 1-2 s, so each device process is forked from here (a fresh
    # process with its own SQLite and PostgreSQL connections, opened after the fork).
    for line in sys.stdin:
        cmd, _, arg = line.strip().partition(" ")
        if cmd == "spawn":
            pid = os.fork()
            if pid == 0:
                try:
                    device_main()
                finally:
                    os._exit(70)
            say(f"spawned {pid}")
        elif cmd == "reap":
            _, status = os.waitpid(int(arg), 0)
            say(f"reaped {arg} {os.waitstatus_to_exitcode(status)}")
    """
)


class Zygote:
    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=cwd
        )
        self.lines: queue.Queue[tuple[int, str]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            pid, _, msg = raw.decode(errors="replace").strip().partition(" ")
            if pid.isdigit():  # other lines are log output
                self.lines.put((int(pid), msg))

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def expect(self, pid: int | None, prefix: str, timeout: float) -> str | None:
        """The next message starting with ``prefix`` from ``pid`` (None: the zygote itself)."""
        want = self.proc.pid if pid is None else pid
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                got_pid, msg = self.lines.get(timeout=left)
            except queue.Empty:
                return None
            if got_pid == want and msg.startswith(prefix):
                return msg
        return None

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def test_sigkill_at_random_moments_loses_and_duplicates_nothing(
    tmp_path: Path, central_url: str, central_engine: Engine
) -> None:
    script = tmp_path / "device_child.py"
    script.write_text(CHILD)
    db_path = tmp_path / "edge.db"
    push_log = tmp_path / "push.log"
    repo_root = Path(__file__).resolve().parents[2]
    env = {"PYTHONPATH": str(repo_root), "SPUTNIK_TEST_COMMIT_WINDOW_S": "0.3"}
    rng = random.Random(1234)
    kills = window_kills = 0
    started = time.monotonic()
    zygote = Zygote(
        [sys.executable, str(script), str(db_path), central_url, DEVICE, str(push_log)],
        {**os.environ, **env},
        repo_root,
    )

    def one_round(in_window: bool) -> None:
        zygote.send("spawn")
        spawned = zygote.expect(None, "spawned", 20)
        assert spawned, "zygote did not fork"
        pid = int(spawned.split()[1])
        assert zygote.expect(pid, "ready", 20), "device process did not start"
        if in_window:
            # Let a few batches through first so the local log grows between kills.
            for _ in range(rng.randint(1, 4)):
                assert zygote.expect(pid, "window", 10), "device process never pushed"
        else:
            time.sleep(rng.uniform(0.0, 0.6))
        os.kill(pid, signal.SIGKILL)
        zygote.send(f"reap {pid}")
        reaped = zygote.expect(None, f"reaped {pid}", 10)
        assert reaped == f"reaped {pid} {-signal.SIGKILL}", f"device process ended otherwise: {reaped}"

    try:
        in_window = False
        while kills < MAX_KILLS and time.monotonic() - started < TIME_BUDGET_S:
            in_window = rng.random() < 0.5
            one_round(in_window)
            kills += 1
            window_kills += in_window
        if not in_window:
            # The last kill always hits the window, so the final push has re-sends to drop.
            one_round(True)
            kills += 1
            window_kills += 1
    finally:
        zygote.close()

    print(f"{kills} kills ({window_kills} in the commit window) in {time.monotonic() - started:.1f}s")
    assert kills >= MIN_KILLS, f"only {kills} kills within {TIME_BUDGET_S}s"
    assert window_kills >= 3

    # Batches committed centrally whose local "sent" mark never happened were pushed again after a
    # restart: ON CONFLICT DO NOTHING dropped the copies.
    offered = inserted = 0
    for line in push_log.read_text().splitlines():
        o, n = map(int, line.split())
        offered += o
        inserted += n
    assert offered > inserted, "no batch was ever re-sent: the dangerous window was not exercised"

    settings = sync_settings(tmp_path, central_url, DEVICE)
    store = LocalStore(db_path, device_id=DEVICE)
    sync = CentralSync(settings, store, MODEL_ID, Metrics())
    try:
        local_all = {s.event.event_id for s in store.list_events(limit=1_000_000)}
        pending = {e.event_id for e in store.pending(1_000_000)}
        with central_engine.connect() as conn:
            before = {r[0] for r in conn.execute(text("SELECT event_id::text FROM attendance_events"))}
        # The last kill hit the window: that batch is central but still pending locally.
        assert pending & before
        assert before <= local_all, "central has events the device never recorded"

        deadline = time.monotonic() + 20
        while store.backlog() and time.monotonic() < deadline:
            sync.push_once(force=True)
        assert store.backlog() == 0
        with central_engine.connect() as conn:
            rows = [r[0] for r in conn.execute(text("SELECT event_id::text FROM attendance_events"))]
            per_device_seq = conn.execute(
                text(
                    "SELECT count(*), count(DISTINCT device_seq) FROM attendance_events WHERE device_id = :d"
                ),
                {"d": DEVICE},
            ).one()
        assert len(rows) == len(set(rows)), "duplicate event ids centrally"
        assert set(rows) == local_all, "lost or foreign events"
        assert per_device_seq[0] == per_device_seq[1] == len(local_all)
        assert sync.pushed_total == len(pending)
        assert len(local_all) > 50
    finally:
        sync.close()
        store.close()
