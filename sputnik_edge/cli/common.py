"""What every command shares: exit codes, the usage error, the per-command context."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sputnik_edge.config import Settings

if TYPE_CHECKING:
    from sputnik_edge.central.store import CentralStore
    from sputnik_edge.recognition.recognizer import Recognizer
    from sputnik_edge.store.local import LocalStore

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}


class UsageError(Exception):
    """Bad input: printed as one line, exit code 2."""


def err(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


@dataclass
class Ctx:
    settings: Settings
    args: argparse.Namespace

    def store(self) -> LocalStore:
        from sputnik_edge.store.errors import StoreError
        from sputnik_edge.store.local import LocalStore

        try:
            return LocalStore(self.settings.storage.database, device_id=self.settings.device.id)
        except StoreError as exc:
            raise UsageError(str(exc)) from None
        except OSError as exc:
            raise UsageError(f"storage.database {self.settings.storage.database}: {exc.strerror}") from None

    def central(self) -> CentralStore | None:
        """The central store when configured (checked: reachable and migrated), else None."""
        if not self.settings.central.enabled:
            return None
        from sputnik_edge.central.errors import CentralError
        from sputnik_edge.central.store import CentralStore

        central = CentralStore(
            self.settings.central.database_url.get_secret_value(),
            connect_timeout_s=self.settings.central.connect_timeout_s,
        )
        try:
            central.check()
        except CentralError as exc:
            raise UsageError(str(exc)) from None
        return central

    def recognizer(self, store: LocalStore | None = None) -> Recognizer:
        from sputnik_edge.recognition.recognizer import Recognizer
        from sputnik_edge.vision.models import ModelError

        try:
            rec = Recognizer.from_config(self.settings.recognition)
        except (ModelError, FileNotFoundError) as exc:
            raise UsageError(str(exc)) from None
        if store is not None:
            rec.set_gallery(store.load_gallery(rec.model_id))
        return rec


# Registers one command: name, handler, help text -> its parser (to add arguments to).
AddCommand = Callable[[str, Callable[[Ctx], int], str], argparse.ArgumentParser]
