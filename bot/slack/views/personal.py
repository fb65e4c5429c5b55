"""Replies to a person about their own usage: `me`, `top`, `badges`, opt-out, digest and
help."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from slack_sdk.models.blocks import Block

from bot.slack.answers import (
    BadgesAnswer,
    DigestAnswer,
    HelpAnswer,
    MeAnswer,
    NotAnswered,
    OptAnswer,
    RetiredTopAnswer,
    TopAnswer,
    Viewer,
)
from bot.slack.views.reply import Reply, as_of, context, divider, header, note, section, sections
from bot.slack.views.text import (
    MAX_BLOCKS,
    MAX_ECHO,
    MAX_FALLBACK_TEXT,
    MAX_SECTION_TEXT,
    MAX_TOOLS_SHOWN,
    by_line,
    clip,
    day_label,
    duration,
    escaped,
    number,
    percent,
    plain,
    shown,
    time_label,
)
from jobs.award_measures import days_phrase
from jobs.scoring import SCORE_EXPLANATION, Period, ToolLine, sparkline
from storage.records import Award, Totals

# -- me -----------------------------------------------------------------------------------------


def render_me(answer: MeAnswer) -> Reply:
    c = answer.comparison
    title = f"Your AI usage, week {c.week.label}"
    footer = as_of(answer.as_of, answer.viewer)
    if not answer.has_usage:
        text = (
            "No AI usage has been recorded for you in the last 8 weeks.\n"
            "Usage arrives when your tools report it: an integration sends events with your "
            "Slack ID or the email address on your Slack profile, or an admin imports a "
            "vendor report (Copilot, Cursor, Kiro). Emails are matched to Slack "
            "automatically, and usage counts from the first event once matched. If a tool "
            "you use is not connected yet, ask whoever runs aiusage to add it."
        )
        empty: list[Block] = [
            header(title),
            section(text),
            *_badge_blocks(answer.awards, 5, answer.badge_names),
            footer,
        ]
        return Reply(clip(f"{title}: nothing recorded yet.", MAX_FALLBACK_TEXT), empty)

    same_days = c.last_week_same_days
    span = (
        f"{day_label(c.week.start)} to today ({day_label(c.today)}), against the same days "
        f"last week ({day_label(same_days.first)} to {day_label(same_days.last)})"
    )
    blocks: list[Block] = [
        header(title),
        context(span),
        section(_figures(c.this_week, same_days)),
        divider(),
        section(_tools(c.tools)),
        section(_trend(c.trend, c.last_week)),
        *_badge_blocks(answer.awards, 5, answer.badge_names),
        footer,
    ]
    this = c.this_week.totals
    fallback = (
        f"{title}: {number(this.requests)} requests, {number(this.tokens)} tokens, "
        f"{c.this_week.active_days} active days this week "
        f"(same days last week: {number(same_days.totals.requests)} requests)."
    )
    return Reply(clip(fallback, MAX_FALLBACK_TEXT), blocks)


def _figures(now: Period, before: Period) -> str:
    a, b = now.totals, before.totals
    lines = [
        f"*Requests:* {number(a.requests)}  (last week: {number(b.requests)})",
        f"*Tokens:* {_tokens(a)}  (last week: {_tokens(b)})",
    ]
    if a.suggestions_shown is not None or b.suggestions_shown is not None:
        lines.append(
            f"*Accepted suggestions:* {_accepted(a, now)}  (last week: {_accepted(b, before)})"
        )
    else:
        lines.append("*Accepted suggestions:* not reported by your tools")
    lines.append(f"*Active days:* {now.active_days}  (last week: {before.active_days})")
    if a.cost_usd is not None or b.cost_usd is not None:
        lines.append(f"*Estimated cost:* {_cost(a.cost_usd)}  (last week: {_cost(b.cost_usd)})")
    if a.shipped is not None or b.shipped is not None:
        lines.append(f"*Shipped with AI:* {_shipped(a)}  (last week: {_shipped(b)})")
    return "\n".join(lines)


def _shipped(t: Totals) -> str:
    """Commits and pull requests made with the tools; only tools that report them count."""
    if t.shipped is None:
        return "not reported"
    return f"{_count(t.commits or 0, 'commit')}, {_count(t.pull_requests or 0, 'pull request')}"


def _count(n: int, noun: str) -> str:
    return f"{number(n)} {noun}{'' if n == 1 else 's'}"


def _tokens(t: Totals) -> str:
    return f"{number(t.tokens)} ({number(t.input_tokens)} in, {number(t.output_tokens)} out)"


def _accepted(t: Totals, p: Period) -> str:
    accepted = t.suggestions_accepted or 0
    return (
        f"{number(accepted)} of {number(t.suggestions_shown or 0)} ({percent(p.acceptance_rate)})"
    )


def _cost(cost: float | None) -> str:
    return "not reported" if cost is None else f"${cost:,.2f}"


def _tools(tools: Sequence[ToolLine]) -> str:
    lines = ["*By tool this week*"]
    for line in tools[:MAX_TOOLS_SHOWN]:
        t = line.this_week
        parts = [f"{number(t.requests)} requests", f"{number(t.tokens)} tokens"]
        if t.suggestions_accepted is not None:
            parts.append(f"{number(t.suggestions_accepted)} accepted")
        if t.cost_usd is not None:
            parts.append(_cost(t.cost_usd))
        if t.shipped is not None:
            parts.append(_shipped(t))
        parts.append(f"last week {number(line.last_week.requests)} requests")
        lines.append(f"• {shown(line.tool)}: " + ", ".join(parts))
    if len(tools) > MAX_TOOLS_SHOWN:
        lines.append(f"…and {number(len(tools) - MAX_TOOLS_SHOWN)} more tools")
    return "\n".join(lines)


def _trend(trend: Sequence[tuple[Any, int]], last_week: Period) -> str:
    values = [requests for _, requests in trend]
    first, last = trend[0][0], trend[-1][0]
    return (
        f"*Requests per week, last {len(trend)} weeks:* `{sparkline(values)}`  "
        f"({first.label} to {last.label}, this week so far; "
        f"last week in full: {number(last_week.totals.requests)})"
    )


# -- top ----------------------------------------------------------------------------------------


def render_top(answer: TopAnswer) -> Reply:
    title = f"Leaderboard, week {answer.week.label}"
    if answer.top:
        lines = [
            f"{r.place}. <@{r.slack_user_id}>: {days_phrase(r.active_days)}, "
            f"{number(r.suggestions_accepted)} accepted suggestions "
            f"({percent(r.acceptance_rate)} accepted)"
            for r in answer.top
        ]
        board = "\n".join(lines)
    else:
        board = "Nobody is on the board yet this week."
    if answer.too_little:
        people = (
            "1 person is" if answer.too_little == 1 else f"{number(answer.too_little)} people are"
        )
        board += (
            f"\n{people} not ranked yet: too little use this week "
            f"(under {number(answer.least_work)} requests' worth)."
        )
    if answer.mine is not None:
        mine = f"*Your place:* {answer.mine.place} of {number(answer.ranked_count)}."
    elif answer.viewer.opted_out and answer.excluded:
        mine = "*Your place:* you opted out, so you are not shown. `/aiusage optin` to rejoin."
    elif answer.excluded:
        mine = "*Your place:* you are not ranked this week."
    elif answer.short:
        mine = (
            "*Your place:* not ranked yet: your week so far shows less than "
            f"{number(answer.least_work)} requests' worth of use (each suggestion shown or "
            "1,000 tokens counts as one request), the least every badge asks for too."
        )
    else:
        mine = "*Your place:* not on the board yet this week."
    footer = (
        f"{SCORE_EXPLANATION} People who opted out are not shown. "
        f"As of {time_label(answer.as_of)} your time ({answer.viewer.tz.key})."
    )
    blocks: list[Block] = [
        header(title),
        section(board),
        section(mine),
        context(footer),
    ]
    return Reply(clip(f"{title}. {plain(mine)}", MAX_FALLBACK_TEXT), blocks)


# -- badges -------------------------------------------------------------------------------------


def render_badges(answer: BadgesAnswer) -> Reply:
    title = "Your badges"
    blocks = [
        header(title),
        *_badge_blocks(answer.awards, None, answer.badge_names, answer.viewer),
    ]
    count = len(answer.awards)
    fallback = f"{title}: {count} so far." if count else f"{title}: none yet."
    return Reply(fallback, blocks)


def _badge_blocks(
    awards: Sequence[Award],
    limit: int | None,
    names: Mapping[str, str],
    viewer: Viewer | None = None,
) -> list[Block]:
    if not awards:
        return [
            section(
                "*Badges:* none yet. Awards go each week to steady, useful use, never to volume."
            )
        ]
    lines = [_badge_line(a, names) for a in awards[:limit]]
    heading = "*Badges*" if limit is not None else f"*{number(len(awards))} so far, newest first*"
    if limit is not None and len(awards) > limit:
        lines.append("`/aiusage badges` lists them all.")
    # Leave room for the header and a footer within the 50-block limit.
    return list(sections([heading, *lines], max_blocks=MAX_BLOCKS - 3))


def _badge_line(award: Award, names: Mapping[str, str]) -> str:
    end = award.week_start + timedelta(days=6)
    year, week, _ = award.week_start.isocalendar()
    name = names.get(award.category) or _category_label(award.category)
    return (
        f"• *{shown(name, inert=False)}*, week {year}-W{week:02d} "
        f"({day_label(award.week_start)} to {day_label(end)}): {shown(award.reason, 300)}"
    )


def _category_label(category: str) -> str:
    # A category no longer configured (renamed or switched off) still reads as words.
    words = category.replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:]


# -- opt-out, help ------------------------------------------------------------------------------


def render_opt(answer: OptAnswer) -> Reply:
    if answer.opted_out:
        text = (
            "You are off the public leaderboard and award posts from now on. "
            "`/aiusage me` still shows you your own usage. `/aiusage optin` to rejoin."
        )
    else:
        text = "You are back on the leaderboard and can win awards again."
    return Reply(plain(text), [section(text)])


def render_digest_answer(answer: DigestAnswer) -> Reply:
    if answer.on and answer.forgotten:
        return note(
            "Your weekly digest is *on*, but none is sent while aiusage keeps your forget: "
            "nothing of yours is counted. `/aiusage optin` lifts it, and your digest comes "
            "from the next Monday on."
        )
    if answer.on:
        return note(
            "Your weekly digest is *on*: each Monday morning, your time, after the awards, "
            "you get your week by direct message. Only you see it. `/aiusage digest off` stops it."
        )
    return note("Your weekly digest is *off*. `/aiusage digest on` turns it back on.")


HELP_LINES = (
    "*`/aiusage` shows how you use AI tools. Replies are visible only to you.*",
    "• `/aiusage me` (or just `/aiusage`): your usage this week against last week, "
    "by tool, with your badges",
    "• `/aiusage top`: this week's leaderboard and your place, ranked by steady, accepted "
    "use (active days, then accepted suggestions), never by volume",
    "• `/aiusage badges`: your awards, newest first",
    "• `/aiusage optout` / `/aiusage optin`: leave / rejoin the public leaderboard and award posts",
    "• `/aiusage digest on` / `/aiusage digest off`: your week by direct message each Monday",
    "• `/aiusage mydata`: what is stored about you; `/aiusage forget`: delete it all "
    "(privacy notice: docs/privacy.md)",
    "• `/aiusage help`: this message",
    "*Admin commands*",
    "• `/aiusage retire &lt;announcement&gt;`: retire the leaderboard and awards, and post the "
    "announcement (asks you to confirm first)",
    "• `/aiusage restore [note]`: bring the leaderboard and awards back (posting the note, "
    "if any, to the award channels)",
    "• `/aiusage status`: state, schedule, channels, last award post, integrations",
    "• `/aiusage org [team]`: admins and insight viewers: cost and efficiency by tool and "
    "team, naming nobody",
)


def render_help(answer: HelpAnswer) -> Reply:
    intro = None
    if answer.unknown:
        intro = f"I don't know “{shown(answer.unknown, MAX_ECHO)}”. Here is what I can do:"
    text = "\n".join([intro, *HELP_LINES] if intro else HELP_LINES)
    return Reply(clip(plain(text), MAX_FALLBACK_TEXT), [section(text)])


NOT_ANSWERED = {
    "stranger": "Sorry, aiusage answers only members of this workspace.",
    "guest": (
        "The leaderboard and the org view are for members of this workspace, not guests. "
        "Your own figures are yours to see: `/aiusage me`, `/aiusage badges`, `/aiusage mydata`."
    ),
    "unverified": (
        "Sorry, aiusage could not check with Slack who you are just now, and it answers only "
        "members of this workspace. Please try again in a minute."
    ),
}


BUSY = (
    "Slack is busy just now and asked aiusage to wait, so it could not check with Slack who "
    "you are. Please try again in about {wait}."
)


def render_not_answered(answer: NotAnswered) -> Reply:
    if answer.reason == "busy":
        return note(BUSY.format(wait=duration(answer.try_again_s)))
    return note(NOT_ANSWERED[answer.reason])


def render_retired_top(answer: RetiredTopAnswer) -> Reply:
    state = answer.state
    text = (
        f"*The leaderboard was retired*{by_line(state)}, so there is no ranking and no weekly "
        "badges.\nYour own usage and cost are still yours to see: `/aiusage me`, and your "
        "badges: `/aiusage badges`."
    )
    blocks: list[Block] = [header("Leaderboard retired"), section(text)]
    if state.announcement:
        blocks.append(context(escaped(state.announcement, MAX_SECTION_TEXT)))
    return Reply(clip(plain(text), MAX_FALLBACK_TEXT), blocks)
