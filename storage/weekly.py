"""The weekly rollup (`usage_weekly`): the daily rows as they count, summed per linked
person, week and tool, so the org view and grouped reports read a row per person-week
rather than per person-day. Triggers mark the days whose rows change (`usage_weekly_stale`);
`fresh_weeks` re-sums their weeks from `storage.counted_daily` before a read, so a read
always gives what summing the daily rows would."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    case,
    delete,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    text,
)

from storage.daily_sums import SUMMED, safe_sum, summed_totals
from storage.db import Database, lock_key
from storage.figures import COUNTED, NAMES
from storage.models import DailyRow, IdentityRow, WeeklyRow, WeeklyStaleRow
from storage.precedence import PUSHED_ORIGIN

# The columns `usage_weekly` adds to the summed figures, in the order `_sums` selects them.
_EXTRA = ("unpriced_input_tokens", "unpriced_output_tokens", "priced", "active_days")


def monday(day: date) -> date:
    """The Monday of a day's ISO week: the daily rows' days are local days already, so a
    week is the same whatever AIUSAGE_TIMEZONE says now."""
    return day - timedelta(days=day.weekday())


def fresh_weeks(db: Database, first: date, last: date) -> None:
    """Re-sum every week from `first`'s to `last`'s whose days were marked since it was
    last summed. Serialised (the SQLite write lock, a PostgreSQL advisory lock), and only
    the marks read before summing are cleared, so a change that lands meanwhile stays
    marked and is summed next time."""
    first, last = monday(first), monday(last) + timedelta(days=6)
    with db.read() as conn:
        if not _any_marked(conn, first, last):
            return
    with db.write() as conn:
        if not db.is_sqlite:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key(conn, "weekly")})
        marks = conn.execute(
            select(WeeklyStaleRow.id, WeeklyStaleRow.day).where(
                WeeklyStaleRow.day.between(first, last)
            )
        ).all()
        for week in sorted({monday(day) for _, day in marks}):
            _sum_week(conn, week)
        ids = [mark_id for mark_id, _ in marks]
        for at in range(0, len(ids), 500):
            conn.execute(delete(WeeklyStaleRow).where(WeeklyStaleRow.id.in_(ids[at : at + 500])))


def _any_marked(conn: Connection, first: date, last: date) -> bool:
    found = conn.scalar(select(WeeklyStaleRow.id).where(WeeklyStaleRow.day.between(first, last)))
    return found is not None


def _sum_week(conn: Connection, week: date) -> None:
    """Replace a week's rows with the sums of its daily rows, in the database."""
    conn.execute(delete(WeeklyRow).where(WeeklyRow.week == week))
    columns = ["week", "person_id", "tool", *SUMMED, *_EXTRA]
    conn.execute(insert(WeeklyRow).from_select(columns, _week_sums(week)))


def _week_sums(week: date) -> Select[Any]:
    """The week's counted sums per person and tool: `storage.precedence`'s rule applied in
    one pass over the daily rows (per person, day and tool: the reports' and the pushed
    events' sums apart, and which figures a report carries), where `counted_daily` reads
    them twice (its `carried` pass, then the join back); the same answers, which
    tests/test_source_precedence.py and tests/test_org_weekly.py hold it to."""
    report = DailyRow.origin != PUSHED_ORIGIN
    pushed = DailyRow.origin == PUSHED_ORIGIN
    no_cost = DailyRow.cost_usd.is_(None)

    def total(side: str, name: str) -> Any:
        column = getattr(DailyRow, name)
        summed = func.sum if name == "cost_usd" else safe_sum
        where = report if side == "r" else pushed
        return summed(case((where, column), else_=null())).label(f"{name}_{side}")

    def flag(where: ColumnElement[bool], label: str) -> Any:
        return func.max(case((where, 1), else_=0)).label(label)

    days = (
        select(
            IdentityRow.person_id.label("person"),
            DailyRow.tool.label("tool"),
            *[total(side, name) for side in ("r", "p") for name in NAMES],
            *[flag(and_(report, _carries(name)), f"{name}_c") for name in NAMES],
            safe_sum(DailyRow.events).label("events"),
            *[
                func.sum(case((and_(where, no_cost), getattr(DailyRow, name)), else_=0)).label(
                    f"{name}_{side}u"
                )
                for name in ("input_tokens", "output_tokens")
                for where, side in ((report, "r"), (pushed, "p"))
            ],
            flag(DailyRow.cost_usd.is_not(None), "has_cost"),
        )
        .join(IdentityRow, IdentityRow.id == DailyRow.identity_id)
        .where(
            DailyRow.day.between(week, week + timedelta(days=6)),
            IdentityRow.person_id.is_not(None),
        )
        .group_by(IdentityRow.person_id, DailyRow.day, DailyRow.tool)
        .subquery("days")
    )
    d = days.c

    def counted(name: str) -> Any:
        r, p, carried = d[f"{name}_r"], d[f"{name}_p"], d[f"{name}_c"] == 1
        if name in COUNTED:  # never NULL in the rollup; a side with no rows sums to NULL
            value = func.coalesce(r, 0) + case((carried, 0), else_=func.coalesce(p, 0))
            return safe_sum(value)
        kept = case((carried, r), (r.is_(None), p), (p.is_(None), r), else_=r + p)
        return func.sum(kept) if name == "cost_usd" else safe_sum(kept)

    cost_carried = d["cost_usd_c"] == 1

    def unpriced(name: str) -> Any:
        lost = or_(cost_carried, d[f"{name}_c"] == 1)  # priced by the report, or not counted
        return func.sum(d[f"{name}_ru"] + case((lost, 0), else_=d[f"{name}_pu"]))

    return select(
        literal(week, WeeklyRow.week.type),
        d.person,
        d.tool,
        *[counted(name) for name in NAMES],
        safe_sum(d.events),
        unpriced("input_tokens"),
        unpriced("output_tokens"),
        # Priced: some row had a cost (a report's cost carried for the events is one too).
        func.max(d.has_cost),
        func.count(),
    ).group_by(d.person, d.tool)


def _carries(name: str) -> ColumnElement[bool]:
    """`precedence.carries` for a rollup column."""
    column = getattr(DailyRow, name)
    return column != 0 if name in COUNTED else column.is_not(None)


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
