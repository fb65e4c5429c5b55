"""The weekly digest and Slack's `users.info` budget: a DM goes to someone Slack vouched for
this week (a command or Home open asked `users.info` then) without asking Slack again;
anyone else is asked first, as before. `users.info` is a Tier 4 method (about 100 calls a
minute), and a company's Monday digests would otherwise spend it all, leaving commands and
Home opens 429s."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.composition import build_scheduler
from jobs.digest import digest_key
from jobs.digest_rules import digest_week
from storage.admin import audit_log
from storage.digests import digest_subscribers, set_digest
from storage.posts import post_claims
from storage.profiles import save_slack_profile


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def subscribers(slack):
    """Alice, Bob and Carol turned the digest on in September with `/aiusage`, the last time
    Slack told us about them."""
    september = at("2026-09-01T12:00")
    db = slack.services.db
    slack.fake.add_user("UCAROL", tz="UTC")
    for user in ("UALICE", "UBOB", "UCAROL"):
        save_slack_profile(
            db, user, display_name=user, tz="UTC", is_workspace_admin=False, now=september
        )
        set_digest(db, user, True, september)


def digest_job(slack, moment: datetime) -> dict[str, str]:
    """One pass of the digest job as `serve` schedules it, at `moment`; what each DM of the
    week it sends came to."""
    slack.move_to(moment)
    build_scheduler(slack.services)._digest_job()
    key = digest_key(digest_week(moment, slack.services.settings.timezone))
    return {c.channel: c.status for c in post_claims(slack.services.db, key)}


def asked_about(slack, since: int = 0) -> list[str]:
    """Whom `users.info` was asked about, from the `since`-th call on."""
    return [c.params["user"] for c in slack.fake.calls_to("users.info")[since:]]


def dms(slack, user: str) -> int:
    return len(slack.fake.messages.get(user, []))


def subscribed(slack) -> list[str]:
    return [s.slack_user_id for s in digest_subscribers(slack.services.db)]


def test_a_subscriber_seen_this_week_gets_the_digest_without_a_users_info_call(slack, subscribers):
    """Alice used `/aiusage` on Saturday, four days before the digest: Slack vouched for her
    then. Carol last used it eight days before, Bob not since September: they are asked."""
    slack.move_to(at("2026-11-14T10:00"))
    slack.ask("", user_id="UALICE")
    slack.move_to(at("2026-11-10T10:00"))
    slack.ask("", user_id="UCAROL")
    before = len(slack.fake.calls_to("users.info"))

    sent = digest_job(slack, at("2026-11-18T12:00"))

    assert sent == {"UALICE": "posted", "UBOB": "posted", "UCAROL": "posted"}
    assert sorted(asked_about(slack, before)) == ["UBOB", "UCAROL"]
    assert dms(slack, "UALICE") == dms(slack, "UBOB") == dms(slack, "UCAROL") == 1


@pytest.mark.parametrize("refusal", ["user_disabled", "cannot_dm_bot", "is_archived"])
def test_someone_deactivated_since_slack_vouched_for_them_has_the_digest_turned_off(
    slack, subscribers, refusal
):
    """Alice used `/aiusage` on Monday and was deactivated that afternoon. Her digest is
    tried, unasked; Slack refuses it. A refusal that names her as gone ends her DM
    undeliverable at once; any other (`is_archived`) has `users.info` asked then, which says
    she is deactivated. Either way her digest is off, as for anyone Slack reports gone."""
    slack.move_to(at("2026-11-16T10:00"))
    slack.ask("", user_id="UALICE")
    slack.fake.users["UALICE"]["deleted"] = True
    slack.fake.fail("chat.postMessage", error=refusal, channel="UALICE", times=10_000)
    before = len(slack.fake.calls_to("users.info"))

    sent = digest_job(slack, at("2026-11-18T12:00"))

    assert sent["UALICE"] == "undeliverable"
    assert subscribed(slack) == ["UBOB", "UCAROL"]
    [entry] = [e for e in audit_log(slack.services.db) if e.action == "digest.off"]
    assert "UALICE" in entry.detail
    asked_after_the_refusal = ["UALICE"] if refusal == "is_archived" else []
    assert sorted(asked_about(slack, before)) == [*asked_after_the_refusal, "UBOB", "UCAROL"]
    digest_job(slack, at("2026-11-25T12:00"))
    assert dms(slack, "UALICE") == 0
    assert [c.params["channel"] for c in slack.fake.calls_to("chat.postMessage")].count(
        "UALICE"
    ) == 1


def test_someone_deactivated_since_slack_vouched_for_them_whose_dm_slack_takes_gets_one_digest(
    slack, subscribers
):
    """Slack may take a DM to a deactivated account without complaint: that one digest goes
    to a DM nobody can read. The next week Slack has not vouched for her (she can no longer
    run a command), so she is asked about, and her digest is turned off."""
    slack.move_to(at("2026-11-16T10:00"))
    slack.ask("", user_id="UALICE")
    slack.fake.users["UALICE"]["deleted"] = True

    assert digest_job(slack, at("2026-11-18T12:00"))["UALICE"] == "posted"
    assert digest_job(slack, at("2026-11-25T12:00"))["UALICE"] == "undeliverable"
    assert subscribed(slack) == ["UBOB", "UCAROL"]
    digest_job(slack, at("2026-12-02T12:00"))
    assert dms(slack, "UALICE") == 1


def test_our_own_token_refused_leaves_the_digests_on_to_retry(slack, subscribers):
    """`account_inactive` is our bot token's account deleted, not anyone's of ours: no DM can
    go until it is put right, and then each should. Alice, seen this week, is asked about
    after the refusal, as before the others are; each DM is failed, to be retried."""
    slack.move_to(at("2026-11-16T10:00"))
    slack.ask("", user_id="UALICE")
    slack.fake.fail("chat.postMessage", error="account_inactive", times=3)
    slack.fake.fail("users.info", error="account_inactive", times=3)

    assert set(digest_job(slack, at("2026-11-18T12:00")).values()) == {"failed"}
    assert subscribed(slack) == ["UALICE", "UBOB", "UCAROL"]
    assert set(digest_job(slack, at("2026-11-18T14:00")).values()) == {"posted"}
    assert dms(slack, "UALICE") == dms(slack, "UBOB") == dms(slack, "UCAROL") == 1


@pytest.mark.parametrize("gone", ["deleted", "user_not_found", "user_disabled", "cannot_dm_bot"])
def test_the_digest_job_sends_nothing_to_someone_gone_and_turns_theirs_off_for_good(
    slack, subscribers, gone
):
    """`serve`'s digest job, three weeks running: Alice deactivated (`users.info` says
    `deleted`), or her DM refused as Slack refuses one to someone gone, disabled or a bot.
    No digest reaches her, hers is turned off (audited) after the first try, and neither her
    DM nor `users.info` about her is tried again; Bob gets his each week."""
    if gone == "deleted":
        slack.fake.users["UALICE"]["deleted"] = True
    else:
        slack.fake.fail("chat.postMessage", error=gone, channel="UALICE", times=10_000)
    before = len(slack.fake.calls_to("users.info"))

    for wednesday in ("2026-11-18T12:00", "2026-11-25T12:00", "2026-12-02T12:00"):
        digest_job(slack, at(wednesday))

    assert dms(slack, "UALICE") == 0 and dms(slack, "UBOB") == 3
    assert subscribed(slack) == ["UBOB", "UCAROL"]
    [entry] = [e for e in audit_log(slack.services.db) if e.action == "digest.off"]
    assert "UALICE" in entry.detail
    assert asked_about(slack, before).count("UALICE") == 1
    tried = [c.params["channel"] for c in slack.fake.calls_to("chat.postMessage")]
    assert tried.count("UALICE") == (0 if gone == "deleted" else 1)
