"""The App Home's 12-week chart, as plain chart data from a person's daily usage. Pure.

The same data feeds the PNG (`bot.charts`) and, where no image can be shown, a text chart of
sparklines, so both always say the same thing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date

from bot.charts import Chart, Panel, Series
from jobs.scoring import sparkline
from jobs.weeks import Week, week_of
from storage.records import DailyUsage

HOME_WEEKS = 12
TREND_KIND = "trend"
MAX_TOOLS = 5
WIDTH_PX = 800
# `bot.charts` places its title as a fraction of the height; past ~750 px it meets the first
# panel's title, so four panels stay within 700 px.
PANEL_PX = 160


def chart_weeks(last: Week) -> list[Week]:
    """The chart's weeks, oldest first, ending with `last`."""
    return [last.previous(n) for n in range(HOME_WEEKS - 1, -1, -1)]


def trend_chart(daily: Sequence[DailyUsage], last: Week, today: date) -> Chart:
    """Requests by tool, acceptance rate by tool, tokens and (when reported) cost, per week
    for the 12 weeks up to `last`; days after `today` are not counted."""
    weeks = chart_weeks(last)
    index = {w.start: i for i, w in enumerate(weeks)}
    count = len(weeks)
    requests: dict[str, list[float]] = defaultdict(lambda: [0.0] * count)
    shown: dict[str, list[int | None]] = defaultdict(lambda: [None] * count)
    accepted: dict[str, list[int]] = defaultdict(lambda: [0] * count)
    tokens = [0.0] * count
    cost: list[float | None] = [None] * count
    for row in daily:
        if row.day > today:
            continue
        i = index.get(week_of(row.day).start)
        if i is None:
            continue
        t = row.totals
        requests[row.tool][i] += t.requests
        tokens[i] += t.tokens
        if t.suggestions_shown is not None:
            shown[row.tool][i] = (shown[row.tool][i] or 0) + t.suggestions_shown
            accepted[row.tool][i] += t.suggestions_accepted or 0
        if t.cost_usd is not None:
            cost[i] = (cost[i] or 0.0) + t.cost_usd
    busiest = sorted(requests, key=lambda tool: (-sum(requests[tool]), tool))
    top, rest = busiest[:MAX_TOOLS], busiest[MAX_TOOLS:]
    request_series = [Series(tool, tuple(requests[tool])) for tool in top]
    if rest:
        others = [sum(requests[tool][i] for tool in rest) for i in range(count)]
        request_series.append(Series(f"{len(rest)} other tools", tuple(others)))
    rate_series = [
        Series(tool, tuple(_rate(accepted[tool][i], shown[tool][i]) for i in range(count)))
        for tool in top
        if any(s for s in shown[tool])
    ]
    panels = [
        Panel("Requests per week, by tool", "requests", tuple(request_series)),
        Panel("Acceptance rate, by tool", "%", tuple(rate_series)),
        Panel(
            "Tokens per week (input + output)", "tokens", (Series("tokens", tuple(tokens)),), "bar"
        ),
    ]
    if any(c is not None for c in cost):
        panels.append(
            Panel("Estimated cost per week", "USD", (Series("cost", tuple(cost)),), "bar")
        )
    return Chart(
        f"Your last {count} weeks",  # short: centred, it clears the first panel's title
        tuple(panels),
        tuple(w.label for w in weeks),
    )


def chart_size(chart: Chart) -> tuple[int, int]:
    """Pixels for a chart: a fixed width, and height by panel count."""
    return WIDTH_PX, 60 + PANEL_PX * max(len(chart.panels), 1)


def text_chart(chart: Chart) -> str:
    """The chart as sparklines in a code block, one line per series, for where no image can
    be shown."""
    lines = []
    for panel in chart.panels:
        lines.append(panel.title)
        if not panel.series:
            lines.append("  not reported")
        for series in panel.series:
            values = [round(v) if v is not None else 0 for v in series.values]
            lines.append(f"  {sparkline(values)}  {series.label[:30]}")
    return "\n".join(lines)


def _rate(accepted: int, shown: int | None) -> float | None:
    return None if not shown else 100.0 * accepted / shown
