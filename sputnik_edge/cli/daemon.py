"""`run` and `doctor`: the daemon and the one-line-per-part check of a device."""

from __future__ import annotations

from sputnik_edge.cli.common import AddCommand, Ctx, UsageError
from sputnik_edge.health import LOW_DISK_MB, disk_free_mb, disk_low


def cmd_run(ctx: Ctx) -> int:
    from sputnik_edge.daemon.app import EdgeApp
    from sputnik_edge.store.errors import StoreError
    from sputnik_edge.vision.models import ModelError

    try:
        app = EdgeApp(ctx.settings)
    except (StoreError, ModelError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    return app.run_forever()


def cmd_doctor(ctx: Ctx) -> int:
    """Check models, storage, cameras and the central database; print one line each."""
    from sputnik_edge.capture.sources import open_capture, parse_source
    from sputnik_edge.redaction import redact_url
    from sputnik_edge.vision.models import (
        ModelError,
        default_models_dir,
        detector_model_name,
        embedder_model_name,
        verify,
    )

    s = ctx.settings
    results: list[tuple[str, bool, str]] = []
    models_dir = s.recognition.models_dir or default_models_dir()
    roles: list[tuple[str, str]] = [
        ("detector", detector_model_name(s.recognition.detector)),
        ("embedder", embedder_model_name(s.recognition.embedder_precision)),
        ("enrolment embedder", "embedder"),  # templates come from the float model either way
    ]
    if s.liveness.mode != "off":  # monitor (the default) and enforce load the face mesh
        roles.append(("face landmark", "face_landmark"))
    for role, name in roles:
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
    results += _output_lines(ctx)
    free_mb = disk_free_mb(s.storage.database.parent)
    results.append(("disk", not disk_low(free_mb), f"{free_mb} MB free (at least {LOW_DISK_MB} MB wanted)"))
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


def _output_lines(ctx: Ctx) -> list[tuple[str, bool, str]]:
    """Each enabled output as the daemon last recorded it (backlog, last success, last error)."""
    from sputnik_edge.daemon.outputs import target_of

    lines: list[tuple[str, bool, str]] = []
    if not ctx.settings.outputs:
        return lines
    try:
        store = ctx.store()
    except Exception as exc:
        return [(f"output {out.id}", False, str(exc)) for out in ctx.settings.outputs]
    for out in ctx.settings.outputs:
        if not out.enabled:
            lines.append((f"output {out.id}", True, "disabled"))
            continue
        c = store.outputs.status(out.id)
        if c is None:
            lines.append((f"output {out.id}", True, f"{out.kind} {target_of(out)}: not started yet"))
            continue
        detail = (
            f"{out.kind} {target_of(out)}: backlog {c.backlog}, delivered {c.delivered}, "
            f"last success {c.last_success_at or 'never'}"
        )
        if c.dropped:
            detail += f", {c.dropped} dropped by max_backlog"
        if c.last_error:
            detail += f", last error {c.last_error_at}: {c.last_error}"
        lines.append((f"output {out.id}", not c.failing, detail))
    return lines


def register(add: AddCommand) -> None:
    add("run", cmd_run, "run the daemon (cameras, pipeline, outbox, HTTP API)")
    add("doctor", cmd_doctor, "check models, storage, disk, cameras and the central database")
