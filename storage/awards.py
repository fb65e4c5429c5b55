"""Badges won: stored once per week (the first decision wins) and read back per person."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from sqlalchemy import Connection, case, func, select

from storage.db import Database
from storage.dialect import insert_ignore
from storage.models import AwardRow, DailyRow, IdentityRow, PersonRow
from storage.records import Award, NewAward, Person


def store_awards(
    db: Database, week_start: date, awards: Sequence[NewAward], now: datetime
) -> list[Award]:
    """Store a week's awards unless the week already has some, and return what is stored:
    a re-run, a second replica or a later recompute gets the winners first decided."""
    with db.write() as conn:
        if not _week(conn, week_start) and awards:
            conn.execute(
                insert_ignore(conn, AwardRow),
                [
                    {
                        "person_id": award.person_id,
                        "week_start": week_start,
                        "category": award.category,
                        "reason": award.reason,
                        "created_at": now,
                    }
                    for award in awards
                ],
            )
        return _week(conn, week_start)


def week_awards(db: Database, week_start: date) -> list[Award]:
    """The awards stored for a week, in the order they were decided."""
    with db.read() as conn:
        return _week(conn, week_start)


def awards_for(db: Database, person_id: int, limit: int | None = None) -> list[Award]:
    """A person's badges, newest week first."""
    with db.read() as conn:
        rows = conn.execute(
            _select()
            .where(AwardRow.person_id == person_id)
            .order_by(AwardRow.week_start.desc(), AwardRow.id)
            .limit(limit)
        ).all()
    return [_award(row) for row in rows]


def active_days_history(db: Database, week_starts: Sequence[date]) -> dict[int, list[int]]:
    """Per person, the number of active days in each of the given weeks (Monday dates), in
    the order given; one grouped query instead of a full per-person read per week."""
    if not week_starts:
        return {}
    index = case(
        *[
            (DailyRow.day.between(start, start + timedelta(days=6)), i)
            for i, start in enumerate(week_starts)
        ],
        else_=-1,
    ).label("week_index")
    stmt = (
        select(IdentityRow.person_id, index, func.count(func.distinct(DailyRow.day)))
        .join(IdentityRow, IdentityRow.id == DailyRow.identity_id)
        .where(
            DailyRow.day.between(min(week_starts), max(week_starts) + timedelta(days=6)),
            IdentityRow.person_id.is_not(None),
        )
        .group_by(IdentityRow.person_id, index)
    )
    history: dict[int, list[int]] = {}
    with db.read() as conn:
        for person_id, week_index, days in conn.execute(stmt):
            if week_index >= 0:
                history.setdefault(person_id, [0] * len(week_starts))[week_index] = int(days)
    return history


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
