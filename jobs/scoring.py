"""Stats rules: a person's week against last week, the leaderboard score, trends. Pure.

The leaderboard never ranks by tokens or request counts: volume is what people game. It ranks by
active days (steady use), then accepted suggestions (useful use), then acceptance rate, and only
weeks that show the use every badge asks for (`AwardRules.least_work`).
"""

from __future__ import annotations

import bisect
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

from jobs.award_measures import work_of
from jobs.weeks import Week
from storage.figures import acceptance_rate
from storage.records import DailyUsage, RankInput, Totals

SCORE_EXPLANATION = (
    "Ranked by active days this week, then accepted suggestions, then acceptance rate. "
    "Never by tokens or request counts. Ties share a place."
)
SPARK_BARS = "▁▂▃▄▅▆▇█"
TREND_WEEKS = 8


def total(items: Sequence[Totals]) -> Totals:
    """The sum of `items` (see `storage.figures`). None or one item is the common case of a
    person's week, and adding to nothing changes nothing, so those skip the sum."""
    if not items:
        return _NOTHING
    if len(items) == 1:
        return items[0]
    return Totals.total(items)


_NOTHING = Totals()


@dataclass(frozen=True, slots=True)
class Period:
    """Usage over some days: the figures and how many distinct days had any."""

    first: date
    last: date
    totals: Totals
    active_days: int

    @property
    def acceptance_rate(self) -> float | None:
        return acceptance_rate(self.totals.suggestions_accepted, self.totals.suggestions_shown)


@dataclass(frozen=True, slots=True)
class ToolLine:
    tool: str
    this_week: Totals
    last_week: Totals


@dataclass(frozen=True, slots=True)
class WeekComparison:
    """This week so far against the same days of last week, by tool, with an 8-week trend."""

    week: Week
    today: date
    this_week: Period
    last_week_same_days: Period
    last_week: Period
    tools: list[ToolLine]  # busiest this week first
    trend: list[tuple[Week, int]]  # requests per week, oldest first, this week last


def _period(rows: Sequence[DailyUsage], first: date, last: date) -> Period:
    # A day with nothing but empty events (no request, token or suggestion shown) is not
    # active: otherwise a script fills a week with them (`Figures.does_work`).
    active = {d.day for d in rows if d.totals.does_work()}
    return Period(first, last, total([d.totals for d in rows]), len(active))


