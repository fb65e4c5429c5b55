"""Usage per person, tool and span of days (a week of the org trend, or a report's
period), with the tokens no source priced, for the org view and the grouped reports.
Only identities linked to a person count: a group is a set of people."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    Integer,
    String,
    case,
    cast,
    distinct,
    func,
    literal_column,
    null,
    or_,
    select,
)

from storage.counted_daily import counted_daily
from storage.daily_sums import SUMMED, summed_totals, totals_from_row
from storage.db import Database
from storage.models import DailyRow, IdentityRow, IntegrityFlagRow, WeeklyRow
from storage.records import ToolSpanSums, UsageCell
from storage.usage_masks import active_day_count
from storage.weekly import fresh_weeks, weekly_columns, whole_weeks

Span = tuple[date, date]  # first and last day, both included
# How many summed figures lead a cell's values; where the columns after the summed figures
# start in the rows of the per-span sums (span, tool, figures).
_SUMMED = len(SUMMED)
_AFTER_SPAN = 2 + len(SUMMED)


def usage_cells(db: Database, spans: Sequence[Span]) -> list[UsageCell]:
    """Every linked person's usage per tool in each of `spans` (which must not overlap):
    whole weeks from the weekly rollup, days at either end of a span from the daily rows."""
    if not spans:
        return []
    weekly: list[tuple[int, date, date]] = []  # span, first and last Monday
    daily: list[tuple[int, date, date]] = []  # span, first and last day
    for index, (first, last) in enumerate(spans):
        whole = whole_weeks(first, last)
        if whole is None:
            daily.append((index, first, last))
            continue
        weekly.append((index, *whole))
        if first < whole[0]:
            daily.append((index, first, whole[0] - timedelta(days=1)))
        if whole[1] + timedelta(days=6) < last:
            daily.append((index, whole[1] + timedelta(days=7), last))
    found: dict[tuple[int, int, str], list[Any]] = {}
    for row in [*_weekly_cells(db, weekly), *_daily_cells(db, daily)]:
        key = (row[0], int(row[1]), row[2])
        known = found.get(key)
        found[key] = list(row[3:]) if known is None else _plus(known, row[3:])
    return [
        UsageCell(
            person_id=person,
            span=span,
            tool=tool,
            totals=totals_from_row(values[:_SUMMED]),
            unpriced_input_tokens=int(values[_SUMMED] or 0),
            unpriced_output_tokens=int(values[_SUMMED + 1] or 0),
            active_days=int(values[_SUMMED + 2]),
        )
        for (person, span, tool), values in found.items()
        if span >= 0
    ]


def _plus(known: list[Any], more: Sequence[Any]) -> list[Any]:
    """Two rows of sums added, a figure nobody reported (None) staying None only if both are."""
    return [b if a is None else a if b is None else a + b for a, b in zip(known, more, strict=True)]


def _weekly_cells(db: Database, parts: Sequence[tuple[int, date, date]]) -> list[Any]:
    """Per person, span and tool, the weekly rollup's sums over each part's whole weeks."""
    if not parts:
        return []
    first, last = min(p[1] for p in parts), max(p[2] for p in parts)
    fresh_weeks(db, first, last)
    span_of = case(*[(WeeklyRow.week.between(a, b), index) for index, a, b in parts], else_=-1)
    stmt = (
        select(
            WeeklyRow.person_id,
            span_of,
            WeeklyRow.tool,
            *weekly_columns(),
            func.sum(WeeklyRow.active_days),
        )
        .where(WeeklyRow.week.between(first, last))
        .group_by(WeeklyRow.person_id, span_of, WeeklyRow.tool)
    )
    with db.read() as conn:
        return list(conn.execute(stmt).all())


def _daily_cells(db: Database, parts: Sequence[tuple[int, date, date]]) -> list[Any]:
    """Per person, span and tool, the counted daily rows' sums over each part's days."""
    if not parts:
        return []
    daily = counted_daily(
        [
            or_(*[DailyRow.day.between(a, b) for _, a, b in parts]),
            IdentityRow.person_id.is_not(None),
        ]
    )
    counted = daily.c
    span_of = case(*[(counted.day.between(a, b), index) for index, a, b in parts], else_=-1)
    unpriced = counted.priced == 0
    stmt = (
        select(
            counted.person_id,
            span_of,
            counted.tool,
            *summed_totals(counted),
            func.sum(case((unpriced, counted.input_tokens), else_=0)),
            func.sum(case((unpriced, counted.output_tokens), else_=0)),
            active_day_count(counted),
        )
        .select_from(daily)
        .group_by(counted.person_id, span_of, counted.tool)
    )
    with db.read() as conn:
        return list(conn.execute(stmt).all())


def span_sums(
    db: Database, spans: Sequence[Span], person_ids: Sequence[int] | None = None
) -> tuple[list[ToolSpanSums], dict[int, int]]:
    """Per span and tool, the summed figures and how many people they cover; and per span,
    how many people had any usage. Restricted to `person_ids` when given."""
    if not spans:
        return [], {}
    if _are_weeks(spans):
        return _weekly_span_sums(db, spans, person_ids)
    where = [
        DailyRow.day.between(min(s[0] for s in spans), max(s[1] for s in spans)),
        IdentityRow.person_id.is_not(None),
    ]
    if person_ids is not None:
        # Through the (identity, day) index: a team's rows, not a scan of everyone's.
        theirs = select(IdentityRow.id).where(IdentityRow.person_id.in_(list(person_ids)))
        where.append(DailyRow.identity_id.in_(theirs))
    daily = counted_daily(where)
    counted = daily.c
    span_of = _span_index(db, spans, counted.day)
    unpriced = counted.priced == 0
    # One pass over the daily rows, per span, tool and person (materialised once), then
    # both answers from it in one statement: two passes cost twice as much at 20,000 people.
    cells = (
        select(
            span_of.label("span"),
            counted.tool.label("tool"),
            counted.person_id.label("person"),
            *[total.label(f"f{i}") for i, total in enumerate(summed_totals(counted))],
            func.sum(case((unpriced, counted.input_tokens), else_=0)).label("uin"),
            func.sum(case((unpriced, counted.output_tokens), else_=0)).label("uout"),
            func.max(counted.priced).label("priced"),
        )
        .select_from(daily)
        .group_by(span_of, counted.tool, counted.person_id)
        .cte("cells")
        .prefix_with("MATERIALIZED")
    )
    figures = [func.sum(cells.c[f"f{i}"]) for i in range(len(summed_totals()))]
    by_tool = select(
        cells.c.span,
        cells.c.tool,
        *figures,
        func.sum(cells.c.uin),
        func.sum(cells.c.uout),
        func.count(),
        func.sum(cells.c.priced),
    ).group_by(cells.c.span, cells.c.tool)
    nothing = [null()] * (len(figures) + 2)
    people = select(
        cells.c.span, null(), *nothing, func.count(distinct(cells.c.person)), null()
    ).group_by(cells.c.span)
    with db.read() as conn:
        found = conn.execute(by_tool.union_all(people)).all()
    rows = [row for row in found if row[1] is not None]
    people_at = _AFTER_SPAN + 2
    counts = {
        int(row[0]): int(row[people_at]) for row in found if row[1] is None and row[0] is not None
    }
    sums = [
        ToolSpanSums(
            span=int(row[0]),
            tool=row[1],
            totals=totals_from_row(row[2:_AFTER_SPAN]),
            unpriced_input_tokens=int(row[_AFTER_SPAN] or 0),
            unpriced_output_tokens=int(row[_AFTER_SPAN + 1] or 0),
            people=int(row[people_at]),
            people_without_cost=int(row[people_at]) - int(row[people_at + 1]),
        )
        for row in rows
        if row[0] is not None and int(row[0]) >= 0
    ]
    return sums, {span: n for span, n in counts.items() if span >= 0}


def members_span_sums(
    db: Database, spans: Sequence[Span], members: Sequence[Collection[int]]
) -> tuple[list[ToolSpanSums], dict[int, int]]:
    """`span_sums` with each span restricted to its own people (`members[i]` for span i: a
    team's members that week). One read per distinct set of people, so a team whose members
    did not change over the spans costs one."""
    spans_of: dict[frozenset[int], list[int]] = defaultdict(list)
    for index, people in enumerate(members):
        if people:
            spans_of[frozenset(people)].append(index)
    sums: list[ToolSpanSums] = []
    counts: dict[int, int] = {}
    for people, indexes in spans_of.items():
        found, found_counts = span_sums(db, [spans[i] for i in indexes], sorted(people))
        sums += [replace(row, span=indexes[row.span]) for row in found]
        counts.update({indexes[span]: n for span, n in found_counts.items()})
    return sums, counts


def active_by_span(db: Database, spans: Sequence[Span]) -> dict[int, frozenset[int]]:
    """Who had any usage in each span: what judging teams week by week needs. Read by
    identity from the (identity, day, ...) index alone, never the rows, with each span's
    identities as one list: a quarter of 20,000 people is 13 rows, not 250,000."""
    if not spans:
        return {}
    if _are_weeks(spans):
        return _weekly_active(db, spans)
    span_of = _span_index(db, spans, DailyRow.day)
    # SQLite would take the day index and read every row for its identity; its unary plus
    # leaves the day index out, so the unique index, which holds both columns, is read.
    day = literal_column(f"+{DailyRow.__tablename__}.day") if db.is_sqlite else DailyRow.day
    pairs = (
        select(DailyRow.identity_id.label("identity"), span_of.label("span"))
        .where(day.between(spans[0][0], spans[-1][1]), DailyRow.identity_id > 0)
        .distinct()
        .subquery()
    )
    listed = cast(pairs.c.identity, String)
    joined = func.group_concat(listed) if db.is_sqlite else func.string_agg(listed, ",")
    stmt = select(pairs.c.span, joined).group_by(pairs.c.span)
    found: dict[int, set[int]] = defaultdict(set)
    with db.read() as conn:
        person_of = dict(
            conn.execute(
                select(IdentityRow.id, IdentityRow.person_id).where(
                    IdentityRow.person_id.is_not(None)
                )
            ).all()
        )
        for span, identities in conn.execute(stmt):
            if span is None or span < 0 or not identities:
                continue
            people = found[int(span)]
            for identity in identities.split(","):
                person = person_of.get(int(identity))
                if person is not None:
                    people.add(person)
    return {span: frozenset(people) for span, people in found.items() if people}


def _are_weeks(spans: Sequence[Span]) -> bool:
    """Whether every span is one whole ISO week, Monday to Sunday: what the weekly rollup
    answers."""
    return all(a.weekday() == 0 and b == a + timedelta(days=6) for a, b in spans)


def _weekly_span_sums(
    db: Database, spans: Sequence[Span], person_ids: Sequence[int] | None
) -> tuple[list[ToolSpanSums], dict[int, int]]:
    """`span_sums` of whole weeks, from the weekly rollup: already one row per week, tool
    and person, so per week and tool it is one more sum."""
    span_at = {start: index for index, (start, _) in enumerate(spans)}
    first, last = min(span_at), max(span_at)
    fresh_weeks(db, first, last)
    where = [WeeklyRow.week.between(first, last)]
    if person_ids is not None:
        where.append(WeeklyRow.person_id.in_(list(person_ids)))
    by_tool = (
        select(
            WeeklyRow.week,
            WeeklyRow.tool,
            *weekly_columns(),
            func.count(),
            func.sum(WeeklyRow.priced),
        )
        .where(*where)
        .group_by(WeeklyRow.week, WeeklyRow.tool)
    )
    people = (
        select(WeeklyRow.week, func.count(distinct(WeeklyRow.person_id)))
        .where(*where)
        .group_by(WeeklyRow.week)
    )
    with db.read() as conn:
        rows = conn.execute(by_tool).all()
        counts = conn.execute(people).all()
    people_at = _AFTER_SPAN + 2
    sums = [
        ToolSpanSums(
            span=span_at[row[0]],
            tool=row[1],
            totals=totals_from_row(row[2:_AFTER_SPAN]),
            unpriced_input_tokens=int(row[_AFTER_SPAN] or 0),
            unpriced_output_tokens=int(row[_AFTER_SPAN + 1] or 0),
            people=int(row[people_at]),
            people_without_cost=int(row[people_at]) - int(row[people_at + 1] or 0),
        )
        for row in rows
        if row[0] in span_at
    ]
    return sums, {span_at[week]: int(n) for week, n in counts if week in span_at}


def _weekly_active(db: Database, spans: Sequence[Span]) -> dict[int, frozenset[int]]:
    """`active_by_span` of whole weeks: the people with a weekly row, which every linked
    identity's daily row gives its week."""
    span_at = {start: index for index, (start, _) in enumerate(spans)}
    first, last = min(span_at), max(span_at)
    fresh_weeks(db, first, last)
    found: dict[int, set[int]] = defaultdict(set)
    with db.read() as conn:
        rows = conn.execute(
            select(WeeklyRow.week, WeeklyRow.person_id)
            .where(WeeklyRow.week.between(first, last))
            .distinct()
        )
        for week, person in rows:
            if week in span_at:
                found[span_at[week]].add(person)
    return {span: frozenset(people) for span, people in found.items()}


def tools_by_week(db: Database, weeks: Sequence[Span]) -> dict[int, dict[str, frozenset[int]]]:
    """Who used which tool in each of `weeks` (whole ISO weeks), from the weekly rollup:
    what judging a grouped report's tools and teams week by week needs."""
    if not weeks:
        return {}
    span_at = {start: index for index, (start, _) in enumerate(weeks)}
    first, last = min(span_at), max(span_at)
    fresh_weeks(db, first, last)
    found: dict[int, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    with db.read() as conn:
        rows = conn.execute(
            select(WeeklyRow.week, WeeklyRow.tool, WeeklyRow.person_id).where(
                WeeklyRow.week.between(first, last)
            )
        )
        for week, tool, person in rows:
            if week in span_at:
                found[span_at[week]][tool].add(person)
    return {
        span: {tool: frozenset(people) for tool, people in tools.items()}
        for span, tools in found.items()
    }


def _span_index(db: Database, spans: Sequence[Span], day: Any) -> Any:
    """Which span a day falls in. Consecutive weeks are day arithmetic, far cheaper than a
    CASE with a branch per week when a quarter of everyone's days is grouped."""
    first = spans[0][0]
    weekly = all(
        start == first + timedelta(weeks=i) and end == start + timedelta(days=6)
        for i, (start, end) in enumerate(spans)
    )
    if not weekly:
        return case(
            *[(day.between(a, b), index) for index, (a, b) in enumerate(spans)],
            else_=-1,
        )
    if db.is_sqlite:
        days = func.julianday(day) - func.julianday(first.isoformat())
        return cast(days / 7, Integer)
    return cast(func.floor((day - first) / 7.0), Integer)


def flagged_by_week(db: Database, week_starts: Sequence[date]) -> dict[date, frozenset[int]]:
    """Who had usage judged scripted or wasteful, per week: counted, never named."""
    found: dict[date, set[int]] = defaultdict(set)
    with db.read() as conn:
        rows = conn.execute(
            select(IntegrityFlagRow.week_start, IntegrityFlagRow.person_id)
            .where(IntegrityFlagRow.week_start.in_(list(week_starts)))
            .distinct()
        )
        for week_start, person_id in rows:
            found[week_start].add(person_id)
    return {week: frozenset(people) for week, people in found.items()}
