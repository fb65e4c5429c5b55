"""The leaderboard's single state row: active, or retired by an admin."""

from __future__ import annotations

from sqlalchemy import select

from storage.db import Database
from storage.models import LeaderboardStateRow
from storage.records import LeaderboardState


def leaderboard_state(db: Database) -> LeaderboardState:
    """The current state; a database without the row counts as active."""
    with db.read() as conn:
        row = conn.execute(_STATE).one_or_none()
        if row is None:
            return LeaderboardState(status="active")
        return LeaderboardState(
            status=row.status,
            announcement=row.announcement,
            changed_by=row.changed_by,
            changed_at=row.changed_at,
            resume_week=row.resume_week,
        )


# Built once: `top` reads it on every request.
_STATE = select(LeaderboardStateRow).where(LeaderboardStateRow.id == 1)
