"""When a person's weekly digest is due: pure time arithmetic, DST included.

The digest reports the last complete week (the configured zone's ISO weeks, as awards do). It
goes out once the week's award run is due, and not before the person's own Monday morning; a
bot that was down sends it late rather than never, until the week after begins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from jobs.scoring import WeekComparison
from jobs.weeks import Week, current_week
from storage.records import Award

DIGEST_LOCAL_TIME = time(9, 0)
# Someone Slack vouched for this long before their digest (a command or Home open asked
# `users.info`) is DMed without asking again: a week, since the previous digest, so anyone
# who used the app since then costs none of `users.info`'s budget on Monday morning. One
# deactivated within it gets one more digest try, which Slack refuses (or takes into a DM
# nobody reads); after it they are asked, as they can no longer use the app.
VOUCHED_FOR = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class DigestPost:
    """One person's digest: their full week against the week before, and its badges."""

    week: Week
    comparison: WeekComparison
    awards: tuple[Award, ...]


def digest_week(now: datetime, tz: ZoneInfo) -> Week:
    """The week the digest sent now reports: the last complete one in the configured zone."""
    return current_week(now, tz).previous()


def vouched_lately(checked_at: datetime | None, now: datetime) -> bool:
    """Whether Slack vouched for a subscriber recently enough (`VOUCHED_FOR`) that their
    digest need not ask `users.info` first."""
    return checked_at is not None and now - checked_at <= VOUCHED_FOR


def digest_due(now: datetime, person_tz: ZoneInfo, this_week: Week, awards_at: datetime) -> bool:
    """True when, in `this_week` (the configured zone's current week), the person's local
    clock has passed Monday 09:00 and the week's awards were due at `awards_at`."""
    morning = datetime.combine(this_week.start, DIGEST_LOCAL_TIME, person_tz)
    return now >= morning and now >= awards_at
