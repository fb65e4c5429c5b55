"""Posts to the award channels: the retirement and restore announcements."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    MarkdownTextObject,
)

from bot.slack.views.reply import header, section
from bot.slack.views.text import MAX_FALLBACK_TEXT, MAX_SECTION_TEXT, clip, escape, escaped
from jobs.admin_rules import (
    Announcement,
)

ANNOUNCEMENT_TITLES = {
    "retired": "The AI usage leaderboard is retired",
    "restored": "The AI usage leaderboard is back",
}
ANNOUNCEMENT_FOOTERS = {
    "retired": "Your own usage and cost stay visible to you with `/aiusage me`.",
    "restored": "`/aiusage top` shows this week's leaderboard again.",
}


def announcement_blocks(announcement: Announcement) -> list[Block]:
    """The announcement as posted to the award channels. The admin's text keeps its
    formatting but `&`, `<` and `>` are escaped, so it can never mention @channel, @here or
    anyone, nor hide a link behind other words."""
    return [
        header(ANNOUNCEMENT_TITLES[announcement.kind]),
        section(escaped(announcement.text, MAX_SECTION_TEXT - 200)),
        ContextBlock(elements=[MarkdownTextObject(text=ANNOUNCEMENT_FOOTERS[announcement.kind])]),
    ]


def announcement_text(announcement: Announcement) -> str:
    """The plain-text fallback of the announcement (notifications, screen readers)."""
    return clip(
        f"{ANNOUNCEMENT_TITLES[announcement.kind]}: {escape(announcement.text)}",
        MAX_FALLBACK_TEXT,
    )
