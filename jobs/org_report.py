"""`report --by team|tool` as pure functions: the org view's sums (`jobs.org`) over a
period, never for fewer people than the minimum group size.

Two reports can be subtracted, so a period is whole ISO weeks that have ended
(`period_problem`): two periods then differ by whole weeks, and a week's report no longer
grows a day at a time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from jobs.group_size import People, private_groups
from jobs.org import OTHER, GroupFigures, by_tool, cells_by_person, cells_of, tool_groups
from jobs.prices import Prices
from jobs.weeks import Week
from storage.records import UsageCell

PeriodProblem = Literal["partial_weeks", "unfinished_week"]


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One row of `report --by team|tool`: a team (None for `--by tool`) and a tool."""

    team: str | None
    tool: str
    people: int
    figures: GroupFigures


def period_problem(start: date, end: date, current: Week) -> PeriodProblem | None:
    """Why days start..end may not be a grouped report's period (`current` is the week now
    running), or None: it must start on a Monday, end on a Sunday, and be over."""
    if start.weekday() != 0 or end.weekday() != 6:
        return "partial_weeks"
    if end >= current.start:
        return "unfinished_week"
    return None


def tool_report(
    cells: Sequence[UsageCell], prices: Prices, days: int, min_size: int
) -> list[ReportRow]:
    """`report --by tool`: one row per tool (and other) over the period."""
    population = len({cell.person_id for cell in cells})
    if population < min_size:
        return []
    return [
        ReportRow(None, row.key, population, row) for row in by_tool(cells, prices, days, min_size)
    ]


def unsteady_teams(
    teams: Mapping[str, People], weekly_active: Sequence[People], min_size: int
) -> set[str]:
    """Teams some week of a period would fold while they had usage that week. Shown for
    the whole period, a report for it minus one for the other weeks would be that week's
    few people; so they fold for the whole period."""
    unsteady: set[str] = set()
    for active in weekly_active:
        shown = private_groups(teams, active, min_size).shown
        unsteady |= {
            name for name, people in teams.items() if name not in shown and people & active
        }
    return unsteady


def team_report(
    cells: Sequence[UsageCell],
    teams: Mapping[str, People],
    prices: Prices,
    days: int,
    min_size: int,
    weekly_active: Sequence[People] = (),
) -> list[ReportRow]:
    """`report --by team`: per shown team (and other) and tool; a team's tools fold within
    it, and may not differ from the organisation's use of a tool by a few people. A team
    any week of the period would fold (`weekly_active`) folds for the period."""
    active = frozenset(cell.person_id for cell in cells)
    fold = unsteady_teams(teams, weekly_active, min_size)
    grouping = private_groups(teams, active, min_size, fold=fold)
    if not grouping.total_shown:
        return []
    org_tools = tool_groups(cells)
    scopes = [(name, grouping.shown[name], len(teams[name])) for name in sorted(grouping.shown)]
    if grouping.other:
        scopes.append((OTHER, grouping.other, len(grouping.other)))
    mine = cells_by_person(cells)
    rows = []
    for name, members, size in scopes:
        inside = cells_of(mine, sorted(members))
        for row in by_tool(inside, prices, days, min_size, org_tools):
            rows.append(ReportRow(name, row.key, size, row))
    return rows
