"""A private PgBouncer in transaction mode for the ``fleet`` bench: our own process on a free
loopback port with a throw-away config, stopped after the run (the server's config is untouched).

Transaction pooling fits the device code: every central operation is one transaction, advisory
locks are transaction-level, and psycopg2 sends the isolation level with BEGIN.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import URL

log = structlog.get_logger(__name__)


def pgbouncer_binary() -> str | None:
    return shutil.which("pgbouncer") or next(
        (p for p in ("/usr/sbin/pgbouncer", "/usr/local/sbin/pgbouncer") if os.access(p, os.X_OK)), None
    )


def pgbouncer_version(binary: str) -> str:
    done = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10, check=False)
    first = (done.stdout or done.stderr).splitlines()
    return first[0].strip() if first else "PgBouncer (unknown version)"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Bouncer:
    """A running PgBouncer: the URL devices use, and its pools from the admin console."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int, target: URL) -> None:
        self.proc = proc
        self.port = port
        self.url = target.set(host="127.0.0.1", port=port)
        self._admin: Any = None

    def pools(self) -> tuple[int, int, float] | None:
        """(client connections, clients waiting for a server connection, longest wait in ms) of
        the bench database, or None when the admin console does not answer."""
        import psycopg2

        try:
            if self._admin is None:
                conn = psycopg2.connect(
                    host="127.0.0.1", port=self.port, dbname="pgbouncer", user=self.url.username
                )
                conn.autocommit = True  # the admin console knows no transactions
                self._admin = conn
            cur = self._admin.cursor()
            cur.execute("SHOW POOLS")
            names = [d[0] for d in cur.description]
            for row in cur.fetchall():
                pool = dict(zip(names, row, strict=True))
                if pool["database"] == self.url.database:
                    wait_ms = 1000.0 * pool["maxwait"] + pool.get("maxwait_us", 0) / 1000.0
                    return int(pool["cl_active"]) + int(pool["cl_waiting"]), int(pool["cl_waiting"]), wait_ms
        except psycopg2.Error:
            self._admin = None
        return None

    def close(self) -> None:
        if self._admin is not None:
            with contextlib.suppress(Exception):  # the console may already be gone with the process
                self._admin.close()


@contextmanager
def pgbouncer(binary: str, target: URL, *, pool_size: int, max_clients: int) -> Iterator[Bouncer]:
    """Run PgBouncer in front of ``target`` (a role URL of one database, trust auth)."""
    work = Path(tempfile.mkdtemp(prefix="sputnik-fleet-bouncer-"))
    port = _free_port()
    role, db = target.username or "postgres", target.database
    (work / "users.txt").write_text(f'"{role}" ""\n')
    (work / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"{db} = host={target.host or '127.0.0.1'} port={target.port or 5432} dbname={db}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {work / 'users.txt'}\nadmin_users = {role}\n"
        f"pool_mode = transaction\ndefault_pool_size = {pool_size}\nreserve_pool_size = 0\n"
        f"max_client_conn = {max_clients}\nmax_db_connections = {pool_size}\n"
        "ignore_startup_parameters = extra_float_digits\n"
        "log_connections = 0\nlog_disconnections = 0\nlog_pooler_errors = 1\n"
    )
    work.chmod(0o755)
    for f in work.iterdir():
        f.chmod(0o644)
    # PgBouncer refuses to run as root; -u drops to an unprivileged user after reading its config.
    cmd = [binary] + (["-u", "nobody"] if os.geteuid() == 0 else []) + [str(work / "pgbouncer.ini")]
    log_path = work / "pgbouncer.log"
    with log_path.open("wb") as log_file:  # a file, not a pipe: a full pipe would stall PgBouncer
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log_file)
    bouncer = Bouncer(proc, port, target)
    try:
        _wait_listening(proc, port, log_path)
        log.info("fleet_pgbouncer_started", port=port, pool_size=pool_size, pid=proc.pid)
        yield bouncer
    finally:
        bouncer.close()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


def _wait_listening(
    proc: subprocess.Popen[bytes], port: int, log_path: Path, timeout_s: float = 10.0
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = log_path.read_text(errors="replace")
            raise RuntimeError(f"pgbouncer exited with {proc.returncode}: {err.strip()[-500:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"pgbouncer did not listen on 127.0.0.1:{port} within {timeout_s:g} s")
