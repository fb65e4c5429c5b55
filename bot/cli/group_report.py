"""`aiusage report --by team|tool`: the period's figures per team (and tool) or per tool,
never for fewer than AIUSAGE_MIN_GROUP_SIZE people; smaller groups are summed as `other`."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from bot.cli.report_columns import FIRST_FIGURES, LATER_FIGURES, report_figures
from bot.settings import Settings
from jobs.org_report import ReportRow, team_report, tool_report
from storage.db import Database
from storage.org import active_by_span, usage_cells
from storage.teams import team_people

COLUMNS = (
    "team",
    "tool",
    "people",
    "active_people",
    *FIRST_FIGURES,
    "estimated_cost_usd",
    "active_days",
    *LATER_FIGURES,
)


def grouped_records(
    db: Database, settings: Settings, by: str, start: date, end: date
) -> tuple[tuple[str, ...], list[dict[str, Any]]]:
    """The columns and rows of a grouped report for days start..end."""
    columns: tuple[str, ...]
    cells = usage_cells(db, [(start, end)])
    days = (end - start).days + 1
    prices, min_size = settings.prices(), settings.min_group_size
    if by == "team":
        weeks = week_spans(start, end)
        active = active_by_span(db, weeks)
        weekly = [active.get(i, frozenset()) for i in range(len(weeks))]
        rows = team_report(cells, team_people(db), prices, days, min_size, weekly)
        columns = COLUMNS
    else:
        rows = tool_report(cells, prices, days, min_size)
        columns = COLUMNS[1:]
    return columns, [_record(row, columns) for row in rows]


def week_spans(start: date, end: date) -> list[tuple[date, date]]:
    """The ISO weeks (Monday to Sunday) that days start..end touch, each judged on its own."""
    first = start - timedelta(days=start.weekday())
    count = (end - first).days // 7 + 1
    return [(first + timedelta(weeks=i), first + timedelta(weeks=i, days=6)) for i in range(count)]


def _record(row: ReportRow, columns: tuple[str, ...]) -> dict[str, Any]:
    figures, totals = row.figures, row.figures.totals
    record = {
        "team": row.team,
        "tool": row.tool,
        "people": row.people,
        "active_people": figures.active_people,
        **report_figures(totals),
        # the reported cost plus what is estimated from prices, as in the org view
        "cost_usd": None if figures.cost_usd is None else round(figures.cost_usd, 6),
        "estimated_cost_usd": round(figures.estimated_cost_usd, 6) or None,
        "active_days": figures.active_days,
    }
    return {key: record[key] for key in columns}
