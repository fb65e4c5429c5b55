"""The scheduler: the only module that knows APScheduler."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger(__name__)

# A fire missed while the process was paused or busy still runs, up to most of a week late;
# coalescing turns several missed fires into one run.
MISFIRE_GRACE = timedelta(days=6)
INTEGRITY_INTERVAL = timedelta(hours=1)
# New emails are looked up within a minute; each unmatched one is retried hourly.
IDENTITY_INTERVAL = timedelta(minutes=1)
# Digests go out at 09:00 in each person's zone; zones are whole or half hours apart, so a
# quarter-hourly pass sends each within 15 minutes of its time.
DIGEST_INTERVAL = timedelta(minutes=15)
TEAMS_INTERVAL = timedelta(hours=1)  # Slack user groups change rarely
RETENTION_CRON = "17 3 * * *"  # daily, at a quiet hour in the configured zone


def check_cron(expr: str) -> None:
    """Raise ValueError unless `expr` is a 5-field cron expression APScheduler accepts."""
    if len(expr.split()) != 5:
        raise ValueError(f"expected 5 cron fields (minute hour day month weekday), got {expr!r}")
    try:
        CronTrigger.from_crontab(expr, timezone="UTC")
    except ValueError as exc:
        raise ValueError(f"invalid cron expression {expr!r}: {exc}") from None


def award_trigger(expr: str, tz: ZoneInfo) -> CronTrigger:
    """The award schedule as a trigger in the configured zone; it handles DST itself."""
    return CronTrigger.from_crontab(expr, timezone=tz)


def first_fire_at(expr: str, tz: ZoneInfo, moment: datetime) -> datetime:
    """The first time the schedule fires at or after `moment`."""
    fire = award_trigger(expr, tz).get_next_fire_time(None, moment)
    assert fire is not None  # a cron trigger without an end date always has a next time
    return fire


class Scheduler:
    """Runs the weekly award job on its cron schedule (and at once when the last post was
    missed while the bot was down) and the integrity scan hourly."""

    def __init__(
        self,
        expr: str,
        tz: ZoneInfo,
        *,
        award_job: Callable[[], object],
        integrity_job: Callable[[], object],
        identity_job: Callable[[], object] | None = None,
        catch_up_due: Callable[[], bool],
        redrive_job: Callable[[], object] | None = None,
        redrive_every: timedelta = timedelta(minutes=1),
        connector_job: Callable[[], object] | None = None,
        connector_schedule: str = "30 */6 * * *",
        digest_job: Callable[[], object] | None = None,
        teams_job: Callable[[], object] | None = None,
        retention_job: Callable[[], object] | None = None,
    ) -> None:
        self._digest_job = digest_job
        self.expr, self.tz = expr, tz
        self._award_job = award_job
        self._integrity_job = integrity_job
        self._identity_job = identity_job
        self._catch_up_due = catch_up_due
        self._redrive_job, self._redrive_every = redrive_job, redrive_every
        self._connector_job, self._connector_schedule = connector_job, connector_schedule
        self._teams_job = teams_job
        self.retention_job = retention_job
        self._scheduler: BackgroundScheduler | None = None

    def start(self) -> None:
        """Start the jobs; when a post was missed while the bot was down, the award job's
        first run is now rather than at its next fire time."""
        scheduler = BackgroundScheduler(
            timezone=self.tz,
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": int(MISFIRE_GRACE.total_seconds()),
            },
        )
        first_run: dict[str, datetime] = {}
        if self._catch_up_due():
            log.info("the last weekly award post was missed; posting it now")
            first_run["next_run_time"] = datetime.now(self.tz)
        scheduler.add_job(
            self._award_job, award_trigger(self.expr, self.tz), id="weekly-awards", **first_run
        )
        scheduler.add_job(
            self._integrity_job,
            IntervalTrigger(seconds=int(INTEGRITY_INTERVAL.total_seconds()), timezone=self.tz),
            id="integrity-scan",
        )
        if self._identity_job is not None:
            scheduler.add_job(
                self._identity_job,
                IntervalTrigger(seconds=int(IDENTITY_INTERVAL.total_seconds()), timezone=self.tz),
                id="match-emails",
            )
        if self._redrive_job is not None:
            # Owed posts (a holder that died, an unknown outcome) go out at start and then
            # every `redrive_every`; a run still going when the next is due is not doubled.
            scheduler.add_job(
                self._redrive_job,
                IntervalTrigger(seconds=self._redrive_every.total_seconds(), timezone=self.tz),
                id="redrive-posts",
                next_run_time=datetime.now(self.tz),
                misfire_grace_time=int(max(1, self._redrive_every.total_seconds())),
            )
        if self._connector_job is not None:
            # connector pulls are cron in UTC: vendors cut their days at UTC midnight
            scheduler.add_job(
                self._connector_job,
                CronTrigger.from_crontab(self._connector_schedule, timezone="UTC"),
                id="connectors",
            )
        if self._digest_job is not None:
            scheduler.add_job(
                self._digest_job,
                IntervalTrigger(seconds=int(DIGEST_INTERVAL.total_seconds()), timezone=self.tz),
                id="weekly-digests",
            )
        if self._teams_job is not None:
            # First run at start, then hourly: a restart picks up group changes at once.
            scheduler.add_job(
                self._teams_job,
                IntervalTrigger(seconds=int(TEAMS_INTERVAL.total_seconds()), timezone=self.tz),
                id="teams-from-usergroups",
                next_run_time=datetime.now(self.tz),
            )
        if self.retention_job is not None:
            scheduler.add_job(
                self.retention_job, award_trigger(RETENTION_CRON, self.tz), id="retention"
            )
        scheduler.start()
        self._scheduler = scheduler

    def shutdown(self) -> None:
        """Stop, letting a running job finish (a post in flight gets recorded)."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
