"""`report --by team|tool` as pure functions: the org view's sums over a period of weeks,
never for fewer people than the minimum group size, and never two reports whose difference
is fewer people than that.

Two reports can be subtracted, so a period is judged week by week, not only as a whole:

- a period is whole ISO weeks that have ended (`period_problem`): two periods then differ
  by whole weeks, and a week's report no longer grows a day at a time;
- a week some people but fewer than the minimum had usage in is left out of the period
  (`small_weeks`): a report with it minus one without would be those few people's week;
- a group (a team, a tool, a team's tool) that some week of the period would fold, while
  it had usage that week, folds for the whole period (`steady_groups`): two weeks of it
  minus its first week would be the few people of its second.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Generic, Literal, TypeVar

from jobs.group_size import Grouping, OtherMode, People, allowed_size, private_groups
from jobs.org import OTHER, GroupFigures, by_tool, cells_by_person, cells_of, tool_groups
from jobs.prices import Prices
from jobs.weeks import Week
from storage.records import Totals, UsageCell

K = TypeVar("K", bound=Hashable)
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


@dataclass(frozen=True, slots=True)
class WeekGroups(Generic[K]):
    """One week of a report's period as a grouping meets it: who each group covered that
    week, who in scope had usage, and the wider view's groups that week (`against`)."""

    groups: Mapping[K, People]
    population: People
    against: Mapping[K, People] | None = None


def steady_groups(
    groups: Mapping[K, People],
    population: People,
    min_size: int,
    weeks: Sequence[WeekGroups[K]],
    *,
    other_mode: OtherMode = "rest",
    against: Mapping[K, People] | None = None,
) -> Grouping[K]:
    """`private_groups` over a period of `weeks`, where a group some week would fold, while
    it had usage that week, folds for the whole period: shown, two weeks of it minus its
    first week would be the few people of its second. `other` then covers, in each week,
    at least what that week's own `other` does (nobody, or the minimum) plus groups that
    week shows (each the minimum at least), so it cannot be subtracted down to a few people
    either. A one-week period is its week: nothing to add."""
    fold: set[K] = set()
    if len(weeks) > 1:
        for week in weeks:
            shown = private_groups(
                week.groups, week.population, min_size, other_mode=other_mode, against=week.against
            ).shown
            fold |= {
                key
                for key, people in week.groups.items()
                if key not in shown and people & week.population
            }
    return private_groups(
        groups, population, min_size, other_mode=other_mode, against=against, fold=fold
    )


def team_weeks(
    weekly_teams: Sequence[Mapping[str, People]], weekly: Sequence[WeekTools]
) -> list[WeekGroups[str]]:
    """Each week's teams (that week's members), judged by their members with usage then."""
    return [
        WeekGroups(teams, active(tools)) for teams, tools in zip(weekly_teams, weekly, strict=True)
    ]


def tool_weeks(
    weekly: Sequence[WeekTools], members: Sequence[People] | None = None
) -> list[WeekGroups[str]]:
    """Each week's tools, used by everyone or within that week's `members` (a team's use of
    a tool, judged against everyone's that week, as the report judges it)."""
    if members is None:
        return [WeekGroups(tools, active(tools)) for tools in weekly]
    weeks = []
    for tools, theirs in zip(weekly, members, strict=True):
        mine = {tool: within for tool, people in tools.items() if (within := people & theirs)}
        weeks.append(WeekGroups(mine, active(mine), tools))
    return weeks


def period_teams(weekly_teams: Sequence[Mapping[str, People]]) -> dict[str, People]:
    """Each team over a period: everyone who was a member in some week of it."""
    found: dict[str, set[int]] = defaultdict(set)
    for teams in weekly_teams:
        for name, people in teams.items():
            found[name] |= people
    return {name: frozenset(people) for name, people in found.items()}


def tool_report(
    cells: Sequence[UsageCell],
    prices: Prices,
    days: int,
    min_size: int,
    weekly: Sequence[WeekTools] = (),
) -> list[ReportRow]:
    """`report --by tool`: one row per tool (and other) over the period; `weekly` says who
    used which tool in each of its weeks."""
    people = frozenset(cell.person_id for cell in cells)
    if len(people) < min_size:
        return []
    grouping = steady_groups(
        tool_groups(cells), people, min_size, tool_weeks(weekly), other_mode="folded"
    )
    return [
        ReportRow(None, row.key, len(people), row)
        for row in by_tool(cells, prices, days, min_size, fold=grouping.folded)
    ]


def team_report(
    cells: Sequence[UsageCell],
    span_teams: Sequence[Mapping[str, People]],
    prices: Prices,
    days: int,
    min_size: int,
    weekly: Sequence[WeekTools],
    weekly_teams: Sequence[Mapping[str, People]],
) -> list[ReportRow]:
    """`report --by team`: per shown team (and other) and tool; a team's tools fold within
    it, and may not differ from the organisation's use of a tool by a few people. A team,
    or a team's tool, that some week of the period (`weekly`, with that week's members in
    `weekly_teams`) would fold folds for it. A cell's span indexes `span_teams`, the members
    its weeks were summed over: a week's figures never move with later members."""
    people = frozenset(cell.person_id for cell in cells)
    teams = period_teams(weekly_teams)
    grouping = steady_groups(teams, people, min_size, team_weeks(weekly_teams, weekly))
    if not grouping.total_shown:
        return []
    merged_cells = merged(cells)
    org_tools = tool_groups(merged_cells)
    spans = [cells_by_person(c for c in cells if c.span == i) for i in range(len(span_teams))]
    scopes = [
        (name, [span.get(name, frozenset()) for span in span_teams], len(teams[name]))
        for name in sorted(grouping.shown)
    ]
    if grouping.other:
        # Each span's other: who had usage then and was in none of the shown teams then.
        others = [
            frozenset(mine).difference(*(members.get(name, ()) for name in grouping.shown))
            for mine, members in zip(spans, span_teams, strict=True)
        ]
        scopes.append((OTHER, others, len(frozenset().union(*others))))
    rows = []
    for name, members, size in scopes:
        inside = merged(
            cell
            for mine, theirs in zip(spans, members, strict=True)
            for cell in cells_of(mine, sorted(theirs))
        )
        # Who the scope held each week, for judging its tools week by week.
        held = [
            teams_then.get(name, frozenset())
            if name != OTHER
            else active(tools).difference(*(teams_then.get(n, ()) for n in grouping.shown))
            for teams_then, tools in zip(weekly_teams, weekly, strict=True)
        ]
        tools = steady_groups(
            tool_groups(inside),
            frozenset(cell.person_id for cell in inside),
            min_size,
            tool_weeks(weekly, held),
            other_mode="folded",
            against=org_tools,
        )
        for row in by_tool(inside, prices, days, min_size, org_tools, fold=tools.folded):
            rows.append(ReportRow(name, row.key, size, row))
    return rows
