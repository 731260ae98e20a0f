"""Command line of the office server: ``sputnik-office <command>``.

Exit codes as ``sputnik-edge``: 0 success, 1 a runtime failure (the database went away, a file
could not be written), 2 bad input or configuration, with one line on stderr naming the problem.
"""

from __future__ import annotations

import argparse
import getpass
import importlib
import json
import os
import signal
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sputnik_edge import __version__
from sputnik_edge.config import ConfigError
from sputnik_edge.logging import configure_logging
from sputnik_edge.office.config import OfficeSettings, is_loopback, load_office_config, redacted_office_dump

if TYPE_CHECKING:
    from sputnik_edge.central.store import CentralStore

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
UPGRADE_HINT = "run `sputnik-office db upgrade`"

Handler = Callable[[OfficeSettings, argparse.Namespace], int]
# The timesheet's database read (events, schedules, corrections) is written alongside this module;
# looked up by name so this command and its argument checks work before it lands. Once it has,
# a plain import is better (the architecture test then sees the edge).
ATTENDANCE_SERVICE = "sputnik_edge.office.attendance.service"


class UsageError(Exception):
    """Bad input or configuration: one line, exit 2."""


class RuntimeFailure(Exception):
    """The command could not finish (database down, disk full): one line, exit 1."""


