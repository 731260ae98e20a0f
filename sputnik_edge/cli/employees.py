"""`employees` and `events`: the local gallery and event log (and central, when configured)."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

from sputnik_edge.cli.common import EXIT_OK, AddCommand, Ctx, UsageError


def cmd_employees(ctx: Ctx) -> int:
    store = ctx.store()
    action = ctx.args.action
    if action == "list":
        rows = store.list_employees()
        if ctx.args.json:
            print(json.dumps([dataclasses.asdict(r) for r in rows], indent=2))
            return EXIT_OK
        for r in rows:
            state = "active" if r.is_active else "inactive"
            print(
                f"{r.employee_id}\t{r.full_name}\t{r.department or '-'}\t{state}\t{r.templates} template(s)"
            )
        print(f"{len(rows)} employee(s)")
        return EXIT_OK
    employee_id = ctx.args.employee_id
    if not employee_id:
        raise UsageError(f"employees {action} needs an employee id")
    from sputnik_edge.central.errors import CentralError

    try:
        return _employee_action(ctx, store, action, employee_id)
    except CentralError as exc:
        raise UsageError(str(exc)) from None


def _employee_action(ctx: Ctx, store: Any, action: str, employee_id: str) -> int:
    central = ctx.central()
    known_centrally = False
    if central is not None:
        known_centrally = any(e.employee_id == employee_id for e in central.list_employees())
    if store.get_employee(employee_id) is None and not known_centrally:
        raise UsageError(f"unknown employee id {employee_id!r}")
    if action in ("activate", "deactivate"):
        active = action == "activate"
        store.set_active(employee_id, active)
        if central is not None and known_centrally:
            emp = next(e for e in central.list_employees() if e.employee_id == employee_id)
            central.upsert_employee(employee_id, emp.full_name, emp.department, is_active=active)
        print(f"{action}d {employee_id}")
    elif action == "delete":
        from sputnik_edge.store.snapshots import remove_snapshots

        if central is not None and known_centrally:
            central.delete_employee(employee_id)
        _, snaps = store.delete_employee(employee_id)
        removed = remove_snapshots(ctx.settings.storage.snapshots_dir, snaps)
        where = "locally and centrally" if known_centrally else "locally"
        print(f"deleted {employee_id} {where}: templates and events erased, {removed} snapshot(s) removed")
    return EXIT_OK


def cmd_events(ctx: Ctx) -> int:
    store = ctx.store()
    since = None
    if ctx.args.since:
        try:
            since = datetime.fromisoformat(ctx.args.since)
        except ValueError:
            raise UsageError(f"--since {ctx.args.since!r} is not an ISO 8601 time") from None
        if since.tzinfo is None:
            since = since.astimezone()
    rows = store.list_events(since=since, limit=ctx.args.limit)
    if ctx.args.json:
        print(json.dumps({"events": [r.as_dict() for r in rows]}, indent=2))
        return EXIT_OK
    for r in rows:
        d = r.as_dict()
        sim = "-" if d["similarity"] is None else f"{d['similarity']:.3f}"
        print(
            f"{d['captured_at']}  {d['kind']:<14} {d['employee_id'] or '-':<16} {d['camera_id']:<10} "
            f"sim {sim}  {'synced' if d['synced'] else 'pending'}  {d['event_id']}"
        )
    print(f"{len(rows)} event(s); outbox backlog {store.backlog()}")
    return EXIT_OK


def register(add: AddCommand) -> None:
    p = add("employees", cmd_employees, "list, activate, deactivate or delete (erase) employees")
    p.add_argument("action", choices=["list", "activate", "deactivate", "delete"])
    p.add_argument("employee_id", nargs="?")
    p.add_argument("--json", action="store_true")
    p = add("events", cmd_events, "show the local event log with outbox state")
    p.add_argument("--since", help="ISO 8601 time")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--json", action="store_true")
