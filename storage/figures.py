"""The usage figures, named once: which are always counted, which a source may not report,
and the sum that keeps "not reported" (None) apart from zero. Pure: no database here.

Adding a figure is one edit here plus a migration: the table columns, the rollup, the bulk SQL
column lists, the summed reads, the report columns, vendor-report merging and stats derive
from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from operator import attrgetter
from typing import Any, ClassVar, Self, TypeVar

# Always counted: a source that says nothing means 0.
COUNTED: tuple[str, ...] = ("requests", "input_tokens", "output_tokens")
# Reported by some sources only: None means nobody reported it, which is not 0.
REPORTED: tuple[str, ...] = (
    "suggestions_shown",
    "suggestions_accepted",
    "lines_accepted",
    "cost_usd",
    "commits",  # shipped work made with the tool (Claude Code reports these)
    "pull_requests",
)
# The figures that say a tool did work: any of them above zero makes a day active, and a
# tool or kind of work used (`Figures.does_work`; `storage.usage_masks.works` in SQL). An
# event with none of them (say, zero requests and a claimed accepted line) is recorded and
# counted, but makes no day active: a script could otherwise fill a week with empty events.
WORK: tuple[str, ...] = ("requests", "input_tokens", "output_tokens", "suggestions_shown")
# Fractional figures (dollars); every other figure is a whole count.
FRACTIONAL: tuple[str, ...] = ("cost_usd",)
NAMES: tuple[str, ...] = COUNTED + REPORTED

# A record's figures as a tuple in the order of NAMES, in one C call: for the paths that
# build a row per event or report part.
figures_of = attrgetter(*NAMES)

N = TypeVar("N", int, float)


def plus(x: N | None, y: N | None) -> N | None:
    """Sum where None means "nobody reported this": it stays None only if both are."""
    return x if y is None else y if x is None else x + y


def acceptance_rate(accepted: int | None, shown: int | None) -> float | None:
    """Accepted over shown, or None when no suggestions were reported shown."""
    if accepted is None or not shown:
        return None
    return accepted / shown


@dataclass(frozen=True, slots=True)
class Figures:
    """The figures of some usage; `a + b` adds counted figures and keeps unknown as unknown."""

    # Fields added with `+` besides the figures (a subclass may count more, e.g. events).
    ALSO_COUNTED: ClassVar[tuple[str, ...]] = ()

    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    suggestions_shown: int | None = None
    suggestions_accepted: int | None = None
    lines_accepted: int | None = None
    cost_usd: float | None = None
    commits: int | None = None
    pull_requests: int | None = None

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @property
    def acceptance_rate(self) -> float | None:
        return acceptance_rate(self.suggestions_accepted, self.suggestions_shown)

    @property
    def shipped(self) -> int | None:
        """Commits and pull requests made with the tool, or None when no source reported any."""
        return plus(self.commits, self.pull_requests)

    def __add__(self, other: Self) -> Self:
        changes: dict[str, Any] = {
            name: getattr(self, name) + getattr(other, name)
            for name in (*COUNTED, *self.ALSO_COUNTED)
        }
        for name in REPORTED:
            changes[name] = plus(getattr(self, name), getattr(other, name))
        return replace(self, **changes)

    @classmethod
    def total(cls, items: Iterable[Self]) -> Self:
        """The sum of `items`, exactly what adding them one by one from `cls()` gives (the
        same order, so the same float sums), in one pass per figure: the org view sums tens
        of thousands of cells, where building a Figures per addition cost a second."""
        items = list(items)
        values: dict[str, Any] = {
            name: sum(getattr(item, name) for item in items)
            for name in (*COUNTED, *cls.ALSO_COUNTED)
        }
        for name in REPORTED:
            said = [value for item in items if (value := getattr(item, name)) is not None]
            values[name] = sum(said) if said else None
        return cls(**values)

    def says_anything(self) -> bool:
        """Whether any figure is non-zero."""
        return any(figures_of(self))  # one C call per row: parsers ask it of every part

    def does_work(self) -> bool:
        """Whether a tool did work here: a request, tokens, or a suggestion shown (see
        `WORK`). Only such usage makes a day active or a tool and kind of work used;
        accepted lines, commits or cost alone do not, as no tool produces them for free."""
        return bool(
            self.requests or self.input_tokens or self.output_tokens or self.suggestions_shown
        )


def is_whole(name: str) -> bool:
    """Whether a figure is a whole count (stored as a 64-bit integer) rather than dollars."""
    return name not in FRACTIONAL


def figure_names(cls: type[Figures]) -> tuple[str, ...]:
    """Every field of a Figures type, in declaration order (for column lists)."""
    return tuple(f.name for f in fields(cls))
