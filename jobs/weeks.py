"""Week arithmetic: ISO weeks (Monday to Sunday) in a configured zone. Pure functions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")
# The weeks a person may name. Reads look a week or two past the one named, and the awards
# many weeks before it, so the ends of the calendar would overflow `date`; no AI tool
# reported anything before 2000 (the events' bound too).
FIRST_YEAR, LAST_YEAR = 2000, 9998


def utcnow() -> datetime:
    """The production clock: an aware UTC datetime."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Week:
    """An ISO week, named by its Monday."""

    start: date

    @property
    def end(self) -> date:
        """The Sunday, inclusive."""
        return self.start + timedelta(days=6)

    @property
    def label(self) -> str:
        year, week, _ = self.start.isocalendar()
        return f"{year}-W{week:02d}"

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(7)]

    def previous(self, n: int = 1) -> Week:
        return Week(self.start - timedelta(weeks=n))

    def next(self) -> Week:
        return Week(self.start + timedelta(weeks=1))

    def bounds_utc(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """The week as a half-open UTC interval, DST included."""
        start = datetime.combine(self.start, time(), tz).astimezone(UTC)
        end = datetime.combine(self.start + timedelta(days=7), time(), tz).astimezone(UTC)
        return start, end


def local_day(moment: datetime, tz: ZoneInfo) -> date:
    """The calendar day a moment falls on in `tz`."""
    return moment.astimezone(tz).date()


def week_of(day: date) -> Week:
    return Week(day - timedelta(days=day.weekday()))


def current_week(now: datetime, tz: ZoneInfo) -> Week:
    return week_of(local_day(now, tz))


def last_complete_week(now: datetime, tz: ZoneInfo) -> Week:
    return current_week(now, tz).previous()


def parse_week(text: str) -> Week:
    """Parse `YYYY-Www`; raises ValueError with a readable message."""
    match = _WEEK_RE.match(text.strip())
    if not match:
        raise ValueError(f"not an ISO week like 2026-W07: {text!r}")
    year, week = int(match[1]), int(match[2])
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"weeks are of the years {FIRST_YEAR} to {LAST_YEAR}, not {year}")
    try:
        return Week(date.fromisocalendar(year, week, 1))
    except ValueError:
        raise ValueError(f"{year} has no week {week}") from None
