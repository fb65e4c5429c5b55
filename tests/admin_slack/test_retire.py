"""Retiring the leaderboard from Slack, end to end: who may, the private preview, the confirm
and cancel buttons, and the announcement posted to the fake Slack over HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jobs.admin_rules import DEFAULT_ANNOUNCEMENT
from storage.admin import audit_log, get_retirement
from storage.leaderboard import leaderboard_state
from storage.posts import post_claims
from tests.admin_slack.helpers import CANCEL, CONFIRM, buttons, click, posts, preview
from tests.slack_command_helpers import text_of

# What this module tests lies above the database: it runs on SQLite alone (conftest.py).
pytestmark = pytest.mark.one_database


# -- who may ----------------------------------------------------------------------------------


def test_a_non_admin_is_refused_and_told_who_can_and_nothing_changes(slack, db):
    for text in ("retire Bye", "restore", "status"):
        reply = text_of(slack.ask(text, user_id="UALICE"))
        assert "is for admins: the admins listed in AIUSAGE_ADMINS (<@UADMIN>)" in reply
        assert "Slack workspace admins and owners" in reply and "Nothing was changed." in reply
    assert not leaderboard_state(db).retired
    assert get_retirement(db, 1) is None  # not even a pending retirement
    assert [(e.actor, e.action, e.outcome) for e in audit_log(db)] == [
        ("UALICE", "retire", "refused"),
        ("UALICE", "restore", "refused"),
        ("UALICE", "status", "refused"),
    ]


def test_a_workspace_owner_counts_as_admin_as_users_info_says(slack):
    assert "aiusage status" in text_of(slack.ask("status", user_id="UOLIVE"))


def test_workspace_owners_do_not_count_when_turned_off(owners_do_not_count, slack, db):
    value = preview(slack)
    assert "is for admins: the admins listed in AIUSAGE_ADMINS (<@UADMIN>). Nothing" in text_of(
        slack.ask("status", user_id="UOLIVE")
    )
    assert "is for admins" in text_of(click(slack, CONFIRM, value, user_id="UOLIVE"))
    assert not leaderboard_state(db).retired


def test_a_demoted_owner_loses_admin_within_minutes_not_a_day(slack, now):
    assert "aiusage status" in text_of(slack.ask("status", user_id="UOLIVE"))
    slack.fake.users["UOLIVE"]["is_owner"] = False
    slack.move_to(now + timedelta(minutes=1))
    assert "aiusage status" in text_of(slack.ask("status", user_id="UOLIVE"))  # cached
    slack.move_to(now + timedelta(minutes=6))
    assert "is for admins" in text_of(slack.ask("status", user_id="UOLIVE"))
    assert "is for admins" not in text_of(slack.ask("me", user_id="UOLIVE"))


def test_a_non_admin_replaying_the_confirm_button_is_refused(slack, db):
    value = preview(slack)
    answer = click(slack, CONFIRM, value, user_id="UALICE")
    assert "is for admins" in text_of(answer) and "Nothing was changed." in text_of(answer)
    assert answer["replace_original"] is False  # the admin's preview stays usable
    assert not leaderboard_state(db).retired and posts(slack) == []
    assert get_retirement(db, int(value)).status == "pending"
    assert ("UALICE", "retire-confirm", "refused") in [
        (e.actor, e.action, e.outcome) for e in audit_log(db)
    ]


# -- retire -----------------------------------------------------------------------------------


def test_retire_shows_a_private_preview_with_the_channels_and_a_confirm_dialog(slack, db):
    reply = slack.ask("retire Thanks <!channel> & <@UBOB>, *bye*", user_id="UADMIN")
    assert reply["response_type"] == "ephemeral"
    text = text_of(reply)
    assert "Retire the leaderboard?" in text
    assert "*This announcement will be posted to* <#CAWARDS>, <#CGENERAL>:" in text
    # Exactly as it will be posted: formatting kept, mentions escaped so nobody is pinged.
    assert "Thanks &lt;!channel&gt; &amp; &lt;@UBOB&gt;, *bye*" in text
    assert "<!channel>" not in str(reply) and "<@UBOB>" not in str(reply)
    assert "keeps `/aiusage me` and `/aiusage badges` working" in text
    found = buttons(reply)
    confirm, cancel = found[CONFIRM], found[CANCEL]
    pending = get_retirement(db, int(confirm["value"]))
    assert pending.status == "pending" and pending.requested_by == "UADMIN"
    assert cancel["value"] == confirm["value"] == str(pending.id)  # only the id
    assert confirm["confirm"]["confirm"]["text"] == "Retire"
    assert "posts the announcement to 2 channels" in confirm["confirm"]["text"]["text"]
    assert posts(slack) == [] and not leaderboard_state(db).retired


def test_an_empty_announcement_gets_a_default_the_admin_sees_first(slack, db):
    reply = slack.ask("retire", user_id="UADMIN")
    assert DEFAULT_ANNOUNCEMENT.replace("`", "") in text_of(reply).replace("`", "")
    assert "You gave no announcement, so this default one will be posted." in text_of(reply)
    click(slack, CONFIRM, buttons(reply)[CONFIRM]["value"])
    assert leaderboard_state(db).announcement == DEFAULT_ANNOUNCEMENT
    assert "Thank you to everyone" in slack.fake.messages["CAWARDS"][0]["text"]


def test_confirming_retires_posts_once_per_channel_and_reports_back(slack, db, now):
    value = preview(slack, "retire Thanks <!here>, we stop ranking.")
    answer = click(slack, CONFIRM, value)
    assert answer["replace_original"] is True
    text = text_of(answer)
    assert "*The leaderboard is retired*" in text and "by <@UADMIN>" in text
    assert "• <#CAWARDS>: posted" in text and "• <#CGENERAL>: posted" in text
    state = leaderboard_state(db)
    assert (state.status, state.changed_by) == ("retired", "UADMIN")
    assert state.announcement == "Thanks <!here>, we stop ranking."
    for channel in ("CAWARDS", "CGENERAL"):
        [message] = slack.fake.messages[channel]
        assert message["metadata"]["event_payload"] == {"post_key": f"retire:{value}"}
        assert "Thanks &lt;!here&gt;, we stop ranking." in message["text"]
        assert "<!here>" not in str(message)
    assert [(e.action, e.outcome) for e in audit_log(db)] == [
        ("retire", "pending"),
        ("retire-confirm", "done"),
    ]


def test_a_second_click_or_a_second_admin_posts_nothing_again(slack, db):
    value = preview(slack)
    click(slack, CONFIRM, value)
    again = click(slack, CONFIRM, value)
    assert "Already retired by <@UADMIN>" in text_of(again)
    assert "Nothing was posted again." in text_of(again)
    other = click(slack, CONFIRM, value, user_id="UOLIVE")
    assert "Already retired by <@UADMIN>" in text_of(other)
    assert len(posts(slack)) == 2
    assert leaderboard_state(db).changed_by == "UADMIN"


def test_a_button_value_in_other_digits_names_no_retirement(slack, db):
    value = preview(slack)
    arabic = value.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    for forged in (arabic, "²", value + "²"):
        answer = click(slack, CONFIRM, forged)
        assert "That retirement request no longer exists. Nothing was changed." in text_of(answer)
    assert not leaderboard_state(db).retired and posts(slack) == []


def test_cancel_leaves_everything_as_it_was(slack, db):
    value = preview(slack)
    answer = click(slack, CANCEL, value)
    assert answer["replace_original"] is True
    assert "Cancelled." in text_of(answer)
    late = click(slack, CONFIRM, value)
    assert "was cancelled. Nothing was changed." in text_of(late)
    assert not leaderboard_state(db).retired and posts(slack) == []


def test_confirming_one_preview_closes_the_others_and_a_restore_does_not_reopen_them(slack, db):
    draft = preview(slack, "retire DRAFT: do not send, wording not agreed")
    final = preview(slack, "retire Thanks, everyone.")
    click(slack, CONFIRM, final)
    closed = f"via slack: retirement {draft}: closed by confirming retirement {final}"
    assert ("retire-cancel", "done", closed) in [
        (e.action, e.outcome, e.detail) for e in audit_log(db)
    ]
    assert "is back" in text_of(slack.ask("restore", user_id="UADMIN"))
    before = len(posts(slack))

    late = text_of(click(slack, CONFIRM, draft))  # still on the admin's screen

    assert "This retirement request was cancelled. Nothing was changed." in late
    assert not leaderboard_state(db).retired and len(posts(slack)) == before


@pytest.mark.parametrize("command", ["retire", "restore"])
def test_an_announcement_past_the_limit_is_called_too_long_not_an_unknown_command(
    slack, db, command
):
    words = "We are changing how we look at AI usage. " * 60
    reply = text_of(slack.ask(f"{command} {words}", user_id="UADMIN"))
    assert f"too long: {len(words.strip()):,} characters, at most 2,000" in reply
    assert "I don't know" not in reply and "Nothing was changed." in reply
    assert get_retirement(db, 1) is None and not leaderboard_state(db).retired


def test_a_rate_limited_channel_is_left_to_the_re_drive_and_the_others_get_it_now(slack, db):
    slack.fake.fail("chat.postMessage", status=429, retry_after=1, channel="CAWARDS")
    answer = click(slack, CONFIRM, preview(slack))
    text = text_of(answer)
    assert "• <#CAWARDS>: Slack is rate-limiting posts just now" in text
    assert "• <#CGENERAL>: posted" in text and "fix the channel" not in text
    assert len(slack.fake.messages["CAWARDS"]) == 0 and len(slack.fake.messages["CGENERAL"]) == 1
    assert len([c for c in posts(slack) if c.params["channel"] == "CAWARDS"]) == 1


def test_a_failing_channel_is_reported_and_the_others_still_get_it(slack, db):
    slack.fake.fail("chat.postMessage", error="not_in_channel", channel="CAWARDS")
    answer = click(slack, CONFIRM, preview(slack))
    text = text_of(answer)
    assert "• <#CAWARDS>: *not posted* (not_in_channel)" in text
    assert "• <#CGENERAL>: posted" in text
    assert "it is retried on its own" in text
    assert leaderboard_state(db).retired
    assert [m["metadata"]["event_payload"]["post_key"] for m in slack.fake.messages["CGENERAL"]]
    assert ("CAWARDS", "failed") in [(c.channel, c.status) for c in post_claims(db, "retire:1")]


def test_an_announcement_as_slack_sends_it_is_posted_as_typed_not_escaped_twice(slack, db):
    # Slack sends a command's `&`, `<` and `>` as `&amp;`, `&lt;` and `&gt;`; the admin typed
    # "Q&A on Friday <3 (&amp; stays)". Escaped again, every channel read "Q&amp;A".
    value = preview(slack, "retire Q&amp;A on Friday &lt;3 (&amp;amp; stays)")
    click(slack, CONFIRM, value)
    assert leaderboard_state(db).announcement == "Q&A on Friday <3 (&amp; stays)"
    for channel in ("CAWARDS", "CGENERAL"):
        [message] = slack.fake.messages[channel]
        section = message["blocks"][1]["text"]["text"]
        assert section == "Q&amp;A on Friday &lt;3 (&amp;amp; stays)"
