"""Fixtures of the award posting tests: a fake Slack, settings pointing at it and two award
channels, and a week of usage."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.demo.fake_slack import FakeSlack
from bot.settings import load_settings
from storage.events import record_events
from storage.integrations import create_integration
from tests.award_posting.helpers import MONDAY, usage


@pytest.fixture
def fake():
    server = FakeSlack(channels={"CAWARDS", "CGENERAL", "CLOCKED"}, not_in={"CLOCKED"}).start()
    yield server
    server.stop()


@pytest.fixture
def settings(settings, fake, monkeypatch):
    """Settings with a bot token, the fake Slack and two award channels."""
    monkeypatch.setenv("SLACK_API_URL", fake.api_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("AIUSAGE_AWARD_CHANNELS", "CAWARDS,CGENERAL")
    return load_settings()


@pytest.fixture
def week_of_usage(db, now):
    """Alice uses AI every weekday, Bob widely on three days, Dave runs a 60-second loop."""
    integration, _ = create_integration(db, "kiro", now)
    events = []
    for day in range(5):
        events.append(
            usage(
                "UALICE",
                MONDAY + timedelta(days=day, hours=10),
                day,
                tool="kiro",
                kind="inline_suggestion",
                input_tokens=3000,
                suggestions_shown=20,
                suggestions_accepted=9,
            )
        )
    # Bob's three days are sessions of several requests: three bare one-request events, a
    # week's whole use, are below the use every badge now asks for (20 requests' worth).
    for n, (day, tool, kind) in enumerate(
        [(0, "kiro", "chat"), (1, "copilot", "agent"), (2, "copilot", "completion")]
    ):
        at = MONDAY + timedelta(days=day, hours=14)
        events.append(usage("UBOB", at, n, tool=tool, kind=kind, requests=8, input_tokens=2000))
    for n in range(45):
        day = n % 6  # six active days, more than Alice
        at = MONDAY + timedelta(days=day, hours=3, seconds=60 * (n // 6))
        events.append(usage("UDAVE", at, n, tool="kiro", kind="chat"))
    loop_start = MONDAY + timedelta(days=6, hours=2)
    events += [
        usage("UDAVE", loop_start + timedelta(seconds=60 * i), 100 + i, tool="kiro", kind="chat")
        for i in range(40)
    ]
    record_events(db, integration.id, events, now)
