"""What every surface is handed: settings, database, clock and metrics, built once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.metrics import Metrics
from bot.settings import Settings
from storage.db import Database

Clock = Callable[[], datetime]


@dataclass
class Services:
    settings: Settings
    db: Database
    clock: Clock
    metrics: Metrics
