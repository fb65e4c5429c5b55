"""The App Home tab as Block Kit: pure builders from plain data to a `home` view.

The figures are `/aiusage me`'s own blocks, so Home and `me` never disagree in numbers or
words; the chart, settings buttons, badge explanations and the standing notice come after.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    ImageBlock,
    MarkdownTextObject,
)

from bot.slack.answers import MeAnswer
from bot.slack.views.personal import render_me
from bot.slack.views.reply import header, section
from bot.slack.views.text import (
    MAX_SECTION_TEXT,
    as_text,
    clip,
    shown_as_code,
    shown_with_marks,
)
from jobs.award_measures import TOOL_USERS
from jobs.award_rules import Category
from jobs.award_rules_file import DEFAULT_REWARDS_LINE
from storage.records import LeaderboardState

OPT_OUT_ACTION = "aiusage_home_optout"
OPT_IN_ACTION = "aiusage_home_optin"
DIGEST_ON_ACTION = "aiusage_home_digest_on"
DIGEST_OFF_ACTION = "aiusage_home_digest_off"
ORG_ACTION = "aiusage_home_org"
HOME_ACTIONS = (OPT_OUT_ACTION, OPT_IN_ACTION, DIGEST_ON_ACTION, DIGEST_OFF_ACTION, ORG_ACTION)

# Block Kit: a Home view holds at most 100 blocks; image alt text and URLs at most 2,000 and
# 3,000 characters.
MAX_HOME_BLOCKS = 100
MAX_ALT = 2000
MAX_IMAGE_URL = 3000
NOTICE = (
    ":lock: Only you can see this tab. These figures are for you, to see how AI tools help "
    "your work; they are not for performance reviews."
)


@dataclass(frozen=True, slots=True)
class ChartImage:
    """Where Slack finds the chart: a URL on our server, or a file uploaded to Slack."""

    alt_text: str
    image_url: str | None = None
    slack_file_id: str | None = None


@dataclass(frozen=True, slots=True)
class HomeData:
    """Everything one person's Home shows."""

    me: MeAnswer
    categories: tuple[Category, ...]
    digest_on: bool
    chart: ChartImage | None = None
    chart_text: str | None = None  # sparklines, when no image can be shown
    leaderboard: LeaderboardState | None = None  # set for admins only
    note: str | None = None  # a one-off line after a button, e.g. where the org view is


def home_view(data: HomeData) -> dict[str, Any]:
    """The `view` argument of `views.publish`."""
    blocks: list[Block] = [ContextBlock(elements=[MarkdownTextObject(text=NOTICE)])]
    if data.note:
        blocks.append(section(data.note))
    figures = render_me(data.me).blocks
    blocks += figures[:-1]  # `me`'s last block is its "as of" footer; Home adds its own below
    blocks += _chart_blocks(data)
    blocks += _settings_blocks(data)
    blocks += _rewards_blocks(data.categories)
    if data.leaderboard is not None:
        blocks += _admin_blocks(data.leaderboard)
    blocks.append(figures[-1])
    if len(blocks) > MAX_HOME_BLOCKS:
        blocks = [*blocks[: MAX_HOME_BLOCKS - 1], blocks[-1]]
    return {"type": "home", "blocks": [block.to_dict() for block in blocks]}


def home_text(view: dict[str, Any]) -> str:
    """The Home view as plain text, for the demo."""
    lines = []
    for block in view["blocks"]:
        if block["type"] == "image":
            where = block.get("image_url") or f"file {block.get('slack_file', {}).get('id')}"
            lines.append(f"[chart: {block['alt_text']}] ({where})")
        else:
            lines.append(as_text([block]))
    return "\n".join(lines)


def _chart_blocks(data: HomeData) -> list[Block]:
    if data.chart is not None:
        chart = data.chart
        image: dict[str, Any] = {"alt_text": clip(chart.alt_text, MAX_ALT) or "Your usage chart"}
        if chart.slack_file_id:
            image["slack_file"] = {"id": chart.slack_file_id}
        elif chart.image_url and len(chart.image_url) <= MAX_IMAGE_URL:
            image["image_url"] = chart.image_url
        else:
            return _text_chart_blocks(data)
        return [DividerBlock(), ImageBlock(title="Your last 12 weeks", **image)]
    return _text_chart_blocks(data)


def _text_chart_blocks(data: HomeData) -> list[Block]:
    if not data.chart_text:
        return []
    # Tool names are an integration's to choose: shown as text, and never a code fence.
    lines = (
        shown_as_code(line.replace("`", "'"), MAX_SECTION_TEXT)
        for line in data.chart_text.split("\n")
    )
    return [DividerBlock(), section("*Your last 12 weeks*\n```" + "\n".join(lines) + "```")]


