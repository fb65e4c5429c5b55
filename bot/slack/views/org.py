"""Block Kit for `/aiusage org`: figures per group, never a person. Pure.

Team and tool names are untrusted (a CSV, a Slack user group, a vendor): every one goes
through `shown`, so `<!channel>` or `<@U…>` in a name stays text."""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    DividerBlock,
    ImageBlock,
    MarkdownTextObject,
)

from bot.slack.answers import OrgAnswer, OrgNotAllowed, OrgRefused, OrgShown
from bot.slack.views.reply import Reply, header, note, section, sections
from bot.slack.views.text import (
    MAX_FALLBACK_TEXT,
    clip,
    number,
    percent,
    plain,
    shown,
    time_label,
)
from jobs.org import OTHER, GroupFigures, OrgView
from jobs.scoring import sparkline

MAX_GROUP_LINES = 40
NOT_ALLOWED = (
    "`/aiusage org` is for admins and the people listed in AIUSAGE_INSIGHT_VIEWERS. "
    "Ask whoever runs aiusage if you need it. Your own figures are always in `/aiusage me`."
)


def render_org(answer: OrgAnswer) -> Reply:
    match answer:
        case OrgNotAllowed():
            return note(NOT_ALLOWED)
        case OrgRefused(refusal=refusal):
            team = shown(refusal.team or "")
            if refusal.reason == "unknown_team":
                text = f"There is no team called “{team}”. `aiusage teams list` shows them."
            elif refusal.team:
                text = (
                    f"Team “{team}” cannot be shown this week: its figures would cover fewer "
                    f"than {refusal.min_size} people, or differ from another team's by fewer. "
                    "It is counted in the organisation's figures and under “other”."
                )
            else:
                text = (
                    f"Nothing to show this week: fewer than {refusal.min_size} people have "
                    "usage so far, and no view covers fewer."
                )
            return note(text)
        case OrgShown():
            return render_view(answer)


def render_view(answer: OrgShown) -> Reply:
    view = answer.view
    scope = f"team {shown(view.team)}" if view.team else "the organisation"
    title = f"AI cost and efficiency, week {view.week.label}"
    blocks: list[Block] = [
        header(title),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"For {scope}, this week so far. Groups of fewer than "
                    f"{view.min_size} people are summed under “other”; nobody is named."
                )
            ]
        ),
        section(_total(view.total)),
        section(_flagged(view)),
        DividerBlock(),
        *sections(["*By tool*", *_groups(view.by_tool, "tools")], 5),
    ]
    if view.by_team:
        blocks += [DividerBlock(), *sections(["*By team*", *_groups(view.by_team, "teams")], 5)]
    blocks.append(DividerBlock())
    if answer.chart and answer.chart.image_url:
        blocks.append(ImageBlock(image_url=answer.chart.image_url, alt_text=answer.chart.alt_text))
    elif answer.chart and answer.chart.slack_file_id:
        blocks.append(
            ImageBlock(
                slack_file={"id": answer.chart.slack_file_id}, alt_text=answer.chart.alt_text
            )
        )
    blocks.append(section(_trend(view)))
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"As of {time_label(answer.as_of)} your time "
                    f"({answer.viewer.tz.key}). Only you can see this. "
                    "† includes cost estimated from AIUSAGE_PRICES."
                )
            ]
        )
    )
    fallback = f"{title}: {_headline(view.total)}"
    return Reply(clip(plain(fallback), MAX_FALLBACK_TEXT), blocks)


def _cost(figures: GroupFigures) -> str:
    cost = figures.cost_usd
    if cost is None:
        return "cost not reported"
    return f"${cost:,.2f}{'†' if figures.estimated else ''}"


def _headline(t: GroupFigures) -> str:
    return (
        f"{number(t.active_people)} people with usage, {number(t.totals.requests)} requests, "
        f"{number(t.totals.tokens)} tokens, {_cost(t)}"
    )


