"""The award job's reads from the person-week rows (`usage_person_weekly`): everyone's week
and their active days in the weeks before it, a row per person and week rather than rows
per person, day and tool. The rows are the daily rows as they count, summed by the weekly
re-sum (`storage.weekly`), so these give what `storage.usage_queries.person_periods` and
`storage.awards.active_days_history` give, provided no week read is marked: a read finds
the marks in the same transaction and gives None rather than stale sums."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import BigInteger, Connection, Executable, case, cast, func, literal, select

from storage.daily_sums import SUMMED
from storage.db import Database
from storage.models import PersonRow, PersonWeekRow, WeeklyStaleRow
from storage.records import KINDS, PersonPeriod, Totals
from storage.usage_masks import names_of
from storage.weekly import OTHER_KIND, tool_names

# Bits of the history mask a week takes: seven days.
WEEK_BITS = 7
# Weeks of history summed into one 64-bit mask in the database (9 x 7 = 63 bits).
WEEKS_PER_SUM = 9


def person_weeks(
    db: Database, week_start: date, earlier: Sequence[date]
) -> tuple[list[PersonPeriod], dict[int, int]] | None:
    """Everyone with usage in the ISO week starting `week_start` (a Monday), by person id,
    and per person a mask of their active days in the `earlier` weeks (week i of them in
    bits 7i..7i+6). None when a day of these weeks is marked since its re-sum, or the week
    has a kind of work the kind mask has no name for: the caller reads the daily rows."""
    weeks = [week_start, *earlier]
    if any(start.weekday() != 0 for start in weeks):  # rows are keyed by Monday
        raise ValueError("person-week rows are read by the Monday of their week")
    stale = select(literal(1)).where(
        WeeklyStaleRow.day.between(min(weeks), max(weeks) + timedelta(days=6))
    )
    this_week = (
        select(
            PersonWeekRow.person_id,
            *[getattr(PersonWeekRow, name) for name in SUMMED],
            PersonWeekRow.day_mask,
            PersonWeekRow.kind_mask,
            PersonWeekRow.tools,
            PersonRow.slack_user_id,
            PersonRow.display_name,
            PersonRow.opted_out,
        )
        .join(PersonRow, PersonRow.id == PersonWeekRow.person_id)
        .where(PersonWeekRow.week == week_start)
        .order_by(PersonWeekRow.person_id)
    )
    # One transaction, so the marks looked at and the rows read are of the same moment. The
    # two reads one after the other: beside each other on two threads, the rows of each
    # wait for Python's lock, held by the other (slower than both in turn, on SQLite).
    with db.read() as conn:
        if conn.execute(stale.limit(1)).first() is not None:
            return None
        masks: dict[int, int] = {}
        for at in range(0, len(earlier), WEEKS_PER_SUM):
            shift = WEEK_BITS * at
            for person_id, mask in _raw_rows(conn, _history(earlier[at : at + WEEKS_PER_SUM])):
                masks[person_id] = masks.get(person_id, 0) | int(mask) << shift
        periods = _periods(_raw_rows(conn, this_week))
    return None if periods is None else (periods, masks)


def _history(weeks: Sequence[date]) -> Executable:
    """Per person, each week's day mask moved to its place (week i to bit 7i) and added up
    in the database: a row per person rather than per person-week, and no week (a date,
    parsed per row on SQLite) read back. At most WEEKS_PER_SUM weeks, so the sum fits in a
    signed 64-bit integer."""
    place = case(
        {start: 1 << WEEK_BITS * at for at, start in enumerate(weeks)}, value=PersonWeekRow.week
    )
    return (
        select(PersonWeekRow.person_id, func.sum(cast(PersonWeekRow.day_mask, BigInteger) * place))
        .where(PersonWeekRow.week.in_(weeks))
        .group_by(PersonWeekRow.person_id)
    )


def _raw_rows(conn: Connection, stmt: Executable) -> list[Any]:
    """A statement's rows as the driver gives them: no column here needs converting but the
    opt-out (0 or 1 on SQLite, made a bool by the caller), and a result row of SQLAlchemy's
    for each of 100,000 people costs about as much as the database's whole read."""
    with conn.execute(stmt) as result:
        return list(result.cursor.fetchall())


def _periods(rows: Sequence[Any]) -> list[PersonPeriod] | None:
    """The week's rows as `PersonPeriod`s, or None for a kind the mask has no name for."""
    n = len(SUMMED)
    tool_sets: dict[str | None, frozenset[str]] = {}
    kind_sets: dict[int, frozenset[str]] = {}
    periods: list[PersonPeriod] = []
    append = periods.append
    for row in rows:
        day_bits, kind_bits, tools = row[n + 1], row[n + 2], row[n + 3]
        kinds = kind_sets.get(kind_bits)
        if kinds is None:  # a week of everyone has few distinct combinations
            if kind_bits & OTHER_KIND:
                return None
            kinds = kind_sets[kind_bits] = names_of(kind_bits, KINDS)
        names = tool_sets.get(tools)
        if names is None:  # NULL: a week without work used no tool
            names = tool_sets[tools] = frozenset() if tools is None else tool_names(tools)
        append(
            PersonPeriod(
                row[0],
                row[n + 4],
                row[n + 5],
                bool(row[n + 6]),
                # As summed by the re-sum: whole numbers far inside int64 (`storage.bounds`),
                # so nothing to saturate or convert, unlike `totals_from_row`.
                Totals(*row[1 : n + 1]),
                day_bits.bit_count(),
                names,
                kinds,
            )
        )
    return periods
