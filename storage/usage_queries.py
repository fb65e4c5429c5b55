"""Per-person totals over a span of days, straight from the daily rollup."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import date
from itertools import groupby
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Date,
    Integer,
    Select,
    bindparam,
    func,
    select,
    union,
)

from storage.compiled import CompiledRead
from storage.counted_daily import counted_daily, counted_sums_by_identity
from storage.daily_sums import SUMMED, safe_sum, summed_totals, totals_from_row, whole
from storage.db import Database
from storage.figures import Figures, figures_of, plus
from storage.models import DailyRow, EventRow, IdentityRow, IntegrityFlagRow, PersonRow
from storage.precedence import OriginFigures, kept_figures, tier
from storage.records import DailyUsage, PersonPeriod, RankInput, Totals
from storage.usage_masks import (
    MASK_BITS,
    day_mask,
    day_masks,
    name_mask,
    names_of,
    tools_and_kinds,
    works,
)


def person_periods(
    db: Database, start: date, end: date, person_ids: list[int] | None = None
) -> list[PersonPeriod]:
    """Everyone with usage on days start..end inclusive (or just `person_ids`), by person id.
    A day counts as active, and a tool or kind of work as used, only when a tool did work
    then (`Figures.does_work`: a request, tokens or a suggestion shown), as the figures count.

    Everyone's week is hundreds of thousands of rollup rows, so it is one grouped pass by
    identity (figures as they count, and the active days, tools and kinds as bitmasks, see
    `storage.usage_masks`), put together per person here."""
    where = [DailyRow.day.between(start, end)]
    with db.read() as conn:
        owners = _owners(conn, person_ids)
        if not owners:
            return []
        if person_ids is not None:
            where.append(DailyRow.identity_id.in_(sorted(owners)))
        tools, kinds = tools_and_kinds(conn, where)
        if not tools:  # nobody used anything then
            return []
        wide = len(tools) > MASK_BITS or len(kinds) > MASK_BITS
        days = (end - start).days + 1 > MASK_BITS

        def columns(rows: Any) -> tuple[Any, ...]:
            masks = (
                ()
                if wide or days
                else (
                    day_mask(rows, start),
                    name_mask(rows, rows.tool, tools),
                    name_mask(rows, rows.kind, kinds),
                )
            )
            return (*summed_totals(rows), *masks)

        sums = counted_sums_by_identity(conn, where, columns)
        # Too many days or names for one mask: read row by row instead (rarely needed).
        shapes = _shapes(conn, where, tools, kinds, start) if wide or days else None

    n = len(SUMMED)
    merged: dict[int, tuple[Sequence[Any], int, int, int]] = {}
    for identity_id, row in sums.items():
        owner = owners.get(identity_id)
        if owner is None:  # not linked to anyone: counts once it is
            continue
        if shapes is None:
            day_bits, tool_bits, kind_bits = int(row[n]), int(row[n + 1]), int(row[n + 2])
        else:
            day_bits, tool_bits, kind_bits = shapes.get(identity_id, (0, 0, 0))
        person_id = owner[0]
        seen = merged.get(person_id)
        if seen is None:  # most people have one identity with usage
            merged[person_id] = (row, day_bits, tool_bits, kind_bits)
        else:
            merged[person_id] = (
                _added(seen[0][:n], row[:n]),
                seen[1] | day_bits,
                seen[2] | tool_bits,
                seen[3] | kind_bits,
            )
    people = {owner[0]: owner for owner in owners.values()}
    tool_sets: dict[int, frozenset[str]] = {}
    kind_sets: dict[int, frozenset[str]] = {}
    periods = []
    for person_id in sorted(merged):
        _, slack_user_id, display_name, opted_out = people[person_id]
        figures, day_bits, tool_bits, kind_bits = merged[person_id]
        if tool_bits not in tool_sets:  # a week of everyone has few distinct combinations
            tool_sets[tool_bits] = names_of(tool_bits, tools)
        if kind_bits not in kind_sets:
            kind_sets[kind_bits] = names_of(kind_bits, kinds)
        periods.append(
            PersonPeriod(
                person_id=person_id,
                slack_user_id=slack_user_id,
                display_name=display_name,
                opted_out=bool(opted_out),
                totals=totals_from_row(figures[:n]),
                active_days=day_bits.bit_count(),
                tools=tool_sets[tool_bits],
                kinds=kind_sets[kind_bits],
            )
        )
    return periods


def _owners(conn: Connection, person_ids: list[int] | None) -> dict[int, tuple[Any, ...]]:
    """Linked identities (of `person_ids`, or everyone's) to their person's id, Slack ID,
    display name and opt-out."""
    stmt = select(
        IdentityRow.id,
        PersonRow.id,
        PersonRow.slack_user_id,
        PersonRow.display_name,
        PersonRow.opted_out,
    ).join(PersonRow, PersonRow.id == IdentityRow.person_id)
    if person_ids is not None:
        stmt = stmt.where(IdentityRow.person_id.in_(person_ids))
    return {row[0]: tuple(row[1:]) for row in conn.execute(stmt)}


def _shapes(
    conn: Connection,
    where: Sequence[ColumnElement[bool]],
    tools: list[str],
    kinds: list[str],
    start: date,
) -> dict[int, tuple[int, int, int]]:
    """Per identity its day, tool and kind masks read row by row: for spans longer than a
    mask or with more tools or kinds than one holds (bit i of the name masks is the i-th
    name, in Python's unbounded ints). Only rows that did work, as the figures count, set
    bits; an identity whose rows did none has empty masks."""
    tool_bit = {tool: 1 << i for i, tool in enumerate(tools)}
    kind_bit = {kind: 1 << i for i, kind in enumerate(kinds)}
    shapes: dict[int, tuple[int, int, int]] = {}
    daily = counted_daily(where).c
    stmt = select(daily.identity_id, daily.day, daily.tool, daily.kind).where(works(daily))
    for identity_id, day, tool, kind in conn.execute(stmt.distinct()):
        days, tool_mask, kind_mask = shapes.get(identity_id, (0, 0, 0))
        day_one = 1 << (day - start).days
        shapes[identity_id] = (
            days | day_one,
            tool_mask | tool_bit[tool],
            kind_mask | kind_bit[kind],
        )
    return shapes


def _added(a: Sequence[Any], b: Sequence[Any]) -> list[Any]:
    """Two identities' sums of the same person, column by column; unknown stays unknown
    only when both are (a NULL sum is a figure nobody reported)."""
    return [x if y is None else y if x is None else x + y for x, y in zip(a, b, strict=True)]


def person_daily(db: Database, person_id: int, start: date, end: date) -> list[DailyUsage]:
    """One person's usage per local day, tool and kind, for days start..end inclusive, each
    figure from one source (`storage.precedence`). Reads the person's few rollup rows
    through the (identity, day) index as stored, and applies the rule to them here: the
    same rule in SQL (`storage.counted_daily`) cost `me` several times the read."""
    with db.read() as conn:
        rows = _person_daily_read().rows(conn, {"person_id": person_id, "start": start, "end": end})
    rows.sort(key=_day_tool_kind_origin)
    return counted_days(person_id, rows)


_day_tool_kind_origin = itemgetter(0, 1, 2, 3)


def counted_days(person_id: int, rows: Sequence[Sequence[Any]]) -> list[DailyUsage]:
    """Rows of (day, tool, kind, origin, *figures, events) in (day, tool, kind) order,
    summed per day, tool and kind as they count."""
    daily: list[DailyUsage] = []
    start, count = 0, len(rows)
    while start < count:
        day, tool = rows[start][0], rows[start][1]
        end = start + 1
        while end < count and rows[end][0] == day and rows[end][1] == tool:
            end += 1
        if end == start + 1:  # the common case: one row, from one source
            row = rows[start]
            daily.append(DailyUsage(person_id, day, tool, row[2], Totals(*row[4:])))
        else:
            group = list(rows[start:end])
            if len({tier(row[3]) for row in group}) > 1:
                group = _one_source(group)
            for kind, parts in groupby(group, key=itemgetter(2)):
                daily.append(DailyUsage(person_id, day, tool, kind, _summed(list(parts))))
        start = end
    return daily


def _one_source(group: list[Sequence[Any]]) -> list[Sequence[Any]]:
    """One day and tool's rows of several tiers, each without the figures a higher tier
    carries (`precedence.kept_figures`)."""
    kept = kept_figures(OriginFigures(row[3], Figures(*row[4:-1])) for row in group)
    return [(*row[:4], *figures_of(k), row[-1]) for row, k in zip(group, kept, strict=True)]


def _summed(parts: list[Sequence[Any]]) -> Totals:
    """The figures and events of rows of one day, tool and kind, added as the SQL sums
    are read back (`totals_from_row`): a figure nobody reported stays None."""
    if len(parts) == 1:  # the common case; a stored row is within the rollup's caps
        return Totals(*parts[0][4:])
    columns = zip(*(part[4:] for part in parts), strict=True)
    return totals_from_row([functools.reduce(plus, column) for column in columns])


@functools.cache
def _person_daily_read() -> CompiledRead:
    return CompiledRead(_person_daily_statement())


def _person_daily_statement() -> Select[Any]:
    """`person_daily`'s statement: a person's rollup rows, as stored, in no order. A join
    rather than `IN (subquery)`, and no ORDER BY: SQLite built a list for the one and a
    temporary b-tree for the other, which for a person's few rows cost as much as reading
    them (24 against 14 µs)."""
    span = DailyRow.day.between(bindparam("start", type_=Date), bindparam("end", type_=Date))
    return (
        select(
            DailyRow.day,
            DailyRow.tool,
            DailyRow.kind,
            DailyRow.origin,
            *[getattr(DailyRow, name) for name in SUMMED],
        )
        .select_from(IdentityRow)
        .join(DailyRow, DailyRow.identity_id == IdentityRow.id)
        .where(IdentityRow.person_id == bindparam("person_id", type_=Integer), span)
    )


def rank_inputs(db: Database, start: date, end: date) -> list[RankInput]:
    """Per person with usage on days start..end: active days, suggestions, and the requests
    and tokens that say how much use the week shows, nothing else, so the leaderboard reads
    as little as it can: one grouped pass by identity (see `person_periods`), put together
    per person here."""
    where = [DailyRow.day.between(start, end)]
    masked = (end - start).days + 1 <= MASK_BITS
    n = len(_RANKED)

    def columns(rows: Any) -> tuple[Any, ...]:
        sums = tuple(safe_sum(getattr(rows, name)) for name in _RANKED)
        return (*sums, day_mask(rows, start)) if masked else sums

    spans: dict[int, int] = {}
    with db.read() as conn:
        owners = _owners(conn, None)
        sums = counted_sums_by_identity(conn, where, columns)
        if not masked:  # longer than one mask: spans of masks
            spans = day_masks(conn, start, end, [DailyRow.identity_id.in_(sorted(sums))])
    people: dict[int, list[Any]] = {}
    for identity_id, row in sums.items():
        owner = owners.get(identity_id)
        if owner is None:  # not linked to anyone: counts once it is
            continue
        mask = int(row[n] or 0) if masked else spans.get(identity_id, 0)
        before = people.get(owner[0])
        if before is None:
            people[owner[0]] = [owner[1], *row[:n], mask]
        else:
            people[owner[0]] = [owner[1], *_added(before[1 : n + 1], row[:n]), before[-1] | mask]
    return [
        RankInput(
            person_id=person_id,
            slack_user_id=slack_user_id,
            active_days=mask.bit_count(),
            suggestions_accepted=whole(accepted),
            suggestions_shown=whole(shown),
            requests=whole(requests) or 0,
            tokens=(whole(input_tokens) or 0) + (whole(output_tokens) or 0),
        )
        for person_id, (
            slack_user_id,
            accepted,
            shown,
            requests,
            input_tokens,
            output_tokens,
            mask,
        ) in people.items()
    ]


# The figures the leaderboard reads, in the order `rank_inputs` unpacks them.
_RANKED = (
    "suggestions_accepted",
    "suggestions_shown",
    "requests",
    "input_tokens",
    "output_tokens",
)


def unranked_people(db: Database, week_start: date) -> set[int]:
    """People kept off that week's leaderboard: those who opted out, and those whose week
    has an integrity flag (scripted or wasteful use)."""
    with db.read() as conn:
        return {row[0] for row in _UNRANKED.rows(conn, {"week_start": week_start})}


# Compiled once: `top` reads it on every request. One statement for both, on the opt-out index.
_UNRANKED = CompiledRead(
    union(
        select(PersonRow.id).where(PersonRow.opted_out.is_(True)),
        select(IntegrityFlagRow.person_id).where(
            IntegrityFlagRow.week_start == bindparam("week_start", type_=Date)
        ),
    )
)


def usage_fingerprint(db: Database) -> tuple[int, int, str]:
    """Changes whenever usage is added (new events or rollup rows) or an identity is linked
    to a person: a cheap key for caches of figures computed from usage."""
    with db.read() as conn:
        events = conn.scalar(select(func.max(EventRow.id)))
        daily = conn.scalar(select(func.max(DailyRow.id)))
        linked = conn.scalar(select(func.max(IdentityRow.linked_at)))
    return (events or 0, daily or 0, linked.isoformat() if linked else "")
