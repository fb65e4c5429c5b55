"""The integrity rules read raw events one person at a time from a streamed query
(`storage.integrity.event_moments`): however the rows are fetched, every person's events
reach the rules whole, split into the baseline weeks and the week judged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time

from bot.cli.main import main
from storage import integrity
from storage.events import record_events
from storage.integrations import create_integration
from storage.records import UsageEvent, UserRef

MONDAY = datetime(2026, 11, 9, tzinfo=UTC)  # 2026-W46, the last complete week at `now`


def loop(user: str, start: datetime, count: int) -> list[UsageEvent]:
    """A request every 60 s: a metronome the rules flag."""
    return [
        UsageEvent(
            event_id=f"{user}-{i}",
            user=UserRef(slack_user_id=user),
            occurred_at=start + timedelta(seconds=60 * i),
            tool="kiro",
            kind="chat",
        )
        for i in range(count)
    ]


@pytest.fixture
def usage(db, now):
    """Two metronomes in the week (the first and the last person made), a human between them,
    and baseline weeks of usage for all three."""
    integration, _ = create_integration(db, "kiro", now)
    for user in ("UAAA", "UMMM", "UZZZ"):
        baseline = [
            UsageEvent(
                event_id=f"{user}-base-{day}",
                user=UserRef(slack_user_id=user),
                occurred_at=MONDAY - timedelta(days=day, hours=-10),
                tool="kiro",
            )
            for day in range(1, 20)
        ]
        week = (
            loop(user, MONDAY + timedelta(days=2, hours=2), 40)
            if user != "UMMM"
            else [e for d in range(5) for e in loop(f"{user}{d}", MONDAY + timedelta(days=d), 1)]
        )
        for event in week:
            event.user = UserRef(slack_user_id=user)
        record_events(db, integration.id, baseline + week, now)


def preview(capsys) -> list[str]:
    with freeze_time("2026-11-18 12:00:00"):
        assert main(["awards", "preview", "--week", "2026-W46"]) == 0
    return [line for line in capsys.readouterr().out.splitlines() if "regular_spacing" in line]


def test_flags_are_the_same_whatever_the_rows_fetched_at_a_time(
    settings, db, usage, capsys, monkeypatch
):
    whole = preview(capsys)
    assert [line.split()[0] for line in whole] == ["UAAA", "UZZZ"]
    assert all("40 requests 60.0 s apart" in line for line in whole)
    monkeypatch.setattr(integrity, "STREAM_ROWS", 3)
    assert preview(capsys) == whole
