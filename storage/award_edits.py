"""Award posts owed an edit since a forget: one row per week, written in the forget's
transaction and deleted once every channel's message of that week is rewritten."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import Connection, delete, or_, select, update

from storage.db import Database
from storage.dialect import insert_ignore
from storage.post_models import AwardEditRow
from storage.records import OwedEdit


def owe_award_edits(conn: Connection, weeks: Sequence[date], now: datetime) -> None:
    """Owe an edit of each week's award posts, inside the forget's transaction; a week
    already owed is owed again (a new generation, tried at once)."""
    for week in weeks:
        conn.execute(
            insert_ignore(conn, AwardEditRow),
            {"week_start": week, "generation": 0, "owed_at": now, "attempts": 0},
        )
        conn.execute(
            update(AwardEditRow)
            .where(AwardEditRow.week_start == week)
            .values(
                generation=AwardEditRow.generation + 1,
                owed_at=now,
                attempts=0,
                check_after=None,
            )
        )


def owed_award_edits(db: Database, due_at: datetime | None = None) -> list[OwedEdit]:
    """Every week still owed an edit, oldest first; with `due_at`, only those whose next
    try is due by then."""
    query = select(AwardEditRow).order_by(AwardEditRow.week_start)
    if due_at is not None:
        query = query.where(
            or_(AwardEditRow.check_after.is_(None), AwardEditRow.check_after <= due_at)
        )
    with db.read() as conn:
        return [
            OwedEdit(
                week_start=row.week_start,
                generation=row.generation,
                owed_at=row.owed_at,
                attempts=row.attempts,
                check_after=row.check_after,
                error=row.error,
            )
            for row in conn.execute(query)
        ]


def settle_award_edit(db: Database, owed: OwedEdit) -> bool:
    """The week's posts are rewritten: no longer owed, unless a forget owed it again since."""
    with db.write() as conn:
        gone = conn.execute(
            delete(AwardEditRow).where(
                AwardEditRow.week_start == owed.week_start,
                AwardEditRow.generation == owed.generation,
            )
        ).rowcount
    return gone == 1


def defer_award_edit(db: Database, owed: OwedEdit, error: str, check_after: datetime) -> None:
    """Not all of the week's posts could be rewritten: try again from `check_after`."""
    with db.write() as conn:
        conn.execute(
            update(AwardEditRow)
            .where(
                AwardEditRow.week_start == owed.week_start,
                AwardEditRow.generation == owed.generation,
            )
            .values(attempts=AwardEditRow.attempts + 1, check_after=check_after, error=error[:200])
        )
