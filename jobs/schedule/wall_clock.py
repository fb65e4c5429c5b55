"""Cron schedules read on the configured zone's wall clock, DST changes included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

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