def _rate(value: float | None, unit: str) -> str | None:
    return None if value is None else f"{value:,.1f} {unit}"


def _efficiency(g: GroupFigures) -> list[str]:
    parts = []
    per_person = g.cost_per_active_person
    if per_person is not None:
        parts.append(f"${per_person:,.2f}{'†' if g.estimated else ''} per active person")
    if g.acceptance_rate is not None:
        parts.append(f"{percent(g.acceptance_rate)} of suggestions accepted")
    for value, unit in (
        (g.accepted_per_million_tokens, "accepted per M tokens"),
        (g.lines_per_million_tokens, "lines per M tokens"),
    ):
        if (text := _rate(value, unit)) is not None:
            parts.append(text)
    parts += [f"{number(n)} {name.replace('_', ' ')}" for name, n in g.shipped.items()]
    return parts


def _total(t: GroupFigures) -> str:
    lines = [f"*{_headline(t)}*"]
    lines.append(
        f"Tokens: {number(t.totals.input_tokens)} in, {number(t.totals.output_tokens)} out"
    )
    if efficiency := _efficiency(t):
        lines.append(" · ".join(efficiency))
    return "\n".join(lines)


def _flagged(view: OrgView) -> str:
    f = view.flagged
    fewer = f"as it would describe fewer than {number(view.min_size)} people"
    if not f.some:
        return "No usage this week was judged scripted or wasteful."
    if f.people is None or f.share_of_people is None:
        return (
            "Some usage this week was judged scripted or wasteful: it is set aside, not "
            f"ranked, not named, and no figure of it is shown, {fewer}."
        )
    tokens = ""
    if f.share_of_tokens is not None:
        tokens = f", {percent(f.share_of_tokens)} of tokens"
    elif view.total.totals.tokens:
        tokens = f"; no share of tokens, {fewer}"
    people = "person's" if f.people == 1 else "people's"
    return (
        f"Usage judged scripted or wasteful: {number(f.people)} {people} "
        f"({percent(f.share_of_people)} of people with usage{tokens}). Not ranked, not named."
    )


def _groups(groups: Sequence[GroupFigures], kind: str) -> list[str]:
    lines = []
    for g in groups[:MAX_GROUP_LINES]:
        name = f"_{OTHER} {kind}_" if g.key == OTHER else f"*{shown(g.key)}*"
        size = "" if g.people is None else f" of {number(g.people)}"
        parts = [
            f"{number(g.active_people)}{size} people with usage",
            f"{number(g.totals.requests)} requests",
            f"{number(g.totals.tokens)} tokens",
            _cost(g),
            *_efficiency(g),
        ]
        lines.append(f"• {name}: " + ", ".join(parts))
    if len(groups) > MAX_GROUP_LINES:
        lines.append(f"…and {number(len(groups) - MAX_GROUP_LINES)} more {kind}")
    if not groups:
        lines.append(f"No {kind} can be shown without covering fewer people than allowed.")
    return lines


def _trend(view: OrgView) -> str:
    points = [(week, g) for week, g in view.trend]
    costs = [round(g.cost_usd or 0) if g else 0 for _, g in points]
    tokens = [g.totals.tokens if g else 0 for _, g in points]
    first, last = points[0][0], points[-1][0]
    hidden = sum(1 for _, g in points if g is None)
    note = f" ({hidden} weeks too small to show count as 0)" if hidden else ""
    previous_week, previous = points[-2] if len(points) > 1 else (None, None)
    if previous_week is None:
        before = ""
    elif previous is None:
        before = f"\nLast week ({previous_week.label}): too few people to show."
    else:
        before = f"\nLast week ({previous_week.label}): {_headline(previous)}."
    return (
        f"*Last {len(points)} weeks* ({first.label} to {last.label}){note}\n"
        f"Cost: `{sparkline(costs)}`  Tokens: `{sparkline(tokens)}`{before}"
    )
