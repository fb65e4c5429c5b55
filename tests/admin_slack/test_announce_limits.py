"""An admin's confirm button and `/aiusage restore <note>` while Slack rate-limits
`chat.postMessage`, or times out after posting: the admin is answered at once, the
announcement stays owed, and `serve`'s re-drive posts it to each channel exactly once."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from bot.cli.main import main
from bot.composition import redrive_job, slack_notifier
from bot.settings import load_settings
from storage.admin import audit_log
from storage.leaderboard import leaderboard_state
from storage.outbox import outbox_item, pending_posts
from storage.posts import post_claims
from tests.admin_slack.helpers import CONFIRM, click, posts, preview
from tests.slack_command_helpers import text_of

CHANNELS = ("CAWARDS", "CGENERAL")
# What Slack may say, and what a hostile or broken proxy may: none of it is slept out in line.
RETRY_AFTERS = ["30", "99999999", "0", "-5", "nan", "soon"]
# The admin's answer comes within this (the old code slept out Retry-After up to 5 times).
PROMPTLY_S = 3.0
# Past the longest wait a 429 can set (Retry-After is held to 5 minutes) and the check delay.
AFTER_THE_LIMIT = timedelta(minutes=6)
# The one line `aiusage admin` prints for posts Slack rate-limited.
LATER = "Slack is rate-limiting posts just now; `aiusage serve` posts them shortly, once."


@pytest.fixture
def slack_settings(slack_settings, monkeypatch):
    """A Slack that answers within 2 s, so a post Slack made but never answered times out."""
    monkeypatch.setenv("AIUSAGE_SLACK_TIMEOUT_SECONDS", "2")
    return load_settings()


def run_redrive(slack) -> None:
    """One run of the re-drive as `serve` schedules it, at the test's (frozen) time."""
    redrive_job(slack.services, slack_notifier(slack.services.settings))()


def announcements(slack, key: str) -> dict[str, int]:
    """How many messages carrying `key` each award channel holds."""
    return {
        channel: sum(
            1
            for message in slack.fake.messages[channel]
            if ((message.get("metadata") or {}).get("event_payload") or {}).get("post_key") == key
        )
        for channel in CHANNELS
    }


def timed(work):
    started = time.monotonic()
    result = work()
    return result, time.monotonic() - started


def owed_until_the_re_drive(slack, now, key: str) -> None:
    """Nothing posted yet, the post owed with its claims released; a re-drive before the
    limit is over posts nothing, one after it posts once everywhere, and another nothing."""
    assert announcements(slack, key) == {"CAWARDS": 0, "CGENERAL": 0}
    assert [item.post_key for item in pending_posts(slack.services.db)] == [key]
    claims = post_claims(slack.services.db, key)
    assert [(c.channel, c.status, c.error) for c in claims] == [
        (channel, "failed", "ratelimited") for channel in CHANNELS
    ]
    assert all(c.check_after is not None and c.check_after > now for c in claims)
    tried = len(posts(slack))

    run_redrive(slack)
    assert len(posts(slack)) == tried  # not due yet: Slack asked us to wait

    slack.move_to(now + AFTER_THE_LIMIT)
    run_redrive(slack)
    run_redrive(slack)
    assert announcements(slack, key) == {"CAWARDS": 1, "CGENERAL": 1}
    assert len(posts(slack)) == tried + 2
    item = outbox_item(slack.services.db, key)
    assert item is not None and item.status == "done"


@pytest.mark.parametrize("retry_after", RETRY_AFTERS)
def test_a_rate_limited_retirement_is_answered_at_once_and_announced_once_later(
    slack, db, now, retry_after
):
    value = preview(slack)
    slack.fake.fail("chat.postMessage", status=429, retry_after=retry_after, times=2)

    answer, took = timed(lambda: click(slack, CONFIRM, value))

    assert took < PROMPTLY_S
    text = text_of(answer)
    assert "*The leaderboard is retired*" in text and leaderboard_state(db).retired
    for channel in CHANNELS:
        assert f"• <#{channel}>: Slack is rate-limiting posts just now" in text
    assert "goes out on its own shortly" in text
    assert "fix the channel" not in text and "not posted" not in text
    assert len(posts(slack)) == 2  # one try per channel, none slept out and tried again
    owed_until_the_re_drive(slack, now, f"retire:{value}")


@pytest.mark.parametrize("retry_after", ["30", "99999999", "nan"])
def test_a_rate_limited_restore_note_is_answered_at_once_and_posted_once_later(
    slack, db, now, retry_after
):
    click(slack, CONFIRM, preview(slack))
    slack.fake.fail("chat.postMessage", status=429, retry_after=retry_after, times=2)

    answer, took = timed(lambda: slack.ask("restore Welcome back.", user_id="UADMIN"))

    assert took < PROMPTLY_S
    text = text_of(answer)
    assert "*The leaderboard is back.*" in text and not leaderboard_state(db).retired
    assert "• <#CAWARDS>: Slack is rate-limiting posts just now" in text
    [owed] = pending_posts(db)
    assert owed.post_key.startswith("restore:")
    owed_until_the_re_drive(slack, now, owed.post_key)


