"""The weekly award post as Block Kit and as plain text. Pure functions of an AwardPost.

A badge's emoji and title and the rewards line come from the operator's rules file: shown
escaped and held to Block Kit's limits like any other text, so a title can neither fail the
week's post nor mention @channel in it every week."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.slack.views.text import (
    MAX_FALLBACK_TEXT,
    MAX_SECTION_TEXT,
    clip,
    escaped,
    shown,
    shown_with_marks,
)
from jobs.award_rules import AwardPost

# A reason is the award rules' own words and figures, kept with the award.
MAX_REASON = 300


def week_title(post: AwardPost) -> str:
    start, end = post.week_start, post.week_end
    span = (
        f"{start:%-d} to {end:%-d %b %Y}"
        if start.month == end.month
        else f"{start:%-d %b} to {end:%-d %b %Y}"
    )
    return f"AI badges for week {post.week_label} ({span})"


def badge_line(emoji: str, title: str, slack_user_id: str, reason: str) -> str:
    return (
        f"{shown_with_marks(emoji)} *{shown_with_marks(title)}*: <@{slack_user_id}> "
        f"({shown(reason, MAX_REASON)})"
    )


def rewards(post: AwardPost) -> str:
    return escaped(post.rewards_line, MAX_SECTION_TEXT)


def award_blocks(post: AwardPost) -> list[Block]:
    """A header with the week, one section per badge, and what the badges reward."""
    blocks: list[Block] = [HeaderBlock(text=week_title(post))]
    for badge in post.badges:
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(
                    text=badge_line(badge.emoji, badge.title, badge.slack_user_id, badge.reason)
                )
            )
        )
    blocks.append(DividerBlock())
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=rewards(post))]))
    return blocks


def award_text(post: AwardPost) -> str:
    """The plain-text fallback (notifications, screen readers) and the CLI preview."""
    lines = [week_title(post)]
    lines += [badge_line(b.emoji, b.title, b.slack_user_id, b.reason) for b in post.badges]
    lines.append(rewards(post))
    return clip("\n".join(lines), MAX_FALLBACK_TEXT)
