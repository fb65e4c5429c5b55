"""The org view as pure functions over usage cells: cost and efficiency by tool and by team,
never fewer people than the minimum group size, never a name. The grouped reports build on
it in `jobs.org_report`.

Every grouping goes through `jobs.group_size.private_groups`; this module only sums."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from jobs.group_size import Grouping, People, allowed_size, private_groups
from jobs.prices import Prices
from jobs.weeks import Week
from storage.figures import acceptance_rate
from storage.records import ToolSpanSums, Totals, UsageCell

OTHER = "other"  # the row folded groups are summed in; a team may not take this name


@dataclass(frozen=True, slots=True)
class GroupFigures:
    """One group's figures. `people` is the team's size (None for tools and totals);
    `active_people` is how many people the figures sum, never below the minimum."""

    key: str
    people: int | None
    active_people: int
    totals: Totals
    estimated_cost_usd: float
    active_days: int  # person-days with usage

    @property
    def cost_usd(self) -> float | None:
        """Reported cost plus the estimate; None when there is neither."""
        if self.totals.cost_usd is None and not self.estimated_cost_usd:
            return None
        return (self.totals.cost_usd or 0.0) + self.estimated_cost_usd

    @property
    def estimated(self) -> bool:
        return self.estimated_cost_usd > 0

    @property
    def cost_per_active_person(self) -> float | None:
        cost = self.cost_usd
        return None if cost is None or not self.active_people else cost / self.active_people

    @property
    def acceptance_rate(self) -> float | None:
        return acceptance_rate(self.totals.suggestions_accepted, self.totals.suggestions_shown)

    @property
    def accepted_per_million_tokens(self) -> float | None:
        return _per_million(self.totals.suggestions_accepted, self.totals.tokens)

    @property
    def lines_per_million_tokens(self) -> float | None:
        return _per_million(self.totals.lines_accepted, self.totals.tokens)

    @property
    def shipped(self) -> dict[str, int]:
        """Commits and pull requests made with the tools, where a source reports them (the
        figures arrive with the connectors; until then this is empty)."""
        found = {name: getattr(self.totals, name, None) for name in ("commits", "pull_requests")}
        return {name: value for name, value in found.items() if value is not None}


def _per_million(count: int | None, tokens: int) -> float | None:
    return None if count is None or not tokens else count * 1e6 / tokens


@dataclass(frozen=True, slots=True)
class Flagged:
    """How much of a scope's usage was judged scripted or wasteful: counts and shares only,
    and only of groups of at least the minimum (`flagged_share`). `some`: whether anyone's
    was. `people` and its share are None when fewer than the minimum were flagged: only that
    some usage is set aside is said. `share_of_tokens` is None too when it would give the
    tokens of fewer than the minimum, flagged or not."""

    some: bool
    people: int | None
    share_of_people: float | None
    share_of_tokens: float | None


@dataclass(frozen=True, slots=True)
class OrgView:
    """What `/aiusage org [TEAM]` shows: this week's total, by tool and (for the whole
    organisation) by team, the flagged share, and the weekly trend of the total (None for a
    week too small to show)."""

    team: str | None
    week: Week
    min_size: int
    total: GroupFigures
    by_tool: list[GroupFigures]
    by_team: list[GroupFigures]
    flagged: Flagged
    trend: list[tuple[Week, GroupFigures | None]]


@dataclass(frozen=True, slots=True)
class OrgRefusal:
    """Why the view cannot be shown: `unknown_team` or `too_few` (under the minimum)."""

    reason: str
    team: str | None
    min_size: int


def figures(
    key: str,
    cells: Iterable[UsageCell],
    prices: Prices,
    span_days: int,
    people: int | None = None,
) -> GroupFigures:
    """The sum of `cells`, with estimated cost for what no source priced."""
    cells = list(cells)
    totals = Totals.total(cell.totals for cell in cells)
    estimated = 0.0
    active: set[int] = set()
    days = 0
    for cell in cells:
        seat_days = span_days if cell.totals.cost_usd is None else 0
        estimated += prices.estimate(
            cell.tool, cell.unpriced_input_tokens, cell.unpriced_output_tokens, seat_days
        )
        active.add(cell.person_id)
        days += cell.active_days
    return GroupFigures(key, people, len(active), totals, estimated, days)


def tool_groups(cells: Iterable[UsageCell]) -> dict[str, People]:
    """Who used each tool."""
    found: dict[str, set[int]] = defaultdict(set)
    for cell in cells:
        found[cell.tool].add(cell.person_id)
    return {tool: frozenset(people) for tool, people in found.items()}


def team_grouping(
    cells: Sequence[UsageCell], teams: Mapping[str, People], min_size: int
) -> Grouping[str]:
    """Which teams may be shown for a span's usage: each judged by its members with usage."""
    active = frozenset(cell.person_id for cell in cells)
    return private_groups(teams, active, min_size, other_mode="rest")


