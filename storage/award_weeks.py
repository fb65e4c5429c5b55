"""The award job's reads from the weekly rollup (`usage_weekly`): everyone's week and the
active days of the weeks before it, a row per person-week rather than per person-day. The
weekly rows are the daily rows as they count (`storage.counted_daily`), so these equal
`storage.usage_queries.person_periods` and `storage.awards.active_days_history`, which they
fall back to when a week's names do not fit the masks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Integer, func, literal, select

from storage.daily_sums import SUMMED, summed_totals, totals_from_row
from storage.db import Database
from storage.models import PersonRow, WeeklyRow
from storage.records import KINDS, PersonPeriod
from storage.usage_masks import MASK_BITS, name_mask, names_of
from storage.usage_queries import person_periods
from storage.weekly import OTHER_KIND, fresh_weeks

_DAY_BITS = tuple(1 << day for day in range(7))
_KIND_BITS = (*(1 << i for i in range(len(KINDS))), OTHER_KIND)


def _any_of(column: Any, bits: Sequence[int]) -> Any:
    """A mask column OR-ed over a group's rows (neither database has a portable bitwise-OR
    aggregate): per bit, whether any row has it, added up."""
    terms = [func.max(column.op("&", return_type=Integer())(literal(bit))) for bit in bits]
    total: Any = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def week_periods(db: Database, week_start: date) -> list[PersonPeriod]:
    """Everyone with usage in the ISO week starting `week_start` (a Monday), by person id,
    as `person_periods` gives it: one grouped pass over the week's weekly rows (re-summing
    the week first if its days were marked)."""
    if week_start.weekday() != 0:  # weekly rows are keyed by Monday: anything else reads none
        raise ValueError(f"{week_start} is not a Monday")
    week_end = week_start + timedelta(days=6)
    fresh_weeks(db, week_start, week_end)
    this_week = WeeklyRow.week == week_start
    with db.read() as conn:
        tools = list(conn.scalars(select(WeeklyRow.tool).where(this_week).distinct()))
        if len(tools) > MASK_BITS:  # more tools than a mask holds: rarely, if ever
            return person_periods(db, week_start, week_end)
        tools.sort()
        grouped = (
            select(
                WeeklyRow.person_id.label("person_id"),
                *[column.label(f"f{i}") for i, column in enumerate(summed_totals(WeeklyRow))],
                _any_of(WeeklyRow.day_mask, _DAY_BITS).label("days"),
                _any_of(WeeklyRow.kind_mask, _KIND_BITS).label("kinds"),
                name_mask(WeeklyRow.tool, tools).label("tools"),
            )
            .where(this_week)
            .group_by(WeeklyRow.person_id)
            .subquery()
        )
        rows = conn.execute(
            select(grouped, PersonRow.slack_user_id, PersonRow.display_name, PersonRow.opted_out)
            .join(PersonRow, PersonRow.id == grouped.c.person_id)
            .order_by(grouped.c.person_id)
        ).all()
    n = len(SUMMED)
    tool_sets: dict[int, frozenset[str]] = {}
    kind_sets: dict[int, frozenset[str]] = {}
    periods = []
    for row in rows:
        day_bits, kind_bits, tool_bits = int(row[n + 1]), int(row[n + 2]), int(row[n + 3])
        if kind_bits not in kind_sets:  # a week of everyone has few distinct combinations
            if kind_bits & OTHER_KIND:  # a kind the mask has no name for: read the days
                return person_periods(db, week_start, week_end)
            kind_sets[kind_bits] = names_of(kind_bits, KINDS)
        if tool_bits not in tool_sets:
            tool_sets[tool_bits] = names_of(tool_bits, tools)
        periods.append(
            PersonPeriod(
                person_id=row[0],
                slack_user_id=row[n + 4],
                display_name=row[n + 5],
                opted_out=bool(row[n + 6]),
                totals=totals_from_row(row[1 : n + 1]),
                active_days=day_bits.bit_count(),
                tools=tool_sets[tool_bits],
                kinds=kind_sets[kind_bits],
            )
        )
    return periods


def weeks_active_days(db: Database, week_starts: Sequence[date]) -> dict[int, list[int]]:
    """Per person, the number of active days in each of the given ISO weeks (Monday dates),
    in the order given, as `active_days_history` gives it: a row per person-week."""
    if not week_starts:
        return {}
    if any(start.weekday() != 0 for start in week_starts):
        raise ValueError("weekly rows are read by the Monday of their week")
    fresh_weeks(db, min(week_starts), max(week_starts) + timedelta(days=6))
    position = {start: at for at, start in enumerate(week_starts)}
    stmt = (
        select(WeeklyRow.person_id, WeeklyRow.week, _any_of(WeeklyRow.day_mask, _DAY_BITS))
        .where(WeeklyRow.week.in_(sorted(position)))
        .group_by(WeeklyRow.week, WeeklyRow.person_id)
    )
    none = [0] * len(week_starts)
    history: dict[int, list[int]] = {}
    with db.read() as conn:
        for person_id, week, days in conn.execute(stmt):
            counts = history.get(person_id)
            if counts is None:
                counts = history[person_id] = none.copy()
            counts[position[week]] = int(days).bit_count()
    return history
