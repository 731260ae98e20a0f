"""Commands for the daemon and its services: run, sync, db, doctor, bench."""

from __future__ import annotations

import argparse
from collections.abc import Callable
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


def register(add: AddCommand) -> None:
    add("run", cmd_run, "run the daemon (cameras, pipeline, outbox, HTTP API)")
