"""`db upgrade` and `sync --once`: the central PostgreSQL from a device."""

from __future__ import annotations

import json

from sputnik_edge.cli.common import EXIT_FAIL, AddCommand, Ctx, UsageError


def _require_central(ctx: Ctx) -> str:

    url = ctx.settings.central.database_url.get_secret_value()
    if not url:
        raise UsageError("central.database_url is not set (or DATABASE_URL / SPUTNIK_CENTRAL__DATABASE_URL)")
    return url


def cmd_db(ctx: Ctx) -> int:
    from sputnik_edge.central.errors import CentralError, safe_url
    from sputnik_edge.central.migrate import upgrade

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
    summary = {"pushed": pushed, "gallery_changes": changed, "clock_offset_ms": offset, **status.as_dict()}
    print(json.dumps(summary, indent=2))
    return EXIT_FAIL if status.last_error else 0


def register(add: AddCommand) -> None:
    p = add("db", cmd_db, "central database: `db upgrade` applies the migrations (idempotent)")
    p.add_argument("action", choices=["upgrade"])
    p = add("sync", cmd_sync, "pull the gallery and push the outbox to the central database now")
    p.add_argument("--once", action="store_true", required=True, help="one round, then exit")
