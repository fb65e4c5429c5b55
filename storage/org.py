"""Usage per person, tool and span of days (a week of the org trend, or a report's
period), with the tokens no source priced, for the org view and the grouped reports.
Only identities linked to a person count: a group is a set of people."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Integer, String, case, cast, distinct, func, literal_column, null, select

from storage.counted_daily import counted_daily
from storage.daily_sums import SUMMED, summed_totals, totals_from_row
from storage.db import Database
from storage.models import DailyRow, IdentityRow, IntegrityFlagRow
from storage.records import ToolSpanSums, UsageCell

Span = tuple[date, date]  # first and last day, both included
# Where the columns after the summed figures start, in the rows of `usage_cells` (person,
# span, tool, figures) and of the per-span sums (span, tool, figures).
_AFTER_CELL = 3 + len(SUMMED)
_AFTER_SPAN = 2 + len(SUMMED)


def usage_cells(db: Database, spans: Sequence[Span]) -> list[UsageCell]:
    """Every linked person's usage per tool in each of `spans` (which must not overlap)."""
    if not spans:
        return []
    daily = counted_daily(
        [
            DailyRow.day.between(min(s[0] for s in spans), max(s[1] for s in spans)),
            IdentityRow.person_id.is_not(None),
        ]
    )
    counted = daily.c
    span_of = _span_index(db, spans, counted.day)
    unpriced = counted.priced == 0
    stmt = (
        select(
            counted.person_id,
            span_of,
            counted.tool,
            *summed_totals(counted),
            func.sum(case((unpriced, counted.input_tokens), else_=0)),
            func.sum(case((unpriced, counted.output_tokens), else_=0)),
            func.count(distinct(counted.day)),
        )
        .select_from(daily)
        .group_by(counted.person_id, span_of, counted.tool)
    )
    with db.read() as conn:
        rows = conn.execute(stmt).all()
    return [
        UsageCell(
            person_id=row[0],
            span=int(row[1]),
            tool=row[2],
            totals=totals_from_row(row[3:_AFTER_CELL]),
            unpriced_input_tokens=int(row[_AFTER_CELL] or 0),
            unpriced_output_tokens=int(row[_AFTER_CELL + 1] or 0),
            active_days=int(row[_AFTER_CELL + 2]),
        )
        for row in rows
        if row[1] is not None and int(row[1]) >= 0
    ]


def span_sums(
    db: Database, spans: Sequence[Span], person_ids: Sequence[int] | None = None
) -> tuple[list[ToolSpanSums], dict[int, int]]:
    """Per span and tool, the summed figures and how many people they cover; and per span,
    how many people had any usage. Restricted to `person_ids` when given."""
    if not spans:
        return [], {}
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


def active_by_span(db: Database, spans: Sequence[Span]) -> dict[int, frozenset[int]]:
    """Who had any usage in each span: what judging teams week by week needs. Read by
    identity from the (identity, day, ...) index alone, never the rows, with each span's
    identities as one list: a quarter of 20,000 people is 13 rows, not 250,000."""
    if not spans:
        return {}
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
