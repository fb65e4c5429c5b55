"""What a CLI command is handed: settings, the injected clock, and services built on demand."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.composition import build_services
from bot.services import Clock, Services
from bot.settings import Settings
from storage.db import Database


@dataclass
class CliContext:
    """Built once by `main`; the database is opened (and its schema checked) only when a
    command asks for it, so `--help` and bad arguments never touch it."""

    settings: Settings
    clock: Clock
    _services: Services | None = field(default=None, repr=False)

    def services(self, *, migrate: bool = False) -> Services:
        if self._services is None:
            self._services = build_services(self.settings, self.clock, migrate=migrate)
        return self._services

    @property
    def db(self) -> Database:
        return self.services().db

    def close(self) -> None:
        if self._services is not None:
            self._services.db.dispose()

    def __getattr__(self, name: str) -> Any:
        # Transitional: commands written against the old `run(args, settings)` signature
        # keep reading settings through the context until they are moved over.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.settings, name)
