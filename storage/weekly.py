"""The weekly rollup (`usage_weekly`): the daily rows as they count, summed per linked
person, week and tool, so the org view and grouped reports read a row per person-week
rather than per person-day. Triggers mark the days whose rows change (`usage_weekly_stale`);
`fresh_weeks` re-sums their weeks from `storage.counted_daily` before a read, so a read
always gives what summing the daily rows would. The same re-sum keeps a row per person and
week, every tool merged (`usage_person_weekly`), for the award job."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, case, delete, distinct, func, insert, literal, select, text
from sqlalchemy.sql import Subquery

from storage.counted_daily import counted_daily
from storage.daily_sums import SUMMED, summed_totals
from storage.db import Database, lock_key
from storage.models import DailyRow, IdentityRow, PersonWeekRow, WeeklyRow, WeeklyStaleRow
from storage.records import KINDS
from storage.usage_masks import active_day_count, day_mask, worked

# The columns `usage_weekly` adds to the summed figures, in the order `_sums` selects them.
_EXTRA = ("unpriced_input_tokens", "unpriced_output_tokens", "priced", "active_days")
# A week's re-sum reads the whole week at once when more than this share of its people are
# marked: measured at 20,000 people on SQLite, the marked people's rows cost about 50 ms and
# 0.05 ms a person, the whole week about 650 ms (even at 8,000 people, 470 ms against 1,360
# for two weeks), so per person wins up to about half of them.
WHOLE_WEEK_SHARE = 0.5

# Bit i of a person-week's kind mask is KINDS[i]; any other kind sets OTHER_KIND, whose name
# the mask cannot give back (a reader of such a week reads the daily rows instead).
KIND_BITS = {kind: 1 << i for i, kind in enumerate(KINDS)}
OTHER_KIND = 1 << 30
# A person-week's tool names joined by TOOL_SEPARATOR, each escaped first (a tool name is any
# string): a backslash as `\b`, the separator as `\c`. See `tool_names`.
TOOL_SEPARATOR = ","
_ESCAPES = re.compile(r"\\([bc])")


def monday(day: date) -> date:
    """The Monday of a day's ISO week: the daily rows' days are local days already, so a
    week is the same whatever AIUSAGE_TIMEZONE says now."""
    return day - timedelta(days=day.weekday())


def sunday(week: date) -> date:
    """The last day of the week that starts on `week`; the calendar's last week ends with
    it (9999-12-31 is a Friday). No door lets such a day in now, but a database may hold
    one from before they all kept the bounds, and its mark must be summed like any other,
    or the scheduled re-sum would fail on it every time, the other weeks with it."""
    return week + timedelta(days=6) if week < _LAST_MONDAY else date.max


_LAST_MONDAY = monday(date.max)


def fresh_weeks(db: Database, first: date | None = None, last: date | None = None) -> int:
    """Re-sum every week from `first`'s to `last`'s (every marked week, without them) whose
    days were marked since it was last summed: only the people marked, unless a mark names
    no person or over half of the week's people (and over a hundred) are marked. Each week
    in a transaction of its own (so writers wait at most one week's sums, even at the first
    read after the upgrade, when every week is marked), serialised (the SQLite write lock,
    a PostgreSQL advisory lock); only the marks taken in that transaction before summing are
    cleared, so a change that lands meanwhile stays marked and is summed next time. Returns
    how many weeks it summed."""
    summed = 0
    where = []
    if first is not None:
        where.append(WeeklyStaleRow.day >= monday(first))
    if last is not None:
        where.append(WeeklyStaleRow.day <= sunday(monday(last)))
    with db.read() as conn:
        days = conn.scalars(select(WeeklyStaleRow.day).where(*where).distinct()).all()
    for week in sorted({monday(day) for day in days}):
        with db.write() as conn:
            if not db.is_sqlite:
                key = lock_key(conn, "weekly")
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
            people = _take_marks(conn, week)
            if not people:  # another process summed it meanwhile
                continue
            whole = None in people or (
                len(people) > 100 and len(people) > WHOLE_WEEK_SHARE * _people_in(conn, week)
            )
            for chunk in _chunks(None if whole else sorted(p for p in people if p is not None)):
                _sum_week(conn, week, chunk)
            summed += 1
    return summed


def _take_marks(conn: Connection, week: date) -> set[int | None]:
    """Delete the week's marks and return whom they name (None: the whole week), deduplicated
    by the database. PostgreSQL keeps a mark per statement that changed a person's day, so a
    busy week holds hundreds of thousands, which read back as rows cost a replica tens of
    megabytes at once. Taken in the summing transaction: a mark committed after this is left
    for next time, and a failed sum puts them all back."""
    taken = (
        delete(WeeklyStaleRow)
        .where(WeeklyStaleRow.day.between(week, sunday(week)))
        .returning(WeeklyStaleRow.person_id)
    )
    if conn.dialect.name == "sqlite":  # no DELETE in a CTE; its trigger keeps one mark a day
        return set(conn.execute(taken).scalars())
    gone = taken.cte("gone")
    return set(conn.execute(select(gone.c.person_id).distinct()).scalars())


def _people_in(conn: Connection, week: date) -> int:
    """How many people the week's weekly rows hold now (none for a week never summed, whose
    first re-sum is then a whole one)."""
    found = select(WeeklyRow.person_id).where(WeeklyRow.week == week).distinct().subquery()
    return conn.scalar(select(func.count()).select_from(found)) or 0


def _chunks(people: list[int] | None) -> list[list[int] | None]:
    """`people` in lists short enough for one IN (...), or [None] for everyone."""
    if people is None:
        return [None]
    return [people[at : at + 500] for at in range(0, len(people), 500)]


def _sum_week(conn: Connection, week: date, people: list[int] | None = None) -> None:
    """Replace a week's rows (`people`'s only, unless None) with the sums of its daily
    rows, in the database. The rule meets a person's identities as one and no one else's,
    so one person's sums need only that person's rows."""
    mine = [] if people is None else [WeeklyRow.person_id.in_(people)]
    theirs = [] if people is None else [IdentityRow.person_id.in_(people)]
    conn.execute(delete(WeeklyRow).where(WeeklyRow.week == week, *mine))
    daily = counted_daily(
        [
            DailyRow.day.between(week, sunday(week)),
            IdentityRow.person_id.is_not(None),
            *theirs,
        ]
    )
    counted = daily.c
    unpriced = counted.priced == 0
    sums = select(
        literal(week, WeeklyRow.week.type),
        counted.person_id,
        counted.tool,
        *summed_totals(counted),
        func.sum(case((unpriced, counted.input_tokens), else_=0)),
        func.sum(case((unpriced, counted.output_tokens), else_=0)),
        func.max(counted.priced),
        active_day_count(counted),
    ).group_by(counted.person_id, counted.tool)
    columns = ["week", "person_id", "tool", *SUMMED, *_EXTRA]
    conn.execute(insert(WeeklyRow).from_select(columns, sums))
    _sum_person_week(conn, week, daily, people)


def _sum_person_week(
    conn: Connection, week: date, daily: Subquery, people: list[int] | None
) -> None:
    """Replace a week's person-week rows (`people`'s only, unless None): the figures of
    its weekly rows just summed, added over tools, with the masks of its counted daily rows
    (`daily`). Only work makes a day active or a kind of work used (`usage_masks.works`),
    judged on the figures as they count, as every other read judges it; a tool is used when
    its weekly figures show work, which is when one of its counted rows did. A person whose
    week did no work keeps a row, with no days, kinds or tools (`tools` NULL)."""
    mine = [] if people is None else [PersonWeekRow.person_id.in_(people)]
    conn.execute(delete(PersonWeekRow).where(PersonWeekRow.week == week, *mine))
    weekly_people = [] if people is None else [WeeklyRow.person_id.in_(people)]
    escaped = func.replace(func.replace(WeeklyRow.tool, "\\", "\\b"), TOOL_SEPARATOR, "\\c")
    figures = (
        select(
            WeeklyRow.person_id.label("person_id"),
            *[
                total.label(name)
                for total, name in zip(summed_totals(WeeklyRow), SUMMED, strict=True)
            ],
            func.aggregate_strings(worked(WeeklyRow, escaped), TOOL_SEPARATOR).label("tools"),
        )
        .where(WeeklyRow.week == week, *weekly_people)
        .group_by(WeeklyRow.person_id)
        .subquery("figures")
    )
    counted = daily.c
    kind_bit = case(KIND_BITS, value=counted.kind, else_=OTHER_KIND)
    shapes = (
        select(
            counted.person_id.label("person_id"),
            day_mask(counted, week).label("days"),
            func.coalesce(func.sum(distinct(worked(counted, kind_bit))), 0).label("kinds"),
        )
        .group_by(counted.person_id)
        .subquery("shapes")
    )
    rows = select(
        literal(week, PersonWeekRow.week.type),
        figures.c.person_id,
        *[figures.c[name] for name in SUMMED],
        shapes.c.days,
        shapes.c.kinds,
        figures.c.tools,
    ).join(shapes, shapes.c.person_id == figures.c.person_id)
    columns = ["week", "person_id", *SUMMED, "day_mask", "kind_mask", "tools"]
    conn.execute(insert(PersonWeekRow).from_select(columns, rows))


def tool_names(joined: str) -> frozenset[str]:
    """The tool names of a person-week's `tools` column."""
    return frozenset(
        _ESCAPES.sub(lambda m: "\\" if m[1] == "b" else TOOL_SEPARATOR, name)
        for name in joined.split(TOOL_SEPARATOR)
    )


