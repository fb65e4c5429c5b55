"""The scheduler: with `jobs.schedule.wall_clock`, the only code that knows APScheduler."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from jobs.schedule.wall_clock import award_trigger

log = logging.getLogger(__name__)

# A fire missed while the process was paused or busy still runs, up to most of a week late;
# coalescing turns several missed fires into one run.
MISFIRE_GRACE = timedelta(days=6)
# Repeating jobs are on the clock (cron), not on intervals from each process's start, so
# replicas agree on every due time and one of them runs it.
INTEGRITY_CRON = "7 * * * *"
# New emails are looked up within a minute; each unmatched one is retried hourly.
IDENTITY_CRON = "* * * * *"
# Digests go out at 09:00 in each person's zone; zones are whole or half hours apart, so a
# quarter-hourly pass sends each within 15 minutes of its time.
DIGEST_CRON = "*/15 * * * *"
TEAMS_CRON = "41 * * * *"  # hourly: Slack user groups change rarely
FILES_CRON = "* * * * *"  # chart files owed a delete in Slack: each waits a minute at most
RETENTION_CRON = "17 3 * * *"  # daily, at a quiet hour in the configured zone
# The weekly rollup's marked weeks are re-summed every few minutes, so a cold `/aiusage org`
# (a restart, a new replica) finds minutes of changes to sum, not hours. Fixed: the contract
# has no setting for it, and a pass with nothing marked costs one indexed look-up.
WEEKLY_CRON = "*/5 * * * *"
# The re-drive's interval counts from here on every replica (any fixed instant would do).
REDRIVE_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
# Runs `work` for the job's due time, or not when another replica has it (see jobs/replicas.py).
RunOnce = Callable[[str, datetime, Callable[[], object]], object]


def check_cron(expr: str) -> None:
    """Raise ValueError unless `expr` is a 5-field cron expression APScheduler accepts and
    that fires at some time."""
    if len(expr.split()) != 5:
        raise ValueError(f"expected 5 cron fields (minute hour day month weekday), got {expr!r}")
    try:
        trigger = CronTrigger.from_crontab(expr, timezone="UTC")
    except ValueError as exc:
        raise ValueError(f"invalid cron expression {expr!r}: {exc}") from None
    # A date that never comes (31 February) is valid cron, and the job would never run.
    # Cron has no year, so whether it ever fires does not depend on when we ask.
    if trigger.get_next_fire_time(None, REDRIVE_EPOCH) is None:
        raise ValueError(f"cron expression {expr!r} never fires")


def due_time(trigger: BaseTrigger, now: datetime, lookback: timedelta) -> datetime:
    """The latest time `trigger` fired at or before `now` (the due time a run is for; a
    second's slack, as a job may start a hair early); `now` itself, to the second, for a run
    off the schedule. Worked out in UTC: arithmetic and comparisons on two times of one zone
    go by the wall clock, which repeats an hour each autumn."""
    now = now.astimezone(UTC)
    # Looked for in windows growing back from now, so that a frequent schedule is not walked
    # through its whole look-back: a minutely award schedule walked 8,640 fire times a run,
    # seconds of CPU each minute near a change of the clocks.
    for window in (*(w for w in _WINDOWS if w < lookback), lookback):
        due = None
        fire = trigger.get_next_fire_time(None, now - window)
        while fire is not None and fire <= now + timedelta(seconds=1):
            due = fire
            fire = trigger.get_next_fire_time(fire, fire.astimezone(UTC) + timedelta(seconds=1))
        if due is not None:
            return due
    return now.replace(microsecond=0)


_WINDOWS = (timedelta(minutes=2), timedelta(hours=2), timedelta(days=1))


def redrive_due(now: datetime, every: timedelta) -> datetime:
    """The re-drive's due time a run at `now` is for: the last multiple of `every` since
    REDRIVE_EPOCH (with 10 ms to spare, should the run start a hair early)."""
    return REDRIVE_EPOCH + ((now - REDRIVE_EPOCH + timedelta(milliseconds=10)) // every) * every


def _run_here(_job: str, _due: datetime, work: Callable[[], object]) -> object:
    return work()


def _first_then(first: Callable[[], object], rest: Callable[[], object]) -> Callable[[], object]:
    """`first` on the first call, `rest` on every later one (a job runs one at a time)."""
    calls = iter([first])

    def job() -> object:
        return next(calls, rest)()

    return job


class Scheduler:
    """Runs the weekly award job on its cron schedule (at once when the last post was
    missed while the bot was down, and again at each re-drive after a run that failed while
    the post is still missing), the integrity scan hourly and the email match every
    minute, the re-drive of owed posts and the rest, each due time through `run_once` (once
    across replicas; the outbox's own claims still keep a post from being doubled)."""

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
        weekly_job: Callable[[], object] | None = None,
        replies_job: Callable[[], object] | None = None,
        files_job: Callable[[], object] | None = None,
        run_once: RunOnce = _run_here,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._digest_job = digest_job
        # What "now" is when a firing works out the due time it is for.
        self._clock = clock
        self.expr, self.tz = expr, tz
        self._award_job = award_job
        self._integrity_job = integrity_job
        self._identity_job = identity_job
        self._catch_up_due = catch_up_due
        self._redrive_job, self._redrive_every = redrive_job, redrive_every
        self._connector_job, self._connector_schedule = connector_job, connector_schedule
        self._teams_job = teams_job
        self.retention_job = retention_job
        self.weekly_job = weekly_job
        self.replies_job = replies_job
        self.files_job = files_job
        self._run_once = run_once
        self._scheduler: BackgroundScheduler | None = None
        self._awards = self._once(
            "weekly-awards", award_trigger(expr, tz), self._award_attempt, MISFIRE_GRACE
        )
        self._award_running = threading.Lock()
        self._award_failed = threading.Event()

    def start(self) -> None:
        """Start the jobs; when a post was missed while the bot was down, the award job's
        first run is now rather than at its next fire time."""
        scheduler = BackgroundScheduler(
            # UTC: APScheduler compares its times with its own zone's `now`, and two times
            # of one zone compare by the wall clock, which repeats an hour each autumn. The
            # triggers carry the configured zone themselves.
            timezone=UTC,
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": int(MISFIRE_GRACE.total_seconds()),
            },
        )
        first_run: dict[str, object] = {}
        if self._catch_up_due():
            log.info("the last weekly award post was missed; posting it now")
            first_run["next_run_time"] = datetime.now(self.tz)
        for name, trigger, run in self.planned():
            options: dict[str, object] = first_run if name == "weekly-awards" else {}
            if name in ("redrive-posts", "redrive-replies"):
                # Owed posts (a holder that died, an unknown outcome) and replies also go out
                # at start. That run's due time is its own start, so a restarted replica
                # re-drives at once whatever the others last did; the outbox's claims (the
                # owed replies' leases) keep it from doubling a post. (The same job rather
                # than a one-off: APScheduler's removal of a finished one-off races its
                # shutdown.)
                first = (
                    self._redrive_once(lambda now: now)
                    if name == "redrive-posts"
                    else self._replies_once(at_start=True)
                )
                run = _first_then(first, run)
                seconds = self._redrive_every.total_seconds()
                options = {
                    "misfire_grace_time": int(max(1, seconds)),
                    "next_run_time": datetime.now(self.tz),
                }
            scheduler.add_job(run, trigger, id=name, **options)
        scheduler.start()
        self._scheduler = scheduler

    def planned(self) -> list[tuple[str, BaseTrigger, Callable[[], object]]]:
        """Every repeating job as the scheduler runs it: its id, its trigger and the call
        that runs the due time it fires for through `run_once`."""
        jobs: list[tuple[str, BaseTrigger, Callable[[], object], timedelta]] = [
            (
                "integrity-scan",
                award_trigger(INTEGRITY_CRON, self.tz),
                self._integrity_job,
                timedelta(days=1),
            ),
        ]
        if self._identity_job is not None:
            jobs.append(
                (
                    "match-emails",
                    award_trigger(IDENTITY_CRON, self.tz),
                    self._identity_job,
                    # Minutely: a day's look-back walked 1,440 fire times every minute.
                    timedelta(minutes=5),
                )
            )
        day = timedelta(days=1)
        if self._connector_job is not None:
            # connector pulls are cron in UTC: vendors cut their days at UTC midnight
            connectors = CronTrigger.from_crontab(self._connector_schedule, timezone="UTC")
            jobs.append(("connectors", connectors, self._connector_job, day))
        if self._digest_job is not None:
            jobs.append(
                ("weekly-digests", award_trigger(DIGEST_CRON, self.tz), self._digest_job, day)
            )
        if self._teams_job is not None:
            jobs.append(
                ("teams-from-usergroups", award_trigger(TEAMS_CRON, self.tz), self._teams_job, day)
            )
        if self.retention_job is not None:
            jobs.append(
                ("retention", award_trigger(RETENTION_CRON, self.tz), self.retention_job, day)
            )
        if self.weekly_job is not None:
            # Each pass sums whatever is marked by then, so a late one needs no catching up.
            jobs.append(
                (
                    "weekly-rollup",
                    award_trigger(WEEKLY_CRON, self.tz),
                    self.weekly_job,
                    timedelta(minutes=5),
                )
            )
        if self.files_job is not None:
            files = award_trigger(FILES_CRON, self.tz)
            jobs.append(("delete-chart-files", files, self.files_job, timedelta(minutes=5)))
        planned = [
            ("weekly-awards", award_trigger(self.expr, self.tz), self._awards),
            *[
                (name, trigger, self._once(name, trigger, work, lookback))
                for name, trigger, work, lookback in jobs
            ],
        ]
        if self._redrive_job is not None:
            # Owed posts go out every `redrive_every`, counted from a fixed epoch rather than
            # from each process's start, so that replicas agree on the due times.
            every = self._redrive_every
            redrive = IntervalTrigger(
                seconds=every.total_seconds(), start_date=REDRIVE_EPOCH, timezone=UTC
            )
            planned.append(
                ("redrive-posts", redrive, self._redrive_once(lambda now: redrive_due(now, every)))
            )
        if self.replies_job is not None:
            # Replies owed after an ack whose process stopped, on the same beat (every
            # minute by default): Slack takes them for 30 minutes.
            replies = IntervalTrigger(
                seconds=self._redrive_every.total_seconds(), start_date=REDRIVE_EPOCH, timezone=UTC
            )
            planned.append(("redrive-replies", replies, self._replies_once()))
        return planned

    def _once(
        self, name: str, trigger: BaseTrigger, work: Callable[[], object], lookback: timedelta
    ) -> Callable[[], object]:
        """`work`, run through `run_once` with the due time it is for, so that of several
        replicas firing for the same due time one runs it."""

        def job() -> object:
            due = due_time(trigger, self._clock(), lookback)
            return self._run_once(name, due, work)

        return job

    def _redrive_once(self, due: Callable[[datetime], datetime]) -> Callable[[], object]:
        redrive_job = self._redrive_job
        assert redrive_job is not None

        def job() -> object:
            done = self._run_once("redrive-posts", due(self._clock()), redrive_job)
            if self._award_failed.is_set() and self._catch_up_due():
                log.info("the weekly award run failed; trying it again")
                self._awards()
            return done

        return job

    def _replies_once(self, *, at_start: bool = False) -> Callable[[], object]:
        replies_job, every = self.replies_job, self._redrive_every
        assert replies_job is not None

        def job() -> object:
            now = self._clock()
            due = now if at_start else redrive_due(now, every)
            return self._run_once("redrive-replies", due, replies_job)

        return job

    def _award_attempt(self) -> object:
        """The award job, once at a time in this process. A failure (the database away at
        the fire time, say) is remembered, so that each re-drive tries again while the
        week's post is still missing; the fire time would not come back for a week."""
        if not self._award_running.acquire(blocking=False):
            return None  # already running here: the retry and the schedule met
        try:
            done = self._award_job()
        except Exception:
            self._award_failed.set()
            raise
        finally:
            self._award_running.release()
        self._award_failed.clear()
        return done

    def shutdown(self) -> None:
        """Stop, letting a running job finish (a post in flight gets recorded)."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