def compare_weeks(daily: Sequence[DailyUsage], week: Week, today: date) -> WeekComparison:
    """Compare this week up to `today` with last week up to the same weekday, and in full.
    `daily` should cover the trend's eight weeks; days after `today` are ignored. One pass
    over `daily`: `me` asks this on every call."""
    last = week.previous()
    same_day_last_week = today - timedelta(weeks=1)
    weeks = [week.previous(n) for n in range(TREND_WEEKS - 1, -1, -1)]
    first, end = weeks[0].start, min(week.end, today)
    requests = [0] * TREND_WEEKS  # per week of the trend, up to today
    this_rows: list[DailyUsage] = []
    last_rows: list[DailyUsage] = []
    same_days: list[DailyUsage] = []
    for d in daily:
        day = d.day
        if first <= day <= end:
            requests[(day - first).days // 7] += d.totals.requests
        if week.start <= day <= today:
            this_rows.append(d)
        if last.start <= day <= last.end:
            last_rows.append(d)
        if last.start <= day <= same_day_last_week:
            same_days.append(d)
    by_tool: dict[str, tuple[list[Totals], list[Totals]]] = {}
    for d in this_rows:
        by_tool.setdefault(d.tool, ([], []))[0].append(d.totals)
    for d in last_rows:
        by_tool.setdefault(d.tool, ([], []))[1].append(d.totals)
    tools = [ToolLine(tool, total(now), total(before)) for tool, (now, before) in by_tool.items()]
    tools.sort(key=lambda t: (-t.this_week.requests, -t.last_week.requests, t.tool))
    return WeekComparison(
        week=week,
        today=today,
        this_week=_period(this_rows, week.start, today),
        last_week_same_days=_period(same_days, last.start, same_day_last_week),
        last_week=_period(last_rows, last.start, last.end),
        tools=tools,
        trend=list(zip(weeks, requests, strict=True)),
    )


def sparkline(values: Sequence[int]) -> str:
    """One bar per value, scaled to the largest; zero is the lowest bar, so gaps still show."""
    top = max(values, default=0)
    if top <= 0:
        return SPARK_BARS[0] * len(values)
    steps = len(SPARK_BARS) - 1
    return "".join(SPARK_BARS[round(v / top * steps)] if v > 0 else SPARK_BARS[0] for v in values)


@dataclass(frozen=True, slots=True)
class Ranked:
    """A place on the leaderboard."""

    place: int
    person_id: int
    slack_user_id: str | None
    active_days: int
    suggestions_accepted: int
    acceptance_rate: float | None

    @property
    def score(self) -> tuple[int, int, float]:
        return (self.active_days, self.suggestions_accepted, self.acceptance_rate or 0.0)


def score(item: RankInput) -> tuple[int, int, float]:
    """The leaderboard score, highest first: active days, then accepted suggestions, then
    acceptance rate. Someone whose tools report no suggestions still ranks by active days."""
    rate = acceptance_rate(item.suggestions_accepted, item.suggestions_shown)
    return (item.active_days, item.suggestions_accepted or 0, rate or 0.0)


def rank(inputs: Iterable[RankInput], least_work: int = 0) -> list[Ranked]:
    """Everyone with an active day whose week shows at least `least_work` use (the badges'
    `award_measures.work`), best first (`leave_out` drops the opted-out and flagged).
    Equal scores share a place (1, 2, 2, 4); among equals the order is by Slack ID, for
    stability, and means nothing."""
    eligible = [
        Ranked(
            place=0,
            person_id=item.person_id,
            slack_user_id=item.slack_user_id,
            active_days=item.active_days,
            suggestions_accepted=item.suggestions_accepted or 0,
            acceptance_rate=acceptance_rate(item.suggestions_accepted, item.suggestions_shown),
        )
        for item in inputs
        if enough_use(item, least_work)
    ]
    eligible.sort(key=lambda r: (tuple(-x for x in r.score), r.slack_user_id or ""))
    return leave_out(eligible, ())


def enough_use(item: RankInput, least_work: int) -> bool:
    """Whether a week is ranked at all: an active day, and at least `least_work` of the use
    every badge asks for, so a handful of near-empty events a week ranks nowhere."""
    if item.active_days <= 0:
        return False
    return work_of(item.requests, item.suggestions_shown, item.tokens) >= least_work


def past_belief(inputs: Iterable[RankInput], most: float | None, over: int) -> frozenset[int]:
    """The people whose acceptance is past belief: more than `most` of at least `over`
    suggestions shown (Sharp eye's `maximum` and `min_suggestions`). The leaderboard ranks
    by accepted suggestions and their rate, so it believes them no further than the badge
    does: three events claiming 1,000 of 1,000 accepted, one a day, took first place."""
    if most is None:
        return frozenset()
    return frozenset(
        item.person_id
        for item in inputs
        if item.suggestions_shown
        and item.suggestions_shown >= over
        and (item.suggestions_accepted or 0) > most * item.suggestions_shown
    )


def too_little_use(inputs: Iterable[RankInput], least_work: int) -> frozenset[int]:
    """The people with usage in the period who are not ranked (yet) for too little of it."""
    return frozenset(item.person_id for item in inputs if not enough_use(item, least_work))


def leave_out(ranked: Iterable[Ranked], unranked: Collection[int]) -> list[Ranked]:
    """A ranking (best first) without the `unranked` people, places counted afresh."""
    placed: list[Ranked] = []
    previous: tuple[int, int, float] | None = None
    place = 0
    for position, item in enumerate((r for r in ranked if r.person_id not in unranked), 1):
        if item.score != previous:
            place, previous = position, item.score
        placed.append(replace(item, place=place))
    return placed


@dataclass(frozen=True, slots=True)
class Standings:
    """What `top` shows: the first places, the viewer's own, and how many are ranked."""

    top: list[Ranked]
    mine: Ranked | None
    count: int


@dataclass(frozen=True, slots=True)
class Board:
    """A ranking (best first) with, per person, their position and where their group of
    equal scores starts: `top` answers from it without walking everyone."""

    ranked: Sequence[Ranked]
    position: Mapping[int, int]
    group_start: Sequence[int]

    @classmethod
    def of(cls, ranked: Sequence[Ranked]) -> Board:
        group_start: list[int] = []
        for i, item in enumerate(ranked):
            same = i > 0 and item.score == ranked[i - 1].score
            group_start.append(group_start[-1] if same else i)
        return cls(ranked, {r.person_id: i for i, r in enumerate(ranked)}, group_start)

    def standings(self, unranked: Collection[int], person_id: int, size: int = 10) -> Standings:
        """As `standings`, in time that grows with `size` and the unranked, not everyone:
        a place is one more than the ranked people with a better score."""
        left_out = sorted(i for p in unranked if (i := self.position.get(p)) is not None)
        top: list[Ranked] = []
        passed = 0  # left-out positions before the current one
        for i, item in enumerate(self.ranked):
            if len(top) == size:
                break
            while passed < len(left_out) and left_out[passed] < i:
                passed += 1
            if passed < len(left_out) and left_out[passed] == i:
                continue
            top.append(placed(item, self._place(i, left_out)))
        mine = None
        at = self.position.get(person_id)
        if at is not None and person_id not in unranked:
            mine = placed(self.ranked[at], self._place(at, left_out))
        return Standings(top, mine, len(self.ranked) - len(left_out))

    def _place(self, i: int, left_out: list[int]) -> int:
        start = self.group_start[i]
        return start - bisect.bisect_left(left_out, start) + 1


def placed(item: Ranked, place: int) -> Ranked:
    """`item` at `place`: `dataclasses.replace` without its generic machinery, which was a
    good part of what answering `top` cost."""
    return Ranked(
        place,
        item.person_id,
        item.slack_user_id,
        item.active_days,
        item.suggestions_accepted,
        item.acceptance_rate,
    )


def standings(
    ranked: Iterable[Ranked], unranked: Collection[int], person_id: int, size: int = 10
) -> Standings:
    """The board without the `unranked` people, places counted afresh, in one pass that
    builds only the places shown: the top `size` and `person_id`'s."""
    top: list[Ranked] = []
    mine = None
    previous: tuple[int, int, float] | None = None
    place = count = 0
    for item in ranked:
        if item.person_id in unranked:
            continue
        count += 1
        if item.score != previous:
            place, previous = count, item.score
        if len(top) < size:
            top.append(replace(item, place=place))
        if item.person_id == person_id:
            mine = replace(item, place=place)
    return Standings(top, mine, count)
