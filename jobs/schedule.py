"""The scheduler: the only module that knows APScheduler."""

from __future__ import annotations

from apscheduler.triggers.cron import CronTrigger


def check_cron(expr: str) -> None:
    """Raise ValueError unless `expr` is a 5-field cron expression APScheduler accepts."""
    if len(expr.split()) != 5:
        raise ValueError(f"expected 5 cron fields (minute hour day month weekday), got {expr!r}")
    try:
        CronTrigger.from_crontab(expr, timezone="UTC")
    except ValueError as exc:
        raise ValueError(f"invalid cron expression {expr!r}: {exc}") from None
