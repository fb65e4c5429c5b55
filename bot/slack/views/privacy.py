"""`/aiusage mydata` and `/aiusage forget`: their messages. Pure functions; everything shown
is the caller's own data, visible only to them."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    MarkdownTextObject,
)

from bot.slack.answers import (
    ForgetCancelled,
    ForgetDone,
    ForgetPreview,
    MyDataAnswer,
    PrivacyAnswer,
)
from bot.slack.views.home import OPT_IN_ACTION
from bot.slack.views.reply import Reply, header, note, section
from bot.slack.views.text import number, shown
from storage.privacy_records import Inventory, Span, TeamSpell

FORGET_CONFIRM_ACTION = "aiusage_forget_confirm"
FORGET_CANCEL_ACTION = "aiusage_forget_cancel"
PRIVACY_NOTICE = "docs/privacy.md"
MAX_IDENTITIES_SHOWN = 20

HOW_TO = (
    "• A copy of all of it: ask an admin to run `aiusage people export {who}` (one JSON "
    "document).\n"
    "• Delete all of it: `/aiusage forget` (shows what goes and asks you to confirm)."
)
DROPPED_LATER = (
    "Usage that tools send for you later is dropped as it arrives, and never stored, until "
    "you type `/aiusage optin` again."
)


def render_privacy(answer: PrivacyAnswer) -> Reply:
    match answer:
        case MyDataAnswer():
            return render_mydata(answer)
        case ForgetPreview():
            return render_forget_preview(answer)
        case ForgetDone():
            return render_forget_done(answer)
        case ForgetCancelled():
            return note("Cancelled. Nothing was deleted.")


def inventory_lines(inv: Inventory) -> list[str]:
    """One line per kind of data, with counts and the days it covers."""
    profile = inv.profile
    lines = []
    if profile:
        known = [
            name
            for name, key in (
                ("your Slack user ID", "slack_user_id"),
                ("email", "email"),
                ("display name", "display_name"),
                ("time zone", "tz"),
            )
            if profile.get(key)
        ]
        opted = "off" if profile.get("opted_out") else "on"
        lines.append(f"• *Profile*: {', '.join(known) or 'none'}; leaderboard and awards: {opted}")
    if inv.identities:
        names = [shown(f"{kind}:{value}") for kind, value in inv.identities[:MAX_IDENTITIES_SHOWN]]
        more = len(inv.identities) - MAX_IDENTITIES_SHOWN
        suffix = f" and {number(more)} more" if more > 0 else ""
        lines.append(
            f"• *Identities* your usage arrives under ({number(len(inv.identities))}): "
            f"{', '.join(names)}{suffix}"
        )
    lines.append(f"• *Usage events* as tools sent them: {_span(inv.events)}")
    lines.append(f"• *Daily figures* per tool: {_span(inv.daily)}")
    lines.append(f"• *Badges* won: {_span(inv.awards, unit='week of')}")
    lines.append(f"• *Integrity flags* (seen by admins only): {_span(inv.flags, unit='week of')}")
    if inv.teams:
        more = len(inv.teams) - MAX_IDENTITIES_SHOWN
        suffix = f" and {number(more)} more" if more > 0 else ""
        lines.append(
            "• *Teams* you are or were counted in (org view, never by name): "
            f"{', '.join(_team(t) for t in inv.teams[:MAX_IDENTITIES_SHOWN])}{suffix}"
        )
    if inv.digest_on:
        lines.append("• *Weekly digest* by direct message: on")
    if inv.audit_entries:
        lines.append(f"• *Audit log entries* of commands you ran: {number(inv.audit_entries)}")
    return lines


def render_mydata(answer: MyDataAnswer) -> Reply:
    blocks: list[Block] = [
        header("What aiusage stores about you"),
        section("\n".join(inventory_lines(answer.inventory))),
        section(HOW_TO.format(who=answer.slack_user_id)),
        _notice(),
    ]
    return Reply("What aiusage stores about you, and how to get or delete it.", blocks)


def render_forget_preview(answer: ForgetPreview) -> Reply:
    confirm = ConfirmObject(
        title="Delete your data?",
        text="Everything listed is deleted at once and cannot be brought back.",
        confirm="Delete",
        deny="Go back",
        style="danger",
    )
    blocks: list[Block] = [
        header("Delete everything aiusage stores about you?"),
        section("*This will be deleted:*\n" + "\n".join(inventory_lines(answer.inventory))),
        section(
            "Award posts that named you are edited to drop your name; the award history keeps "
            "an anonymous entry. The audit log keeps that a deletion happened, not what was "
            f"deleted.\n{DROPPED_LATER}"
        ),
        ActionsBlock(
            block_id="aiusage_forget",
            elements=[
                ButtonElement(
                    text="Delete my data",
                    action_id=FORGET_CONFIRM_ACTION,
                    value="self",
                    style="danger",
                    confirm=confirm,
                ),
                ButtonElement(text="Cancel", action_id=FORGET_CANCEL_ACTION, value="self"),
            ],
        ),
        _notice(),
    ]
    return Reply("Delete everything aiusage stores about you? Confirm or cancel below.", blocks)


def render_forget_done(answer: ForgetDone) -> Reply:
    counts = answer.counts
    lines = [
        "*Done: everything aiusage stored about you is deleted.*",
        f"• {number(counts.get('events', 0))} usage events, {number(counts.get('daily', 0))} "
        f"daily figures, {number(counts.get('identities', 0))} identities, "
        f"{number(counts.get('flags', 0))} integrity flags",
        f"• {number(counts.get('awards_anonymised', 0))} badges kept as anonymous entries; "
        f"{number(answer.edited_posts)} award posts edited to drop your name",
    ]
    if limited := answer.rate_limited:
        lines.append(
            f"• {number(limited)} award post{'s are' if limited > 1 else ' is'} not edited "
            "yet: Slack is rate-limiting edits just now, and "
            f"{'they are' if limited > 1 else 'it is'} edited on "
            f"{'their' if limited > 1 else 'its'} own shortly"
        )
    if others := len(answer.not_edited) - answer.rate_limited:
        lines.append(
            f"• {number(others)} award posts could not be edited yet; "
            "aiusage keeps trying until Slack takes the edit"
        )
    lines.append(DROPPED_LATER)
    return note("\n".join(lines))


def _span(span: Span, unit: str = "day") -> str:
    if not span.count:
        return "none"
    if span.first == span.last:
        return f"{number(span.count)}, {unit} {span.first}"
    return f"{number(span.count)}, {span.first} to {span.last}"


def _team(spell: TeamSpell) -> str:
    """A team and the days the caller was counted in it; no date where the spell has none
    (a member since always, or still)."""
    name = f"{shown(spell.name)} ({shown(spell.source)})"
    if spell.reported_on is not None:
        return f"{name} as of {spell.reported_on}"
    if spell.since is not None and spell.until is not None:
        return f"{name} {spell.since} to {spell.until}"
    if spell.since is not None:
        return f"{name} since {spell.since}"
    if spell.until is not None:
        return f"{name} until {spell.until}"
    return name


def _notice() -> ContextBlock:
    return ContextBlock(
        elements=[
            MarkdownTextObject(
                text=f"What is kept, who sees it and for how long: the privacy notice "
                f"({PRIVACY_NOTICE})."
            )
        ]
    )


def forgotten_home_view() -> dict[str, Any]:
    """The App Home of someone forgotten, right after the forget and at every open until they
    opt in: it says what happened and what they can do, and names nothing of theirs."""
    blocks: list[Block] = [
        header("Your aiusage data is deleted"),
        section(
            "You asked aiusage to forget you, so everything it stored about you was deleted, "
            "and your chart with it. You are *off* the leaderboard and award posts, and get "
            f"no weekly digest.\n{DROPPED_LATER}"
        ),
        section(
            "Changed your mind? Rejoining (or `/aiusage optin`) counts the usage your tools "
            "send from then on; what was deleted stays deleted."
        ),
        ActionsBlock(
            block_id="aiusage_home_forgotten",
            elements=[
                ButtonElement(text="Rejoin the leaderboard", action_id=OPT_IN_ACTION, value="optin")
            ],
        ),
        _notice(),
    ]
    return {"type": "home", "blocks": [block.to_dict() for block in blocks]}
