"""The org view's trend chart, as chart data from the view (pure), and how it reaches Slack:
uploaded with files.uploadV2 (no channel, so only messages that show it do) and shown by
file id in the reply's image block. Works over HTTP and Socket Mode alike, with no public
URL. The text trend in the reply says the same in words, for when the upload fails."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.charts import Chart, Panel, Series, alt_text, render_png
from bot.slack.answers import OrgChart
from jobs.org import OrgView

log = logging.getLogger("aiusage.org")
WIDTH_PX, HEIGHT_PX = 800, 620


def org_chart(view: OrgView) -> Chart:
    """Weekly cost, cost per active person, and accepted suggestions per million tokens for
    the view's scope; a week too small to show is a gap, not a zero."""
    points = [figures for _, figures in view.trend]
    cost = tuple(None if f is None else f.cost_usd for f in points)
    per_person = tuple(None if f is None else f.cost_per_active_person for f in points)
    accepted = tuple(None if f is None else f.accepted_per_million_tokens for f in points)
    people = tuple(None if f is None else float(f.active_people) for f in points)
    panels = [
        Panel("Cost per week", "USD", (Series("cost", cost),), "bar"),
        Panel(
            "Cost per active person, and people with usage",
            "USD / people",
            (Series("USD per active person", per_person), Series("people", people)),
        ),
    ]
    if any(value is not None for value in accepted):
        panels.append(
            Panel(
                "Accepted suggestions per million tokens",
                "per M tokens",
                (Series("accepted per M tokens", accepted),),
            )
        )
    scope = f"team {view.team}" if view.team else "the organisation"
    weeks = [week for week, _ in view.trend]
    return Chart(
        f"Cost and efficiency for {scope}, {weeks[0].label} to {weeks[-1].label}",
        tuple(panels),
        tuple(week.label for week in weeks),
    )


def upload_chart(client: WebClient, view: OrgView) -> OrgChart | None:
    """Render and upload the chart; None (and the text trend alone) when Slack refuses."""
    chart = org_chart(view)
    words = alt_text(chart)
    try:
        png = render_png(chart, WIDTH_PX, HEIGHT_PX)
        uploaded = client.files_upload_v2(
            content=png,
            filename=f"aiusage-org-{view.week.label}.png",
            title=f"AI cost and efficiency, {view.week.label}",
            alt_txt=words,
        )
        file_id = (uploaded.get("file") or {}).get("id") or uploaded["files"][0]["id"]
    except (SlackApiError, OSError, KeyError, IndexError, TypeError) as exc:
        log.warning("uploading the org chart failed; the reply has the text trend: %r", exc)
        return None
    return OrgChart(alt_text=words, slack_file_id=str(file_id))


def delete_chart(client: WebClient, file_id: str) -> None:
    """Delete a chart a newer one replaced; a failure only leaves an old image behind."""
    try:
        client.files_delete(file=file_id)
    except (SlackApiError, OSError) as exc:
        log.warning("deleting an old org chart failed: %r", exc)
