"""Block builders: exact output for small answers, and Block Kit's limits for huge ones."""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from bot.slack.answers import BadgesAnswer, HelpAnswer, MeAnswer, OptAnswer, Viewer
from bot.slack.views.channel import announcement_blocks
from bot.slack.views.render import render
from bot.slack.views.text import MAX_NAME, as_text, clip, escape, escaped, shown
from jobs.admin_rules import Announcement, RetirePreview, StatusReport
from jobs.scoring import compare_weeks
from jobs.weeks import Week
from storage.records import (
    Award,
    DailyUsage,
    Integration,
    LeaderboardState,
    Retirement,
    Totals,
)

VIEWER = Viewer("UALICE", 1, ZoneInfo("Europe/Berlin"), opted_out=False)
WEEK = Week(date(2026, 11, 16))
NOW = datetime(2026, 11, 18, 13, 0, tzinfo=ZoneInfo("Europe/Berlin"))


def within_block_kit_limits(reply) -> None:
    blocks = [block.to_dict() for block in reply.blocks]
    assert len(blocks) <= 50
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        if block["type"] == "context":
            assert len(block["elements"]) <= 10
    assert len(reply.text) <= 3000
    json.dumps(blocks)


def test_opt_out_reply():
    reply = render(OptAnswer(opted_out=True))
    assert [b.to_dict() for b in reply.blocks] == [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "You are off the public leaderboard and award posts from now on. "
                "`/aiusage me` still shows you your own usage. `/aiusage optin` to rejoin.",
            },
        }
    ]
    assert reply.as_kwargs()["response_type"] == "ephemeral"
    assert "`" not in reply.text


def test_help_for_unknown_text_escapes_and_clips_it():
    reply = render(HelpAnswer(unknown="<!here> " + "y" * 500))
    first_line = reply.blocks[0].to_dict()["text"]["text"].splitlines()[0]
    assert first_line.startswith("I don't know “&lt;!here&gt; yyy")
    assert "y…”. Here is what I can do:" in first_line and first_line.count("y") < 90


def test_hundreds_of_tools_with_long_names_stay_within_limits():
    daily = [
        DailyUsage(1, date(2026, 11, 16), f"tool-{i:03d}-" + "n" * 200, "chat", Totals(requests=i))
        for i in range(400)
    ]
    answer = MeAnswer(VIEWER, NOW, compare_weeks(daily, WEEK, date(2026, 11, 18)), [])
    reply = render(answer)
    within_block_kit_limits(reply)
    text = as_text([b.to_dict() for b in reply.blocks])
    assert "…and 385 more tools" in text
    assert "tool-399-" in text  # the busiest first


def test_hundreds_of_badges_stay_within_limits():
    awards = [
        Award(
            1, "U1", date(2020, 1, 6) + timedelta(weeks=i), "c" * 64, "r" * 300, datetime.now(UTC)
        )
        for i in range(500)
    ]
    reply = render(BadgesAnswer(VIEWER, awards))
    within_block_kit_limits(reply)
    assert "more" in reply.blocks[-1].to_dict()["text"]["text"]


def test_as_text_shows_names_and_undoes_escapes():
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Top"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "1. <@UA> *x* &lt;y&gt;"}},
    ]
    assert as_text(blocks, {"UA": "alice"}) == "Top\n===\n1. @alice x <y>"


def test_an_announcement_keeps_its_formatting_but_cannot_mention_anyone():
    blocks = announcement_blocks(Announcement("retired", "*Thanks* <!channel> & <@U1>"))
    assert [b.to_dict() for b in blocks] == [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": "The AI usage leaderboard is retired",
                "emoji": True,
            },
        },
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "*Thanks* &lt;!channel&gt; &amp; &lt;@U1&gt;"},
        },
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": "Your own usage and cost stay visible to you with `/aiusage me`.",
                }
            ],
        },
    ]


def test_the_retire_preview_and_a_long_status_stay_within_block_kit_limits():
    at = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
    pending = Retirement(7, "x" * 2000, "UADMIN", at, "pending", None, None)
    preview = render(RetirePreview(pending, Announcement("retired", "x" * 2000), ("C1", "C2")))
    within_block_kit_limits(preview)
    assert [e.to_dict()["value"] for e in preview.blocks[-1].elements] == ["7", "7"]
    status = StatusReport(
        state=LeaderboardState("active"),
        schedule="0 9 * * mon",
        tz=ZoneInfo("UTC"),
        next_fire=at,
        next_week=WEEK,
        channels=tuple(f"C{i}" for i in range(300)),
        last_posts={},
        integrations=[Integration(i, f"tool-{i}", at, None, None) for i in range(500)],
        week=WEEK,
        flags_this_week=3,
    )
    within_block_kit_limits(render(status))


def test_a_tool_named_with_control_and_format_characters_is_shown_harmless() -> None:
    # A vendor report or an integration names the tool; `me` shows it.
    hostile = "cur\u202esor\x1b[31m<!channel>\u200d&"
    daily = [
        DailyUsage(1, WEEK.start, hostile, "chat", Totals(requests=2, events=1)),
    ]
    comparison = compare_weeks(daily, WEEK, WEEK.start + timedelta(days=2))
    reply = render(MeAnswer(VIEWER, NOW, comparison, [], {}))
    text = json.dumps([block.to_dict() for block in reply.blocks])
    assert "cur?sor?[31m&lt;!channel&gt;?&amp;" in text
    assert "\\u202e" not in text and "\\u200d" not in text and "<!channel>" not in text


# What `shown` puts for mrkdwn's emphasis marks, and for the colons and dots of emoji codes
# and links, read back as what they stand for.
_MARKS_BACK = str.maketrans("\u2217\u02cd\u223c\u02cb\u2236\u2024", "*_~`:.")


@given(st.text())
def test_shown_replaces_exactly_the_control_and_format_characters(name: str) -> None:
    visible = "".join("?" if unicodedata.category(ch) in ("Cc", "Cf") else ch for ch in name)
    expected = escape(clip(visible, MAX_NAME))
    assert shown(name).translate(_MARKS_BACK) == expected.translate(_MARKS_BACK)


@given(st.text(alphabet="*_~`aé1 .", max_size=80))
def test_shown_leaves_no_mark_slack_would_read_as_formatting(name: str) -> None:
    # Slack reads `*`, `_`, `~` as emphasis only beside a word's edge; a backtick anywhere.
    text = shown(name, 200)
    assert "`" not in text
    assert not re.search(r"(?<![^\W_])[*_~]|[*_~](?![^\W_])", text), text
    assert shown("claude_code gpt_4o a*b") == "claude_code gpt_4o a*b"


@given(st.text(alphabet="<>&a…", max_size=60), st.integers(min_value=1, max_value=40))
def test_escaped_text_is_held_to_its_limit_and_never_cut_through_an_escape(
    text: str, limit: int
) -> None:
    held = escaped(text, limit)
    assert len(held) <= limit
    # Every `&` left is the start of a whole escape, so Slack shows no stray `&l`.
    assert "&" not in re.sub(r"&(?:amp|lt|gt);", "", held)
    assert held == escape(text) or held.endswith("…")


def test_a_badge_title_from_the_operators_rules_keeps_its_formatting() -> None:
    # The rules file is the operator's: docs/metrics.md promises its formatting works.
    from bot.slack.views.award_post import badge_line

    line = badge_line(":white_check_mark:", "_Steady_ ~hand~", "UALICE", "5 days")
    assert line == ":white_check_mark: *_Steady_ ~hand~*: <@UALICE> (5 days)"
