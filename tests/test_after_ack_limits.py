"""Slack's 429s after the ack: the work answered after acknowledging Slack (someone's first
command, a stale profile, a click) never sleeps out a long Retry-After on the after-ack
threads. A caller Slack vouched for before is answered from what is stored; anyone else is
told Slack is busy and when to try again."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest

from bot.slack.views.home import OPT_OUT_ACTION
from bot.slack.views.privacy import FORGET_CANCEL_ACTION
from storage.profiles import find_slack_profile, save_slack_profile
from tests.home.helpers import wait_until
from tests.privacy.helpers import clicked
from tests.slack_command_helpers import text_of

# What this module tests lies above the database: it runs on SQLite alone (conftest.py).
pytestmark = pytest.mark.one_database

LONG_WAIT = 30  # Slack's Retry-After: a thread that slept it out would answer after it
PROMPT_S = 3.0  # an answer not slept out comes well within this, even on a busy machine


def known_before(slack, now, user_id: str, *, admin: bool = False) -> None:
    """Slack vouched for `user_id` two days ago: their profile is due a fresh look."""
    save_slack_profile(
        slack.services.db,
        user_id,
        display_name=user_id.lower(),
        tz="Europe/Berlin",
        is_workspace_admin=admin,
        now=now - timedelta(days=2),
    )


def timed_ask(slack, text: str, user_id: str) -> tuple[str, float]:
    started = time.monotonic()
    reply = slack.ask(text, user_id=user_id, timeout=LONG_WAIT / 2)
    return text_of(reply), time.monotonic() - started


def test_someone_never_seen_is_told_at_once_that_slack_is_busy_and_when_to_try(slack):
    slack.fake.fail("users.info", status=429, retry_after=LONG_WAIT, times=5)
    text, took = timed_ask(slack, "me", "UBOB")
    assert took < PROMPT_S
    assert "Slack is busy" in text and "try again in about 30 seconds" in text
    assert len(slack.fake.calls_to("users.info")) == 1  # asked once, not again after a wait
    assert find_slack_profile(slack.services.db, "UBOB") is None


def test_someone_known_before_gets_their_figures_from_what_is_stored_at_once(slack, now):
    known_before(slack, now, "UALICE")
    slack.fake.fail("users.info", status=429, retry_after=LONG_WAIT, times=5)
    text, took = timed_ask(slack, "me", "UALICE")
    assert took < PROMPT_S
    assert "Your AI usage" in text and "your time (Europe/Berlin)" in text
    assert len(slack.fake.calls_to("users.info")) == 1


def test_an_admin_by_slack_alone_is_told_slack_is_busy_rather_than_refused(slack, now):
    known_before(slack, now, "UALICE", admin=True)  # a workspace admin, as Slack said then
    known_before(slack, now, "UBOB")
    slack.fake.fail("users.info", status=429, retry_after=LONG_WAIT, times=5)
    text, took = timed_ask(slack, "status", "UALICE")
    assert took < PROMPT_S
    assert "Slack is busy" in text and "is for admins" not in text
    # Someone Slack never called an admin is refused as ever, from what is stored.
    text, took = timed_ask(slack, "status", "UBOB")
    assert took < PROMPT_S and "is for admins" in text


def test_more_callers_than_after_ack_threads_are_all_answered_within_seconds(slack, now):
    people = [f"UPEOPLE{i}" for i in range(10)]  # the after-ack pool has 8 threads
    for i, user in enumerate(people):
        slack.fake.add_user(user)
        if i % 2:
            known_before(slack, now, user)
    slack.fake.fail("users.info", status=429, retry_after=LONG_WAIT, times=len(people))
    started = time.monotonic()
    for user in people:
        response = slack.command("me", user_id=user, response_url=user)
        assert response.status_code == 200 and response.content == b""
    wait_until(lambda: all(slack.responses(user) for user in people), timeout=LONG_WAIT / 2)
    assert time.monotonic() - started < 2 * PROMPT_S
    for i, user in enumerate(people):
        [reply] = slack.responses(user)
        assert ("Your AI usage" if i % 2 else "Slack is busy") in text_of(reply)
    assert len(slack.fake.calls_to("users.info")) == len(people)


@pytest.mark.parametrize(("limited", "answer"), [(1, "Your AI usage"), (5, "Slack is busy")])
def test_a_short_retry_after_is_waited_out_once_and_never_twice(slack, limited, answer):
    slack.fake.fail("users.info", status=429, retry_after=1, times=limited)
    text, took = timed_ask(slack, "me", "UBOB")
    assert answer in text
    assert len(slack.fake.calls_to("users.info")) == 2
    assert 0.9 < took < 1 + PROMPT_S


@pytest.mark.parametrize("header", ["99999999", "1e999", "-5", "0x10", "soon", "nan", "inf"])
def test_a_hostile_retry_after_never_sleeps_nor_says_nonsense(slack, header):
    slack.fake.fail("users.info", status=429, retry_after=header, times=5)
    text, took = timed_ask(slack, "me", "UBOB")
    assert took < PROMPT_S
    assert len(slack.fake.calls_to("users.info")) == 1
    [(count, unit)] = re.findall(r"try again in about (\d+) (seconds?|minutes?)\b", text)
    seconds = int(count) * (60 if unit.startswith("minute") else 1)
    assert 1 <= seconds <= 300 and (int(count) == 1) == (not unit.endswith("s"))


def test_a_reply_button_clicked_by_someone_never_seen_is_answered_at_once(slack):
    slack.fake.fail("users.info", status=429, retry_after=LONG_WAIT, times=5)
    started = time.monotonic()
    reply = clicked(slack, FORGET_CANCEL_ACTION, user_id="UBOB")
    assert time.monotonic() - started < PROMPT_S
    assert "Slack is busy" in text_of(reply)


def test_a_home_button_clicked_while_users_info_is_limited_takes_effect_at_once(slack, now):
    known_before(slack, now, "UALICE")
    slack.fake.fail("users.info", status=429, retry_after=LONG_WAIT, times=5)
    started = time.monotonic()
    assert slack.click(OPT_OUT_ACTION, "optout").status_code == 200
    slack.fake.wait_for("views.publish", timeout=LONG_WAIT / 2)
    assert time.monotonic() - started < PROMPT_S
    assert find_slack_profile(slack.services.db, "UALICE").opted_out
