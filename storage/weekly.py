"""The weekly rollup (`usage_weekly`): the daily rows as they count, summed per linked
person, week and tool, so the org view and grouped reports read a row per person-week
rather than per person-day. Triggers mark the days whose rows change (`usage_weekly_stale`);
`fresh_weeks` re-sums their weeks from `storage.counted_daily` before a read, so a read
always gives what summing the daily rows would."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, case, delete, distinct, func, insert, literal, select, text

from storage.counted_daily import counted_daily
from storage.daily_sums import SUMMED, summed_totals
from storage.db import Database, lock_key
from storage.models import DailyRow, IdentityRow, WeeklyRow, WeeklyStaleRow
from storage.records import KINDS
from storage.usage_masks import day_mask

# The columns `usage_weekly` adds to the summed figures, in the order `_sums` selects them.
_EXTRA = (
    "unpriced_input_tokens",
    "unpriced_output_tokens",
    "priced",
    "active_days",
    "day_mask",
    "kind_mask",
)

# Bit i of a weekly row's kind mask is KINDS[i]; any other kind sets OTHER_KIND (its name is
# not in the mask, so a week with one is read from the daily rows instead).
KIND_BITS = {kind: 1 << i for i, kind in enumerate(KINDS)}
OTHER_KIND = 1 << 30


def monday(day: date) -> date:
    """The Monday of a day's ISO week: the daily rows' days are local days already, so a
    week is the same whatever AIUSAGE_TIMEZONE says now."""
    return day - timedelta(days=day.weekday())


def fresh_weeks(db: Database, first: date, last: date) -> None:
    """Re-sum every week from `first`'s to `last`'s whose days were marked since it was
    last summed. Each week in a transaction of its own (so writers wait at most one week's
    sums, even at the first read after the upgrade, when every week is marked), serialised
    (the SQLite write lock, a PostgreSQL advisory lock); only the marks read in that
    transaction before summing are cleared, so a change that lands meanwhile stays marked
    and is summed next time."""
    first, last = monday(first), monday(last) + timedelta(days=6)
    with db.read() as conn:
        days = conn.scalars(
            select(WeeklyStaleRow.day).where(WeeklyStaleRow.day.between(first, last)).distinct()
        ).all()
    for week in sorted({monday(day) for day in days}):
        with db.write() as conn:
            if not db.is_sqlite:
                key = lock_key(conn, "weekly")
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
            ids = conn.scalars(
                select(WeeklyStaleRow.id).where(
                    WeeklyStaleRow.day.between(week, week + timedelta(days=6))
                )
            ).all()
            if not ids:  # another process summed it meanwhile
                continue
            _sum_week(conn, week)
            for at in range(0, len(ids), 500):
                chunk = ids[at : at + 500]
                conn.execute(delete(WeeklyStaleRow).where(WeeklyStaleRow.id.in_(chunk)))


def _sum_week(conn: Connection, week: date) -> None:
    """Replace a week's rows with the sums of its daily rows, in the database."""
    conn.execute(delete(WeeklyRow).where(WeeklyRow.week == week))
    daily = counted_daily(
        [
            DailyRow.day.between(week, week + timedelta(days=6)),
            IdentityRow.person_id.is_not(None),
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
        func.count(distinct(counted.day)),
        day_mask(counted, week),
        func.sum(distinct(case(KIND_BITS, value=counted.kind, else_=OTHER_KIND))),
    ).group_by(counted.person_id, counted.tool)
    columns = ["week", "person_id", "tool", *SUMMED, *_EXTRA]
    conn.execute(insert(WeeklyRow).from_select(columns, sums))


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
    start = first if first.weekday() == 0 else monday(first) + timedelta(weeks=1)
    end = monday(last) if last.weekday() == 6 else monday(last) - timedelta(weeks=1)
    return (start, end) if start <= end else None


def prune_weekly(db: Database, before: date) -> None:
    """Retention: the weekly sums of weeks wholly before `before` go with their daily rows
    (a week the cutoff splits is marked by the daily rows' deletion and summed again)."""
    whole = monday(before)  # weeks before this one's Monday are wholly before `before`
    with db.write() as conn:
        conn.execute(delete(WeeklyRow).where(WeeklyRow.week < whole))
        conn.execute(delete(WeeklyStaleRow).where(WeeklyStaleRow.day < whole))


def forget_weekly(conn: Connection, person_id: int) -> None:
    """Forget: a person's weekly sums go with their daily rows."""
    conn.execute(delete(WeeklyRow).where(WeeklyRow.person_id == person_id))