def _settings_blocks(data: HomeData) -> list[Block]:
    opted_out = data.me.viewer.opted_out
    board = (
        "You are *off* the public leaderboard and award posts."
        if opted_out
        else "You are *on* the public leaderboard and can win badges in award posts."
    )
    digest = (
        "Weekly digest: *on*. Each Monday morning, your time, you get your week by direct message."
        if data.digest_on
        else "Weekly digest: *off*. Turn it on for your week by direct message each Monday."
    )
    buttons = [
        _button("Rejoin the leaderboard", OPT_IN_ACTION, "optin")
        if opted_out
        else _button("Leave the leaderboard", OPT_OUT_ACTION, "optout"),
        _button("Turn the digest off", DIGEST_OFF_ACTION, "off")
        if data.digest_on
        else _button("Turn the digest on", DIGEST_ON_ACTION, "on", style="primary"),
    ]
    return [
        DividerBlock(),
        header("Your settings"),
        section(f"{board}\n{digest}"),
        ActionsBlock(block_id="aiusage_home_settings", elements=buttons),
    ]


def _rewards_blocks(categories: Sequence[Category]) -> list[Block]:
    lines = [f"*What each badge rewards*  {DEFAULT_REWARDS_LINE}"]
    enabled = [c for c in categories if c.enabled]
    lines += [f"• {c.emoji} *{shown_with_marks(c.title)}*: {category_rewards(c)}" for c in enabled]
    if enabled:
        lines.append(week_of_use(enabled))
    return [DividerBlock(), section("\n".join(lines))]


def week_of_use(categories: Sequence[Category]) -> str:
    """The use every badge (and a place in `top`) asks for, and what makes a day active, in a
    sentence each."""
    least = sorted({c.min_work for c in categories})
    amount = f"{least[0]:,}" if len(least) == 1 else f"{least[0]:,} to {least[-1]:,}, by badge,"
    return (
        f"Every badge needs a week of real use: at least {amount} requests, counting each "
        f"suggestion shown or 1,000 tokens as one. A place in `/aiusage top` needs "
        f"{least[0]:,} too. A day is active when a tool did work on it: "
        "a request, tokens or a suggestion shown."
    )


def category_rewards(category: Category) -> str:
    """What a badge category rewards, in words, from its configured thresholds."""
    days = f"at least {category.min_active_days} active days"
    match category.key:
        case "steady":
            return f"using AI tools on at least {category.minimum:g} days of the week."
        case "acceptance":
            most = "" if category.maximum is None else f"; believed up to {category.maximum:.0%}"
            return (
                f"accepting at least {category.minimum:.0%} of suggestions shown "
                f"({category.min_suggestions:,} shown or more, {days}{most})."
            )
        case "efficiency":
            most = "" if category.maximum is None else f"; believed up to {category.maximum:g}"
            return (
                "the most accepted lines per 1,000 tokens: useful output, not volume "
                f"(from {category.min_tokens:,} tokens and {category.min_accepted:,} "
                f"accepted, {days}{most})."
            )
        case "breadth":
            return (
                f"using at least {category.minimum:g} different tools and kinds of work, "
                f"counting a tool only when {TOOL_USERS} or more people used it that week ({days})."
            )
        case "improvement":
            return (
                "more active days than your own recent weekly average "
                f"(with {category.min_previous_weeks} earlier weeks to compare, {days})."
            )
        case "shipped":
            return (
                "the most commits and pull requests made with AI per active day "
                f"(at least {category.min_shipped:,}, from {category.min_tokens:,} tokens, "
                f"{days}, after {category.min_previous_weeks} earlier week of use or more)."
            )
        case _:
            return f"the week's best {category.key.replace('_', ' ')} ({days})."


def _admin_blocks(state: LeaderboardState) -> list[Block]:
    if state.retired:
        line = (
            "The leaderboard is *retired*: no awards are posted. `/aiusage restore` brings it back."
        )
    else:
        line = "The leaderboard is *live*: awards are posted each week."
    return [
        DividerBlock(),
        header("For admins"),
        section(line),
        ActionsBlock(
            block_id="aiusage_home_admin",
            elements=[_button("Open the org view", ORG_ACTION, "org")],
        ),
    ]


def _button(text: str, action_id: str, value: str, style: str | None = None) -> ButtonElement:
    return ButtonElement(text=text, action_id=action_id, value=value, style=style)
