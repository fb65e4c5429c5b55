"""The leaderboard once retired, restored, and its status, from Slack end to end: `top` a
notice, the awards stopped, then back from the next scheduled week."""

from __future__ import annotations

import re
from datetime import date

import pytest

from bot.composition import award_config, slack_notifier
from jobs.awards import catch_up_due, post_week, scheduled_awards
from storage.admin import audit_log
from storage.connectors import record_day_done, record_failure, record_success
from storage.integrations import create_integration
from storage.leaderboard import leaderboard_state
from tests.admin_slack.helpers import CONFIRM, RESUMED, SKIPPED, click, posts, preview
from tests.slack_command_helpers import THIS_MONDAY, ingest, text_of, used, worked

# What this module tests lies above the database: it runs on SQLite alone (conftest.py).
pytestmark = pytest.mark.one_database


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
