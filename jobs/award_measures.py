"""How each badge scores a candidate, and the reason a winner is given. Pure; split from
`jobs.award_rules` (which picks the winners) so a week of everyone is scored without writing
a reason for each of them: only the winners' are ever written."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from storage.records import PersonPeriod, Totals

if TYPE_CHECKING:  # award_rules imports this module
    from jobs.award_rules import Candidate, Category


@dataclass(frozen=True, slots=True)
class Measure:
    """A category's scores for candidates (None: not in the running) and the reason a
    winner is given. Kept apart so a week of everyone is scored without writing a reason
    for each of them: only the winners' are ever read. Scored a list at a time: a call per
    person and badge cost more than the scoring itself, for a week of everyone. Both are
    also given every candidate of the week, in the running or not, for a measure judged
    against the week as a whole (Explorer counts only tools others use too)."""

    values: Callable[[Sequence[Candidate], Category, int, Sequence[Candidate]], list[float | None]]
    reason: Callable[[Candidate, int, Sequence[Candidate]], str]

    def value(
        self,
        candidate: Candidate,
        category: Category,
        history: int,
        everyone: Sequence[Candidate] = (),
    ) -> float | None:
        """One candidate's score, among `everyone` in the week (the candidate alone when
        not given)."""
        return self.values([candidate], category, history, everyone or [candidate])[0]


def work(totals: Totals) -> int:
    """How much use a week shows, in requests: its requests, plus each suggestion shown
    (inline tools report suggestions, not requests) and each 1,000 tokens (telemetry and
    some reports count tokens, not requests). Every badge asks for a minimum of it, so a
    handful of near-empty events wins nothing; so does a place on the leaderboard."""
    return work_of(totals.requests, totals.suggestions_shown, totals.tokens)


def work_of(requests: int, suggestions_shown: int | None, tokens: int) -> int:
    """`work` from the three figures it reads, for callers that sum only those."""
    return requests + (suggestions_shown or 0) + tokens // 1000


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


def _steady(
    cs: Sequence[Candidate], _cat: Category, _history: int, _all: Sequence[Candidate]
) -> list[float | None]:
    return [float(c.period.active_days) for c in cs]


def _steady_reason(c: Candidate, _history: int, _all: Sequence[Candidate]) -> str:
    return _with_acceptance(days_phrase(c.period.active_days), c.period)


def _acceptance(
    cs: Sequence[Candidate], cat: Category, _history: int, _all: Sequence[Candidate]
) -> list[float | None]:
    least = cat.min_suggestions
    values: list[float | None] = []
    for c in cs:
        totals = c.period.totals
        shown, accepted = totals.suggestions_shown, totals.suggestions_accepted
        # `_acceptance_rate`, written out: it is None without suggestions shown.
        if not shown or accepted is None or shown < least:
            values.append(None)
        else:
            values.append(accepted / shown)
    return values


def _acceptance_reason(c: Candidate, _history: int, _all: Sequence[Candidate]) -> str:
    shown = c.period.totals.suggestions_shown or 0
    rate = _acceptance_rate(c.period) or 0.0
    return f"{rate:.0%} acceptance of {shown:,} suggestions, {days_phrase(c.period.active_days)}"


def _accepted_work(totals: Totals) -> tuple[int | None, str]:
    lines, accepted = totals.lines_accepted, totals.suggestions_accepted
    return (lines, "accepted lines") if lines is not None else (accepted, "accepted")


def _efficiency(
    cs: Sequence[Candidate], cat: Category, _history: int, _all: Sequence[Candidate]
) -> list[float | None]:
    least_work, least_tokens = cat.min_accepted, max(cat.min_tokens, 1)
    values: list[float | None] = []
    for c in cs:
        totals = c.period.totals
        # `_accepted_work`, written out.
        work = totals.lines_accepted
        if work is None:
            work = totals.suggestions_accepted
        tokens = totals.input_tokens + totals.output_tokens
        if work is None or work < least_work or tokens < least_tokens:
            values.append(None)
        else:
            values.append(work * 1000 / tokens)
    return values


def _efficiency_reason(c: Candidate, _history: int, _all: Sequence[Candidate]) -> str:
    totals = c.period.totals
    work, unit = _accepted_work(totals)
    work = work or 0
    per_k = work * 1000 / totals.tokens
    return f"{per_k:.1f} {unit} per 1,000 tokens ({work:,} in {totals.tokens:,} tokens)"


# A tool counts for Explorer only when this many people did work with it that week: `tool` is
# free text, so a name only one person reports is no tool the company uses (four made-up
# names on two days won the badge).
TOOL_USERS = 2


def shared_tools(everyone: Sequence[Candidate]) -> frozenset[str]:
    """The tools at least TOOL_USERS of `everyone` did work with. Counted per distinct set
    of tools: a week of everyone has few of them, and each set is one shared object."""
    sets = Counter(c.period.tools for c in everyone)
    users: Counter[str] = Counter()
    for tools, people in sets.items():
        for tool in tools:
            users[tool] += people
    return frozenset(tool for tool, n in users.items() if n >= TOOL_USERS)


def _breadth(
    cs: Sequence[Candidate], _cat: Category, _history: int, everyone: Sequence[Candidate]
) -> list[float | None]:
    shared = shared_tools(everyone)
    counted: dict[frozenset[str], int] = {}
    values: list[float | None] = []
    for c in cs:
        tools = c.period.tools
        n = counted.get(tools)
        if n is None:
            n = counted[tools] = len(tools & shared)
        values.append(float(n + len(c.period.kinds)))
    return values


def _breadth_reason(c: Candidate, _history: int, everyone: Sequence[Candidate]) -> str:
    tools, kinds = len(c.period.tools & shared_tools(everyone)), len(c.period.kinds)
    tool_word = "tool" if tools == 1 else "tools"
    kind_word = "kind" if kinds == 1 else "kinds"
    return f"{tools} {tool_word} colleagues use too, {kinds} {kind_word} of work"


def _previous(c: Candidate, history: int) -> tuple[int, ...]:
    return (c.previous_active_days + (0,) * history)[:history]


def _improvement(
    cs: Sequence[Candidate], cat: Category, history: int, _all: Sequence[Candidate]
) -> list[float | None]:
    if history == 0:  # the earlier weeks needed are checked for every badge (_weeks_used)
        return [None] * len(cs)
    return [c.period.active_days - sum(_previous(c, history)) / history for c in cs]


def _improvement_reason(c: Candidate, history: int, _all: Sequence[Candidate]) -> str:
    average = sum(_previous(c, history)) / history
    return f"{days_phrase(c.period.active_days)}, up from {average:.1f} a week"


def _shipped(
    cs: Sequence[Candidate], cat: Category, _history: int, _all: Sequence[Candidate]
) -> list[float | None]:
    least_shipped, least_tokens = max(cat.min_shipped, 1), cat.min_tokens
    values: list[float | None] = []
    for c in cs:
        totals = c.period.totals
        shipped = totals.shipped
        if shipped is None or shipped < least_shipped or totals.tokens < least_tokens:
            values.append(None)
        else:
            values.append(shipped / max(c.period.active_days, 1))
    return values


def _shipped_reason(c: Candidate, _history: int, _all: Sequence[Candidate]) -> str:
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
