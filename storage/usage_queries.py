"""Per-person totals over a span of days, straight from the daily rollup."""

from __future__ import annotations

from datetime import date
from typing import cast

from sqlalchemy import func, select

from storage.counted_daily import counted_daily
from storage.daily_sums import SUMMED, safe_sum, summed_totals, totals_from_row, whole
from storage.db import Database
from storage.models import DailyRow, EventRow, IdentityRow, IntegrityFlagRow, PersonRow
from storage.records import DailyUsage, PersonPeriod, RankInput


def person_periods(
    db: Database, start: date, end: date, person_ids: list[int] | None = None
) -> list[PersonPeriod]:
    """Everyone with usage on days start..end inclusive (or just `person_ids`), by person id.
    A day counts as active when any request or event was recorded on it."""
    where = [DailyRow.day.between(start, end)]
    if person_ids is not None:
        where.append(IdentityRow.person_id.in_(person_ids))
    daily = counted_daily(where)
    counted = daily.c
    totals_stmt = (
        select(
            PersonRow.id,
            PersonRow.slack_user_id,
            PersonRow.display_name,
            PersonRow.opted_out,
            *summed_totals(counted),
            func.count(func.distinct(counted.day)),
        )
        .select_from(daily)
        .join(PersonRow, PersonRow.id == counted.person_id)
        .group_by(
            PersonRow.id, PersonRow.slack_user_id, PersonRow.display_name, PersonRow.opted_out
        )
        .order_by(PersonRow.id)
    )
    breadth_stmt = (
        select(IdentityRow.person_id, DailyRow.tool, DailyRow.kind)
        .join(IdentityRow, IdentityRow.id == DailyRow.identity_id)
        .where(*where, IdentityRow.person_id.is_not(None))
        .distinct()
    )
    with db.read() as conn:
        rows = conn.execute(totals_stmt).all()
        tools: dict[int, set[str]] = {}
        kinds: dict[int, set[str]] = {}
        for person_id, tool, kind in conn.execute(breadth_stmt):
            assert person_id is not None  # the statement keeps linked identities only
            tools.setdefault(person_id, set()).add(tool)
            kinds.setdefault(person_id, set()).add(kind)
    return [
        PersonPeriod(
            person_id=row[0],
            slack_user_id=row[1],
            display_name=row[2],
            opted_out=bool(row[3]),
            totals=totals_from_row(row[4 : 4 + len(SUMMED)]),
            active_days=int(row[4 + len(SUMMED)]),
            tools=frozenset(tools.get(row[0], ())),
            kinds=frozenset(kinds.get(row[0], ())),
        )
        for row in rows
    ]


def person_daily(db: Database, person_id: int, start: date, end: date) -> list[DailyUsage]:
    """One person's usage per local day, tool and kind, for days start..end inclusive.
    Reads through the person's identities so the (identity, day) index does the work."""
    identities = select(IdentityRow.id).where(IdentityRow.person_id == person_id)
    daily = counted_daily([DailyRow.identity_id.in_(identities), DailyRow.day.between(start, end)])
    counted = daily.c
    stmt = (
        select(counted.day, counted.tool, counted.kind, *summed_totals(counted))
        .group_by(counted.day, counted.tool, counted.kind)
        .order_by(counted.day, counted.tool, counted.kind)
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
    daily = counted_daily([DailyRow.day.between(start, end)])
    counted = daily.c
    stmt = (
        select(
            counted.person_id,
            PersonRow.slack_user_id,
            func.count(func.distinct(counted.day)),
            safe_sum(counted.suggestions_accepted),
            safe_sum(counted.suggestions_shown),
        )
        .select_from(daily)
        .join(PersonRow, PersonRow.id == counted.person_id)
        .group_by(counted.person_id, PersonRow.slack_user_id)
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
