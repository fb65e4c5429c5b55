"""An event record as the row tuple `storage.bulk.insert_new_events` writes, built straight
from the record (no dict between), with its local day from a per-hour cache of the time
zone's offset: on the ingest hot path both were a few microseconds an event."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from storage.bulk import sqlite_datetime
from storage.figures import figures_of
from storage.records import UsageEvent

_HOUR = timedelta(hours=1)
_LAST_MOMENT = _HOUR - timedelta(microseconds=1)
# Hours remembered per zone before starting over: events of a few years, a few MB at most.
HOURS_KEPT = 50_000

# (the hour's local day if one day covers all of it, the offset if one offset does); a
# (None, None) hour has an offset change in it and takes zoneinfo for each moment.
_Hour = tuple[Any, timedelta | None]


class LocalDays:
    """The local calendar day of moments in one time zone, in a form (`date`, or its ISO
    text for SQLite). zoneinfo is asked once per UTC hour, at the hour's first and last
    microsecond: if both give the same offset the hour holds no offset change (zones change
    at most a few times a year) and every moment in it uses that offset; an hour with a
    change (a DST start or end) asks zoneinfo for each moment, so days stay exact."""

    def __init__(self, tz: ZoneInfo, form: Callable[[date], Any]) -> None:
        self.tz = tz
        self.form = form
        self._hours: dict[int, _Hour] = {}

    def __call__(self, at: datetime) -> Any:
        """The day of `at`, an aware moment in UTC, in this cache's form."""
        hour = at.toordinal() * 24 + at.hour
        known = self._hours.get(hour)
        if known is None:
            known = self._learn(at, hour)
        day, offset = known
        if day is not None:
            return day
        if offset is not None:  # the hour crosses local midnight (a :30 or :45 zone)
            return self.form((at + offset).date())
        return self.form(at.astimezone(self.tz).date())

    def _learn(self, at: datetime, hour: int) -> _Hour:
        start = at.replace(minute=0, second=0, microsecond=0)
        end = start + _LAST_MOMENT
        offset = start.astimezone(self.tz).utcoffset()
        if offset is None or offset != end.astimezone(self.tz).utcoffset():
            known: _Hour = (None, None)
        else:
            first, last = (start + offset).date(), (end + offset).date()
            known = (self.form(first) if first == last else None, offset)
        if len(self._hours) >= HOURS_KEPT:
            self._hours = {}  # a fresh dict, not clear(): another thread may be reading
        self._hours[hour] = known
        return known


def event_tuples(
    dialect: str,
    integration_id: int,
    events: Sequence[UsageEvent],
    identity_ids: Sequence[tuple[int, int]],
    days: LocalDays,
    now: datetime,
) -> list[tuple[Any, ...]]:
    """The rows of `events` at the given positions, each with its identity id (pairs of
    position and id), in `storage.bulk.EVENT_COLUMNS` order. JSON goes as text; on SQLite,
    datetimes and days go in the text forms SQLAlchemy's SQLite types write and read back
    (`days` must then form ISO text)."""
    sqlite = dialect == "sqlite"
    moment: Callable[[datetime], Any] = sqlite_datetime if sqlite else _as_is
    received = moment(now)
    rows = []
    for index, identity_id in identity_ids:
        event = events[index]
        at = event.occurred_at
        if at.tzinfo is not UTC:
            at = at.astimezone(UTC)
        attributes = event.attributes
        rows.append(
            (
                integration_id,
                event.event_id,
                identity_id,
                moment(at),
                days(at),
                event.tool,
                event.kind,
                event.model,
                *figures_of(event),
                None if attributes is None else json.dumps(attributes),
                received,
            )
        )
    return rows


def _as_is(value: datetime) -> datetime:
    return value
