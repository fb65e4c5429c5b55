"""Retiring and restoring the leaderboard from Slack, end to end: signed commands and button
clicks into the real endpoint, announcements posted to the fake Slack over HTTP."""

from __future__ import annotations

import re
import time
from datetime import date, timedelta

import pytest

from bot.composition import award_config, slack_notifier
from bot.settings import load_settings
from jobs.admin_rules import DEFAULT_ANNOUNCEMENT
from jobs.awards import catch_up_due, post_week, scheduled_awards
from jobs.weeks import Week
from storage.admin import audit_log, get_retirement
from storage.connectors import record_day_done, record_failure, record_success
from storage.integrations import create_integration
from storage.leaderboard import leaderboard_state
from storage.posts import post_claims
from tests.slack_command_helpers import THIS_MONDAY, ingest, text_of, used, worked

# What this module tests lies above the database: it runs on SQLite alone (conftest.py).
pytestmark = pytest.mark.one_database

CONFIRM = "aiusage_retire_confirm"
CANCEL = "aiusage_retire_cancel"
# `now` is Wednesday 2026-11-18 (week 2026-W47); awards post on Mondays at 09:00 UTC.
SKIPPED = Week(date(2026, 11, 9))  # last complete week, due while retired
RESUMED = Week(date(2026, 11, 16))  # the week the next run (Mon 23 Nov) awards


@pytest.fixture
def slack_settings(slack_settings, monkeypatch):
    """One configured admin and two award channels."""
    monkeypatch.setenv("AIUSAGE_ADMINS", "UADMIN")
    monkeypatch.setenv("AIUSAGE_AWARD_CHANNELS", "CAWARDS,CGENERAL")
    return load_settings()


@pytest.fixture(autouse=True)
def admins(fake_slack):
    """UADMIN is listed in AIUSAGE_ADMINS; Olive owns the workspace; Alice is neither."""
    fake_slack.add_user("UADMIN", name="ada", tz="Europe/London")
    fake_slack.add_user("UOLIVE", name="olive", tz="Europe/Paris", is_owner=True)


def buttons(reply) -> dict[str, dict]:
    [actions] = [b for b in reply["blocks"] if b["type"] == "actions"]
    return {e["action_id"]: e for e in actions["elements"]}


def preview(slack, text="retire Thanks, everyone.", user_id="UADMIN") -> str:
    """Ask to retire; the pending retirement's id, as its confirm button carries it."""
    return buttons(slack.ask(text, user_id=user_id))[CONFIRM]["value"]


def click(slack, action: str, value: str, user_id: str = "UADMIN") -> dict:
    """Press a button; what the app then posted to the message's response_url."""
    before = len(slack.responses("click"))
    assert slack.click(action, value, user_id=user_id).status_code == 200
    deadline = time.monotonic() + 5
    while len(slack.responses("click")) <= before:
        assert time.monotonic() < deadline, "no answer to the click"
        time.sleep(0.01)
    return slack.responses("click")[before]


def posts(slack) -> list:
    return slack.fake.calls_to("chat.postMessage")


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


@pytest.fixture
def owners_do_not_count(settings, monkeypatch):
    """AIUSAGE_WORKSPACE_ADMINS=false: only the listed admins are admins."""
    monkeypatch.setenv("AIUSAGE_WORKSPACE_ADMINS", "false")


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


def test_a_rate_limit_while_announcing_is_waited_out_and_posts_once(slack, db):
    slack.fake.fail("chat.postMessage", status=429, retry_after=1, channel="CAWARDS")
    answer = click(slack, CONFIRM, preview(slack))
    assert "• <#CAWARDS>: posted" in text_of(answer)
    assert len(slack.fake.messages["CAWARDS"]) == 1 and len(slack.fake.messages["CGENERAL"]) == 1
    assert len([c for c in posts(slack) if c.params["channel"] == "CAWARDS"]) == 2


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


# -- after retirement -------------------------------------------------------------------------


def test_top_becomes_a_notice_and_personal_stats_keep_working(slack, db, api_key):
    ingest(slack, api_key, used("UALICE", THIS_MONDAY, requests=12))
    click(slack, CONFIRM, preview(slack, "retire We stopped ranking people."))
    top = text_of(slack.ask("top", user_id="UALICE"))
    assert "Leaderboard retired" in top and "by <@UADMIN>" in top
    assert "<!date^" in top  # the date, shown in each reader's own zone
    assert "We stopped ranking people." in top and "<@UALICE>:" not in top
    assert "*Requests:* 12" in text_of(slack.ask("me", user_id="UALICE"))
    assert "*Badges:* none yet." in text_of(slack.ask("badges", user_id="UALICE"))


def test_an_announcement_all_brackets_keeps_every_message_within_block_kit(slack):
    # 1,990 `<` become 7,960 characters once escaped; Slack refuses a block text past 3,000,
    # which would have refused every `top` until a restore.
    click(slack, CONFIRM, preview(slack, "retire " + "<" * 1990))
    top = slack.ask("top", user_id="UALICE")
    for message in [top, *(call.params for call in posts(slack))]:
        for text in block_texts(message):
            assert len(text) <= 3000
            # Cut at a whole `&lt;`, never through one.
            assert not re.search(r"&[a-z]{0,2}…", text), text[-12:]
    assert block_texts(top)[-1].endswith("&lt;&lt;…")


def block_texts(message: dict) -> list[str]:
    """Every text of a message's header, section and context blocks."""
    texts = []
    for block in message["blocks"]:
        if "text" in block:
            texts.append(block["text"]["text"])
        texts += [element["text"] for element in block.get("elements", []) if "text" in element]
    return texts


