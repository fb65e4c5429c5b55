"""Weeks and "today" are the configured zone's, across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from tests.builders import bearer, event
from tests.slack_command_helpers import text_of


@pytest.fixture
def timezone():
    return ZoneInfo("Europe/Berlin")


def ingest_at(slack, api_key, *moments):
    events = [
        event(user={"slack_user_id": "UALICE"}, occurred_at=m.isoformat(), requests=1)
        for m in moments
    ]
    response = slack.http.post("/api/v1/events", json={"events": events}, headers=bearer(api_key))
    assert response.json()["accepted"] == len(events), response.text


@pytest.mark.parametrize(
    ("sunday_late", "monday_early", "monday_label", "new_week"),
    [
        # Spring forward: Sunday 29 March 2026 is 23 hours long; Monday starts at 22:00 UTC.
        (
            datetime(2026, 3, 29, 21, 30, tzinfo=UTC),  # 23:30 CEST Sunday
            datetime(2026, 3, 29, 22, 30, tzinfo=UTC),  # 00:30 CEST Monday
            "Mon 30 Mar",
            "2026-W14",
        ),
        # Fall back: Sunday 25 October 2026 is 25 hours long; Monday starts at 23:00 UTC.
        (
            datetime(2026, 10, 25, 22, 30, tzinfo=UTC),  # 23:30 CET Sunday
            datetime(2026, 10, 25, 23, 30, tzinfo=UTC),  # 00:30 CET Monday
            "Mon 26 Oct",
            "2026-W44",
        ),
    ],
)
def test_the_week_turns_at_local_midnight_across_dst(
    slack, api_key, sunday_late, monday_early, monday_label, new_week
):
    slack.move_to(monday_early)
    ingest_at(slack, api_key, sunday_late, monday_early)
    # Still Sunday in UTC, but Monday in Berlin: a new week has begun, with one request.
    text = text_of(slack.ask("me"))
    assert f"Your AI usage, week {new_week}" in text
    assert f"{monday_label} to today ({monday_label})" in text
    assert "*Requests:* 1  (last week: 0)" in text  # Sunday's falls in last week
    assert "last week in full: 1" in text
    top = text_of(slack.ask("top"))
    assert f"Leaderboard, week {new_week}" in top
    # One request is less use than the board ranks (20 requests' worth); "not ranked yet",
    # not "not on the board yet", says Monday's request counts in the new week.
    assert "*Your place:* not ranked yet" in top
