"""The weekly digest: `/aiusage digest on|off`, when it is due (DST included), and one DM per
person and week however often, and on however many replicas, the job runs."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time

from bot.slack.notifier import DirectMessageNotifier
from jobs.digest import digest_key, send_digests
from jobs.digest_rules import digest_due
from jobs.weeks import Week
from storage.admin import audit_log
from storage.digests import digest_subscribers, set_digest
from storage.profiles import save_slack_profile
from tests.builders import bearer, event
from tests.privacy.helpers import clicked
from tests.slack_command_helpers import text_of
from tests.slack_fixtures import BOT_TOKEN

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
UTC_ZONE = ZoneInfo("UTC")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("monday", "zone", "first_due_utc"),
    [
        # US summer time ended on Sunday 1 November 2026: 09:00 EST is 14:00 UTC...
        ("2026-11-02", NEW_YORK, "2026-11-02T14:00"),
        # ...a week earlier, still EDT, it was 13:00 UTC.
        ("2026-10-26", NEW_YORK, "2026-10-26T13:00"),
        # US summer time began on Sunday 14 March 2027.
        ("2027-03-15", NEW_YORK, "2027-03-15T13:00"),
        # Berlin's morning (08:00 UTC) comes before the 09:00 UTC awards: the awards win.
        ("2026-11-02", BERLIN, "2026-11-02T09:00"),
        # Tokyo's Monday 09:00 is midnight UTC, before the week's awards.
        ("2026-11-02", ZoneInfo("Asia/Tokyo"), "2026-11-02T09:00"),
    ],
)
def test_digest_is_due_after_the_awards_and_the_persons_monday_morning(monday, zone, first_due_utc):
    week = Week(datetime.fromisoformat(monday).date())
    awards_at = at(f"{monday}T09:00")
    due = at(first_due_utc)
    assert digest_due(due, zone, week, awards_at)
    assert not digest_due(due - timedelta(minutes=1), zone, week, awards_at)


def test_digest_on_and_off_by_slash_command(slack):
    assert digest_subscribers(slack.services.db) == []  # off by default
    reply = slack.ask("digest on")
    assert "weekly digest is *on*" in reply["blocks"][0]["text"]["text"]
    assert [s.slack_user_id for s in digest_subscribers(slack.services.db)] == ["UALICE"]
    reply = slack.ask("DIGEST off")
    assert "weekly digest is *off*" in reply["blocks"][0]["text"]["text"]
    assert digest_subscribers(slack.services.db) == []
    help_reply = slack.ask("digest maybe")
    assert "I don't know" in help_reply["blocks"][0]["text"]["text"]


# When Slack last told us about the subscribers (`users.info`, on their last command): long
# before any digest here, so each digest asks Slack about them first.
LAST_SEEN = at("2026-10-01T12:00")


@pytest.fixture
def subscribers(db, client, api_key, now):
    """Alice (Berlin) and Bob (New York) want the digest, Carol does not; all three used AI
    tools in week 2026-W44 (26 October to 1 November), and last used `/aiusage` on 1 October."""
    for user, tz in (("UALICE", "Europe/Berlin"), ("UBOB", "America/New_York"), ("UCAROL", "UTC")):
        save_slack_profile(
            db, user, display_name=user, tz=tz, is_workspace_admin=False, now=LAST_SEEN
        )
        ingest = [
            event(user={"slack_user_id": user}, occurred_at="2026-10-27T12:00:00Z", requests=4),
            event(user={"slack_user_id": user}, occurred_at="2026-10-20T12:00:00Z", requests=1),
        ]
        response = client.post("/api/v1/events", json={"events": ingest}, headers=bearer(api_key))
        assert response.json()["accepted"] == 2
    set_digest(db, "UALICE", True, now)
    set_digest(db, "UBOB", True, now)
    set_digest(db, "UCAROL", False, now)


def notifier(fake_slack):
    from slack_sdk import WebClient

    return DirectMessageNotifier(WebClient(token=BOT_TOKEN, base_url=fake_slack.api_url))


def run(db, fake_slack, moment: datetime):
    """One pass of the job, as a freshly started process would make it."""
    return send_digests(db, notifier(fake_slack), UTC_ZONE, "0 9 * * mon", lambda: moment)


def dms(fake_slack, user):
    return list(fake_slack.messages.get(user, []))


@pytest.mark.postgres
def test_each_subscriber_gets_one_dm_in_their_own_morning_across_dst_and_restarts(
    db, fake_slack, subscribers
):
    fake_slack.add_user("UCAROL", tz="UTC")
    assert run(db, fake_slack, at("2026-11-02T08:59")) == []  # before the awards
    [alice] = run(db, fake_slack, at("2026-11-02T09:00"))
    assert (alice.channel, alice.status) == ("UALICE", "posted")
    assert run(db, fake_slack, at("2026-11-02T13:59")) == []  # 08:59 in New York (EST)
    [bob] = run(db, fake_slack, at("2026-11-02T14:00"))
    assert (bob.channel, bob.status) == ("UBOB", "posted")
    # Restarts (each run is a fresh holder) and later passes that week send nothing more.
    for moment in ("2026-11-02T14:15", "2026-11-04T10:00", "2026-11-08T23:59"):
        assert run(db, fake_slack, at(moment)) == []
    assert len(dms(fake_slack, "UALICE")) == len(dms(fake_slack, "UBOB")) == 1
    assert dms(fake_slack, "UCAROL") == []
    [message] = dms(fake_slack, "UBOB")
    assert message["text"] == "Your week 2026-W44: 4 requests, 1 active day."
    assert message["metadata"]["event_payload"]["post_key"] == digest_key(
        Week(at("2026-10-26T00:00").date())
    )
    text = "\n".join(
        b["text"]["text"] for b in message["blocks"] if "text" in b and isinstance(b["text"], dict)
    )
    assert "*Requests:* 4  (last week: 1)" in text
    # The next week brings the next digest.
    assert {r.channel for r in run(db, fake_slack, at("2026-11-09T14:00"))} == {"UALICE", "UBOB"}


def test_replicas_running_at_once_send_one_dm_each(db, fake_slack, subscribers):
    fake_slack.delay("chat.postMessage", 0.2)  # both replicas are mid-run together
    results = []
    threads = [
        threading.Thread(target=lambda: results.extend(run(db, fake_slack, at("2026-11-02T15:00"))))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(dms(fake_slack, "UALICE")) == len(dms(fake_slack, "UBOB")) == 1
    assert sorted(r.status for r in results if r.status == "posted") == ["posted", "posted"]


def test_a_refused_dm_is_retried_on_the_next_pass(db, fake_slack, subscribers):
    fake_slack.fail("chat.postMessage", error="ratelimited_user", channel="UALICE")
    results = {r.channel: r.status for r in run(db, fake_slack, at("2026-11-02T15:00"))}
    assert results == {"UALICE": "failed", "UBOB": "posted"}
    [again] = run(db, fake_slack, at("2026-11-02T15:15"))
    assert (again.channel, again.status) == ("UALICE", "posted")


def test_a_dm_whose_outcome_is_unknown_is_never_sent_twice(db, fake_slack, subscribers):
    # Slack posted, then answered 500: the outcome is unknown until the DM's own history
    # (conversations.open, then conversations.history) is read after the check delay.
    fake_slack.fail("chat.postMessage", status=500, channel="UALICE", apply=True)
    results = {r.channel: r.status for r in run(db, fake_slack, at("2026-11-02T15:00"))}
    assert results == {"UALICE": "unknown", "UBOB": "posted"}
    later = {r.channel: r.status for r in run(db, fake_slack, at("2026-11-02T15:15"))}
    assert later == {"UALICE": "found"}  # in the DM's history: not sent again
    assert fake_slack.calls_to("conversations.open")
    assert run(db, fake_slack, at("2026-11-02T15:30")) == []
    assert len(dms(fake_slack, "UALICE")) == 1


def test_a_dm_that_slack_never_made_is_sent_after_the_check(db, fake_slack, subscribers):
    # A 500 that did not post: the history shows nothing, so the next pass sends it once.
    fake_slack.fail("chat.postMessage", status=500, channel="UALICE")
    results = {r.channel: r.status for r in run(db, fake_slack, at("2026-11-02T15:00"))}
    assert results == {"UALICE": "unknown", "UBOB": "posted"}
    later = {r.channel: r.status for r in run(db, fake_slack, at("2026-11-02T15:15"))}
    assert later == {"UALICE": "posted"}
    assert len(dms(fake_slack, "UALICE")) == 1


def dm_attempts(fake_slack, user: str) -> int:
    return sum(1 for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == user)


def every_hour(db, fake_slack, first: str, hours: int) -> None:
    for hour in range(hours):
        run(db, fake_slack, at(first) + timedelta(hours=hour))


def users_info_about(fake_slack, user: str) -> int:
    return sum(1 for c in fake_slack.calls_to("users.info") if c.params["user"] == user)


def subscribed(db) -> list[str]:
    return [s.slack_user_id for s in digest_subscribers(db)]


@pytest.mark.parametrize("error", ["user_not_found", "user_disabled", "cannot_dm_bot"])
def test_a_dm_slack_will_never_take_turns_the_digest_off_and_the_others_are_sent(
    db, fake_slack, subscribers, error
):
    """Slack says the person cannot be written to: retried all week, each week, it was
    ~160 refused calls a week for good, then one a week forever. Now it is tried once, and
    their digest is turned off."""
    fake_slack.fail("chat.postMessage", error=error, channel="UALICE", times=10_000)
    results = {r.channel: (r.status, r.error) for r in run(db, fake_slack, at("2026-11-02T15:00"))}
    assert results == {"UALICE": ("undeliverable", error), "UBOB": ("posted", None)}
    assert subscribed(db) == ["UBOB"]
    every_hour(db, fake_slack, "2026-11-02T16:00", 24 * 14)  # the rest of that week and two more
    assert dm_attempts(fake_slack, "UALICE") == 1
    assert len(dms(fake_slack, "UBOB")) == 3


@pytest.mark.parametrize("gone", ["deleted", "is_bot", "left"])
def test_no_dm_goes_to_someone_slack_reports_deactivated_a_bot_or_not_there(
    db, fake_slack, subscribers, gone
):
    if gone == "left":
        del fake_slack.users["UALICE"]
    else:
        fake_slack.users["UALICE"][gone] = True
    results = {r.channel: r.status for r in run(db, fake_slack, at("2026-11-02T15:00"))}
    assert results == {"UALICE": "undeliverable", "UBOB": "posted"}
    every_hour(db, fake_slack, "2026-11-02T16:00", 24 * 14)
    assert dm_attempts(fake_slack, "UALICE") == 0 and dms(fake_slack, "UALICE") == []
    # Slack is asked about her once, not each week: her digest is off.
    assert users_info_about(fake_slack, "UALICE") == 1
    assert users_info_about(fake_slack, "UBOB") == 3


def test_a_deactivated_subscriber_who_comes_back_turns_the_digest_on_again(slack, subscribers):
    """The digest is turned off, not skipped: the audit says why, her Home and `/aiusage`
    show it off, and once she is reactivated `/aiusage digest on` brings it back."""
    db = slack.services.db
    slack.fake.users["UALICE"]["deleted"] = True
    send = lambda moment: {r.channel: r.status for r in run(db, slack.fake, at(moment))}  # noqa: E731
    assert send("2026-11-02T15:00") == {"UALICE": "undeliverable", "UBOB": "posted"}
    [entry] = [e for e in audit_log(db) if e.action == "digest.off"]
    assert (entry.actor, entry.outcome) == ("weekly-digest", "done")
    assert "UALICE" in entry.detail and "deleted" in entry.detail
    assert "digest on" in entry.detail
    assert subscribed(db) == ["UBOB"]

    slack.fake.users["UALICE"]["deleted"] = False  # an admin reactivates her
    assert "weekly digest is *on*" in text_of(slack.ask("digest on"))
    assert send("2026-11-09T15:00") == {"UALICE": "posted", "UBOB": "posted"}
    assert len(dms(slack.fake, "UALICE")) == 1


def test_someone_forgotten_who_turns_the_digest_on_is_told_why_none_comes_until_they_opt_in(
    slack, api_key
):
    """Her usage is dropped until she opts in: a digest would be a week of zeros, DMed to
    someone who asked to be forgotten."""
    db = slack.services.db
    clicked(slack, "aiusage_forget_confirm")
    reply = text_of(slack.ask("digest on"))
    assert "forget" in reply and "/aiusage optin" in reply
    monday = at("2026-11-23T15:00")
    send = lambda: send_digests(db, notifier(slack.fake), UTC_ZONE, "0 9 * * mon", lambda: monday)  # noqa: E731
    assert send() == [] and dms(slack.fake, "UALICE") == []
    slack.ask("optin")  # she rejoins: her digest, still on, comes
    assert [r.status for r in send()] == ["posted"]


@pytest.mark.parametrize(
    "changeover",
    [
        "2026-10-25",  # Berlin leaves summer time a week before New York does
        "2027-03-28",  # and starts it two weeks after New York
    ],
)
def test_one_digest_per_person_and_week_across_the_configured_zones_dst_change(
    db, fake_slack, subscribers, changeover
):
    """AIUSAGE_TIMEZONE is Europe/Berlin: the job every two hours from the Monday before its
    clock change to the Monday after next sends each subscriber one digest a week."""
    start = datetime.fromisoformat(changeover) - timedelta(days=6)  # that week's Monday
    with freeze_time(start) as frozen:
        for _ in range(12 * 15):
            send_digests(db, notifier(fake_slack), BERLIN, "0 9 * * mon", lambda: datetime.now(UTC))
            frozen.tick(timedelta(hours=2))
    for user in ("UALICE", "UBOB"):
        weeks = [m["metadata"]["event_payload"]["post_key"] for m in dms(fake_slack, user)]
        assert len(weeks) == len(set(weeks)) == 3, (user, weeks)
