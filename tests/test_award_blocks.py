"""The award post's Block Kit and plain-text fallback, rendered from plain data."""

from __future__ import annotations

from datetime import date

from bot.slack.views.award_post import award_blocks, award_text
from jobs.award_rules import AwardPost, BadgeLine

POST = AwardPost(
    week_label="2026-W53",
    week_start=date(2026, 12, 28),
    week_end=date(2027, 1, 3),
    badges=(
        BadgeLine(":calendar:", "Steady hand", "UALICE", "5 active days, 41% acceptance"),
        BadgeLine(":compass:", "Explorer", "UBOB", "2 tools, 3 kinds of work"),
    ),
    rewards_line="Badges reward useful use, never raw volume.",
)


def test_blocks_have_a_header_a_section_per_badge_and_what_badges_reward():
    assert [block.to_dict() for block in award_blocks(POST)] == [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": "AI badges for week 2026-W53 (28 Dec to 3 Jan 2027)",
                "emoji": True,
            },
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": ":calendar: *Steady hand*: <@UALICE> (5 active days, 41% acceptance)",
            },
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": ":compass: *Explorer*: <@UBOB> (2 tools, 3 kinds of work)",
            },
        },
        {"type": "divider"},
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": "Badges reward useful use, never raw volume."}],
        },
    ]


def test_the_fallback_text_says_the_same_in_plain_lines():
    assert award_text(POST).splitlines() == [
        "AI badges for week 2026-W53 (28 Dec to 3 Jan 2027)",
        ":calendar: *Steady hand*: <@UALICE> (5 active days, 41% acceptance)",
        ":compass: *Explorer*: <@UBOB> (2 tools, 3 kinds of work)",
        "Badges reward useful use, never raw volume.",
    ]