def err(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def _database_url(settings: OfficeSettings) -> str:
    url = settings.central.database_url.get_secret_value()
    if not url:
        raise UsageError(
            "central.database_url is not set (or DATABASE_URL, SPUTNIK_OFFICE_CENTRAL__DATABASE_URL, "
            "or the database_url credential)"
        )
    return url


def _central(settings: OfficeSettings, *, checked: bool = True) -> CentralStore:
    from sputnik_edge.central.errors import CentralError, SchemaError
    from sputnik_edge.central.store import CentralStore

    central = CentralStore(_database_url(settings), connect_timeout_s=settings.central.connect_timeout_s)
    if checked:
        try:
            central.check()
        except SchemaError as exc:
            raise UsageError(str(exc).replace("run `sputnik-edge db upgrade`", UPGRADE_HINT)) from None
        except CentralError as exc:
            raise RuntimeFailure(str(exc)) from None
    return central


def _cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry (containers)
        return "cli"


# -- commands ---------------------------------------------------------------------------------------


def cmd_check_config(settings: OfficeSettings, args: argparse.Namespace) -> int:
    print(json.dumps(redacted_office_dump(settings), indent=2))
    return EXIT_OK


def cmd_db(settings: OfficeSettings, args: argparse.Namespace) -> int:
    from sputnik_edge.central.errors import safe_url
    from sputnik_edge.central.migrate import upgrade

    url = _database_url(settings)
    revision = upgrade(url)
    print(f"central database {safe_url(url)} at revision {revision}")
    tz = settings.office.timezone
    with _central(settings, checked=False) as central:
        try:
            central.set_office_timezone(tz)
        except ValueError as exc:
            raise UsageError(f"office.timezone: {exc}") from None
    print(f"office time zone {tz}")
    return EXIT_OK


def _read_password(args: argparse.Namespace) -> str:
    if args.password_file:
        path = Path(args.password_file)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise UsageError(f"--password-file {path}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise UsageError(f"--password-file {path}: not UTF-8 text") from None
        if not lines or not lines[0]:
            raise UsageError(f"--password-file {path}: the first line (the password) is empty")
        return lines[0]
    first = getpass.getpass(f"password for {args.username}: ")
    if getpass.getpass("again: ") != first:
        raise UsageError("the two passwords differ")
    return first


def cmd_users(settings: OfficeSettings, args: argparse.Namespace) -> int:
    from sputnik_edge.office import users

    if args.action == "add":
        users.check_username(args.username)
        users.check_role(args.role)
        password = users.check_password(_read_password(args))
        with _central(settings) as central:
            user = users.add_user(central, args.username, password, args.role, actor=_cli_actor())
        print(f"added {user.role} {user.username}")
        return EXIT_OK
    if args.action == "list":
        with _central(settings) as central:
            found = users.list_users(central)
        if args.json:
            print(json.dumps([_user_dict(u) for u in found], indent=2))
            return EXIT_OK
        print(f"{'username':<24} {'role':<7} {'active':<6} {'tokens':>6}  last login")
        for u in found:
            last = u.last_login_at.isoformat(timespec="seconds") if u.last_login_at else "-"
            print(f"{u.username:<24} {u.role:<7} {'yes' if u.is_active else 'no':<6} {u.tokens:>6}  {last}")
        return EXIT_OK
    with _central(settings) as central:
        changed = users.set_active(central, args.username, args.action == "enable", actor=_cli_actor())
    state = "enabled" if args.action == "enable" else "disabled"
    print(
        f"{users.normalise_username(args.username)} {state}" + ("" if changed else f" (was already {state})")
    )
    return EXIT_OK


def _user_dict(u: object) -> dict[str, object]:
    from dataclasses import asdict

    data = asdict(u)  # type: ignore[call-overload]
    for key in ("created_at", "last_login_at"):
        data[key] = data[key].isoformat() if data[key] else None
    return dict(data)


def cmd_tokens(settings: OfficeSettings, args: argparse.Namespace) -> int:
    from sputnik_edge.office import users

    if args.action == "create":
        with _central(settings) as central:
            created = users.create_token(central, args.username, args.name, actor=_cli_actor())
        print(
            f"API token {created.name!r} for {created.username} (id {created.token_id}); shown only "
            "now, store it safely:",
            file=sys.stderr,
        )
        print(created.issued.token)
        return EXIT_OK
    with _central(settings) as central:
        done = users.revoke_token(central, args.token_id, actor=_cli_actor())
    if not done:
        raise UsageError(f"no live token with id {args.token_id}")
    print(f"revoked token {args.token_id}")
    return EXIT_OK


def _day(value: str, flag: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{flag} {value!r} is not a day (YYYY-MM-DD)") from None


def cmd_report(settings: OfficeSettings, args: argparse.Namespace) -> int:
    from sputnik_edge.office.exports import timesheet_csv, timesheet_xlsx
    from sputnik_edge.office.timesheet import MAX_DAYS

    start, end = _day(args.from_day, "--from"), _day(args.to_day, "--to")
    if end < start:
        raise UsageError(f"--to {end} is before --from {start}")
    if (end - start).days + 1 > MAX_DAYS:
        raise UsageError(f"a timesheet covers at most {MAX_DAYS} days")
    out = Path(args.out)
    if not out.parent.is_dir():
        raise UsageError(f"--out {out}: folder {out.parent} does not exist")
    try:
        service = importlib.import_module(ATTENDANCE_SERVICE)
    except ModuleNotFoundError as exc:
        if exc.name is None or not ATTENDANCE_SERVICE.startswith(exc.name):
            raise  # the service is there but something it needs is not: not this message
        raise RuntimeFailure(f"this build has no attendance service ({ATTENDANCE_SERVICE})") from None
    with _central(settings) as central:
        attendance = service.AttendanceService(central.engine)
        try:
            sheet = attendance.timesheet(start, end, department=args.department)
        except ValueError as exc:  # the service names the parameter at fault
            raise UsageError(str(exc)) from None
    data = timesheet_csv(sheet, args.lang) if args.format == "csv" else timesheet_xlsx(sheet, args.lang)
    tmp = out.with_name(f".{out.name}.tmp")
    try:  # written aside and renamed: a reader never sees half a file
        tmp.write_bytes(data)
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise RuntimeFailure(f"--out {out}: {exc.strerror or exc}") from None
    print(f"timesheet {start}..{end}: {len(sheet.totals)} employee(s), {len(data)} bytes -> {out}")
    return EXIT_OK


def cmd_serve(settings: OfficeSettings, args: argparse.Namespace) -> int:
    import structlog
    import uvicorn

    from sputnik_edge.central.errors import CentralError, SchemaError, safe_url
    from sputnik_edge.office.app import create_office_app
    from sputnik_edge.office.context import build_state
    from sputnik_edge.vision.models import ModelError

    log = structlog.get_logger(__name__)
    url = _database_url(settings)
    http = settings.http
    if not is_loopback(http.host) and not http.secret_key.get_secret_value():
        raise UsageError(
            f"http.host {http.host!r} is not loopback: set http.secret_key (or "
            "SPUTNIK_OFFICE_HTTP__SECRET_KEY, or the secret_key credential) before exposing the server"
        )
    state = build_state(settings)
    try:
        try:
            state.central.check()
        except SchemaError as exc:
            raise UsageError(str(exc).replace("run `sputnik-edge db upgrade`", UPGRADE_HINT)) from None
        except CentralError as exc:
            # Started anyway: /health answers 503 until the database is back, and nothing is lost.
            log.warning("office_database_unavailable", error=str(exc))
        try:
            # Loaded (and sha256-checked) now, so a broken install fails here, not at a first upload.
            log.info("office_models_loaded", model_id=state.recognition.model_id)
        except (ModelError, FileNotFoundError) as exc:
            raise UsageError(str(exc)) from None
        if state.ephemeral_secret:
            log.warning(
                "office_secret_key_ephemeral",
                hint="set http.secret_key so sessions survive a restart",
            )
        log.info("office_starting", database=safe_url(url), version=state.version)
        config = uvicorn.Config(
            create_office_app(state),
            host=http.host,
            port=http.port,
            # X-Forwarded-* are honoured by our own code, for http.trusted_proxies only.
            proxy_headers=False,
            server_header=False,
            access_log=False,
            log_config=None,
            timeout_graceful_shutdown=10,
        )
        # uvicorn re-raises the signal that stopped it once it is done; a handler of our own turns
        # that into a normal return, so a clean stop exits 0.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: None)
        uvicorn.Server(config).run()
    finally:
        state.close()
    return EXIT_OK


# -- parser -----------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    # --config sits on the leaf parsers only: a group parser's default would overwrite it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", help="TOML config (default: $SPUTNIK_OFFICE_CONFIG, /etc/sputnik-office/office.toml)"
    )
    common.add_argument("-v", "--verbose", action="store_true", help="log at INFO")
    parser = argparse.ArgumentParser(prog="sputnik-office", description="Sputnik office server.")
    parser.add_argument("--version", action="version", version=f"sputnik-office {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def leaf(subs: Any, name: str, func: Handler, help_: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = subs.add_parser(name, parents=[common], help=help_, description=help_)
        p.set_defaults(func=func)
        return p

    def group(name: str, help_: str) -> Any:
        p = sub.add_parser(name, help=help_, description=help_)
        return p.add_subparsers(dest="action", required=True, metavar="ACTION")

    leaf(sub, "serve", cmd_serve, "run the HTTP server (127.0.0.1:8080 by default)")
    leaf(sub, "check-config", cmd_check_config, "validate the configuration and print it with secrets masked")
    db = group("db", "the central database")
    leaf(db, "upgrade", cmd_db, "apply the central migrations (idempotent) and set the office time zone")

    users = group("users", "office accounts")
    p = leaf(users, "add", cmd_users, "add an account (password from a prompt or --password-file)")
    p.add_argument("--username", required=True)
    p.add_argument("--role", required=True, choices=["admin", "hr", "viewer"])
    p.add_argument("--password-file", help="read the password from this file's first line")
    p = leaf(users, "list", cmd_users, "list the accounts")
    p.add_argument("--json", action="store_true")
    for action, what in (
        ("disable", "disable an account (its sessions end at once)"),
        ("enable", "enable it"),
    ):
        leaf(users, action, cmd_users, what).add_argument("username", metavar="USERNAME")

    tokens = group("tokens", "API tokens for scripts")
    p = leaf(tokens, "create", cmd_tokens, "create a token for an account and print it (only this once)")
    p.add_argument("--username", required=True)
    p.add_argument("--name", required=True, help="what the token is for")
    leaf(tokens, "revoke", cmd_tokens, "revoke a token by its id").add_argument(
        "token_id", metavar="TOKEN_ID"
    )

    report = group("report", "reports")
    p = leaf(report, "timesheet", cmd_report, "write a timesheet as CSV (UTF-8 with BOM) or XLSX")
    p.add_argument("--from", dest="from_day", required=True, metavar="DAY")
    p.add_argument("--to", dest="to_day", required=True, metavar="DAY")
    p.add_argument("--department")
    p.add_argument("--format", choices=["csv", "xlsx"], required=True)
    p.add_argument("--lang", choices=["en", "ru"], default="en", help="column names and words")
    p.add_argument("--out", required=True, metavar="FILE")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from sputnik_edge.central.errors import CentralError, SchemaError
    from sputnik_edge.office.users import UserError

    args = build_parser().parse_args(argv)
    try:
        settings = load_office_config(args.config)
    except ConfigError as exc:
        err(str(exc))
        return EXIT_USAGE
    level = "DEBUG" if settings.app.debug else settings.logging.level
    if args.command != "serve" and not args.verbose and level in ("DEBUG", "INFO"):
        level = "WARNING"  # one-shot commands print their result; the log stays for problems
    configure_logging(level, settings.logging.format)
    handler: Handler = args.func
    try:
        return int(handler(settings, args))
    except (UsageError, UserError) as exc:
        err(str(exc))
        return EXIT_USAGE
    except SchemaError as exc:
        err(str(exc).replace("run `sputnik-edge db upgrade`", UPGRADE_HINT))
        return EXIT_USAGE
    except (RuntimeFailure, CentralError) as exc:
        err(str(exc))
        return EXIT_FAIL
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
