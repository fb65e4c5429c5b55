"""A forget while Slack rate-limits the edits of the award posts that named the person
(`chat.update`, and `conversations.history` where a post must be looked for): the forget
confirm and `aiusage people forget` answer at once, saying so, the edits stay owed, and
`serve`'s re-drive makes each exactly once after the limit."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest

from bot.cli.main import main
from bot.composition import files_job
from storage.award_edits import owed_award_edits
from storage.outbox import outbox_item
from storage.posts import post_claims
from tests.home.helpers import chart_file, open_home, without_public_url
from tests.privacy.award_edits.helpers import (
    CHANNELS,
    KEY,
    award_messages,
    naming,
    run_redrive,
    usage,
)
from tests.privacy.helpers import clicked
from tests.slack_command_helpers import text_of

RETRY_AFTERS = ["30", "99999999", "0", "-5", "nan", "soon"]
PROMPTLY_S = 3.0  # the old code slept out Retry-After up to 5 times per edit
AFTER_THE_LIMIT = timedelta(minutes=6)  # Retry-After is held to 5 minutes
# What `aiusage people forget` prints when Slack rate-limits her Home or her chart's delete.
HOME_LATER = (
    "Slack is rate-limiting the App Home just now; their tab is emptied the next time they open it."
)
FILES_LATER = "Slack is rate-limiting file deletes just now; `aiusage serve` deletes 1 shortly."


def timed(work):
    started = time.monotonic()
    result = work()
    return result, time.monotonic() - started


def edited_once_after_the_limit(slack, now) -> None:
    """Still owed; a re-drive before the limit is over edits nothing, one after it edits
    every post once, and nothing is ever posted again."""
    assert naming(slack.fake) == list(CHANNELS)
    [owed] = owed_award_edits(slack.services.db)
    assert owed.check_after is not None and owed.check_after > now
    assert "ratelimited" in (owed.error or "")
    tried = len(slack.fake.calls_to("chat.update"))

    run_redrive(slack)
    assert len(slack.fake.calls_to("chat.update")) == tried

    slack.move_to(now + AFTER_THE_LIMIT)
    run_redrive(slack)
    run_redrive(slack)
    assert naming(slack.fake) == [] and owed_award_edits(slack.services.db) == []
    assert {c: len(t) for c, t in award_messages(slack.fake).items()} == dict.fromkeys(CHANNELS, 1)


@pytest.mark.parametrize("retry_after", RETRY_AFTERS)
def test_a_forget_confirmed_while_edits_are_rate_limited_answers_at_once(
    slack, db, now, retry_after
):
    usage(slack, bob_wins=True)
    assert main(["awards", "post"]) == 0
    slack.fake.fail("chat.update", status=429, retry_after=retry_after, times=2)

    done, took = timed(lambda: clicked(slack, "aiusage_forget_confirm"))

    assert took < PROMPTLY_S
    text = text_of(done)
    assert "*Done: everything aiusage stored about you is deleted.*" in text
    assert "2 award posts are not edited yet: Slack is rate-limiting edits just now" in text
    assert "they are edited on their own shortly" in text
    assert len(slack.fake.calls_to("chat.update")) == 2
    edited_once_after_the_limit(slack, now)
    assert len(slack.fake.calls_to("chat.update")) == 4


def test_people_forget_while_edits_are_rate_limited_says_so_at_once(slack, db, now, capsys):
    usage(slack, bob_wins=True)
    assert main(["awards", "post"]) == 0
    slack.fake.fail("chat.update", status=429, retry_after="30", times=2)
    capsys.readouterr()

    code, took = timed(lambda: main(["people", "forget", "UALICE"]))

    assert took < PROMPTLY_S
    assert code == 1  # forgotten, but not every post is edited yet
    out, err = capsys.readouterr()
    assert "Award posts edited: 0" in out
    assert "award post not edited: 2026-W46 in CAWARDS: ratelimited" in err
    assert "Slack is rate-limiting edits just now; `aiusage serve` makes them shortly." in out
    edited_once_after_the_limit(slack, now)


def test_a_post_looked_for_while_history_is_rate_limited_is_edited_later(
    slack, db, now, monkeypatch
):
    """Slack made the post to CGENERAL but answered 500, and a retirement then stopped the
    post being delivered: the forget must look for it in `conversations.history`, which
    answers 429."""
    usage(slack, bob_wins=True)
    slack.fake.fail("chat.postMessage", channel="CGENERAL", status=500, apply=True)
    assert main(["awards", "post"]) == 1
    monkeypatch.setenv("AIUSAGE_ADMINS", "UADMIN")
    assert main(["admin", "retire", "--announcement", "Thanks.", "--by", "UADMIN"]) == 0
    item = outbox_item(db, KEY)
    assert item is not None and item.status == "cancelled"
    assert [c.status for c in post_claims(db, KEY)] == ["posted", "unknown"]
    slack.move_to(now + timedelta(minutes=1))  # past the claim's check delay
    slack.fake.fail("conversations.history", status=429, retry_after="99999999")

    done, took = timed(lambda: clicked(slack, "aiusage_forget_confirm"))

    assert took < PROMPTLY_S
    assert "1 award post is not edited yet: Slack is rate-limiting" in text_of(done)
    assert "it is edited on its own shortly" in text_of(done)
    assert naming(slack.fake) == ["CGENERAL"]  # CAWARDS, posted, was edited at once
    assert len(slack.fake.calls_to("conversations.history")) == 1
    slack.move_to(now + timedelta(minutes=1) + AFTER_THE_LIMIT)
    run_redrive(slack)
    assert naming(slack.fake) == [] and naming(slack.fake, "UBOB") == list(CHANNELS)
    assert owed_award_edits(db) == []
    assert {c: len(t) for c, t in award_messages(slack.fake).items()} == dict.fromkeys(CHANNELS, 1)


@pytest.mark.parametrize("retry_after", RETRY_AFTERS)
def test_people_forget_while_the_app_home_is_rate_limited_says_so_at_once(
    slack, db, now, retry_after, capsys
):
    """`views.publish` (her emptied Home) and `files.delete` (her chart) answer 429: the
    CLI comes back at once, says so in one line each and exits 1; the file stays owed for
    `serve`'s delete job, which deletes it once, and her next Home open publishes the
    emptied tab (nothing keeps a publish owed: the open re-renders anyway)."""
    usage(slack, bob_wins=False)
    without_public_url(slack)  # her chart is a Slack file, which the forget deletes
    file_id = chart_file(open_home(slack))
    # Both publishes, before the deletion's commit and after it.
    slack.fake.fail("views.publish", status=429, retry_after=retry_after, times=2)
    slack.fake.fail("files.delete", status=429, retry_after=retry_after)
    published = len(slack.fake.calls_to("views.publish"))
    capsys.readouterr()

    code, took = timed(lambda: main(["people", "forget", "UALICE"]))

    assert took < PROMPTLY_S
    assert code == 1  # forgotten, but her Home and chart are not emptied in Slack yet
    out, err = capsys.readouterr()
    assert "Forgotten:" in out and "not emptied" not in err, err
    assert HOME_LATER in out and FILES_LATER in out
    assert len(slack.fake.calls_to("views.publish")) == published + 2
    assert len(slack.fake.calls_to("files.delete")) == 1 and file_id in slack.fake.files

    delete_owed_files = files_job(slack.services)
    assert delete_owed_files is not None
    delete_owed_files()
    assert len(slack.fake.calls_to("files.delete")) == 1  # not due yet: Slack asked us to wait
    slack.move_to(now + AFTER_THE_LIMIT)
    delete_owed_files()
    delete_owed_files()
    assert len(slack.fake.calls_to("files.delete")) == 2 and file_id not in slack.fake.files

    view = open_home(slack, count=published + 2)
    assert view["blocks"][0]["text"]["text"] == "Your aiusage data is deleted"
    assert "UALICE" not in json.dumps(view) and "slack_file" not in json.dumps(view)
