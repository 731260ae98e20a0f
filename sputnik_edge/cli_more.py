"""Commands for the daemon and its services: run, sync, db, doctor."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sputnik_edge.cli import Ctx

AddCommand = Callable[[str, Callable[["Ctx"], int], str], argparse.ArgumentParser]


def cmd_run(ctx: Ctx) -> int:
    from sputnik_edge.app import EdgeApp
    from sputnik_edge.cli import UsageError
    from sputnik_edge.store.local import StoreError
    from sputnik_edge.vision.models import ModelError

    try:
        app = EdgeApp(ctx.settings)
    except (StoreError, ModelError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    return app.run_forever()


def _require_central(ctx: Ctx) -> str:
    from sputnik_edge.cli import UsageError

    url = ctx.settings.central.database_url.get_secret_value()
    if not url:
        raise UsageError("central.database_url is not set (or DATABASE_URL / SPUTNIK_CENTRAL__DATABASE_URL)")
    return url


def cmd_db(ctx: Ctx) -> int:
    from sputnik_edge.central.errors import CentralError, safe_url
    from sputnik_edge.central.migrate import upgrade
    from sputnik_edge.cli import UsageError

    url = _require_central(ctx)
    try:
        rev = upgrade(url)
    except CentralError as exc:
        raise UsageError(str(exc)) from None
    print(f"central database {safe_url(url)} at revision {rev}")
    tz = ctx.settings.central.office_timezone
    if tz:
        from sputnik_edge.central.store import CentralStore

        with CentralStore(url) as central:
            try:
                central.set_office_timezone(tz)
            except (CentralError, ValueError) as exc:
                raise UsageError(f"central.office_timezone: {exc}") from None
        print(f"office time zone {tz}")
    return 0


def cmd_sync(ctx: Ctx) -> int:
    from sputnik_edge.central.sync import CentralSync
    from sputnik_edge.cli import EXIT_FAIL
    from sputnik_edge.metrics import Metrics

    _require_central(ctx)
    # Checked first (reachable and migrated): a bad URL fails at once, before the models load.
    central = ctx.central()
    store = ctx.store()
    rec = ctx.recognizer()
    sync = CentralSync(ctx.settings, store, rec.model_id, Metrics(), central=central)
    changed = sync.pull_once(force=True)
    pushed = sync.push_once(force=True)
    offset = sync.heartbeat_once()
    status = sync.status()
    sync.close()
    print(
        json.dumps(
            {"pushed": pushed, "gallery_changes": changed, "clock_offset_ms": offset, **status}, indent=2
        )
    )
    return EXIT_FAIL if status["last_error"] else 0


def cmd_doctor(ctx: Ctx) -> int:
    """Check models, storage, cameras and the central database; print one line each."""
    from sputnik_edge.capture.sources import open_capture, parse_source
    from sputnik_edge.redaction import redact_url
    from sputnik_edge.vision.models import ModelError, default_models_dir, detector_model_name, verify

    s = ctx.settings
    results: list[tuple[str, bool, str]] = []
    models_dir = s.recognition.models_dir or default_models_dir()
    for role, name in (("detector", detector_model_name(s.recognition.detector)), ("embedder", "embedder")):
        try:
            path = verify(models_dir, name)
            results.append((f"model {role}", True, f"{path.name} sha256 ok"))
        except (ModelError, FileNotFoundError) as exc:
            results.append((f"model {role}", False, str(exc)))
    try:
        store = ctx.store()
        results.append(("storage", True, f"{s.storage.database}: {store.backlog()} event(s) pending"))
    except Exception as exc:
        results.append(("storage", False, str(exc)))
    disk = shutil.disk_usage(s.storage.database.parent if s.storage.database.parent.exists() else "/")
    results.append(("disk", disk.free > 200 * 1024 * 1024, f"{disk.free // (1024 * 1024)} MB free"))
    for cam in s.cameras:
        try:
            cap = open_capture(
                parse_source(cam.source), open_timeout_s=cam.open_timeout_s, read_timeout_s=cam.read_timeout_s
            )
            ok, frame = cap.read() if cap.isOpened() else (False, None)
            cap.release()
            detail = f"{redact_url(cam.source)}: " + (
                f"frame {frame.shape[1]}x{frame.shape[0]}" if ok and frame is not None else "no frame"
            )
            results.append((f"camera {cam.id}", bool(ok), detail))
        except Exception as exc:
            results.append((f"camera {cam.id}", False, f"{redact_url(cam.source)}: {exc}"))
    if s.central.enabled:
        from sputnik_edge.central.errors import CentralError
        from sputnik_edge.central.store import CentralStore

        with CentralStore(
            s.central.database_url.get_secret_value(), connect_timeout_s=s.central.connect_timeout_s
        ) as c:
            try:
                c.check()
                results.append(("central", True, c.display_url))
            except CentralError as exc:
                results.append(("central", False, str(exc)))
    else:
        results.append(("central", True, "not configured (standalone)"))
    for what, ok, detail in results:
        print(f"{'ok  ' if ok else 'FAIL'} {what}: {detail}")
    return 0 if all(ok for _, ok, _ in results) else 1


def cmd_store(ctx: Ctx) -> int:
    """The local SQLite file: `check` it, `salvage` a damaged one, or `discard --yes` it (moved aside)."""
    from sputnik_edge.cli import EXIT_FAIL, UsageError
    from sputnik_edge.store.local import StoreError
    from sputnik_edge.store.recovery import discard, inspect_store, salvage

    path = ctx.settings.storage.database
    action = ctx.args.action
    try:
        if action == "check":
            health = inspect_store(path)
            if health.ok:
                print(f"ok {path}: {health.unsent_text()}")
                return 0
            print(f"CORRUPT {path}: {health.problem}; {health.unsent_text()}")
            return EXIT_FAIL
        if action == "salvage":
            health = inspect_store(path)
            if health.ok and path.exists():
                print(f"ok {path}: passed its integrity check, nothing to salvage")
                return 0
            report = salvage(path, device_id=ctx.settings.device.id)
            print("\n".join(report.lines()))
            return 0
        if not ctx.args.yes:
            raise UsageError(
                f"`store discard` moves {path} aside and starts an empty store: repeat with --yes to confirm"
            )
        moved, health = discard(path)
        print(f"moved {path} aside to {moved} ({health.unsent_text()}); the next start creates a new store")
        return 0
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"storage.database {path}: {exc.strerror or exc}") from None


def _faces_dir(ctx: Ctx) -> Path:
    from sputnik_edge.cli import UsageError
    from sputnik_edge.soak import faces_dir_default

    path = Path(ctx.args.faces_dir) if ctx.args.faces_dir else faces_dir_default()
    if not (path / "labels.csv").is_file():
        raise UsageError(f"--faces-dir {path}: no labels.csv (set SPUTNIK_FACES_DIR)")
    return path


def cmd_loadtest(ctx: Ctx) -> int:
    from sputnik_edge.soak import run_load

    a = ctx.args
    result = run_load(
        _faces_dir(ctx),
        health_requests=a.health_requests,
        gateway_requests=a.gateway_requests,
        concurrency=a.concurrency,
        max_seconds=a.max_seconds,
    )
    _emit(result, a.out, "loadtest.json")
    return 0 if result["health"]["errors"] == 0 and result["gateway"]["errors"] == 0 else 1


def cmd_soak(ctx: Ctx) -> int:
    from tqdm import tqdm

    from sputnik_edge.soak import plot_soak, run_soak

    a = ctx.args
    with tqdm(total=int(a.minutes * 60), unit="s", desc="soak", disable=a.quiet, file=sys.stderr) as bar:
        result = run_soak(_faces_dir(ctx), minutes=a.minutes, progress=lambda t: bar.update(int(t) - bar.n))
    if a.out:
        plot_soak(result, Path(a.out) / "soak.png")
    summary = {k: v for k, v in result.items() if k != "samples"}
    _emit(result, a.out, "soak.json", printed=summary)
    return 0


def _emit(result: dict[str, object], out: str | None, name: str, printed: object = None) -> None:
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / name).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(printed if printed is not None else result, indent=2))


def register(add: AddCommand) -> None:
    from sputnik_edge import bench

    bench.register(add)
    add("run", cmd_run, "run the daemon (cameras, pipeline, outbox, HTTP API)")
    p = add("db", cmd_db, "central database: `db upgrade` applies the migrations (idempotent)")
    p.add_argument("action", choices=["upgrade"])
    p = add("sync", cmd_sync, "pull the gallery and push the outbox to the central database now")
    p.add_argument("--once", action="store_true", required=True, help="one round, then exit")
    add("doctor", cmd_doctor, "check models, storage, disk, cameras and the central database")
    p = add("loadtest", cmd_loadtest, "load /health and the snapshot gateway of a local daemon (loopback)")
    p.add_argument("--health-requests", type=int, default=3000)
    p.add_argument("--gateway-requests", type=int, default=300)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--max-seconds", type=float, default=60, help="stop each phase after this long")
    p.add_argument("--faces-dir")
    p.add_argument("--out", help="write loadtest.json here")
    p = add("soak", cmd_soak, "run the daemon on the looped dev clip; sample RSS and open files")
    p.add_argument("--minutes", type=float, default=10)
    p.add_argument("--faces-dir")
    p.add_argument("--out", help="write soak.json and soak.png here")
    p = add("store", cmd_store, "local database: `check`, `salvage` a damaged one, or `discard --yes` it")
    p.add_argument("action", choices=["check", "salvage", "discard"])
    p.add_argument(
        "--yes", action="store_true", help="confirm `discard` (the file is moved aside, not deleted)"
    )
