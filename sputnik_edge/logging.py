"""structlog setup: JSON lines for journald and log shippers, a readable console on a TTY.

Every line carries ``timestamp``, ``level``, ``logger`` and ``event`` plus the context
variables bound for the current frame or request (``trace_id``, ``camera_id``). Values are
passed through redaction so camera and database credentials never reach a log.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, Literal

import structlog
from structlog.types import EventDict, Processor, WrappedLogger

from sputnik_edge.redaction import redact_text

# Keys whose values are never logged, whatever they hold.
_SECRET_KEYS = frozenset({"password", "api_token", "token", "authorization", "database_url", "secret"})
# Keys that may hold biometric data; dropped entirely (a template is personal data).
_BIOMETRIC_KEYS = frozenset({"embedding", "embeddings", "template", "templates", "image", "photo"})


def _redact(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    for key in list(event_dict):
        value = event_dict[key]
        lowered = key.lower()
        if lowered in _SECRET_KEYS:
            event_dict[key] = "***"
        elif lowered in _BIOMETRIC_KEYS and not isinstance(value, int | float | bool | None):
            event_dict[key] = "<omitted>"
        elif isinstance(value, str):
            event_dict[key] = redact_text(value)
    return event_dict


def shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        _redact,
    ]


def configure_logging(
    level: str = "INFO", fmt: Literal["auto", "json", "console"] = "auto", stream: Any = None
) -> None:
    """Configure structlog and bridge the standard library (uvicorn, sqlalchemy, apscheduler)."""
    stream = stream or sys.stderr
    use_console = fmt == "console" or (fmt == "auto" and hasattr(stream, "isatty") and stream.isatty())
    renderer: Processor = (
        structlog.dev.ConsoleRenderer(colors=True)
        if use_console
        else structlog.processors.JSONRenderer(sort_keys=False)
    )
    processors = shared_processors()
    structlog.configure(
        processors=[*processors, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=processors,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Chatty libraries stay at WARNING unless we debug.
    quiet = logging.WARNING if level.upper() != "DEBUG" else logging.DEBUG
    for name in ("sqlalchemy.engine", "alembic", "apscheduler", "httpx", "multipart"):
        logging.getLogger(name).setLevel(quiet)
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)


def bind_context(**values: Any) -> None:
    structlog.contextvars.bind_contextvars(**values)


def clear_context() -> None:
    structlog.contextvars.clear_contextvars()


def redact_event(event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Apply the log redaction to a captured event dict (used by tests of log hygiene)."""
    return _redact(None, "", dict(event))
