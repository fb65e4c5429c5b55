"""The scheduler: the only module that knows APScheduler."""

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


# The most any zone's clocks jump at a change (Antarctica/Troll: two hours), with room.
_MAX_JUMP = timedelta(hours=3)


class WallClockCron(BaseTrigger):
    """A cron schedule read on a zone's wall clock, as cron reads it at a DST change. A job
    at set hours (daily, weekly) fires once a wall time: the first time round when the
    clocks fall back, and as much later as they jumped for a time they skip (02:30 on a night
    that skips 02:00 to 03:00 fires at 03:30). An hourly or more frequent job fires whenever
    the clock shows its minute: twice in a repeated hour, not in a skipped one. Fire times
    are in UTC. APScheduler 3's CronTrigger in a zone skipped a week's fire at a midnight
    jump, and, asked again from inside a repeated hour, gave the same time for ever."""

    def __init__(self, expr: str, tz: ZoneInfo) -> None:
        self.expr, self.tz = expr, tz
        # The schedule's wall times, worked out on a clock without DST (UTC's).
        self._wall = CronTrigger.from_crontab(expr, timezone=UTC)
        self._every_hour = expr.split()[1].startswith("*")

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        start = now if previous_fire_time is None else min(now, previous_fire_time + _TICK)
        start = start.astimezone(UTC)
        # Wall times map to instants in order except around a change of the clocks, where a
        # wall time up to _MAX_JUMP before `start`'s may fire after it, and one after the
        # first found may fire before it: only there are more wall times looked at.
        back = _MAX_JUMP if self._change_near(start) else timedelta(0)
        wall = self._wall.get_next_fire_time(None, self._wall_at(start) - back)
        best: datetime | None = None
        while wall is not None:
            for fire in self._instants(wall):
                if fire >= start and (best is None or fire < best):
                    best = fire
            if best is not None and (
                not self._change_near(best) or wall > self._wall_at(best) + _MAX_JUMP
            ):
                return best
            wall = self._wall.get_next_fire_time(wall, wall + timedelta(seconds=1))
        return best

    def _change_near(self, moment: datetime) -> bool:
        """Whether the clocks change within _MAX_JUMP of `moment`."""
        offsets = {(moment + d).astimezone(self.tz).utcoffset() for d in (-_MAX_JUMP, _MAX_JUMP)}
        return len(offsets) > 1

    def _wall_at(self, moment: datetime) -> datetime:
        """`moment` on the zone's wall clock, labelled UTC to compare with `_wall`'s times."""
        return moment.astimezone(self.tz).replace(tzinfo=UTC)

    def _instants(self, wall: datetime) -> list[datetime]:
        """When the job fires for one wall time."""
        first, second = (wall.replace(tzinfo=self.tz, fold=f).astimezone(UTC) for f in (0, 1))
        if not self._every_hour:
            # fold=0: the first time round; in a skipped hour, the offset before the jump.
            return [first]
        return [t for t in dict.fromkeys((first, second)) if self._wall_at(t) == wall]

    def __str__(self) -> str:
        return f"cron[{self.expr}, {self.tz.key} wall clock]"


_TICK = timedelta(microseconds=1)


def award_trigger(expr: str, tz: ZoneInfo) -> WallClockCron:
    """A cron schedule (the awards', or a job's) on the configured zone's wall clock."""
    return WallClockCron(expr, tz)


def first_fire_at(expr: str, tz: ZoneInfo, moment: datetime) -> datetime:
    """The first time the schedule fires at or after `moment`."""
    fire = award_trigger(expr, tz).get_next_fire_time(None, moment)
    assert fire is not None  # a cron trigger without an end date always has a next time
    return fire.astimezone(tz)


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
