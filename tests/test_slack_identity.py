"""Events reported by email count for the Slack user with that email, once Slack says who."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from slack_sdk import WebClient
from sqlalchemy import select

from bot.cli.main import main
from bot.composition import build_scheduler
from bot.slack.identity import resolve_unmatched_emails
from bot.slack.listeners.errors import ERROR_TEXT
from storage.admin import audit_log
from storage.models import IdentityRow
from storage.people import link_email, link_identity, slack_user_for_email, unlinked_emails
from storage.privacy_read import find_subject
from storage.profiles import find_slack_profile
from tests.builders import bearer, event
from tests.slack_command_helpers import text_of


def by_email(email, requests=1, day="2026-11-16"):
    return event(user={"email": email}, occurred_at=f"{day}T10:00:00Z", requests=requests)


def ingest(slack, api_key, *events):
    answer = slack.http.post(
        "/api/v1/events", json={"events": list(events)}, headers=bearer(api_key)
    ).json()
    assert answer["accepted"] == len(events), answer


def test_an_unknown_email_is_matched_later_and_its_usage_counts_then(slack, api_key, db):
    ingest(slack, api_key, by_email("Carol@Example.COM", requests=42))

    first = resolve_unmatched_emails(slack.services)
    assert first.unknown == ["carol@example.com"] and first.matched == {}
    slack.fake.add_user("UCAROL", name="carol")  # no email in her profile yet
    assert "No AI usage" in text_of(slack.ask("me", user_id="UCAROL"))  # not Carol's yet

    slack.fake.users["UCAROL"]["profile"]["email"] = "carol@example.com"
    assert resolve_unmatched_emails(slack.services).unknown == []  # tried under an hour ago
    assert len(slack.fake.calls_to("users.lookupByEmail")) == 1

    slack.move_to(datetime(2026, 11, 18, 13, 30, tzinfo=UTC))
    assert resolve_unmatched_emails(slack.services).matched == {"carol@example.com": "UCAROL"}
    assert unlinked_emails(db) == []
    assert "*Requests:* 42" in text_of(slack.ask("me", user_id="UCAROL"))
    assert "1. <@UCAROL>" in text_of(slack.ask("top", user_id="UCAROL"))

    ingest(slack, api_key, by_email("carol@example.com", requests=8))  # later events link at once
    assert "*Requests:* 50" in text_of(slack.ask("me", user_id="UCAROL"))


def test_usage_reported_by_email_counts_in_the_first_answer(slack, api_key, db):
    # No matching pass has run: the users.info that first sight makes already says
    # Bob's email, and his usage is in that same answer.
    ingest(slack, api_key, by_email("Bob@Example.com", requests=13))
    assert "*Requests:* 13" in text_of(slack.ask("me", user_id="UBOB"))
    assert slack.fake.calls_to("users.lookupByEmail") == []
    assert unlinked_emails(db) == []


def test_an_oversized_or_slack_markup_profile_email_is_never_a_link_key(slack, api_key, db):
    huge = "a" * 400 + "@example.com"
    slack.fake.add_user("UHUGE", email=huge)
    slack.fake.add_user("UMARK", email="<!channel>")
    ingest(slack, api_key, by_email("bob@example.com"))
    assert "No AI usage" in text_of(slack.ask("me", user_id="UHUGE"))
    assert "No AI usage" in text_of(slack.ask("me", user_id="UMARK"))
    assert unlinked_emails(db) == ["bob@example.com"]
    with db.read() as conn:
        emails = conn.execute(select(IdentityRow.value).where(IdentityRow.kind == "email"))
        assert list(emails.scalars()) == ["bob@example.com"]


def test_a_bot_profile_email_links_nothing(slack, api_key, db):
    slack.fake.add_user("UROBOT", email="robot@example.com", is_bot=True)
    ingest(slack, api_key, by_email("robot@example.com", requests=3))
    assert "only members of this workspace" in text_of(slack.ask("me", user_id="UROBOT"))
    assert unlinked_emails(db) == ["robot@example.com"]


def test_the_matching_pass_runs_every_minute_once_serving(slack):
    scheduler = build_scheduler(slack.services)
    scheduler.start()
    try:
        job = scheduler._scheduler.get_job("match-emails")
        wait = job.next_run_time - datetime.now(UTC)
        assert timedelta(0) < wait <= timedelta(minutes=1)
    finally:
        scheduler.shutdown()


def test_email_usage_joins_the_same_persons_slack_id_usage(slack, api_key):
    ingest(
        slack,
        api_key,
        by_email("ALICE@example.com", requests=5),
        event(user={"slack_user_id": "UALICE"}, occurred_at="2026-11-17T10:00:00Z", requests=2),
    )
    assert resolve_unmatched_emails(slack.services).matched == {"alice@example.com": "UALICE"}
    text = text_of(slack.ask("me"))
    assert "*Requests:* 7" in text and "*Active days:* 2" in text


def test_a_429_from_lookup_by_email_is_waited_out(slack, api_key):
    ingest(slack, api_key, by_email("bob@example.com"))
    slack.fake.fail("users.lookupByEmail", status=429, retry_after=1)
    assert resolve_unmatched_emails(slack.services).matched == {"bob@example.com": "UBOB"}
    assert len(slack.fake.calls_to("users.lookupByEmail")) == 2


def test_when_slack_keeps_refusing_the_pass_stops_and_retries_next_time(slack, api_key, db):
    ingest(slack, api_key, by_email("bob@example.com"), by_email("alice@example.com"))
    slack.fake.fail("users.lookupByEmail", status=429, retry_after=1, times=5)
    impatient = WebClient(token="xoxb-test", base_url=slack.fake.api_url, retry_handlers=[])
    stopped = resolve_unmatched_emails(slack.services, impatient)
    assert stopped.rate_limited and stopped.matched == {} and stopped.unknown == []
    assert len(slack.fake.calls_to("users.lookupByEmail")) == 1  # stopped at the first refusal
    assert set(unlinked_emails(db)) == {"bob@example.com", "alice@example.com"}


# What users.info might say about someone, beyond what the people columns hold.
ODD_PROFILES = {
    "a long real name and no display name": {
        "profile": {"display_name": "", "real_name": "<!channel> " * 30}
    },
    "a NUL in the display name": {"profile": {"display_name": "\x00nul<@UBOB>\u202e"}},
    "no profile at all": {"profile": None},
    "a zone name longer than any": {"tz": "America/" + "X" * 80},
    "a path for a zone": {"tz": "../../../../etc/localtime"},
    "a number for a zone": {"tz": 5},
}


@pytest.mark.parametrize("oddity", ODD_PROFILES)
def test_an_odd_slack_profile_is_stored_within_bounds_and_the_person_answered(slack, db, oddity):
    slack.fake.add_user("UODD", email="odd@example.com", name="odd")
    slack.fake.users["UODD"].update(ODD_PROFILES[oddity])
    for text in ("me", "mydata", "me"):
        reply = slack.ask(text, user_id="UODD")
        assert reply["text"] != ERROR_TEXT
    profile = find_slack_profile(db, "UODD")
    # Stored, so the next command is answered at once rather than asking Slack again.
    assert profile.checked_at is not None
    assert len(slack.fake.calls_to("users.info")) == 1
    assert profile.display_name is None or (
        len(profile.display_name) <= 255 and "\x00" not in profile.display_name
    )
    assert profile.tz is None or ZoneInfo(profile.tz)


def test_only_a_true_admin_flag_makes_a_workspace_admin(slack):
    slack.fake.add_user("UODD", name="odd")
    slack.fake.users["UODD"].update(is_admin="false", is_owner="no")
    assert "is for admins" in text_of(slack.ask("status", user_id="UODD"))


def test_an_email_slack_gives_to_someone_new_keeps_the_old_owners_usage_until_an_admin_moves_it(
    slack, api_key, db, caplog
):
    ingest(slack, api_key, by_email("alice@example.com", requests=42))
    assert "*Requests:* 42" in text_of(slack.ask("me", user_id="UALICE"))
    # Alice's Slack email changes, and her old address goes to a newcomer.
    slack.fake.users["UALICE"]["profile"]["email"] = "alice.old@example.com"
    slack.fake.add_user("UALICE2", email="alice@example.com", name="alice2")
    slack.move_to(datetime(2026, 11, 19, 13, 0, tzinfo=UTC))  # profiles are re-read daily

    assert "*Requests:* 42" not in text_of(slack.ask("me", user_id="UALICE2"))
    assert "*Requests:* 42" in text_of(slack.ask("me", user_id="UALICE"))
    [entry] = [e for e in audit_log(db) if e.action == "people.link"]
    assert (entry.outcome, entry.actor) == ("refused", "slack-lookup")
    assert "aiusage people link alice@example.com UALICE2" in entry.detail
    [warning] = [r.getMessage() for r in caplog.records if "not moved" in r.getMessage()]
    assert "UALICE2" in warning and "alice@" not in warning

    # An admin who knows it is the same person's moves it, and it stays moved.
    assert main(["people", "link", "alice@example.com", "UALICE2"]) == 0
    slack.move_to(datetime(2026, 11, 20, 14, 0, tzinfo=UTC))
    assert "*Requests:* 42" in text_of(slack.ask("me", user_id="UALICE2"))
    assert "*Requests:* 42" not in text_of(slack.ask("me", user_id="UALICE"))


def test_a_contested_email_is_audited_once_a_week_and_a_moved_one_leaves_its_old_owner(db, now):
    link_email(db, "Dana@Example.com", "UDANA", now)
    for hours in (0, 1, 24 * 7 - 1):  # another account's profile, read again and again
        link_email(db, "dana@example.COM", "UDANA2", now + timedelta(hours=hours))
    contested = [e for e in audit_log(db) if e.outcome == "refused"]
    assert len(contested) == 1 and "counts for UDANA;" in contested[0].detail
    assert slack_user_for_email(db, "dana@example.com") == "UDANA"

    link_identity(db, "email", "dana@example.com", "UDANA2", "cli:ops", now)
    assert slack_user_for_email(db, "dana@example.com") is None  # UDANA's profile lost it
    assert find_subject(db, slack_user_id="UDANA").email is None
