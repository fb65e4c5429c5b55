"""The minutely pass that matches emails seen in usage to Slack users (`users.lookupByEmail`),
run as `serve` schedules it, when Slack cannot be reached for one email, or at all, answers
5xx through the client's retries, or refuses our token: none of these is "no such person"."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

import pytest

from bot.composition import build_scheduler
from bot.demo.fake_slack import FakeSlack
from bot.settings import Settings, load_settings
from storage.people import slack_user_for_email, unlinked_emails
from tests.builders import bearer, event

JOB = "match-emails"
TIMEOUT_S = 0.5  # AIUSAGE_SLACK_TIMEOUT_SECONDS here: a lookup Slack never answers ends soon


@pytest.fixture
def slack_settings(slack_settings: Settings, monkeypatch) -> Settings:
    """The Slack test settings with a short Slack timeout."""
    monkeypatch.setenv("AIUSAGE_SLACK_TIMEOUT_SECONDS", str(TIMEOUT_S))
    return load_settings()


def seen(slack, api_key, *emails: str) -> None:
    """Usage reported by each email, one batch each, so the pass meets them in this order."""
    for email in emails:
        body = {"events": [event(user={"email": email}, occurred_at="2026-11-16T10:00:00Z")]}
        answer = slack.http.post("/api/v1/events", json=body, headers=bearer(api_key)).json()
        assert answer["accepted"] == 1, answer


def run_the_pass(slack) -> None:
    """One run of the job as `serve` schedules it (once across replicas, per due minute)."""
    jobs = {name: run for name, _, run in build_scheduler(slack.services).planned()}
    jobs[JOB]()


def asked(slack) -> list[str]:
    return [call.params["email"] for call in slack.fake.calls_to("users.lookupByEmail")]


def test_an_email_whose_lookup_never_connects_holds_back_no_other(slack, api_key, db, now):
    """Slack's end closes the connection whenever Dana's email is looked up (a proxy that
    dislikes it, say): the pass gives her up after the client's retries, matches the
    emails after her, and tries her again at its next run."""
    slack.fake.add_user("UCAROL", email="carol@example.com", name="carol")
    seen(slack, api_key, "dana@example.com", "alice@example.com", "bob@example.com")
    seen(slack, api_key, "carol@example.com")
    slack.fake.before("users.lookupByEmail", lambda params: params["email"] != "dana@example.com")

    run_the_pass(slack)

    assert asked(slack) == ["dana@example.com"] * 4 + [  # sent once, retried three times
        "alice@example.com",
        "bob@example.com",
        "carol@example.com",
    ]
    for email, user in [("alice", "UALICE"), ("bob", "UBOB"), ("carol", "UCAROL")]:
        assert slack_user_for_email(db, f"{email}@example.com") == user
    assert unlinked_emails(db) == ["dana@example.com"]

    # The next minute, Slack answers for her, and she has joined.
    slack.fake.before("users.lookupByEmail", lambda params: True)
    slack.fake.add_user("UDANA", email="dana@example.com", name="dana")
    slack.move_to(now + timedelta(minutes=1))
    run_the_pass(slack)
    assert asked(slack)[7:] == ["dana@example.com"]
    assert slack_user_for_email(db, "dana@example.com") == "UDANA"
    assert unlinked_emails(db) == []


def test_a_slack_that_answers_no_lookup_stops_the_pass_after_three(slack, api_key, db, now):
    """Every lookup times out (Slack away): the pass stops after three in a row instead of
    spending a timeout on each of the 200 emails it may take; the next run tries the emails
    not yet asked first, then those that timed out."""
    emails = [f"p{i}@example.com" for i in range(6)]
    seen(slack, api_key, *emails)
    slack.fake.delay("users.lookupByEmail", 4 * TIMEOUT_S)

    run_the_pass(slack)

    assert asked(slack) == emails[:3]
    assert sorted(unlinked_emails(db)) == emails

    slack.fake.delay("users.lookupByEmail", 0.0)  # back
    for i, email in enumerate(emails):
        slack.fake.add_user(f"UP{i}", email=email)
    slack.move_to(now + timedelta(minutes=1))
    run_the_pass(slack)
    assert asked(slack)[3:] == emails[3:] + emails[:3]
    assert unlinked_emails(db) == []


# Slack answers every look-up with an error about the Slack end, through the client's retries:
# how to script it, and how many calls the client makes for one email (a 5xx it retries
# three times; an ok=false answer it takes as it is).
AWAY: dict[str, tuple[Callable[[FakeSlack], None], int]] = {
    "HTTP 503 through the retries": (
        lambda fake: fake.fail("users.lookupByEmail", status=503, times=1000),
        4,
    ),
    "an error Slack does not document": (
        lambda fake: fake.fail("users.lookupByEmail", error="sorry_not_now", times=1000),
        1,
    ),
}


@pytest.mark.parametrize("away", list(AWAY))
def test_a_slack_answering_errors_about_itself_leaves_the_emails_due(away, slack, api_key, db, now):
    """Slack answers each look-up with a 503 (after the client's three retries) or with an
    error it does not document: that says nothing of the person, so no email is put by as
    unknown for an hour; three in a row stop the pass, as when Slack cannot be reached,
    and the next run asks again, the emails not yet asked first."""
    arm, tries = AWAY[away]
    emails = [f"p{i}@example.com" for i in range(6)]
    seen(slack, api_key, *emails)
    arm(slack.fake)

    run_the_pass(slack)

    assert asked(slack) == [email for email in emails[:3] for _ in range(tries)]
    assert sorted(unlinked_emails(db)) == emails

    slack.fake.heal("users.lookupByEmail")
    for i, email in enumerate(emails):
        slack.fake.add_user(f"UP{i}", email=email)
    slack.move_to(now + timedelta(minutes=1))
    run_the_pass(slack)
    assert asked(slack)[3 * tries :] == emails[3:] + emails[:3]
    assert unlinked_emails(db) == []


# Slack refuses our bot token or app, whichever email is asked about: `needed` is Slack's
# own field naming the scope the method wants.
REFUSALS = {
    "missing_scope": {"needed": "users:read.email", "provided": "chat:write,users:read"},
    "invalid_auth": {},
    "token_revoked": {},
    "account_inactive": {},
}


@pytest.mark.parametrize("error", list(REFUSALS))
def test_a_token_slack_refuses_stops_the_pass_in_one_line_and_marks_no_email(
    error, slack, api_key, db, now, caplog
):
    """The bot token lacks `users:read.email` (or Slack refuses it): the pass stops at the
    first look-up with one warning naming Slack's error and the scope needed, and puts no
    email by as unknown, so once the scope is granted the next run, a minute on, matches
    them all."""
    slack.fake.add_user("UCAROL", email="carol@example.com", name="carol")
    emails = ["alice@example.com", "bob@example.com", "carol@example.com", "dana@example.com"]
    seen(slack, api_key, *emails)
    slack.fake.fail("users.lookupByEmail", error=error, body=REFUSALS[error], times=1000)
    caplog.set_level(logging.INFO, logger="aiusage.identity")

    run_the_pass(slack)

    assert asked(slack) == ["alice@example.com"]
    [line] = [r for r in caplog.records if r.name == "aiusage.identity"]
    assert line.levelno == logging.WARNING
    assert error in line.getMessage()
    if error == "missing_scope":
        assert "users:read.email" in line.getMessage()
    assert "@" not in line.getMessage()  # the token's trouble: no email is named
    assert sorted(unlinked_emails(db)) == emails

    slack.fake.heal("users.lookupByEmail")  # the scope granted, the app reinstalled
    slack.move_to(now + timedelta(minutes=1))
    run_the_pass(slack)
    assert asked(slack)[1:] == emails
    for email, user in [("alice", "UALICE"), ("bob", "UBOB"), ("carol", "UCAROL")]:
        assert slack_user_for_email(db, f"{email}@example.com") == user
    assert unlinked_emails(db) == ["dana@example.com"]  # unknown to Slack: asked in an hour


def test_a_lasting_refusal_is_logged_once_an_hour_per_error_and_its_end_once(
    slack, api_key, db, now, caplog
):
    """The scope stays missing for two hours: the minutely pass said so every minute (120
    warnings). Now once an hour for each distinct error while it lasts, at once for an error
    not said yet, and one line when Slack answers again."""
    slack.fake.add_user("UCAROL", email="carol@example.com", name="carol")
    seen(slack, api_key, "carol@example.com")
    caplog.set_level(logging.INFO, logger="aiusage.identity")
    jobs = {name: run for name, _, run in build_scheduler(slack.services).planned()}

    def lines() -> list[str]:
        said = [r.getMessage() for r in caplog.records if r.name == "aiusage.identity"]
        caplog.clear()
        return said

    def minutes(first: int, last: int) -> None:
        for minute in range(first, last):
            slack.move_to(now + timedelta(minutes=minute))
            jobs[JOB]()

    slack.fake.fail(
        "users.lookupByEmail", error="missing_scope", body=REFUSALS["missing_scope"], times=10_000
    )
    minutes(0, 60)
    [first] = lines()
    assert "missing_scope" in first and "users:read.email" in first
    minutes(60, 90)
    [again] = lines()  # an hour on, while it lasts
    assert "missing_scope" in again

    slack.fake.heal("users.lookupByEmail")
    slack.fake.fail("users.lookupByEmail", error="token_revoked", times=10_000)
    minutes(90, 100)
    [other] = lines()  # a refusal not said yet is said at once
    assert "token_revoked" in other

    slack.fake.heal("users.lookupByEmail")
    minutes(100, 103)
    [back] = lines()
    assert "answer" in back and "token_revoked" in back
    assert slack_user_for_email(db, "carol@example.com") == "UCAROL"
    assert len(asked(slack)) == 101
