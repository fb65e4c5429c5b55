"""The org view's weeks are ISO weeks in AIUSAGE_TIMEZONE: usage late on a UTC Sunday is
Monday in Auckland, and counts in the Auckland week it fell in."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.settings import load_settings
from storage.events import record_events
from storage.integrations import create_integration
from storage.records import UsageEvent, UserRef
from tests.slack_command_helpers import text_of


@pytest.fixture
def timezone() -> ZoneInfo:
    return ZoneInfo("Pacific/Auckland")


@pytest.fixture
def slack_settings(slack_settings, monkeypatch):
    monkeypatch.setenv("AIUSAGE_INSIGHT_VIEWERS", "UALICE")
    return load_settings()


def test_a_utc_sunday_evening_is_this_auckland_week(slack, db, now):
    # now: Wed 18 Nov 12:00 UTC, Thu 19 Nov in Auckland (2026-W47 there).
    integration, _ = create_integration(db, "seed", now)
    sunday_utc = datetime(2026, 11, 15, 12, 30, tzinfo=UTC)  # Mon 16 Nov 01:30 in Auckland
    before = datetime(2026, 11, 15, 10, 30, tzinfo=UTC)  # Sun 15 Nov 23:30 in Auckland
    events = [
        UsageEvent(f"e{i}", UserRef(slack_user_id=f"U{i}"), sunday_utc, "kiro", requests=2)
        for i in range(5)
    ]
    events.append(UsageEvent("late", UserRef(slack_user_id="U9"), before, "kiro", requests=7))
    record_events(db, integration.id, events, now)
    text = text_of(slack.ask("org"))
    assert "week 2026-W47" in text
    assert "*5 people with usage, 10 requests, 0 tokens, cost not reported*" in text
