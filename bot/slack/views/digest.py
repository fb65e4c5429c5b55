"""The weekly digest DM as Block Kit: pure, in `/aiusage me`'s words."""

from __future__ import annotations

from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject

from bot.slack.views.personal import _badge_blocks, _figures, _tools
from bot.slack.views.reply import header, section
from bot.slack.views.text import MAX_FALLBACK_TEXT, clip, day_label, number
from jobs.digest_rules import DigestPost

FOOTER = (
    "Only you get this digest. These figures are for you, not for performance reviews. "
    "`/aiusage digest off` (or the button in the app's Home tab) stops it."
)


def digest_blocks(post: DigestPost) -> list[Block]:
    c = post.comparison
    span = f"{day_label(post.week.start)} to {day_label(post.week.end)}, against the week before"
    blocks: list[Block] = [
        header(f"Your week {post.week.label}"),
        ContextBlock(elements=[MarkdownTextObject(text=span)]),
        section(_figures(c.this_week, c.last_week)),
    ]
    if c.tools:
        blocks.append(section(_tools(c.tools).replace("*By tool this week*", "*By tool*")))
    if post.awards:
        blocks += _badge_blocks(list(post.awards), 5, {})
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=FOOTER)]))
    return blocks


def digest_text(post: DigestPost) -> str:
    t = post.comparison.this_week
    return clip(
        f"Your week {post.week.label}: {number(t.totals.requests)} requests, "
        f"{t.active_days} active day{'' if t.active_days == 1 else 's'}.",
        MAX_FALLBACK_TEXT,
    )
