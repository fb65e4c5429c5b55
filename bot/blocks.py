"""Block Kit messages for each answer: pure functions from answers to `slack_sdk` blocks.

Everything a person or a tool typed is escaped before it is shown (so `<!channel>` stays text),
and every message stays inside Block Kit's limits however long the names or lists are.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.answers import (
    Answer,
    BadgesAnswer,
    HelpAnswer,
    MeAnswer,
    OptAnswer,
    RetiredTopAnswer,
    TopAnswer,
    Viewer,
)
from jobs.admin_rules import (
    DEFAULT_ANNOUNCEMENT,
    AlreadyRetired,
    Announcement,
    NotRetired,
    Refused,
    Restored,
    RetireCancelled,
    RetireClosed,
    RetireDone,
    RetirePreview,
    StatusReport,
)
from jobs.results import ChannelResult
from jobs.stats import SCORE_EXPLANATION, Period, ToolLine, sparkline
from storage.records import Award, LeaderboardState, Totals

CONFIRM_ACTION = "aiusage_retire_confirm"
CANCEL_ACTION = "aiusage_retire_cancel"

# Block Kit's limits (https://docs.slack.dev/reference/block-kit/blocks), with some room.
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_FALLBACK_TEXT = 3000
MAX_TOOLS_SHOWN = 15
MAX_NAME = 60
MAX_ECHO = 80


@dataclass(frozen=True, slots=True)
class Reply:
    """An ephemeral message: blocks plus the plain-text fallback notifications show."""

    text: str
    blocks: list[Block]

    def as_kwargs(self) -> dict[str, Any]:
        """Arguments for `ack`/`respond`: visible only to the caller."""
        return {"response_type": "ephemeral", "text": self.text, "blocks": self.blocks}


def escape(text: str) -> str:
    """Slack's three control characters, so typed text can never mention or link anyone."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def shown(text: str, limit: int = MAX_NAME) -> str:
    """Untrusted text made safe to show: controls replaced, clipped, then escaped."""
    visible = "".join("?" if unicodedata.category(ch) in ("Cc", "Cf") else ch for ch in text)
    return escape(clip(visible, limit))


def number(n: int) -> str:
    return f"{n:,}"


def percent(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate:.0%}"


def day_label(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b}"


def time_label(moment: datetime) -> str:
    return f"{day_label(moment.date())}, {moment:%H:%M}"


def render(answer: Answer) -> Reply:
    """The message for any answer."""
    match answer:
        case MeAnswer():
            return render_me(answer)
        case TopAnswer():
            return render_top(answer)
        case BadgesAnswer():
            return render_badges(answer)
        case OptAnswer():
            return render_opt(answer)
        case HelpAnswer():
            return render_help(answer)
        case RetiredTopAnswer():
            return render_retired_top(answer)
        case _:
            # The privacy answers render from their own module, which imports this one.
            from bot.privacy_blocks import PrivacyAnswer, render_privacy

            if isinstance(answer, PrivacyAnswer):
                return render_privacy(answer)
            return render_admin(answer)


# -- me -----------------------------------------------------------------------------------------


