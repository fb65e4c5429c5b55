"""`aiusage report --by team|tool`: the period's figures per team (and tool) or per tool,
never for fewer than AIUSAGE_MIN_GROUP_SIZE people; smaller groups are summed as `other`.
The rules, including those that keep two reports from being subtracted down to a few
people, are in `jobs.org_report`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from bot.cli.report_columns import FIRST_FIGURES, LATER_FIGURES, report_figures
from bot.settings import Settings
from jobs.group_size import People
from jobs.org_report import ReportRow, merged, small_weeks, team_report, tool_report
from jobs.teams import members_moment
from jobs.weeks import Week
from storage.db import Database
from storage.org import tools_by_week, usage_cells
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


@dataclass(frozen=True, slots=True)
class GroupedReport:
    """A grouped report's columns and rows, and the weeks of its period left out because
    fewer people than the minimum had usage in them."""

    columns: tuple[str, ...]
    records: list[dict[str, Any]]
    left_out: list[Week]


def grouped_records(
    db: Database, settings: Settings, by: str, start: date, end: date
) -> GroupedReport:
    """A grouped report for the whole weeks start..end (`jobs.org_report.period_problem`
    has passed them)."""
    columns: tuple[str, ...]
    min_size = settings.min_group_size
    weeks = week_spans(start, end)
    every = tools_by_week(db, weeks)
    small = set(small_weeks([every.get(i, {}) for i in range(len(weeks))], min_size))
    kept = [i for i in range(len(weeks)) if i not in small]
    weekly = [every.get(i, {}) for i in kept]
    days, prices = 7 * len(kept), settings.prices()
    if by == "team":
        # Each week is summed over its members as it started: one read per run of weeks
        # with the same members.
        moments = [members_moment(Week(weeks[i][0]), settings.timezone) for i in kept]
        weekly_teams = team_people(db, moments)
        spans, span_teams = team_runs([weeks[i] for i in kept], weekly_teams)
        cells = usage_cells(db, spans)
        rows = team_report(cells, span_teams, prices, days, min_size, weekly, weekly_teams)
        columns = COLUMNS
    else:
        cells = merged(usage_cells(db, runs([weeks[i] for i in kept])))
        rows = tool_report(cells, prices, days, min_size, weekly)
        columns = COLUMNS[1:]
    left_out = [Week(weeks[i][0]) for i in sorted(small)]
    return GroupedReport(columns, [_record(row, columns) for row in rows], left_out)


def runs(weeks: list[tuple[date, date]]) -> list[tuple[date, date]]:
    """Consecutive weeks joined into one span each: one read per run."""
    joined: list[tuple[date, date]] = []
    for first, last in weeks:
        if joined and joined[-1][1] + timedelta(days=1) == first:
            joined[-1] = (joined[-1][0], last)
        else:
            joined.append((first, last))
    return joined


def team_runs(
    weeks: list[tuple[date, date]], teams: list[dict[str, People]]
) -> tuple[list[tuple[date, date]], list[dict[str, People]]]:
    """`runs`, joining only consecutive weeks with the same members: the spans, and each
    one's members."""
    joined: list[tuple[date, date]] = []
    members: list[dict[str, People]] = []
    for (first, last), found in zip(weeks, teams, strict=True):
        if joined and joined[-1][1] + timedelta(days=1) == first and members[-1] == found:
            joined[-1] = (joined[-1][0], last)
        else:
            joined.append((first, last))
            members.append(found)
    return joined, members


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
