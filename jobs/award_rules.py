"""The award categories, their thresholds and emoji, and how winners are picked. Pure.

Every badge measures useful use (steadiness, acceptance, efficiency, breadth, growth against
one's own past, work that shipped), never raw volume alone. Operators adjust titles, emoji and
thresholds, or switch a badge off, with a YAML file named by `AIUSAGE_AWARD_RULES` (see
docs/metrics.md).
"""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from jobs.award_measures import MEASURES, work
from jobs.award_rules_file import DEFAULT_REWARDS_LINE, RulesFile, problem
from jobs.config_files import read_yaml
from jobs.heap import collector_paused
from storage.records import Award, PersonPeriod

# The least use a week must show for any badge by default: 20 requests, suggestions shown
# or thousands of tokens (`award_measures.work`). Ordinary use shows that in a day or two;
# a handful of near-empty events a week, the cheapest thing a script can send, does not.
WEEK_OF_USE = 20


@dataclass(frozen=True, slots=True)
class Category:
    """One badge. `key` names both the stored category and the measure it ranks by;
    `minimum` is the least that measure must reach, the `min_*` fields guard against
    winning on a handful of data points. `min_work` is the least use the week must show
    (`award_measures.work`: requests, suggestions shown and thousands of tokens);
    `maximum`, when set, the most the measure may reach and still be believed."""

    key: str
    title: str
    emoji: str
    minimum: float = 0.0
    maximum: float | None = None
    min_work: int = WEEK_OF_USE
    min_active_days: int = 1
    min_suggestions: int = 0
    min_tokens: int = 0
    min_accepted: int = 0
    min_previous_weeks: int = 0
    min_shipped: int = 0
    enabled: bool = True


DEFAULT_CATEGORIES: tuple[Category, ...] = (  # each asks for a week of real use (min_work)
    # measure: active days in the week
    Category("steady", "Steady hand", ":calendar:", minimum=3),
    # measure: accepted / shown suggestions, once at least min_suggestions were shown. A rate
    # is a habit, judged over three days as Steady hand is: on two, two events claiming 25
    # of 25 accepted each won it with 100%. Real rates are 20-40%; over 50 suggestions and
    # three days nobody accepts nearly all of them, so past 90% is not believed (`maximum`):
    # three events claiming 17 of 17 won it.
    Category(
        "acceptance",
        "Sharp eye",
        ":dart:",
        minimum=0.25,
        maximum=0.9,
        min_active_days=3,
        min_suggestions=50,
    ),
    # measure: accepted lines (or suggestions, when lines are not reported) per 1,000 tokens.
    # A line of code costs about ten tokens to write, and the prompt behind it more, so over
    # a week more than 100 accepted per 1,000 tokens (a line for every ten tokens spent) is
    # figures that do not hang together, not lean use: not believed (`maximum`).
    Category(
        "efficiency",
        "Lean and useful",
        ":seedling:",
        minimum=0.0,
        maximum=100.0,
        min_active_days=2,
        min_tokens=20_000,
        min_accepted=20,
    ),
    # measure: distinct tools plus distinct kinds of work, a tool counting only when someone
    # else did work with it that week too (`award_measures.TOOL_USERS`)
    Category("breadth", "Explorer", ":compass:", minimum=4, min_active_days=2),
    # measure: active days above the person's own weekly average over the history weeks
    Category(
        "improvement",
        "On the rise",
        ":chart_with_upwards_trend:",
        minimum=1.0,
        min_active_days=3,
        min_previous_weeks=2,
    ),
    # measure: commits and pull requests made with the tools, per active day. Guarded like the
    # others: enough shipped work and AI use that one lucky commit does not win, and a week of
    # use before (a new identity reporting commits is the cheapest way to game it).
    Category(
        "shipped",
        "Shipped it",
        ":package:",
        minimum=0.0,
        min_active_days=2,
        min_tokens=20_000,
        min_shipped=3,
        min_previous_weeks=1,
    ),
)


