"""Builders shared by the posting tests: a week whose awards have a winner."""

from __future__ import annotations

from datetime import UTC, datetime, time

from jobs.weeks import Week
from storage.db import Database
from storage.events import record_events
from storage.integrations import create_integration
from storage.records import UsageEvent, UserRef


def seed_award_week(db: Database, week: Week, now: datetime) -> None:
    """Alice uses AI on five days of `week`, accepting suggestions: she wins a badge."""
    integration, _ = create_integration(db, "kiro", now)
    events = [
        UsageEvent(
            event_id=f"alice-{day}",
            user=UserRef(slack_user_id="UALICE"),
            occurred_at=datetime.combine(day, time(10), UTC),
            tool="kiro",
            kind="inline_suggestion",
            input_tokens=3000,
            suggestions_shown=20,
            suggestions_accepted=9,
        )
        for day in week.days()[:5]
    ]
    record_events(db, integration.id, events, now)
