"""The leaderboard's single state row: active, or retired by an admin."""

from __future__ import annotations

from sqlalchemy import select

from storage.compiled import CompiledRead
from storage.db import Database
from storage.post_models import LeaderboardStateRow
from storage.records import LeaderboardState


def leaderboard_state(db: Database) -> LeaderboardState:
    """The current state; a database without the row counts as active."""
    with db.read() as conn:
        rows = _STATE.rows(conn, {})
    if not rows:
        return LeaderboardState(status="active")
    status, announcement, changed_by, changed_at, resume_week = rows[0]
    return LeaderboardState(
        status=status,
        announcement=announcement,
        changed_by=changed_by,
        changed_at=changed_at,
        resume_week=resume_week,
    )


# Compiled once: `top` reads it on every request.
_STATE = CompiledRead(
    select(
        LeaderboardStateRow.status,
        LeaderboardStateRow.announcement,
        LeaderboardStateRow.changed_by,
        LeaderboardStateRow.changed_at,
        LeaderboardStateRow.resume_week,
    ).where(LeaderboardStateRow.id == 1)
)