def weekly_columns() -> tuple[Any, ...]:
    """The weekly rows' figures summed again, in the order of `storage.org`'s reads:
    those of `summed_totals`, then unpriced input and output tokens."""
    return (
        *summed_totals(WeeklyRow),
        func.sum(WeeklyRow.unpriced_input_tokens),
        func.sum(WeeklyRow.unpriced_output_tokens),
    )


def whole_weeks(first: date, last: date) -> tuple[date, date] | None:
    """The first and last Monday of the whole weeks within first..last, or None."""
    if first.weekday() == 0:
        start = first
    elif monday(first) < _LAST_MONDAY:
        start = monday(first) + timedelta(weeks=1)
    else:
        return None  # the calendar's last week, which is never whole
    if last.weekday() == 6:
        end = monday(last)
    elif monday(last) > date.min:
        end = monday(last) - timedelta(weeks=1)
    else:
        return None  # the calendar's first week, with no whole week before it
    return (start, end) if start <= end else None


def prune_weekly(db: Database, before: date) -> None:
    """Retention: the weekly sums of weeks wholly before `before` go with their daily rows
    (a week the cutoff splits is marked by the daily rows' deletion and summed again)."""
    whole = monday(before)  # weeks before this one's Monday are wholly before `before`
    with db.write() as conn:
        conn.execute(delete(WeeklyRow).where(WeeklyRow.week < whole))
        conn.execute(delete(PersonWeekRow).where(PersonWeekRow.week < whole))
        conn.execute(delete(WeeklyStaleRow).where(WeeklyStaleRow.day < whole))


def forget_weekly(conn: Connection, person_id: int) -> None:
    """Forget: a person's weekly sums go with their daily rows."""
    conn.execute(delete(WeeklyRow).where(WeeklyRow.person_id == person_id))
    conn.execute(delete(PersonWeekRow).where(PersonWeekRow.person_id == person_id))
