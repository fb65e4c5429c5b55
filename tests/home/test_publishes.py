"""One person's Home publishes land in order (a forget's or a setting's last), merge while one
is under way, finish before the app stops, and rate limits hold up nobody else."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time

import pytest
from starlette.testclient import TestClient

from bot.composition import create_http_app
from bot.demo.signed_requests import app_home_opened
from bot.slack.views.home import OPT_OUT_ACTION
from storage.profiles import find_slack_profile
from tests.builders import event
from tests.home.helpers import as_view, hold_first_publish, ingest, open_home, post_open, wait_until
from tests.privacy.helpers import clicked
from tests.slack_command_helpers import text_of
from tests.slack_requests import signed_headers

# What this module tests lies above the database: it runs on SQLite alone (conftest.py).
pytestmark = pytest.mark.one_database


def test_a_home_publish_begun_before_a_forget_never_lands_after_it(slack, api_key):
    ingest(slack, api_key, event(occurred_at="2026-11-17T10:00:00Z", tool="copilot", requests=7))
    held, release, applied = hold_first_publish(slack)
    post_open(slack)
    assert held.wait(10)  # her figures are on their way to Slack, slowly
    assert "deleted" in json.dumps(clicked(slack, "aiusage_forget_confirm"))
    release.set()
    wait_until(lambda: len(applied) == 2)
    # What her Home shows is the last view Slack took: the deleted one, not her figures.
    assert "Requests:" in applied[0]
    assert "Your aiusage data is deleted" in applied[-1]


def test_a_setting_changed_while_a_publish_is_under_way_is_what_the_home_shows(slack):
    held, release, applied = hold_first_publish(slack)
    post_open(slack)
    assert held.wait(10)
    slack.click(OPT_OUT_ACTION, "optout")
    wait_until(lambda: find_slack_profile(slack.services.db, "UALICE").opted_out)
    # Time enough for the click's own publish to reach Slack first, were it not queued.
    with contextlib.suppress(AssertionError):
        wait_until(lambda: len(slack.fake.calls_to("views.publish")) == 2, timeout=0.5)
    release.set()
    wait_until(lambda: len(applied) == 2)
    assert "Leave the leaderboard" in applied[0]
    assert "Rejoin the leaderboard" in applied[-1]


def test_home_opens_while_one_is_publishing_are_merged_into_one_more_publish(slack):
    held, release, applied = hold_first_publish(slack)
    post_open(slack)
    assert held.wait(10)
    for _ in range(11):  # she keeps clicking the tab while Slack is slow
        post_open(slack)
    release.set()
    wait_until(lambda: len(applied) >= 2)
    time.sleep(0.3)  # a third publish would have come by now
    assert len(slack.fake.calls_to("views.publish")) == 2


def test_home_publishes_under_way_or_pending_when_the_app_stops_are_finished_first(slack):
    held, release, applied = hold_first_publish(slack)
    with TestClient(create_http_app(slack.services)) as http:
        for _ in range(2):  # one under way, one pending behind it
            body = app_home_opened("UALICE")
            headers = signed_headers(body, "application/json")
            response = http.post("/slack/events", content=body.encode(), headers=headers)
            assert response.status_code == 200
            assert held.wait(10)
        threading.Timer(0.2, release.set).start()
    assert len(applied) == 2


def test_rate_limited_home_opens_never_hold_up_anyone_elses_command(slack, caplog):
    slack.fake.fail("views.publish", status=429, retry_after=1, times=1000)
    with caplog.at_level(logging.INFO, logger="aiusage.home"):
        for _ in range(12):  # one person clicking the tab a dozen times while Slack says 429
            post_open(slack)
        slack.fake.wait_for("views.publish")
        started = time.monotonic()
        # Bob is new, so his answer comes after the ack, looked up with users.info first.
        assert "Your AI usage" in text_of(slack.ask("me", user_id="UBOB"))
        assert time.monotonic() - started < 3
        # Dropped rather than waited out and sent again: one call an open at most, one line.
        time.sleep(0.3)
    assert 1 <= len(slack.fake.calls_to("views.publish")) <= 12
    limited = [r for r in caplog.records if "rate limited" in r.getMessage()]
    assert len(limited) == 1 and "UALICE" in limited[0].getMessage()


def test_a_rate_limited_home_is_dropped_and_the_next_open_publishes_it(slack):
    slack.fake.fail("views.publish", status=429, retry_after=1, times=1)
    applied: list[str] = []
    slack.fake.after("views.publish", lambda params: applied.append(params["user_id"]))
    open_home(slack)
    time.sleep(0.3)  # a retry would have come by now had it not waited out Retry-After
    assert len(slack.fake.calls_to("views.publish")) == 1 and applied == []
    open_home(slack, count=2)
    wait_until(lambda: applied == ["UALICE"])


def test_a_rate_limited_deleted_home_is_published_again_after_retry_after(slack, api_key):
    ingest(slack, api_key, event(occurred_at="2026-11-17T10:00:00Z", requests=7))
    open_home(slack)
    slack.fake.fail("views.publish", status=429, retry_after=1, times=1)
    clicked(slack, "aiusage_forget_confirm")
    [*_, limited, again] = slack.fake.wait_for("views.publish", 3)
    assert text_of(as_view(limited.params)) == text_of(as_view(again.params))
    assert "Your aiusage data is deleted" in text_of(as_view(again.params))
