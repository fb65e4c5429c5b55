"""Someone who opts out while last week's award post is on its way through the award channels
is left out of every channel's post made after the opt-out: Slack slow to answer the first
channel, a 429 on the second retried by `serve`'s re-drive, every winner opted out before the
second channel's turn. Posts made before the opt-out are left as they are ("from now on",
the opt-out's own words; a forget is what rewrites them)."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from bot.cli.main import main
from storage.outbox import outbox_item
from storage.posts import post_claims
from tests.privacy.award_edits.helpers import KEY, naming, run_redrive, usage
from tests.slack_command_helpers import text_of


def opting_out_after_the_first_channel(slack, users: tuple[str, ...]) -> threading.Thread:
    """`aiusage awards post` in a thread, Slack holding its answer to the first channel's
    post until each of `users` has typed `/aiusage optout`; returns the finished thread."""
    posted, opted = threading.Event(), threading.Event()

    def hold(params: dict[str, Any]) -> None:
        if params.get("channel") == "CAWARDS":
            posted.set()
            assert opted.wait(30)

    slack.fake.after("chat.postMessage", hold)
    codes: list[int] = []
    poster = threading.Thread(target=lambda: codes.append(main(["awards", "post"])))
    poster.start()
    assert posted.wait(30)
    for user in users:
        reply = slack.ask("optout", user_id=user)
        assert "off the public leaderboard" in text_of(reply)
    opted.set()
    poster.join(30)
    slack.fake.after("chat.postMessage", lambda _params: None)
    poster.codes = codes  # type: ignore[attr-defined]
    return poster


def test_an_opt_out_between_two_channels_leaves_them_out_of_the_second(slack, db):
    usage(slack, bob_wins=True)
    poster = opting_out_after_the_first_channel(slack, ("UALICE",))
    assert poster.codes == [0]  # type: ignore[attr-defined]

    assert naming(slack.fake, "UALICE") == ["CAWARDS"]  # made before she opted out
    assert naming(slack.fake, "UBOB") == ["CAWARDS", "CGENERAL"]
    assert {c.channel: c.status for c in post_claims(db, KEY)} == {
        "CAWARDS": "posted",
        "CGENERAL": "posted",
    }
    assert outbox_item(db, KEY).status == "done"


def test_every_winner_opting_out_midway_cancels_the_later_channels(slack, db, capsys):
    usage(slack, bob_wins=True)
    poster = opting_out_after_the_first_channel(slack, ("UALICE", "UBOB"))
    out = capsys.readouterr()
    assert poster.codes == [0], out  # type: ignore[attr-defined]

    assert naming(slack.fake, "UALICE") == naming(slack.fake, "UBOB") == ["CAWARDS"]
    assert len(slack.fake.messages["CGENERAL"]) == 0
    assert "CGENERAL: cancelled" in out.out
    item = outbox_item(db, KEY)
    assert item.status == "cancelled" and "nobody" in (item.detail or "")
    run_redrive(slack)  # nothing is owed: the re-drive posts nothing later
    assert len(slack.fake.messages["CGENERAL"]) == 0


def test_an_opt_out_while_slack_rate_limits_the_second_channel_holds_at_the_re_drive(
    slack, db, now
):
    usage(slack, bob_wins=True)
    slack.fake.fail("chat.postMessage", status=429, retry_after=30, channel="CGENERAL")
    assert main(["awards", "post"]) == 1
    assert naming(slack.fake, "UALICE") == ["CAWARDS"]
    slack.ask("optout", user_id="UALICE")

    slack.move_to(now + timedelta(minutes=2))
    run_redrive(slack)
    assert naming(slack.fake, "UALICE") == ["CAWARDS"]
    assert naming(slack.fake, "UBOB") == ["CAWARDS", "CGENERAL"]
    assert outbox_item(db, KEY).status == "done"
