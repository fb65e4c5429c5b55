"""One person's Home publishes land in order (a forget's or a setting's last), merge while one
is under way, finish before the app stops, and rate limits hold up nobody else."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from bot.composition import create_http_app
from bot.demo.signed_requests import app_home_opened
from bot.slack.views.home import OPT_OUT_ACTION
from storage.owed_files import owed_files
from storage.profiles import find_slack_profile
from tests.builders import event
from tests.home.helpers import (
    as_view,
    chart_file,
    hold_first_publish,
    ingest,
    open_home,
    post_open,
    wait_until,
    without_public_url,
)
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


# -- Slack's limits on the other calls a Home publish makes --------------------------------------

LONG_WAIT = 30  # Slack's Retry-After: a Home thread that slept it out would show at once
PEOPLE = ["UALICE", "UBOB", "UCAROL", "UDAN", "UERIN"]  # more than there are Home threads


def test_a_rate_limited_users_info_shows_homes_as_last_known_without_waiting(slack, now, caplog):
    add_people(slack)
    for count, user in enumerate(PEOPLE, 1):
        open_home(slack, user, count)  # Slack told us who they are
    slack.move_to(now + timedelta(days=2))  # what it told us is due a fresh look
    asked = len(slack.fake.calls_to("users.info"))
    slack.fake.fail("users.info", status=429, retry_after=LONG_WAIT, times=len(PEOPLE))
    with caplog.at_level(logging.WARNING):
        started = time.monotonic()
        for user in PEOPLE:
            post_open(slack, user)
        published = slack.fake.wait_for("views.publish", 2 * len(PEOPLE))[len(PEOPLE) :]
        took = time.monotonic() - started
        time.sleep(0.3)  # a users.info sent again after a wait would have come by now
    # Everyone's Home, promptly, from what Slack said last time; nobody's ask sent again.
    assert took < LONG_WAIT / 3
    assert sorted(call.params["user_id"] for call in published) == sorted(PEOPLE)
    assert all("Your AI usage" in text_of(as_view(call.params)) for call in published)
    assert len(slack.fake.calls_to("users.info")) == asked + len(PEOPLE)
    limited = [r for r in caplog.records if "rate limited" in r.getMessage()]
    assert len(limited) == 1 and "users.info" in limited[0].getMessage()
    # Not stored as checked: the next open asks Slack again.
    before = find_slack_profile(slack.services.db, "UALICE").checked_at
    open_home(slack, "UALICE", 2 * len(PEOPLE) + 1)
    assert len(slack.fake.calls_to("users.info")) == asked + len(PEOPLE) + 1
    assert find_slack_profile(slack.services.db, "UALICE").checked_at > before


def test_a_rate_limited_chart_upload_shows_a_text_chart_without_waiting(slack, caplog):
    without_public_url(slack)  # Socket Mode's case: the chart is uploaded to Slack
    add_people(slack)
    slack.fake.fail(
        "files.getUploadURLExternal", status=429, retry_after=LONG_WAIT, times=len(PEOPLE)
    )
    with caplog.at_level(logging.WARNING):
        started = time.monotonic()
        for user in PEOPLE:
            post_open(slack, user)
        published = slack.fake.wait_for("views.publish", len(PEOPLE))
        took = time.monotonic() - started
        time.sleep(0.3)  # an upload sent again after a wait would have come by now
    assert took < LONG_WAIT / 3
    assert sorted(call.params["user_id"] for call in published) == sorted(PEOPLE)
    for call in published:
        view = as_view(call.params)
        assert not [b for b in view["blocks"] if b["type"] == "image"]
        assert "Requests per week, by tool" in text_of(view)
    assert len(slack.fake.calls_to("files.getUploadURLExternal")) == len(PEOPLE)
    limited = [r for r in caplog.records if "rate limited" in r.getMessage()]
    assert len(limited) == 1 and "upload" in limited[0].getMessage()
    # The limit is not remembered as a lack of scope: the next open uploads the image.
    assert chart_file(open_home(slack, "UALICE", len(PEOPLE) + 1))


def test_a_rate_limited_delete_of_a_replaced_chart_is_owed_not_waited_out_on_the_home_thread(
    slack, api_key
):
    without_public_url(slack)
    replaced = chart_file(open_home(slack))
    ingest(slack, api_key, event(occurred_at="2026-11-18T09:00:00Z", requests=50))
    slack.fake.fail("files.delete", status=429, retry_after=2)
    new = chart_file(open_home(slack, count=2))
    assert new in slack.fake.files
    # The Home was published without waiting for the delete, which is owed in the database
    # (the scheduled job makes it: tests/home/test_owed_files.py), not sent from a timer.
    time.sleep(2.5)
    calls = [c.method for c in slack.fake.calls if c.method in ("views.publish", "files.delete")]
    assert calls == ["views.publish", "files.delete", "views.publish"]
    assert [o.file_id for o in owed_files(slack.services.db)] == [replaced]


def add_people(slack) -> None:
    for user in PEOPLE:
        if user not in slack.fake.users:
            slack.fake.add_user(user, email=f"{user[1:].lower()}@example.com")