def test_a_post_slack_made_but_never_answered_is_found_not_made_again(slack, db, now):
    """CGENERAL: Slack posts, then the answer never comes (a timeout); CAWARDS: a 429."""
    value = preview(slack)
    slack.fake.fail("chat.postMessage", channel="CGENERAL", apply=True, stall=3.0)
    slack.fake.fail("chat.postMessage", channel="CAWARDS", status=429, retry_after="30")

    answer, took = timed(lambda: click(slack, CONFIRM, value))

    assert took < PROMPTLY_S + 2  # the timeout is all it waited
    text = text_of(answer)
    assert "• <#CAWARDS>: Slack is rate-limiting posts just now" in text
    assert "• <#CGENERAL>: Slack did not confirm it" in text
    key = f"retire:{value}"
    assert announcements(slack, key) == {"CAWARDS": 0, "CGENERAL": 1}
    statuses = {c.channel: c.status for c in post_claims(db, key)}
    assert statuses == {"CAWARDS": "failed", "CGENERAL": "unknown"}

    slack.move_to(now + AFTER_THE_LIMIT)
    run_redrive(slack)
    run_redrive(slack)
    assert announcements(slack, key) == {"CAWARDS": 1, "CGENERAL": 1}
    assert {c.channel: c.status for c in post_claims(db, key)} == {
        "CAWARDS": "posted",
        "CGENERAL": "posted",
    }
    assert pending_posts(db) == []


@pytest.mark.parametrize("retry_after", RETRY_AFTERS)
def test_admin_retire_at_the_terminal_comes_back_at_once_and_serve_announces_once(
    slack, db, now, retry_after, capsys
):
    """`aiusage admin retire` (an operator's script): a 429 is handed back at once, the
    operator is told in one line and the exit code says it is not all done; the re-drive
    `serve` runs posts it once."""
    slack.fake.fail("chat.postMessage", status=429, retry_after=retry_after, times=2)
    capsys.readouterr()

    code, took = timed(
        lambda: main(["admin", "retire", "--announcement", "Thanks.", "--by", "UADMIN"])
    )

    assert took < PROMPTLY_S
    assert code == 1  # retired, but the announcement is not out yet
    out, err = capsys.readouterr()
    assert "Retired the leaderboard (retirement 1) as UADMIN." in out
    assert "  CAWARDS: rate-limited\n  CGENERAL: rate-limited\n" in out
    assert LATER in out and "Traceback" not in err, err
    assert leaderboard_state(db).retired
    assert len(posts(slack)) == 2
    owed_until_the_re_drive(slack, now, "retire:1")


@pytest.mark.parametrize("retry_after", ["30", "0", "nan"])
def test_admin_restore_note_at_the_terminal_comes_back_at_once_and_is_posted_once(
    slack, db, now, retry_after, capsys
):
    assert main(["admin", "retire", "--announcement", "Thanks.", "--by", "UADMIN"]) == 0
    slack.fake.fail("chat.postMessage", status=429, retry_after=retry_after, times=2)
    capsys.readouterr()

    code, took = timed(
        lambda: main(["admin", "restore", "--note", "Welcome back.", "--by", "UADMIN"])
    )

    assert took < PROMPTLY_S
    assert code == 1
    out = capsys.readouterr().out
    assert "Restored the leaderboard as UADMIN" in out and LATER in out
    assert not leaderboard_state(db).retired
    [owed] = pending_posts(db)
    assert owed.post_key.startswith("restore:")
    owed_until_the_re_drive(slack, now, owed.post_key)


@pytest.mark.parametrize("retry_after", ["30", "99999999", "soon"])
def test_admin_retire_by_a_workspace_owner_while_users_info_is_rate_limited(
    slack, db, retry_after, capsys
):
    """Whether Olive owns the workspace is asked of Slack (`users.info`): a 429 comes back
    at once, nothing is changed or refused in the audit, and the operator is told to rerun."""
    slack.fake.fail("users.info", status=429, retry_after=retry_after)
    capsys.readouterr()

    code, took = timed(
        lambda: main(["admin", "retire", "--announcement", "Thanks.", "--by", "UOLIVE"])
    )

    assert took < PROMPTLY_S
    assert code == 1
    err = capsys.readouterr().err
    assert err == (
        "aiusage: Slack is rate-limiting users.info just now, so whether UOLIVE is a workspace "
        "admin is not known; run it again shortly. Nothing was changed.\n"
    )
    assert not leaderboard_state(db).retired and audit_log(db) == []
    assert posts(slack) == []

    assert main(["admin", "retire", "--announcement", "Thanks.", "--by", "UOLIVE"]) == 0
    assert leaderboard_state(db).changed_by == "UOLIVE"
