"""Per-person totals over a span of days, straight from the daily rollup."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any, cast

from sqlalchemy import Connection, case, distinct, func, select

from storage.daily_sums import MASK_DAYS, day_bit, safe_sum, summed_totals, totals_from_row, whole
from storage.db import Database
from storage.models import DailyRow, EventRow, IdentityRow, IntegrityFlagRow, PersonRow
from storage.records import DailyUsage, PersonPeriod, RankInput


def person_periods(
    db: Database, start: date, end: date, person_ids: list[int] | None = None
) -> list[PersonPeriod]:
    """Everyone with usage on days start..end inclusive (or just `person_ids`), by person id.
    A day counts as active when any request or event was recorded on it.

    Everyone's week is hundreds of thousands of rollup rows, so the figures, the active days
    and the tools and kinds are three grouped reads by identity alone (no joins per row),
    run side by side on their own connections, and put together per person here."""
    with db.read() as conn:
        owners = _owners(conn, person_ids)
    if not owners:
        return []
    identities = None if person_ids is None else sorted(owners)
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="periods") as pool:
        sums_job = pool.submit(_identity_sums, db, start, end, identities)
        masks_job = pool.submit(day_masks, db, start, end, identities)
        breadth_job = pool.submit(_identity_breadth, db, start, end, identities)
        sums, masks, breadth = sums_job.result(), masks_job.result(), breadth_job.result()

    summed: dict[int, list[Any]] = {}
    days: dict[int, int] = {}
    shapes: dict[int, tuple[int, int]] = {}
    for identity_id, *figures in sums:
        owner = owners.get(identity_id)
        if owner is None:  # not linked to anyone: counts once it is
            continue
        person_id = owner[0]
        before = summed.get(person_id)
        summed[person_id] = figures if before is None else _added(before, figures)
    for identity_id, mask in masks.items():
        owner = owners.get(identity_id)
        if owner is not None:
            days[owner[0]] = days.get(owner[0], 0) | mask
    tool_names, kind_names, identity_shapes = breadth
    for identity_id, (tool_mask, kind_mask) in identity_shapes.items():
        owner = owners.get(identity_id)
        if owner is not None:
            tools_before, kinds_before = shapes.get(owner[0], (0, 0))
            shapes[owner[0]] = (tools_before | tool_mask, kinds_before | kind_mask)
    people = {owner[0]: owner for owner in owners.values()}
    tool_sets, kind_sets = _NamedSets(tool_names), _NamedSets(kind_names)
    periods = []
    for person_id in sorted(summed):
        _, slack_user_id, display_name, opted_out = people[person_id]
        tool_mask, kind_mask = shapes.get(person_id, (0, 0))
        periods.append(
            PersonPeriod(
                person_id=person_id,
                slack_user_id=slack_user_id,
                display_name=display_name,
                opted_out=bool(opted_out),
                totals=totals_from_row(summed[person_id]),
                active_days=days.get(person_id, 0).bit_count(),
                tools=tool_sets[tool_mask],
                kinds=kind_sets[kind_mask],
            )
        )
    return periods


def day_masks(
    db: Database, first: date, last: date, identities: list[int] | None = None
) -> dict[int, int]:
    """Per identity with usage on days first..last, a bitmask of its active days (bit 0 is
    `first`). Read in spans of MASK_DAYS, whose masks fit in a 64-bit sum, on the (day,
    identity) index alone."""
    masks: dict[int, int] = {}
    with db.read() as conn:
        span_start = first
        while span_start <= last:
            span_end = min(last, span_start + timedelta(days=MASK_DAYS - 1))
            offset = (span_start - first).days
            where = [DailyRow.day.between(span_start, span_end)]
            if identities is not None:
                where.append(DailyRow.identity_id.in_(identities))
            stmt = (
                select(DailyRow.identity_id, func.sum(distinct(day_bit(DailyRow.day, span_start))))
                .where(*where)
                .group_by(DailyRow.identity_id)
            )
            for identity_id, mask in conn.execute(stmt).all():
                masks[identity_id] = masks.get(identity_id, 0) | (int(mask) << offset)
            span_start = span_end + timedelta(days=1)
    return masks


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
    return {row[0]: tuple(row[1:]) for row in conn.execute(stmt).all()}


def _identity_sums(db: Database, start: date, end: date, identities: list[int] | None) -> list[Any]:
    where = [DailyRow.day.between(start, end)]
    if identities is not None:
        where.append(DailyRow.identity_id.in_(identities))
    stmt = (
        select(DailyRow.identity_id, *summed_totals()).where(*where).group_by(DailyRow.identity_id)
    )
    with db.read() as conn:
        return list(conn.execute(stmt).all())


def _identity_breadth(
    db: Database, start: date, end: date, identities: list[int] | None
) -> tuple[list[str], list[str], dict[int, tuple[int, int]]]:
    """The tools and kinds of work used, and per identity a bitmask of each (bit i is the
    i-th name). The few distinct tools and kinds are read first; then each identity's masks
    are summed on the (day, identity, tool, kind) index, instead of reading a row per
    identity, tool and kind."""
    where = [DailyRow.day.between(start, end)]
    if identities is not None:
        where.append(DailyRow.identity_id.in_(identities))
    with db.read() as conn:
        pairs = conn.execute(select(DailyRow.tool, DailyRow.kind).where(*where).distinct()).all()
        tools = sorted({tool for tool, _ in pairs})
        kinds = sorted({kind for _, kind in pairs})
        shapes: dict[int, tuple[int, int]] = {}
        if not pairs:  # nobody used anything: no CASE to build
            return tools, kinds, shapes
        if len(tools) > MASK_DAYS or len(kinds) > MASK_DAYS:  # too many for a SQL integer
            tool_bits = {tool: 1 << i for i, tool in enumerate(tools)}
            kind_bits = {kind: 1 << i for i, kind in enumerate(kinds)}
            stmt = select(DailyRow.identity_id, DailyRow.tool, DailyRow.kind).where(*where)
            for identity_id, tool, kind in conn.execute(stmt.distinct()).all():
                tool_mask, kind_mask = shapes.get(identity_id, (0, 0))
                shapes[identity_id] = (tool_mask | tool_bits[tool], kind_mask | kind_bits[kind])
            return tools, kinds, shapes
        tool_bit = case({tool: 1 << i for i, tool in enumerate(tools)}, value=DailyRow.tool)
        kind_bit = case({kind: 1 << i for i, kind in enumerate(kinds)}, value=DailyRow.kind)
        stmt = (
            select(
                DailyRow.identity_id,
                func.sum(distinct(tool_bit)),
                func.sum(distinct(kind_bit)),
            )
            .where(*where)
            .group_by(DailyRow.identity_id)
        )
        for identity_id, tools_used, kinds_used in conn.execute(stmt).all():
            shapes[identity_id] = (int(tools_used), int(kinds_used))
    return tools, kinds, shapes


class _NamedSets(dict[int, frozenset[str]]):
    """The set of names a mask stands for, built once per mask: a week of everyone has only
    a handful of distinct combinations."""

    def __init__(self, names: list[str]) -> None:
        super().__init__()
        self.names = names

    def __missing__(self, mask: int) -> frozenset[str]:
        named = frozenset(name for i, name in enumerate(self.names) if mask >> i & 1)
        self[mask] = named
        return named


def _added(a: list[Any], b: list[Any]) -> list[Any]:
    """Two identities' sums of the same person, column by column; unknown stays unknown
    only when both are (a NULL sum is a figure nobody reported)."""
    return [x if y is None else y if x is None else x + y for x, y in zip(a, b, strict=True)]


def person_daily(db: Database, person_id: int, start: date, end: date) -> list[DailyUsage]:
    """One person's usage per local day, tool and kind, for days start..end inclusive.
    Reads through the person's identities so the (identity, day) index does the work."""
    identities = select(IdentityRow.id).where(IdentityRow.person_id == person_id)
    stmt = (
        select(DailyRow.day, DailyRow.tool, DailyRow.kind, *summed_totals())
        .where(DailyRow.identity_id.in_(identities), DailyRow.day.between(start, end))
        .group_by(DailyRow.day, DailyRow.tool, DailyRow.kind)
        .order_by(DailyRow.day, DailyRow.tool, DailyRow.kind)
    )
    with db.read() as conn:
        rows = conn.execute(stmt).all()
    return [
        DailyUsage(
            person_id=person_id,
            day=row[0],
            tool=row[1],
            kind=row[2],
            totals=totals_from_row(row[3:]),
        )
        for row in rows
    ]


