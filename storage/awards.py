"""Badges won: stored once per week (the first decision wins) and read back per person."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Integer, Select, bindparam, select

from storage.compiled import CompiledRead
from storage.db import Database
from storage.dialect import insert_ignore
from storage.models import AwardRow, IdentityRow, PersonRow
from storage.person_writes import standing_people
from storage.records import Award, NewAward, Person
from storage.usage_masks import day_masks

WEEK_BITS = 0b1111111  # seven days of an active-day mask


def store_awards(
    db: Database, week_start: date, awards: Sequence[NewAward], now: datetime
) -> list[Award]:
    """Store a week's awards unless the week already has some, and return what is stored:
    a re-run, a second replica or a later recompute gets the winners first decided. A
    winner forgotten since the week was read is left out, as they would have been before."""
    with db.write() as conn:
        if not _week(conn, week_start) and awards:
            standing = standing_people(conn, [award.person_id for award in awards])
            rows = [
                {
                    "person_id": award.person_id,
                    "week_start": week_start,
                    "category": award.category,
                    "reason": award.reason,
                    "created_at": now,
                }
                for award in awards
                if award.person_id in standing
            ]
            if rows:
                conn.execute(insert_ignore(conn, AwardRow), rows)
        return _week(conn, week_start)


def week_awards(db: Database, week_start: date) -> list[Award]:
    """The awards stored for a week, in the order they were decided."""
    with db.read() as conn:
        return _week(conn, week_start)


def awards_for(db: Database, person_id: int, limit: int | None = None) -> list[Award]:
    """A person's badges, newest week first."""
    with db.read() as conn:
        if limit is None:
            rows: Any = conn.execute(_person_awards(False), {"p": person_id})
        else:  # `me`, on every request
            rows = _latest_awards().rows(conn, {"p": person_id, "n": limit})
        return [_award(row) for row in rows]


@functools.cache
def _person_awards(limited: bool) -> Select[Any]:
    """`awards_for`'s statement, built once: `me` reads it on every request, and building
    it costs more than running it."""
    stmt = (
        _select()
        .where(AwardRow.person_id == bindparam("p", type_=Integer))
        .order_by(AwardRow.week_start.desc(), AwardRow.id)
    )
    return stmt.limit(bindparam("n", type_=Integer)) if limited else stmt


@functools.cache
def _latest_awards() -> CompiledRead:
    return CompiledRead(_person_awards(True))


def active_days_history(db: Database, week_starts: Sequence[date]) -> dict[int, list[int]]:
    """Per person, the number of active days in each of the given weeks (Monday dates), in
    the order given. One grouped read of active-day masks for the whole span (days with
    work, as the figures count: `usage_masks.day_masks`), rather than a count of distinct
    days per person and week."""
    if not week_starts:
        return {}
    first = min(week_starts)
    with db.read() as conn:
        masks = day_masks(conn, first, max(week_starts) + timedelta(days=6))
        linked = select(IdentityRow.id, IdentityRow.person_id).where(
            IdentityRow.person_id.is_not(None)
        )
        owners = {identity_id: person_id for identity_id, person_id in conn.execute(linked)}
    by_person: dict[int, int] = {}
    for identity_id, mask in masks.items():
        person_id = owners.get(identity_id)
        if person_id is not None:
            by_person[person_id] = by_person.get(person_id, 0) | mask
    offsets = [(start - first).days for start in week_starts]
    return {
        person_id: [(mask >> offset & WEEK_BITS).bit_count() for offset in offsets]
        for person_id, mask in by_person.items()
    }


def people_by_id(db: Database, person_ids: Sequence[int]) -> dict[int, Person]:
    """The people with these ids: who to name in a post, and who has opted out since."""
    if not person_ids:
        return {}
    with db.read() as conn:
        rows = conn.execute(select(PersonRow).where(PersonRow.id.in_(sorted(set(person_ids)))))
        return {
            row.id: Person(
                id=row.id,
                slack_user_id=row.slack_user_id,
                email=row.email,
                display_name=row.display_name,
                tz=row.tz,
                opted_out=row.opted_out,
            )
            for row in rows
        }


def _week(conn: Connection, week_start: date) -> list[Award]:
    rows = conn.execute(
        _select().where(AwardRow.week_start == week_start).order_by(AwardRow.id)
    ).all()
    return [_award(row) for row in rows]


def _select():
    return select(
        AwardRow.person_id,
        PersonRow.slack_user_id,
        AwardRow.week_start,
        AwardRow.category,
        AwardRow.reason,
        AwardRow.created_at,
    ).join(PersonRow, PersonRow.id == AwardRow.person_id)


def _award(row) -> Award:
    return Award(
        person_id=row[0],
        slack_user_id=row[1],
        week_start=row[2],
        category=row[3],
        reason=row[4],
        created_at=row[5],
    )