@dataclass(frozen=True, slots=True)
class AwardRules:
    """The whole award configuration: badges in the order they are decided, and limits."""

    categories: tuple[Category, ...] = DEFAULT_CATEGORIES
    max_badges_per_person: int = 1
    history_weeks: int = 4
    rewards_line: str = DEFAULT_REWARDS_LINE

    def category(self, key: str) -> Category | None:
        return next((c for c in self.categories if c.key == key), None)

    @property
    def least_work(self) -> int:
        """The least use (`award_measures.work`) any enabled badge asks of a week: the floor
        `/aiusage top` holds a week to as well, so a handful of events ranks nowhere."""
        return min((c.min_work for c in self.categories if c.enabled), default=WEEK_OF_USE)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A person's week and, for `improvement`, their active days in each earlier week
    (most recent first, 0 for a week without use)."""

    period: PersonPeriod
    previous_active_days: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Winner:
    category: str
    person_id: int
    slack_user_id: str
    value: float
    reason: str


@dataclass(frozen=True, slots=True)
class BadgeLine:
    emoji: str
    title: str
    slack_user_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class AwardPost:
    """Everything the weekly award post says, as plain data for the notifier to render."""

    week_label: str
    week_start: date
    week_end: date
    badges: tuple[BadgeLine, ...]
    rewards_line: str


def _weeks_used(c: Candidate, history: int) -> int:
    """In how many of the earlier weeks looked at the person used the tools: the baseline
    every badge may ask for (at least `min_previous_weeks` of them)."""
    return sum(1 for days in c.previous_active_days[:history] if days > 0)


def _leaders(
    scored: list[tuple[float, Candidate]], wins: Mapping[int, int], most: int
) -> list[tuple[float, Candidate]]:
    """The start of the winning order (highest value, then more active days, fewer tokens
    among weeks that report any, lower Slack ID), long enough to hold the winner: only
    people who already hold `most` badges can be passed over. Everyone at or above the
    cut-off value is ordered in full, so ties are broken as if everyone had been sorted,
    without sorting everyone."""
    enough = sum(1 for n in wins.values() if n >= most) + 1
    if not scored:
        return []
    cut = heapq.nlargest(enough, (value for value, _ in scored))[-1]
    near = [(value, c) for value, c in scored if value >= cut]
    return sorted(
        near,
        key=lambda item: (
            -item[0],
            -item[1].period.active_days,
            _tokens_tie(item[1].period.totals.tokens),
            item[1].period.slack_user_id,
        ),
    )


def _tokens_tie(tokens: int) -> tuple[bool, int]:
    """Fewer tokens win a tie, but only among weeks whose work reports tokens at all: a
    week with none behind it is not lean, it is unmeasured (or made up: seven one-request
    events with no tokens won Steady hand from a real seven-day week), so it comes after."""
    return (tokens == 0, tokens)


def decide_awards(
    candidates: Sequence[Candidate], rules: AwardRules, flagged: Collection[int] = ()
) -> list[Winner]:
    """Pick each enabled category's winner, in category order. Only people with a Slack ID
    who have not opted out and whose week is not flagged are eligible; nobody wins more
    than `max_badges_per_person`. Ties go to more active days, then fewer tokens (a week
    reporting none comes after those that do), then the lower Slack user ID, so the same
    week always gives the same winners."""
    with collector_paused():
        return _decide(candidates, rules, set(flagged))


def _decide(candidates: Sequence[Candidate], rules: AwardRules, flagged: set[int]) -> list[Winner]:
    history = rules.history_weeks
    # Counted once per person rather than once per person and badge: a week of everyone.
    # Few people's earlier weeks differ (a handful of days in each), so counted once each.
    used: dict[tuple[int, ...], int] = {}
    baseline: list[tuple[Candidate, int, int, int]] = []
    for c in candidates:
        period = c.period
        if period.slack_user_id and not period.opted_out and period.person_id not in flagged:
            previous = c.previous_active_days
            weeks_used = used.get(previous)
            if weeks_used is None:
                weeks_used = used[previous] = _weeks_used(c, history)
            baseline.append((c, period.active_days, weeks_used, work(period.totals)))
    # Every candidate of the week but the flagged, for measures judged against the whole
    # week: a scripted week vouches for no tool.
    everyone = [c for c in candidates if c.period.person_id not in flagged]
    wins: dict[int, int] = {}
    winners: list[Winner] = []
    for category in rules.categories:
        if not category.enabled:
            continue
        measure = MEASURES[category.key]
        least_days, least_weeks = category.min_active_days, category.min_previous_weeks
        least_work = category.min_work
        running = [
            c
            for c, active_days, weeks_used, done in baseline
            if not (active_days < least_days or weeks_used < least_weeks or done < least_work)
        ]
        minimum, maximum = category.minimum, category.maximum
        scored: list[tuple[float, Candidate]] = [
            (value, c)
            for value, c in zip(
                measure.values(running, category, history, everyone), running, strict=True
            )
            if not (
                value is None
                or value <= 0
                or value < minimum
                or (maximum is not None and value > maximum)
            )
        ]
        for value, c in _leaders(scored, wins, rules.max_badges_per_person):
            if wins.get(c.period.person_id, 0) < rules.max_badges_per_person:
                wins[c.period.person_id] = wins.get(c.period.person_id, 0) + 1
                winners.append(
                    Winner(
                        category.key,
                        c.period.person_id,
                        c.period.slack_user_id or "",
                        value,
                        measure.reason(c, history, everyone),
                    )
                )
                break
    return winners


def build_post(
    week_label: str, week_start: date, week_end: date, awards: Sequence[Award], rules: AwardRules
) -> AwardPost:
    """The post for stored awards, in the rules' category order; a category an operator has
    since removed keeps its key as title so a stored badge is never silently dropped."""
    order = {c.key: i for i, c in enumerate(rules.categories)}
    lines = []
    for award in sorted(awards, key=lambda a: (order.get(a.category, len(order)), a.category)):
        category = rules.category(award.category)
        lines.append(
            BadgeLine(
                emoji=category.emoji if category else ":star:",
                title=category.title if category else award.category,
                slack_user_id=award.slack_user_id or "",
                reason=award.reason,
            )
        )
    return AwardPost(week_label, week_start, week_end, tuple(lines), rules.rewards_line)


def rules_from_mapping(data: Mapping[str, Any]) -> AwardRules:
    """Apply an operator's overrides to the defaults. Top-level keys: `max_badges_per_person`,
    `history_weeks`, `rewards_line`, and `categories` (badge key -> fields to change).
    Anything unknown raises ValueError naming it, so a typo stops start-up."""
    try:
        parsed = RulesFile.model_validate(data)
    except ValidationError as exc:
        raise ValueError(problem(exc.errors()[0])) from None
    categories = list(DEFAULT_CATEGORIES)
    for key, changes in (parsed.categories or {}).items():
        index = next((i for i, c in enumerate(categories) if c.key == key), None)
        if index is None:
            raise ValueError(f"unknown award category {key!r} (known: {', '.join(MEASURES)})")
        fields = changes.model_dump(exclude_none=True)
        changed = categories[index] = dataclasses.replace(categories[index], **fields)
        if changed.maximum is not None and changed.maximum < changed.minimum:
            raise ValueError(
                f"award category {key!r}: maximum {changed.maximum:g} is below minimum "
                f"{changed.minimum:g}, so nobody could win it"
            )
    return AwardRules(
        categories=tuple(categories),
        max_badges_per_person=parsed.max_badges_per_person,
        history_weeks=parsed.history_weeks,
        rewards_line=parsed.rewards_line,
    )


def load_rules(path: Path | None) -> AwardRules:
    """The defaults, or the defaults with the YAML file at `path` applied."""
    if path is None:
        return AwardRules()
    data = read_yaml(path, "award rules") or {}
    if not isinstance(data, Mapping):
        raise ValueError(f"award rules {str(path)!r}: expected a mapping at the top")
    return rules_from_mapping(data)
