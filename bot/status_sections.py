"""The admin status screen's facts as sections of lines, written once for both surfaces:
Slack (`bot.slack.views.admin`) and the CLI (`aiusage admin status`). Pure: each surface
passes a `Markup` that says how it shows a time, a channel, a person and untrusted text."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from jobs.admin_rules import StatusReport
from jobs.weeks import Week
from storage.records import ConnectorState, LeaderboardState, OwedEdit


@dataclass(frozen=True)
class Markup:
    """How a surface shows the parts of a status line."""

    moment: Callable[[datetime], str]
    channel: Callable[[str], str]
    person: Callable[[str], str]
    code: Callable[[str], str]  # a cron expression or a post key
    text: Callable[[str, int], str]  # untrusted text, at most so many characters


@dataclass(frozen=True)
class Item:
    """One entry of a section, with the lines under it."""

    text: str
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class Section:
    """A titled fact: its value on the title's line, its entries below."""

    title: str
    value: str = ""
    items: tuple[Item, ...] = field(default_factory=tuple)


def status_sections(report: StatusReport, m: Markup) -> list[Section]:
    """Everything the status screen says, in order."""
    sections = [
        Section("State", state_value(report.state, m)),
        Section("Schedule", _schedule(report, m)),
        Section(
            "Award channels",
            ", ".join(m.channel(c) for c in report.channels) or "none set (AIUSAGE_AWARD_CHANNELS)",
        ),
        Section("Last award post", items=_last_posts(report, m)),
        Section("Integrations", items=_integrations(report, m)),
        Section(f"Integrity flags this week ({report.week.label})", f"{report.flags_this_week:,}"),
        Section("Posts (every one still owed, then the latest delivered)", items=_posts(report, m)),
    ]
    if report.connectors:
        sections.append(
            Section("Connectors", items=tuple(_connector(c, m) for c in report.connectors))
        )
    if report.owed_edits:
        # Naming the week only: who was forgotten is what the edit is there to remove.
        sections.append(
            Section(
                "Award posts still to edit since a forget (retried by the re-drive)",
                items=tuple(_owed_edit(e, m) for e in report.owed_edits),
            )
        )
    return sections


def state_value(state: LeaderboardState, m: Markup) -> str:
    """Retired or active, since when and by whom; when restored, the week awards resumed."""
    parts = []
    if state.changed_at is not None:
        parts.append(f"since {m.moment(state.changed_at)}")
    if state.changed_by:
        parts.append(f"by {m.person(state.changed_by)}")
    by = " ".join(parts)
    if state.retired:
        return f"retired {by}".rstrip()
    if state.changed_at is None:
        return "active"
    resumed = f", awards from the week of {state.resume_week}" if state.resume_week else ""
    return f"active (restored {by}{resumed})"


def _schedule(report: StatusReport, m: Markup) -> str:
    where = f"{m.code(report.schedule)} ({report.tz.key})"
    if report.next_fire is None or report.next_week is None:
        return f"{where}; paused while retired"
    return f"{where}; next run {m.moment(report.next_fire)}, awarding week {report.next_week.label}"


def _last_posts(report: StatusReport, m: Markup) -> tuple[Item, ...]:
    items = []
    for channel in sorted(set(report.channels) | set(report.last_posts)):
        claim = report.last_posts.get(channel)
        posted = (
            f"{m.text(claim.post_key.split(':', 1)[-1], 80)} at {m.moment(claim.claimed_at)}"
            if claim
            else "none yet"
        )
        items.append(Item(f"{m.channel(channel)}: {posted}"))
    return tuple(items) or (Item("none yet"),)


def _integrations(report: StatusReport, m: Markup) -> tuple[Item, ...]:
    items = []
    for integration in report.integrations:
        last = (
            f"last event {m.moment(integration.last_event_at)}"
            if integration.last_event_at
            else "no events yet"
        )
        revoked = ", revoked" if integration.revoked_at else ""
        items.append(Item(f"{m.text(integration.name, 80)}: {last}{revoked}"))
    return tuple(items) or (Item(f"none yet ({m.code('aiusage integrations create NAME')})"),)


def _posts(report: StatusReport, m: Markup) -> tuple[Item, ...]:
    items = []
    for post in report.posts:
        item = post.item
        detail = f": {m.text(item.detail, 80)}" if item.detail else ""
        moment = m.moment(item.done_at or item.created_at)
        channels = tuple(
            f"{m.channel(channel)}: {m.text(state, 120)}" + (f" {m.moment(at)}" if at else "")
            for channel, state, at in post.channel_lines()
        )
        items.append(Item(f"{m.code(item.post_key)} {item.status} {moment}{detail}", channels))
    return tuple(items) or (Item("none yet"),)


def _connector(state: ConnectorState, m: Markup) -> Item:
    """A connector's last success and last day fetched; when failing, since when and why."""
    last = m.moment(state.last_success_at) if state.last_success_at else "never"
    text = f"{m.text(state.name, 80)}: last success {last}, last day {state.last_day or 'none'}"
    if state.failing and state.last_error_at is not None:
        why = m.text(state.last_error or "", 300)
        return Item(text, (f"failing since {m.moment(state.last_error_at)}: {why}",))
    return Item(text)


def _owed_edit(edit: OwedEdit, m: Markup) -> Item:
    """An award week still owed its edits: since when, how often tried, what Slack said."""
    tries = f", {edit.attempts} {'try' if edit.attempts == 1 else 'tries'}" if edit.attempts else ""
    text = f"{Week(edit.week_start).label}: owed since {m.moment(edit.owed_at)}{tries}"
    return Item(text, (f"last: {m.text(edit.error, 300)}",) if edit.error else ())