def render_me(answer: MeAnswer) -> Reply:
    c = answer.comparison
    title = f"Your AI usage, week {c.week.label}"
    footer = _as_of(answer.as_of, answer.viewer)
    if not answer.has_usage:
        text = (
            "No AI usage has been recorded for you in the last 8 weeks.\n"
            "Usage arrives when your tools report it: an integration sends events with your "
            "Slack ID or the email address on your Slack profile, or an admin imports a "
            "vendor report (Copilot, Cursor, Kiro). Emails are matched to Slack "
            "automatically, and usage counts from the first event once matched. If a tool "
            "you use is not connected yet, ask whoever runs aiusage to add it."
        )
        blocks = [
            _header(title),
            _section(text),
            *_badge_blocks(answer.awards, 5, answer.badge_names),
            footer,
        ]
        return Reply(clip(f"{title}: nothing recorded yet.", MAX_FALLBACK_TEXT), blocks)

    same_days = c.last_week_same_days
    span = (
        f"{day_label(c.week.start)} to today ({day_label(c.today)}), against the same days "
        f"last week ({day_label(same_days.first)} to {day_label(same_days.last)})"
    )
    blocks: list[Block] = [
        _header(title),
        ContextBlock(elements=[MarkdownTextObject(text=span)]),
        _section(_figures(c.this_week, same_days)),
        DividerBlock(),
        _section(_tools(c.tools)),
        _section(_trend(c.trend, c.last_week)),
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
    return "\n".join(lines)


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
            f"{r.place}. <@{r.slack_user_id}>: {_days(r.active_days)}, "
            f"{number(r.suggestions_accepted)} accepted suggestions "
            f"({percent(r.acceptance_rate)} accepted)"
            for r in answer.top
        ]
        board = "\n".join(lines)
    else:
        board = "Nobody is on the board yet this week."
    if answer.mine is not None:
        mine = f"*Your place:* {answer.mine.place} of {number(answer.ranked_count)}."
    elif answer.viewer.opted_out and answer.excluded:
        mine = "*Your place:* you opted out, so you are not shown. `/aiusage optin` to rejoin."
    elif answer.excluded:
        mine = "*Your place:* you are not ranked this week."
    else:
        mine = "*Your place:* not on the board yet this week."
    footer = (
        f"{SCORE_EXPLANATION} People who opted out are not shown. "
        f"As of {time_label(answer.as_of)} your time ({answer.viewer.tz.key})."
    )
    blocks: list[Block] = [
        _header(title),
        _section(board),
        _section(mine),
        ContextBlock(elements=[MarkdownTextObject(text=footer)]),
    ]
    return Reply(clip(f"{title}. {_plain(mine)}", MAX_FALLBACK_TEXT), blocks)


def _days(n: int) -> str:
    return f"{n} active day" + ("" if n == 1 else "s")


# -- badges -------------------------------------------------------------------------------------


def render_badges(answer: BadgesAnswer) -> Reply:
    title = "Your badges"
    blocks = [
        _header(title),
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
            _section(
                "*Badges:* none yet. Awards go each week to steady, useful use, never to volume."
            )
        ]
    lines = [_badge_line(a, names) for a in awards[:limit]]
    heading = "*Badges*" if limit is not None else f"*{number(len(awards))} so far, newest first*"
    if limit is not None and len(awards) > limit:
        lines.append("`/aiusage badges` lists them all.")
    # Leave room for the header and a footer within the 50-block limit.
    return list(_sections([heading, *lines], max_blocks=MAX_BLOCKS - 3))


def _badge_line(award: Award, names: Mapping[str, str]) -> str:
    end = award.week_start + timedelta(days=6)
    year, week, _ = award.week_start.isocalendar()
    name = names.get(award.category) or _category_label(award.category)
    return (
        f"• *{shown(name)}*, week {year}-W{week:02d} "
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
    return Reply(_plain(text), [_section(text)])


HELP_LINES = (
    "*`/aiusage` shows how you use AI tools. Replies are visible only to you.*",
    "• `/aiusage me` (or just `/aiusage`): your usage this week against last week, "
    "by tool, with your badges",
    "• `/aiusage top`: this week's leaderboard and your place, ranked by steady, accepted "
    "use (active days, then accepted suggestions), never by volume",
    "• `/aiusage badges`: your awards, newest first",
    "• `/aiusage optout` / `/aiusage optin`: leave / rejoin the public leaderboard and award posts",
    "• `/aiusage mydata`: what is stored about you; `/aiusage forget`: delete it all "
    "(privacy notice: docs/privacy.md)",
    "• `/aiusage help`: this message",
    "*Admin commands*",
    "• `/aiusage retire &lt;announcement&gt;`: retire the leaderboard and awards, and post the "
    "announcement (asks you to confirm first)",
    "• `/aiusage restore [note]`: bring the leaderboard and awards back (posting the note, "
    "if any, to the award channels)",
    "• `/aiusage status`: state, schedule, channels, last award post, integrations",
)


def render_help(answer: HelpAnswer) -> Reply:
    intro = None
    if answer.unknown:
        intro = f"I don't know “{shown(answer.unknown, MAX_ECHO)}”. Here is what I can do:"
    text = "\n".join([intro, *HELP_LINES] if intro else HELP_LINES)
    return Reply(clip(_plain(text), MAX_FALLBACK_TEXT), [_section(text)])


# -- admin ------------------------------------------------------------------------------------


def when(moment: datetime) -> str:
    """A moment Slack shows in each reader's own zone; the fallback (UTC) is for clients and
    logs that cannot."""
    fallback = f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def channel_list(channels: Sequence[str]) -> str:
    return ", ".join(f"<#{c}>" for c in channels)


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
        _header(ANNOUNCEMENT_TITLES[announcement.kind]),
        _section(escape(clip(announcement.text, MAX_SECTION_TEXT - 200))),
        ContextBlock(elements=[MarkdownTextObject(text=ANNOUNCEMENT_FOOTERS[announcement.kind])]),
    ]