def by_tool(
    cells: Sequence[UsageCell],
    prices: Prices,
    span_days: int,
    min_size: int,
    against: Mapping[str, People] | None = None,
    fold: Collection[str] = (),
) -> list[GroupFigures]:
    """Per tool (and other), within whoever `cells` cover; `against` is the wider view's
    tool groups a narrower one must not differ from by a few people; tools in `fold` fold
    whatever their size (a report's tools some week of its period would fold)."""
    population = frozenset(cell.person_id for cell in cells)
    grouping = private_groups(
        tool_groups(cells), population, min_size, other_mode="folded", against=against, fold=fold
    )
    rows = [
        figures(tool, [c for c in cells if c.tool == tool], prices, span_days)
        for tool in sorted(grouping.shown)
    ]
    if grouping.other:
        folded = set(grouping.folded)
        rows.append(figures(OTHER, [c for c in cells if c.tool in folded], prices, span_days))
    return rows


def by_team(
    cells: Sequence[UsageCell],
    teams: Mapping[str, People],
    grouping: Grouping[str],
    prices: Prices,
    span_days: int,
) -> list[GroupFigures]:
    """Per shown team (and other: everyone active in no shown team), all tools together."""
    mine = cells_by_person(cells)
    rows = [
        figures(name, cells_of(mine, grouping.shown[name]), prices, span_days, len(teams[name]))
        for name in sorted(grouping.shown)
    ]
    if grouping.other:
        rows.append(figures(OTHER, cells_of(mine, grouping.other), prices, span_days))
    return rows


def cells_by_person(cells: Iterable[UsageCell]) -> dict[int, list[UsageCell]]:
    found: dict[int, list[UsageCell]] = defaultdict(list)
    for cell in cells:
        found[cell.person_id].append(cell)
    return found


def cells_of(mine: Mapping[int, list[UsageCell]], people: Iterable[int]) -> list[UsageCell]:
    """The cells of `people`, from `cells_by_person`."""
    return [cell for person in people for cell in mine.get(person, ())]


def flagged_share(
    cells: Sequence[UsageCell],
    flagged: People,
    min_size: int,
    wider: People | None = None,
) -> Flagged:
    """How many of the people `cells` cover were flagged, and their share of tokens, each
    only where it describes no fewer than `min_size` people. The share of tokens is the
    flagged people's tokens, and beside the total it is the others' too, so both must be
    the minimum or more. In a team's view, `wider` is everyone in the organisation's: the
    organisation's figures minus the team's would be those outside it, flagged or not, so
    they must be nobody or the minimum too."""
    people = frozenset(cell.person_id for cell in cells)
    hit = people & flagged
    if not hit:
        return Flagged(False, 0, 0.0, None)
    outside = (wider or people) - people
    counted = [hit, *([outside & flagged] if wider is not None else [])]
    if not all(allowed_size(len(group), min_size) for group in counted):
        return Flagged(True, None, None, None)
    tokens = sum(cell.totals.tokens for cell in cells)
    flagged_tokens = sum(cell.totals.tokens for cell in cells if cell.person_id in hit)
    others = [people - hit, *([outside - flagged] if wider is not None else [])]
    told = tokens and all(allowed_size(len(group), min_size) for group in others)
    return Flagged(
        some=True,
        people=len(hit),
        share_of_people=len(hit) / len(people),
        share_of_tokens=flagged_tokens / tokens if told else None,
    )