def test_the_awards_stop_while_retired(slack, db):
    click(slack, CONFIRM, preview(slack))
    settings = slack.services.settings
    config, notifier = award_config(settings), slack_notifier(settings)
    clock = slack.services.clock
    assert scheduled_awards(db, notifier, config, clock) is None
    assert post_week(db, notifier, config, SKIPPED, clock).refused.startswith(
        "the leaderboard is retired"
    )
    assert not catch_up_due(db, config, clock())
    assert len(posts(slack)) == 2  # the announcement only


def test_retire_while_retired_says_so(slack):
    click(slack, CONFIRM, preview(slack))
    reply = text_of(slack.ask("retire again", user_id="UOLIVE"))
    assert "already retired" in reply and "by <@UADMIN>" in reply


# -- restore and status -----------------------------------------------------------------------


def test_restore_brings_top_back_and_awards_from_the_next_scheduled_week(slack, db, api_key):
    ingest(slack, api_key, worked("UALICE", THIS_MONDAY))
    click(slack, CONFIRM, preview(slack))
    answer = text_of(slack.ask("restore Welcome back, ranked by steady use.", user_id="UOLIVE"))
    assert "*The leaderboard is back.*" in answer
    assert f"resume with week {RESUMED.label} (Mon 16 Nov to Sun 22 Nov)" in answer
    assert "• <#CAWARDS>: posted" in answer
    [note, _announcement] = slack.fake.messages["CAWARDS"]
    assert note["text"].startswith("The AI usage leaderboard is back: Welcome back")
    state = leaderboard_state(db)
    assert (state.status, state.changed_by, state.resume_week) == (
        "active",
        "UOLIVE",
        RESUMED.start,
    )
    assert "1. <@UALICE>" in text_of(slack.ask("top", user_id="UALICE"))
    # The week that fell due while retired is never posted, by the job or at start-up.
    settings = slack.services.settings
    config, clock = award_config(settings), slack.services.clock
    report = post_week(db, slack_notifier(settings), config, SKIPPED, clock)
    assert report.refused == (
        "2026-W46 was not awarded because the leaderboard was retired; awards resumed with 2026-W47"
    )
    assert not catch_up_due(db, config, clock())
    assert "not retired, so there is nothing to restore" in text_of(
        slack.ask("restore", user_id="UADMIN")
    )


def test_status_shows_state_schedule_channels_posts_integrations_and_flags(slack, db, now):
    create_integration(db, "claude-code", now)
    text = text_of(slack.ask("status", user_id="UADMIN"))
    assert "*State:* active" in text
    assert "*Schedule:* `0 9 * * mon` (UTC); next run <!date^1795424400^" in text
    assert "awarding week 2026-W47" in text
    assert "*Award channels:* <#CAWARDS>, <#CGENERAL>" in text
    assert "• <#CAWARDS>: none yet" in text
    assert "• claude-code: no events yet" in text
    assert "*Integrity flags this week (2026-W47):* 0" in text

    click(slack, CONFIRM, preview(slack))
    text = text_of(slack.ask("status", user_id="UADMIN"))
    assert "*State:* retired since <!date^" in text and "by <@UADMIN>" in text
    assert "paused while retired" in text
    assert [e.action for e in audit_log(db)] == ["status", "retire", "retire-confirm", "status"]


def test_status_shows_a_failing_connector_with_its_error_escaped(slack, db, now):
    record_day_done(db, "cursor", date(2026, 11, 17), now)
    record_success(db, "cursor", 12, now)
    record_failure(db, "copilot", "GitHub refused the key (HTTP 401): <!channel>", now)
    text = text_of(slack.ask("status", user_id="UADMIN"))
    assert "Connectors:" in text
    assert "cursor: last success" in text and "last day 2026-11-17" in text
    assert "copilot" in text and "failing since" in text and "HTTP 401" in text
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text


def test_slack_and_the_cli_show_the_same_status_facts(slack, db, now, capsys):
    """One renderer of the status facts: both surfaces list the same sections and entries,
    each in its own markup; a hostile connector error is escaped for Slack and stripped of
    terminal control characters for the CLI."""
    from bot.cli.main import main

    create_integration(db, "claude-code", now)
    record_failure(db, "copilot", "refused \x1b[2J<!channel> `x`", now)
    click(slack, CONFIRM, preview(slack))
    text = text_of(slack.ask("status", user_id="UADMIN"))
    assert main(["admin", "status"]) == 0
    out = capsys.readouterr().out

    assert "*State:* retired since <!date^" in text and "by <@UADMIN>" in text
    assert "State: retired since 2026-11-18 12:00 (UTC) by UADMIN" in out
    for slack_line, cli_line in (
        ("*Award channels:* <#CAWARDS>, <#CGENERAL>", "Award channels: CAWARDS, CGENERAL"),
        ("• claude-code: no events yet", "  claude-code: no events yet"),
        ("*Integrity flags this week (2026-W47):* 0", "Integrity flags this week (2026-W47): 0"),
        ("• <#CAWARDS>: none yet", "  CAWARDS: none yet"),
    ):
        assert slack_line in text and cli_line in out
    titles = ("State:", "Schedule:", "Award channels:", "Last award post:", "Integrations:")
    titles += ("Integrity flags", "Posts (every one", "Connectors:")
    assert [out.index(t) for t in titles] == sorted(out.index(t) for t in titles)
    assert [text.index(t) for t in titles] == sorted(text.index(t) for t in titles)
    assert "&lt;!channel&gt;" in text and "<!channel>" not in text
    assert "refused ?[2J<!channel> `x`" in out and "\x1b" not in out