def announcement_text(announcement: Announcement) -> str:
    """The plain-text fallback of the announcement (notifications, screen readers)."""
    return clip(
        f"{ANNOUNCEMENT_TITLES[announcement.kind]}: {escape(announcement.text)}",
        MAX_FALLBACK_TEXT,
    )


RETIREMENT_EFFECTS = (
    "*Retiring the leaderboard:*\n"
    "• stops the weekly award posts (and `aiusage awards post`)\n"
    "• turns `/aiusage top` into a notice that the leaderboard is retired\n"
    "• keeps `/aiusage me` and `/aiusage badges` working: people's own usage and cost stay "
    "useful to them\n"
    "• deletes nothing; `/aiusage restore` brings it all back"
)


def render_admin(outcome: object) -> Reply:
    """The reply to an admin command or button."""
    match outcome:
        case Refused():
            return _note(
                f"`/aiusage {outcome.command.split('-')[0]}` is for admins: {outcome.who_can}. "
                "Nothing was changed."
            )
        case RetirePreview():
            return render_retire_preview(outcome)
        case AlreadyRetired(state=state):
            return _note(
                f"The leaderboard is already retired{_by(state)}. "
                "`/aiusage restore` brings it back."
            )
        case RetireDone():
            return render_retire_done(outcome)
        case RetireClosed():
            return render_retire_closed(outcome)
        case RetireCancelled():
            return _note("Cancelled. The leaderboard stays as it is and nothing was posted.")
        case Restored():
            return render_restored(outcome)
        case NotRetired():
            return _note("The leaderboard is not retired, so there is nothing to restore.")
        case StatusReport():
            return render_status(outcome)
    raise TypeError(f"no renderer for {type(outcome).__name__}")


def render_retire_preview(preview: RetirePreview) -> Reply:
    """A private preview of the announcement as it will be posted, where it goes, what
    retiring does, and the buttons; the buttons carry only the pending retirement's id."""
    where = (
        f"*This announcement will be posted to* {channel_list(preview.channels)}:"
        if preview.channels
        else "*No award channels are set* (AIUSAGE_AWARD_CHANNELS), so nothing will be "
        "posted; retiring still takes effect."
    )
    blocks: list[Block] = [_header("Retire the leaderboard?"), _section(where)]
    if preview.announcement.text == DEFAULT_ANNOUNCEMENT:
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text="You gave no announcement, so this default one will be posted. "
                        "To write your own: `/aiusage retire &lt;announcement&gt;`."
                    )
                ]
            )
        )
    value = str(preview.retirement.id)
    count = len(preview.channels)
    confirm = ConfirmObject(
        title="Retire the leaderboard?",
        text=f"This stops the weekly awards and posts the announcement to {count} "
        f"channel{'' if count == 1 else 's'}. You can restore it later.",
        confirm="Retire",
        deny="Go back",
        style="danger",
    )
    blocks += [
        DividerBlock(),
        *announcement_blocks(preview.announcement),
        DividerBlock(),
        _section(RETIREMENT_EFFECTS),
        ActionsBlock(
            block_id="aiusage_retire",
            elements=[
                ButtonElement(
                    text="Retire and post",
                    action_id=CONFIRM_ACTION,
                    value=value,
                    style="danger",
                    confirm=confirm,
                ),
                ButtonElement(text="Cancel", action_id=CANCEL_ACTION, value=value),
            ],
        ),
    ]
    return Reply("Retire the leaderboard? Confirm or cancel below.", blocks)


