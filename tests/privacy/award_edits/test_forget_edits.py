"""A forget owes the edits of the award posts that named the person, in its own transaction,
and the edits are made until Slack takes them: at once, by a rerun of `people forget`, by
`awards post` and by `serve`'s re-drive. Slack fails the edits (500s), a forget is killed
before it edits, a post's outcome is unknown when its winner is forgotten, a post is being
made as they are forgotten; each time every message of the week ends up not naming them."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

import pytest

from bot.cli.main import main
from storage.award_edits import owed_award_edits
from storage.awards import week_awards
from storage.outbox import outbox_item
from storage.posts import post_claims
from tests.award_posting.helpers import WEEK
from tests.fault_helpers import Aiusage, wait_until
from tests.post_helpers import seed_award_week
from tests.privacy.award_edits.helpers import (
    CHANNELS,
    KEY,
    award_messages,
    naming,
    run_redrive,
    usage,
)
from tests.privacy.helpers import LAST_WEEK, clicked
from tests.slack_command_helpers import text_of


def test_status_lists_the_weeks_still_owed_an_edit_and_names_nobody(slack, db, capsys):
    usage(slack, bob_wins=True)
    assert main(["awards", "post"]) == 0
    slack.fake.fail("chat.update", status=500, times=2)
    assert main(["people", "forget", "UALICE"]) == 1
    capsys.readouterr()

    assert main(["admin", "status"]) == 0
    out = capsys.readouterr().out
    assert "Award posts still to edit since a forget (retried by the re-drive):" in out
    assert "  2026-W46: owed since 2026-11-18 12:00 (UTC), 1 try" in out
    assert "    last: " in out and "HTTP 500" in out
    assert "UALICE" not in out

    assert main(["people", "forget", "UALICE"]) == 0  # Slack is back: the edits are made
    capsys.readouterr()
    assert main(["admin", "status"]) == 0
    assert "still to edit" not in capsys.readouterr().out


def test_a_forget_while_slack_fails_the_edits_owes_them_and_a_rerun_makes_them(
    slack, db, capsys, caplog
):
    usage(slack, bob_wins=True)
    assert main(["awards", "post"]) == 0
    assert naming(slack.fake) == ["CAWARDS", "CGENERAL"]
    slack.fake.fail("chat.update", status=500, times=2)
    caplog.set_level(logging.INFO)
    capsys.readouterr()

    assert main(["people", "forget", "UALICE"]) == 1  # deleted; the posts could not be edited
    refused_out, refused_err = capsys.readouterr()
    assert naming(slack.fake) == ["CAWARDS", "CGENERAL"]
    [owed] = owed_award_edits(db)
    assert owed.week_start == LAST_WEEK.start and "HTTP 500" in (owed.error or "")

    # Slack is back: running the forget again makes the edits it still owes.
    assert main(["people", "forget", "UALICE"]) == 0
    out, err = capsys.readouterr()
    assert naming(slack.fake) == [] and naming(slack.fake, "UBOB") == ["CAWARDS", "CGENERAL"]
    assert "Award posts edited: 2" in out and err == ""
    assert owed_award_edits(db) == []
    # The first run said what it could not do, and that it is still owed.
    assert "Award posts edited: 0" in refused_out
    assert "award post not edited: 2026-W46 in CAWARDS: HTTP 500" in refused_err
    assert "award post not edited: 2026-W46 in CGENERAL: HTTP 500" in refused_err
    assert "retried by `aiusage serve` until Slack takes it" in refused_out
    # Nothing that was logged names her, nor does the audit.
    assert "UALICE" not in caplog.text and "alice" not in caplog.text.lower()
    assert main(["audit"]) == 0
    assert "UALICE" not in capsys.readouterr().out


def test_the_re_drive_makes_the_edits_slack_refused_once_they_are_due(slack, db, now):
    usage(slack, bob_wins=False)
    assert main(["awards", "post"]) == 0
    slack.fake.fail("chat.update", error="fatal_error", times=2)
    done = clicked(slack, "aiusage_forget_confirm")
    assert naming(slack.fake) == ["CAWARDS", "CGENERAL"]

    run_redrive(slack)  # a refused edit waits (the check delay, doubling) before it is tried
    assert len(slack.fake.calls_to("chat.update")) == 2
    slack.move_to(now + timedelta(minutes=1))
    run_redrive(slack)
    assert naming(slack.fake) == []
    assert owed_award_edits(db) == []
    # Her badge stays, anonymous, and the posts now show the week without her.
    [kept] = week_awards(db, LAST_WEEK.start)
    assert kept.slack_user_id is None
    run_redrive(slack)
    assert len(slack.fake.calls_to("chat.update")) == 4  # nothing more once made
    # She was told the edits were not made yet, and that they would be.
    assert "2 award posts could not be edited yet; aiusage keeps trying" in text_of(done)


@pytest.mark.parametrize("bob_wins", [True, False], ids=["another-winner", "sole-winner"])
def test_a_post_whose_outcome_was_unknown_at_the_forget_is_edited_once_found(
    slack, db, now, bob_wins
):
    # Slack posts to CGENERAL and answers 500: the claim is `unknown`.
    usage(slack, bob_wins=bob_wins)
    slack.fake.fail("chat.postMessage", channel="CGENERAL", status=500, apply=True)
    assert main(["awards", "post"]) == 1
    assert [c.status for c in post_claims(db, KEY)] == ["posted", "unknown"]
    assert naming(slack.fake) == ["CAWARDS", "CGENERAL"]

    clicked(slack, "aiusage_forget_confirm")
    assert naming(slack.fake) == ["CGENERAL"]  # the posted one is edited at once

    # The re-check finds the message (it is not posted twice) and it is edited too. With no
    # winner left the post is no longer owed, so the edit looks for the message itself.
    slack.move_to(now + timedelta(minutes=1))
    run_redrive(slack)
    assert naming(slack.fake) == []
    assert {c: len(t) for c, t in award_messages(slack.fake).items()} == {
        "CAWARDS": 1,
        "CGENERAL": 1,
    }
    assert naming(slack.fake, "UBOB") == (["CAWARDS", "CGENERAL"] if bob_wins else [])
    assert owed_award_edits(db) == []
    item = outbox_item(db, KEY)
    assert item is not None
    assert item.status == ("done" if bob_wins else "cancelled")


def test_awards_post_edits_the_post_its_re_check_finds(slack, db, now, capsys):
    usage(slack, bob_wins=True)
    slack.fake.fail("chat.postMessage", channel="CGENERAL", status=500, apply=True)
    assert main(["awards", "post"]) == 1
    assert main(["people", "forget", "UALICE"]) == 0
    forget_out = capsys.readouterr().out

    slack.move_to(now + timedelta(minutes=1))
    assert main(["awards", "post", "--week", LAST_WEEK.label]) == 0
    assert naming(slack.fake) == [] and naming(slack.fake, "UBOB") == ["CAWARDS", "CGENERAL"]
    out = capsys.readouterr().out
    assert "CGENERAL: found" in out and "Award posts edited: 2" in out
    assert owed_award_edits(db) == []
    # The forget said which post it could not edit yet, and why.
    assert "Award posts edited: 1" in forget_out
    assert "Award post still to edit: 2026-W46 in CGENERAL: its post is unknown" in forget_out


def test_a_post_being_made_as_its_winner_is_forgotten_is_edited_after(slack, db, capsys):
    """The post was built naming her; she is forgotten while it goes to CGENERAL."""
    usage(slack, bob_wins=True)
    forgot: list[int] = []

    def forget_now(params: dict[str, Any]) -> bool:
        if params.get("channel") == "CGENERAL" and not forgot:
            forgot.append(main(["people", "forget", "UALICE"]))
        return True

    slack.fake.before("chat.postMessage", forget_now)
    assert main(["awards", "post"]) == 0
    assert forgot == [0]
    assert naming(slack.fake) == [] and naming(slack.fake, "UBOB") == ["CAWARDS", "CGENERAL"]
    out = capsys.readouterr().out
    assert "Award post still to edit: 2026-W46 in CGENERAL: its post is being made" in out
    assert owed_award_edits(db) == []


@pytest.fixture
def procs(database_url, fake_slack, tmp_path):
    runner = Aiusage(
        {
            "AIUSAGE_DATABASE_URL": database_url,
            "SLACK_API_URL": fake_slack.api_url,
            "SLACK_BOT_TOKEN": "xoxb-faults",
            "AIUSAGE_AWARD_CHANNELS": ",".join(CHANNELS),
            # Long enough that the forget is killed while it waits for its edit.
            "AIUSAGE_SLACK_TIMEOUT_SECONDS": "30",
        },
        tmp_path,
    )
    yield runner
    runner.stop_all()


@pytest.mark.postgres
def test_serve_makes_the_edits_of_a_forget_killed_before_it_edited(db, now, fake_slack, procs):
    seed_award_week(db, WEEK, now)
    assert procs.run("awards", "post", "--week", WEEK.label)[0] == 0
    assert naming(fake_slack) == ["CAWARDS", "CGENERAL"]
    editing, killed = threading.Event(), threading.Event()

    def hold(_params: dict[str, Any]) -> bool:
        editing.set()
        killed.wait(30)
        return False  # the edit is dropped, undone: the client never hears back

    fake_slack.before("chat.update", hold)
    forget = procs.start("people", "forget", "UALICE")
    assert editing.wait(30), procs.output(procs.count)
    procs.kill(forget)  # after the forget's commit, before any edit
    killed.set()
    assert week_awards(db, WEEK.start)[0].slack_user_id is None
    assert naming(fake_slack) == ["CAWARDS", "CGENERAL"]

    fake_slack.before("chat.update", lambda _params: True)
    procs.serve()  # its re-drive runs at start
    wait_until("serve to edit both posts", lambda: naming(fake_slack) == [])
    wait_until("the edit to be settled", lambda: owed_award_edits(db) == [])
