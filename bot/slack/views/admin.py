"""Replies to an admin: retirement preview and outcome, restore, status, refusals."""

from __future__ import annotations

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    DividerBlock,
    MarkdownTextObject,
)

from bot.slack.answers import TooLongAnswer
from bot.slack.views.channel import announcement_blocks
from bot.slack.views.reply import Reply, header, note, section, sections
from bot.slack.views.text import (
    MAX_BLOCKS,
    MAX_FALLBACK_TEXT,
    by_line,
    channel_list,
    clip,
    day_label,
    number,
    plain,
    shown,
    shown_as_code,
    when,
)
from bot.status_sections import Markup, status_sections
from jobs.admin_rules import (
    DEFAULT_ANNOUNCEMENT,
    AlreadyRetired,
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

CONFIRM_ACTION = "aiusage_retire_confirm"
CANCEL_ACTION = "aiusage_retire_cancel"


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
            return note(
                f"`/aiusage {outcome.command.split('-')[0]}` is for admins: {outcome.who_can}. "
                "Nothing was changed."
            )
        case RetirePreview():
            return render_retire_preview(outcome)
        case AlreadyRetired(state=state):
            return note(
                f"The leaderboard is already retired{by_line(state)}. "
                "`/aiusage restore` brings it back."
            )
        case RetireDone():
            return render_retire_done(outcome)
        case RetireClosed():
            return render_retire_closed(outcome)
        case RetireCancelled():
            return note("Cancelled. The leaderboard stays as it is and nothing was posted.")
        case Restored():
            return render_restored(outcome)
        case NotRetired():
            return note("The leaderboard is not retired, so there is nothing to restore.")
        case StatusReport():
            return render_status(outcome)
        case TooLongAnswer(command=command, length=length, limit=limit):
            what = "announcement" if command == "retire" else "note"
            return note(
                f"The `/aiusage {command}` {what} is too long: {number(length)} characters, "
                f"at most {number(limit)}. Nothing was changed."
            )
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
    blocks: list[Block] = [header("Retire the leaderboard?"), section(where)]
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
        section(RETIREMENT_EFFECTS),
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
        if any(not r.ok and not r.rate_limited for r in done.results):
            lines.append(
                "Where it was not posted, fix the channel (invite the app, check the ID in "
                "AIUSAGE_AWARD_CHANNELS): it is retried on its own, once the channel has been "
                "checked, and posted there once. `/aiusage status` shows where it stands."
            )
    text = "\n".join(lines)
    return Reply(clip(plain(text), MAX_FALLBACK_TEXT), [section(text)])


def _channel_line(result: ChannelResult) -> str:
    if result.status in ("posted", "found", "already"):
        return f"• <#{result.channel}>: posted"
    if result.status == "busy":
        return f"• <#{result.channel}>: being posted by another run"
    if result.rate_limited:
        return (
            f"• <#{result.channel}>: Slack is rate-limiting posts just now; it goes out on its "
            "own shortly, once"
        )
    if result.status == "unknown":
        return (
            f"• <#{result.channel}>: Slack did not confirm it ({shown(result.error or '', 80)}); "
            "the channel is checked shortly and, if it is not there, it is posted again"
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
            f"The leaderboard was already retired{by_line(state)}, so this request was not used. "
            "Nothing was posted again."
        )
    else:
        text = "This retirement request was cancelled. Nothing was changed."
    return note(text)


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
    return Reply(clip(plain(text), MAX_FALLBACK_TEXT), [section(text)])


SLACK_MARKUP = Markup(
    moment=when,
    channel=lambda channel: f"<#{channel}>",
    person=lambda user: f"<@{user}>",
    code=lambda text: f"`{shown_as_code(text, 60)}`",
    text=shown,
)


def render_status(report: StatusReport) -> Reply:
    """The status screen (`bot.status_sections`) as Block Kit sections."""
    lines = []
    for part in status_sections(report, SLACK_MARKUP):
        lines.append(f"*{part.title}:* {part.value}".rstrip())
        for item in part.items:
            lines.append(f"• {item.text}")
            lines += [f"    {detail}" for detail in item.details]
    blocks: list[Block] = [header("aiusage status"), *sections(lines, MAX_BLOCKS - 1)]
    return Reply(clip(plain(f"aiusage status. {lines[0]}"), MAX_FALLBACK_TEXT), blocks)
