"""Command line: ``sputnik-edge <command>``. One module per command group, one function per command.

Exit codes: 0 success, 1 a runtime failure, 2 bad input or configuration (with a one-line
message on stderr that names the file, key or id at fault).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from sputnik_edge import __version__
from sputnik_edge.cli import central, daemon, employees, enroll, identify, store, tools
from sputnik_edge.cli.common import EXIT_OK, EXIT_USAGE, Ctx, UsageError, err
from sputnik_edge.config import ConfigError, Settings, load_config, redacted_dump
from sputnik_edge.logging import configure_logging
from sputnik_edge.tools.extra import ToolUnavailable

__all__ = ["build_parser", "main"]


def check_outputs(settings: Settings) -> None:
    """Event kinds of ``[[outputs]]`` belong to the attendance stage, which config.py may not
    import: checked here for every command (check-config included)."""
    from sputnik_edge.outputs.payload import check_event_kinds

    try:
        check_event_kinds(settings.outputs)
    except ValueError as exc:
        raise ConfigError(f"invalid configuration: {exc}") from None


def cmd_check_config(ctx: Ctx) -> int:
    import json

    print(json.dumps(redacted_dump(ctx.settings), indent=2))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config", help="TOML config (default: $SPUTNIK_CONFIG, /etc/sputnik-edge/config.toml)"
    )
    common.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    common.add_argument("-v", "--verbose", action="store_true", help="log at INFO (DEBUG with app.debug)")

    parser = argparse.ArgumentParser(prog="sputnik-edge", description="Face-recognition attendance daemon.")
    parser.add_argument("--version", action="version", version=f"sputnik-edge {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Callable[[Ctx], int], help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_, description=help_)
        p.set_defaults(func=func)
        return p

    add("check-config", cmd_check_config, "validate the configuration and print it with secrets masked")
    for group in (enroll, employees, identify, daemon, central, store, tools):
        group.register(add)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_config(args.config)
        check_outputs(settings)
    except ConfigError as exc:
        err(str(exc))
        return EXIT_USAGE
    level = settings.logging.level if not settings.app.debug else "DEBUG"
    if args.command != "run" and not args.verbose and level in ("DEBUG", "INFO"):
        level = "WARNING"  # one-shot commands print their result; the log stays for problems
    configure_logging(level, settings.logging.format)
    try:
        return int(args.func(Ctx(settings, args)))
    except UsageError as exc:
        err(str(exc))
        return EXIT_USAGE
    except ToolUnavailable as exc:
        err(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `... | head`: the reader left, which is not an error
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (interpreter exit flushes stdout)
        return EXIT_OK
