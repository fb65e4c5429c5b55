"""The award categories, their thresholds and emoji, and how winners are picked. Pure.

Every badge measures useful use (steadiness, acceptance, efficiency, breadth, growth against
one's own past, work that shipped), never raw volume alone. Operators adjust titles, emoji and
thresholds, or switch a badge off, with a YAML file named by `AIUSAGE_AWARD_RULES` (see
docs/metrics.md).
"""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

from storage.records import Award, PersonPeriod, Totals


@dataclass(frozen=True, slots=True)
class Category:
    """One badge. `key` names both the stored category and the measure it ranks by;
    `minimum` is the least that measure must reach, the `min_*` fields guard against
    winning on a handful of data points."""

    key: str
    title: str
    emoji: str
    minimum: float = 0.0
    min_active_days: int = 1
    min_suggestions: int = 0
    min_tokens: int = 0
    min_accepted: int = 0
    min_previous_weeks: int = 0
    min_shipped: int = 0
    enabled: bool = True


DEFAULT_CATEGORIES: tuple[Category, ...] = (
    # measure: active days in the week
    Category("steady", "Steady hand", ":calendar:", minimum=3),
    # measure: accepted / shown suggestions, once at least min_suggestions were shown
    Category(
        "acceptance", "Sharp eye", ":dart:", minimum=0.25, min_active_days=2, min_suggestions=50
    ),
    # measure: accepted lines (or suggestions, when lines are not reported) per 1,000 tokens
    Category(
        "efficiency",
        "Lean and useful",
        ":seedling:",
        minimum=0.0,
        min_active_days=2,
        min_tokens=20_000,
        min_accepted=20,
    ),
    # measure: distinct tools plus distinct kinds of work
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

DEFAULT_REWARDS_LINE = (
    "Badges reward steady, accepted, efficient and varied use of AI tools and work that shipped, "
    "never raw volume. "
    "Usage that looks scripted or wasteful is not eligible."
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


@dataclass(frozen=True, slots=True)
class Measure:
    """A category's score for a candidate (None: not in the running) and the reason a
    winner is given. Kept apart so a week of everyone is scored without writing a reason
    for each of them: only the winners' are ever read."""

    value: Callable[[Candidate, Category, int], float | None]
    reason: Callable[[Candidate, int], str]


def _acceptance_rate(period: PersonPeriod) -> float | None:
    shown, accepted = period.totals.suggestions_shown, period.totals.suggestions_accepted
    if not shown or accepted is None:
        return None
    return accepted / shown


def _with_acceptance(text: str, period: PersonPeriod) -> str:
    rate = _acceptance_rate(period)
    return text if rate is None else f"{text}, {rate:.0%} acceptance"


def days_phrase(n: int) -> str:
    """`1 active day`, `3 active days`."""
    return f"{n} active day" + ("" if n == 1 else "s")


def _steady(c: Candidate, _cat: Category, _history: int) -> float | None:
    return float(c.period.active_days)


def _steady_reason(c: Candidate, _history: int) -> str:
    return _with_acceptance(days_phrase(c.period.active_days), c.period)


def _acceptance(c: Candidate, cat: Category, _history: int) -> float | None:
    rate = _acceptance_rate(c.period)
    if rate is None or (c.period.totals.suggestions_shown or 0) < cat.min_suggestions:
        return None
    return rate


def _acceptance_reason(c: Candidate, _history: int) -> str:
    shown = c.period.totals.suggestions_shown or 0
    rate = _acceptance_rate(c.period) or 0.0
    return f"{rate:.0%} acceptance of {shown:,} suggestions, {days_phrase(c.period.active_days)}"


def _accepted_work(totals: Totals) -> tuple[int | None, str]:
    lines, accepted = totals.lines_accepted, totals.suggestions_accepted
    return (lines, "accepted lines") if lines is not None else (accepted, "accepted")


def _efficiency(c: Candidate, cat: Category, _history: int) -> float | None:
    totals = c.period.totals
    work, _ = _accepted_work(totals)
    if work is None or work < cat.min_accepted or totals.tokens < max(cat.min_tokens, 1):
        return None
    return work * 1000 / totals.tokens


def _efficiency_reason(c: Candidate, _history: int) -> str:
    totals = c.period.totals
    work, unit = _accepted_work(totals)
    work = work or 0
    per_k = work * 1000 / totals.tokens
    return f"{per_k:.1f} {unit} per 1,000 tokens ({work:,} in {totals.tokens:,} tokens)"


def _breadth(c: Candidate, _cat: Category, _history: int) -> float | None:
    return float(len(c.period.tools) + len(c.period.kinds))


def _breadth_reason(c: Candidate, _history: int) -> str:
    tools, kinds = len(c.period.tools), len(c.period.kinds)
    tool_word = "tool" if tools == 1 else "tools"
    kind_word = "kind" if kinds == 1 else "kinds"
    return f"{tools} {tool_word}, {kinds} {kind_word} of work"


def _previous(c: Candidate, history: int) -> tuple[int, ...]:
    return (c.previous_active_days + (0,) * history)[:history]


def _improvement(c: Candidate, cat: Category, history: int) -> float | None:
    if history == 0:  # the earlier weeks needed are checked for every badge (_weeks_used)
        return None
    return c.period.active_days - sum(_previous(c, history)) / history


def _improvement_reason(c: Candidate, history: int) -> str:
    average = sum(_previous(c, history)) / history
    return f"{days_phrase(c.period.active_days)}, up from {average:.1f} a week"


def _shipped(c: Candidate, cat: Category, _history: int) -> float | None:
    totals = c.period.totals
    shipped = totals.shipped
    if shipped is None or shipped < max(cat.min_shipped, 1) or totals.tokens < cat.min_tokens:
        return None
    return shipped / max(c.period.active_days, 1)


def _shipped_reason(c: Candidate, _history: int) -> str:
    totals, days = c.period.totals, c.period.active_days
    commits, pulls = totals.commits or 0, totals.pull_requests or 0
    return (
        f"{commits:,} commit{'' if commits == 1 else 's'} and {pulls:,} pull "
        f"request{'' if pulls == 1 else 's'} made with AI, {days_phrase(days)}"
    )


MEASURES: Mapping[str, Measure] = {
    "steady": Measure(_steady, _steady_reason),
    "acceptance": Measure(_acceptance, _acceptance_reason),
    "efficiency": Measure(_efficiency, _efficiency_reason),
    "breadth": Measure(_breadth, _breadth_reason),
    "improvement": Measure(_improvement, _improvement_reason),
    "shipped": Measure(_shipped, _shipped_reason),
}


def _weeks_used(c: Candidate, history: int) -> int:
    """In how many of the earlier weeks looked at the person used the tools: the baseline
    every badge may ask for (at least `min_previous_weeks` of them)."""
    return sum(1 for days in c.previous_active_days[:history] if days > 0)


def decide_awards(
    candidates: Sequence[Candidate], rules: AwardRules, flagged: Collection[int] = ()
) -> list[Winner]:
    """Pick each enabled category's winner, in category order. Only people with a Slack ID
    who have not opted out and whose week is not flagged are eligible; nobody wins more
    than `max_badges_per_person`. Ties go to more active days, then fewer tokens, then the
    lower Slack user ID, so the same week always gives the same winners."""
    flagged = set(flagged)
    eligible = [
        c
        for c in candidates
        if c.period.slack_user_id and not c.period.opted_out and c.period.person_id not in flagged
    ]
    # Counted once per person rather than once per person and badge: a week of everyone.
    baseline = [(c, _weeks_used(c, rules.history_weeks)) for c in eligible]
    wins: dict[int, int] = {}
    winners: list[Winner] = []
    for category in rules.categories:
        if not category.enabled:
            continue
        measure = MEASURES[category.key]
        ranked: list[tuple[tuple[float, int, int, str], float, Candidate]] = []
        for c, weeks_used in baseline:
            if c.period.active_days < category.min_active_days:
                continue
            if weeks_used < category.min_previous_weeks:
                continue
            value = measure.value(c, category, rules.history_weeks)
            if value is None or value <= 0 or value < category.minimum:
                continue
            order = (-value, -c.period.active_days, c.period.totals.tokens, c.period.slack_user_id)
            ranked.append((order, value, c))  # type: ignore[arg-type]
        # Only people who already hold their most badges can be passed over, so the winner
        # is among the first few of the order: no need to sort everyone.
        maxed = sum(1 for n in wins.values() if n >= rules.max_badges_per_person)
        for _, value, c in heapq.nsmallest(maxed + 1, ranked, key=lambda item: item[0]):
            if wins.get(c.period.person_id, 0) < rules.max_badges_per_person:
                wins[c.period.person_id] = wins.get(c.period.person_id, 0) + 1
                winners.append(
                    Winner(
                        category.key,
                        c.period.person_id,
                        c.period.slack_user_id or "",
                        value,
                        measure.reason(c, rules.history_weeks),
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


class _CategoryChanges(BaseModel):
    """The fields of a category an operator may change; strict, so `"5"` is not 5."""

    model_config = ConfigDict(extra="forbid", strict=True)

    title: str | None = None
    emoji: str | None = None
    minimum: int | float | None = None
    min_active_days: int | None = None
    min_suggestions: int | None = None
    min_tokens: int | None = None
    min_accepted: int | None = None
    min_previous_weeks: int | None = None
    min_shipped: int | None = None
    enabled: bool | None = None


class _RulesFile(BaseModel):
    """The award-rules YAML file."""

    model_config = ConfigDict(extra="forbid", strict=True)

    max_badges_per_person: int = Field(1, ge=1)
    history_weeks: int = Field(4, ge=1, le=12)
    rewards_line: str = DEFAULT_REWARDS_LINE
    categories: dict[str, _CategoryChanges] | None = None


_RANGES = {
    "max_badges_per_person": "max_badges_per_person must be a whole number of at least 1",
    "history_weeks": "history_weeks must be a whole number from 1 to 12",
}


def _problem(error: ErrorDetails) -> str:
    """One pydantic error as a line an operator can act on, naming the key."""
    loc = [str(part) for part in error["loc"]]
    if loc[0] == "categories" and len(loc) >= 2:
        key = loc[1]
        if len(loc) == 2:
            return f"award category {key!r}: expected a mapping of fields"
        if error["type"] == "extra_forbidden":
            return f"award category {key!r}: unknown field {loc[2]!r}"
        return f"award category {key!r}: {loc[2]} has the wrong type"
    if error["type"] == "extra_forbidden":
        return f"unknown award rules key {loc[0]!r}"
    return _RANGES.get(loc[0], f"award rules: {loc[0]}: {error['msg']}")


def rules_from_mapping(data: Mapping[str, Any]) -> AwardRules:
    """Apply an operator's overrides to the defaults. Top-level keys: `max_badges_per_person`,
    `history_weeks`, `rewards_line`, and `categories` (badge key -> fields to change).
    Anything unknown raises ValueError naming it, so a typo stops start-up."""
    try:
        parsed = _RulesFile.model_validate(data)
    except ValidationError as exc:
        raise ValueError(_problem(exc.errors()[0])) from None
    categories = list(DEFAULT_CATEGORIES)
    for key, changes in (parsed.categories or {}).items():
        index = next((i for i, c in enumerate(categories) if c.key == key), None)
        if index is None:
            raise ValueError(f"unknown award category {key!r} (known: {', '.join(MEASURES)})")
        fields = changes.model_dump(exclude_none=True)
        categories[index] = dataclasses.replace(categories[index], **fields)
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
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read award rules {str(path)!r}: {exc}") from None
    if not isinstance(data, Mapping):
        raise ValueError(f"award rules {str(path)!r}: expected a mapping at the top")
    return rules_from_mapping(data)
