"""`report --by team|tool` as pure functions: the org view's sums (`jobs.org`) over a
period, never for fewer people than the minimum group size.

Two reports can be subtracted, so a period is judged week by week, not only as a whole:

- a period is whole ISO weeks that have ended (`period_problem`): two periods then differ
  by whole weeks, and a week's report no longer grows a day at a time;
- a week some people but fewer than the minimum had usage in is left out of the period
  (`small_weeks`): a report with it minus one without would be those few people's week;
- a team some week of the period would fold, while it had usage that week, folds for the
  whole period (`unsteady_teams`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from jobs.group_size import People, allowed_size, private_groups
from jobs.org import OTHER, GroupFigures, by_tool, cells_by_person, cells_of, tool_groups
from jobs.prices import Prices
from jobs.weeks import Week
from storage.records import Totals, UsageCell

WeekTools = Mapping[str, People]  # who used each tool in one week of a period
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


def active(tools: WeekTools) -> People:
    """Everyone who used some tool that week."""
    return frozenset().union(*tools.values())


def small_weeks(weekly: Sequence[WeekTools], min_size: int) -> list[int]:
    """The weeks (by index) that some people, but fewer than the minimum, had usage in."""
    return [i for i, tools in enumerate(weekly) if not allowed_size(len(active(tools)), min_size)]


def merged(cells: Iterable[UsageCell]) -> list[UsageCell]:
    """Each person's use of each tool over several spans (a period's runs of weeks) as one
    cell."""
    found: dict[tuple[int, str], list[UsageCell]] = defaultdict(list)
    for cell in cells:
        found[(cell.person_id, cell.tool)].append(cell)
    return [
        same[0]
        if len(same) == 1
        else UsageCell(
            person_id=person,
            span=0,
            tool=tool,
            totals=Totals.total(cell.totals for cell in same),
            unpriced_input_tokens=sum(cell.unpriced_input_tokens for cell in same),
            unpriced_output_tokens=sum(cell.unpriced_output_tokens for cell in same),
            active_days=sum(cell.active_days for cell in same),
        )
        for (person, tool), same in found.items()
    ]


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
