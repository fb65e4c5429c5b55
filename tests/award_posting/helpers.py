"""The week, the events and the runs the award posting tests share."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select, update

from bot.composition import award_config, slack_notifier
from jobs.awards import post_week
from jobs.weeks import Week
from storage.db import Database
from storage.models import PersonRow
from storage.post_models import LeaderboardStateRow
from storage.records import UsageEvent, UserRef

WEEK = Week(date(2026, 11, 9))  # the last complete week at the `now` fixture
MONDAY = datetime(2026, 11, 9, tzinfo=UTC)


def usage(user: str, at: datetime, n: int, **fields) -> UsageEvent:
    fields.setdefault("tool", "kiro")
    return UsageEvent(
        event_id=f"{user}-{n}", user=UserRef(slack_user_id=user), occurred_at=at, **fields
    )


def run(settings, db, clock):
    return post_week(db, slack_notifier(settings), award_config(settings), WEEK, clock)


def statuses(report):
    return [r.status for r in report.results]


def retire(db) -> None:
    with db.engine.begin() as conn:
        conn.execute(update(LeaderboardStateRow).values(status="retired"))


def person_id(db: Database, slack_user_id: str) -> int:
    """The stored person's id for a Slack user."""
    with db.read() as conn:
        return conn.execute(
            select(PersonRow.id).where(PersonRow.slack_user_id == slack_user_id)
        ).scalar_one()
