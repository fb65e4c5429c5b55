"""Awards (badges) won, one per category and week."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from storage.db import Database
from storage.models import AwardRow
from storage.records import Award


def record_award(
    db: Database, person_id: int, week_start: date, category: str, reason: str, now: datetime
) -> None:
    """Store that a person won `category` for the week starting `week_start`."""
    with db.write() as conn:
        conn.execute(
            AwardRow.__table__.insert().values(
                person_id=person_id,
                week_start=week_start,
                category=category,
                reason=reason,
                created_at=now,
            )
        )


def awards_for_person(db: Database, person_id: int, limit: int | None = None) -> list[Award]:
    """A person's awards, newest week first."""
    stmt = (
        select(
            AwardRow.person_id,
            AwardRow.week_start,
            AwardRow.category,
            AwardRow.reason,
            AwardRow.created_at,
        )
        .where(AwardRow.person_id == person_id)
        .order_by(AwardRow.week_start.desc(), AwardRow.category)
        .limit(limit)
    )
    with db.read() as conn:
        rows = conn.execute(stmt).all()
    return [Award(*row) for row in rows]