def rank_inputs(db: Database, start: date, end: date) -> list[RankInput]:
    """Per person with usage on days start..end: active days and suggestions, nothing else,
    so the leaderboard reads as little as it can."""
    stmt = (
        select(
            IdentityRow.person_id,
            PersonRow.slack_user_id,
            func.count(func.distinct(DailyRow.day)),
            safe_sum(DailyRow.suggestions_accepted),
            safe_sum(DailyRow.suggestions_shown),
        )
        .join(IdentityRow, IdentityRow.id == DailyRow.identity_id)
        .join(PersonRow, PersonRow.id == IdentityRow.person_id)
        .where(DailyRow.day.between(start, end))
        .group_by(IdentityRow.person_id, PersonRow.slack_user_id)
    )
    with db.read() as conn:
        rows = conn.execute(stmt).all()
    return [
        RankInput(
            person_id=cast(int, row[0]),  # linked identities only
            slack_user_id=row[1],
            active_days=int(row[2]),
            suggestions_accepted=whole(row[3]),
            suggestions_shown=whole(row[4]),
        )
        for row in rows
    ]


def unranked_people(db: Database, week_start: date) -> set[int]:
    """People kept off that week's leaderboard: those who opted out, and those whose week
    has an integrity flag (scripted or wasteful use)."""
    with db.read() as conn:
        opted_out = conn.execute(select(PersonRow.id).where(PersonRow.opted_out.is_(True)))
        flagged = conn.execute(
            select(IntegrityFlagRow.person_id).where(IntegrityFlagRow.week_start == week_start)
        )
        return set(opted_out.scalars()) | set(flagged.scalars())


def usage_fingerprint(db: Database) -> tuple[int, int, str]:
    """Changes whenever usage is added (new events or rollup rows) or an identity is linked
    to a person: a cheap key for caches of figures computed from usage."""
    with db.read() as conn:
        events = conn.scalar(select(func.max(EventRow.id)))
        daily = conn.scalar(select(func.max(DailyRow.id)))
        linked = conn.scalar(select(func.max(IdentityRow.linked_at)))
    return (events or 0, daily or 0, linked.isoformat() if linked else "")