def render_retire_done(done: RetireDone) -> Reply:
    retirement = done.retirement
    at = retirement.decided_at or retirement.requested_at
    lines = [
        f"*The leaderboard is retired*, as of {when(at)} by <@{retirement.decided_by}>. "
        "The weekly awards are stopped and `/aiusage top` shows the notice. "
        "`/aiusage restore` brings it back."
    ]
    if done.unposted:
        lines.append(f"*The announcement was not posted:* {shown(done.unposted, 200)}.")
    else:
        lines.append("*The announcement:*")
        lines += [_channel_line(r) for r in done.results]
        if any(not r.ok for r in done.results):
            lines.append(
                "Where it was not posted, fix the channel (invite the app, check the ID in "
                "AIUSAGE_AWARD_CHANNELS) and post the announcement there yourself."
            )
    text = "\n".join(lines)
    return Reply(clip(_plain(text), MAX_FALLBACK_TEXT), [_section(text)])


def _channel_line(result: ChannelResult) -> str:
    if result.status in ("posted", "found", "already"):
        return f"• <#{result.channel}>: posted"
    if result.status == "busy":
        return f"• <#{result.channel}>: being posted by another run"
    if result.status == "unknown":
        return (
            f"• <#{result.channel}>: Slack did not confirm it ({shown(result.error or '', 80)}); "
            "look in the channel before posting it again"
        )
    return f"• <#{result.channel}>: *not posted* ({shown(result.error or 'failed', 80)})"


def render_retire_closed(closed: RetireClosed) -> Reply:
    retirement, state = closed.retirement, closed.state
    if retirement is None:
        text = "That retirement request no longer exists. Nothing was changed."
    elif retirement.status == "confirmed" and retirement.decided_at is not None:
        text = (
            f"Already retired by <@{retirement.decided_by}> at {when(retirement.decided_at)}. "
            "Nothing was posted again."
        )
    elif state.retired:
        text = (
            f"The leaderboard was already retired{_by(state)}, so this request was not used. "
            "Nothing was posted again."
        )
    else:
        text = "This retirement request was cancelled. Nothing was changed."
    return _note(text)


def render_restored(restored: Restored) -> Reply:
    week = restored.resume_week
    lines = [
        f"*The leaderboard is back.* `/aiusage top` works again, and the weekly badges resume "
        f"with week {week.label} ({day_label(week.start)} to {day_label(week.end)}). Weeks "
        "while it was retired are not awarded."
    ]
    if restored.unposted:
        lines.append(f"*Your note was not posted:* {shown(restored.unposted, 200)}.")
    elif restored.note_results:
        lines.append("*Your note:*")
        lines += [_channel_line(r) for r in restored.note_results]
    text = "\n".join(lines)
    return Reply(clip(_plain(text), MAX_FALLBACK_TEXT), [_section(text)])


def render_status(report: StatusReport) -> Reply:
    state = report.state
    if state.retired:
        state_line = f"*State:* retired{_by(state, since=True)}"
    elif state.changed_at is not None:
        state_line = f"*State:* active (restored{_by(state, since=True)})"
    else:
        state_line = "*State:* active"
    if report.next_fire is None or report.next_week is None:
        schedule = f"*Schedule:* `{shown(report.schedule)}` ({report.tz.key}); paused while retired"
    else:
        schedule = (
            f"*Schedule:* `{shown(report.schedule)}` ({report.tz.key}); next run "
            f"{when(report.next_fire)}, awarding week {report.next_week.label}"
        )
    channels = (
        f"*Award channels:* {channel_list(report.channels)}"
        if report.channels
        else "*Award channels:* none set (AIUSAGE_AWARD_CHANNELS)"
    )
    posts = ["*Last award post:*"]
    for channel in sorted(set(report.channels) | set(report.last_posts)):
        claim = report.last_posts.get(channel)
        posts.append(
            f"• <#{channel}>: {shown(claim.post_key.split(':', 1)[-1])} at {when(claim.claimed_at)}"
            if claim
            else f"• <#{channel}>: none yet"
        )
    if len(posts) == 1:
        posts.append("• none yet")
    integrations = ["*Integrations:*"]
    for integration in report.integrations:
        last = (
            f"last event {when(integration.last_event_at)}"
            if integration.last_event_at
            else "no events yet"
        )
        revoked = ", revoked" if integration.revoked_at else ""
        integrations.append(f"• {shown(integration.name)}: {last}{revoked}")
    if len(integrations) == 1:
        integrations.append("• none yet (`aiusage integrations create NAME`)")
    flags = f"*Integrity flags this week ({report.week.label}):* {number(report.flags_this_week)}"
    lines = [state_line, schedule, channels, *posts, *integrations, flags]
    blocks: list[Block] = [_header("aiusage status"), *_sections(lines, MAX_BLOCKS - 1)]
    return Reply(clip(_plain(f"aiusage status. {state_line}"), MAX_FALLBACK_TEXT), blocks)


