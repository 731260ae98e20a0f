"""`store check|salvage|discard`: the local SQLite file when it is damaged."""

from __future__ import annotations

from sputnik_edge.cli.common import EXIT_FAIL, AddCommand, Ctx, UsageError


def cmd_store(ctx: Ctx) -> int:
    """The local SQLite file: `check` it, `salvage` a damaged one, or `discard --yes` it (moved aside)."""
    from sputnik_edge.store.errors import StoreError
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


def register(add: AddCommand) -> None:
    p = add("store", cmd_store, "local database: `check`, `salvage` a damaged one, or `discard --yes` it")
    p.add_argument("action", choices=["check", "salvage", "discard"])
    p.add_argument(
        "--yes", action="store_true", help="confirm `discard` (the file is moved aside, not deleted)"
    )