@dataclass(frozen=True, slots=True)
class WeekUsage:
    """This week's cells, indexed by person, and which teams the week may show: what every
    view of the week shares, computed once."""

    cells: list[UsageCell]
    by_person: dict[int, list[UsageCell]]
    grouping: Grouping[str]


def prepare_week(
    cells: Sequence[UsageCell], teams: Mapping[str, People], min_size: int
) -> WeekUsage:
    return WeekUsage(list(cells), cells_by_person(cells), team_grouping(cells, teams, min_size))


def scope_cells(week: WeekUsage, team: str | None) -> list[UsageCell] | None:
    """A week's cells within the organisation or one team, or None when that scope may not
    be shown: too few people, or a team the organisation-wide grouping folds (so a team
    that differs from another by one person cannot be asked for)."""
    if not week.grouping.total_shown:
        return None
    if team is None:
        return week.cells
    members = week.grouping.shown.get(team)
    if members is None:
        return None
    return cells_of(week.by_person, sorted(members))


def figures_from_sums(
    key: str, rows: Iterable[ToolSpanSums], people: int, prices: Prices, span_days: int
) -> GroupFigures:
    """A trend point from sums the database made; the same figures `figures` gives from
    cells, but no person-days."""
    totals = Totals()
    estimated = 0.0
    for row in rows:
        totals = totals + row.totals
        estimated += prices.estimate(
            row.tool,
            row.unpriced_input_tokens,
            row.unpriced_output_tokens,
            span_days * row.people_without_cost,
        )
    return GroupFigures(key, None, people, totals, estimated, 0)


def shown_weeks(
    active: Sequence[People],
    weekly_teams: Sequence[Mapping[str, People]],
    min_size: int,
    team: str | None,
) -> list[bool]:
    """For each week's active people and teams (each week's own members), whether the scope
    may be shown that week: the same rule as this week's view, applied week by week."""
    if team is None:
        return [len(people) >= min_size for people in active]
    return [
        team in private_groups(teams, people, min_size).shown
        for people, teams in zip(active, weekly_teams, strict=True)
    ]


def trend_points(
    weeks: Sequence[Week],
    sums: Sequence[ToolSpanSums],
    people: Mapping[int, int],
    shown: Sequence[bool],
    prices: Prices,
    key: str = "",
) -> list[tuple[Week, GroupFigures | None]]:
    """The weekly trend from the database's sums; None for a week that may not be shown."""
    per_week: dict[int, list[ToolSpanSums]] = defaultdict(list)
    for row in sums:
        per_week[row.span].append(row)
    return [
        (
            week,
            figures_from_sums(key, per_week[i], people.get(i, 0), prices, 7) if shown[i] else None,
        )
        for i, week in enumerate(weeks)
    ]


def org_view(
    current: WeekUsage,
    trend: Sequence[tuple[Week, GroupFigures | None]],
    teams: Mapping[str, People],
    flagged: People,
    *,
    min_size: int,
    prices: Prices,
    team: str | None = None,
) -> OrgView | OrgRefusal:
    """This week's view (the last week of `trend`, whose points `trend_points` made under
    the same rule), by tool and team, with the flagged share."""
    if team is not None and team not in teams:
        return OrgRefusal("unknown_team", team, min_size)
    in_scope = scope_cells(current, team)
    if in_scope is None:
        return OrgRefusal("too_few", team, min_size)
    week = trend[-1][0]
    total = figures(team or "", in_scope, prices, 7)
    against = tool_groups(current.cells) if team is not None else None
    return OrgView(
        team=team,
        week=week,
        min_size=min_size,
        total=total,
        by_tool=by_tool(in_scope, prices, 7, min_size, against),
        by_team=[] if team else by_team(in_scope, teams, current.grouping, prices, 7),
        flagged=flagged_share(
            in_scope,
            flagged,
            min_size,
            frozenset(current.by_person) if team is not None else None,
        ),
        trend=[*trend[:-1], (week, total)],
    )