def render_retired_top(answer: RetiredTopAnswer) -> Reply:
    state = answer.state
    text = (
        f"*The leaderboard was retired*{_by(state)}, so there is no ranking and no weekly "
        "badges.\nYour own usage and cost are still yours to see: `/aiusage me`, and your "
        "badges: `/aiusage badges`."
    )
    blocks: list[Block] = [_header("Leaderboard retired"), _section(text)]
    if state.announcement:
        blocks.append(
            ContextBlock(elements=[MarkdownTextObject(text=escape(clip(state.announcement, 2000)))])
        )
    return Reply(clip(_plain(text), MAX_FALLBACK_TEXT), blocks)


def _by(state: LeaderboardState, *, since: bool = False) -> str:
    parts = []
    if state.changed_at is not None:
        parts.append(f"{'since' if since else 'on'} {when(state.changed_at)}")
    if state.changed_by:
        parts.append(f"by <@{state.changed_by}>")
    return (" " + " ".join(parts)) if parts else ""


def _note(text: str) -> Reply:
    return Reply(clip(_plain(text), MAX_FALLBACK_TEXT), [_section(text)])


# -- shared -------------------------------------------------------------------------------------


def _header(text: str) -> HeaderBlock:
    return HeaderBlock(text=clip(text, MAX_HEADER_TEXT))


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=clip(text, MAX_SECTION_TEXT)))


def _sections(lines: Iterable[str], max_blocks: int) -> Iterable[SectionBlock]:
    """Lines packed into as few sections as fit, and at most `max_blocks` of them."""
    chunks: list[list[str]] = [[]]
    size = 0
    for line in lines:
        line = clip(line, MAX_SECTION_TEXT - 50)
        if chunks[-1] and size + len(line) + 1 > MAX_SECTION_TEXT - 50:
            chunks.append([])
            size = 0
        chunks[-1].append(line)
        size += len(line) + 1
    if len(chunks) > max_blocks:
        dropped = sum(len(c) for c in chunks[max_blocks - 1 :])
        chunks = [*chunks[: max_blocks - 1], [f"…and {number(dropped)} more"]]
    return (_section("\n".join(chunk)) for chunk in chunks)


def _as_of(moment: datetime, viewer: Viewer) -> ContextBlock:
    return ContextBlock(
        elements=[
            MarkdownTextObject(
                text=f"As of {time_label(moment)} your time ({viewer.tz.key}). "
                "Only you can see this."
            )
        ]
    )


_MENTION = re.compile(r"<@([A-Z0-9]+)>")
_CHANNEL = re.compile(r"<#([A-Z0-9]+)>")
_DATE = re.compile(r"<!date\^[^|>]*\|([^>]*)>")


def _plain(mrkdwn: str) -> str:
    """mrkdwn without emphasis marks, for the notification fallback."""
    return mrkdwn.replace("*", "").replace("`", "")


def as_text(blocks: Sequence[dict[str, Any]], names: dict[str, str] | None = None) -> str:
    """A message's blocks as readable plain text (for the demo and logs): mentions become
    @names, channels #IDs, dates their fallback, buttons [labels]; escapes are undone and
    emphasis marks dropped."""
    out: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            title = block["text"]["text"]
            out += [title, "=" * len(title)]
        elif kind == "section":
            out.append(block["text"]["text"])
        elif kind == "context":
            out.append(" ".join(element.get("text", "") for element in block["elements"]))
        elif kind == "divider":
            out.append("-" * 40)
        elif kind == "actions":
            out.append("  ".join(f"[{e['text']['text']}]" for e in block["elements"]))
    text = "\n".join(out)
    text = _DATE.sub(lambda m: m[1], text)
    text = _MENTION.sub(lambda m: "@" + (names or {}).get(m[1], m[1]), text)
    text = _CHANNEL.sub(lambda m: "#" + m[1], text)
    return html.unescape(_plain(text))
