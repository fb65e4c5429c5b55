"""Which source counts when several report the same person, tool and day. Pure: the rule
over plain data; `storage.counted_daily` applies the same rule in SQL, and a test holds
the two to the same answers.

The rule, per figure: pushed events (the API and OTLP, origin `events`) and vendor reports
(imports and connectors, origins `import:…`) are two tiers. When any report row of that
person, tool and day carries a figure, the reports' value is the figure and the pushed
events' value of it is left out; otherwise the pushed events' value counts. A vendor's own
daily report is its account of the whole day, so it wins for what it says; the events keep
what it does not say. Reports of different origins (two integrations, or a report's
clients) are different parts of the day and add up.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from storage.figures import COUNTED, NAMES, Figures

PUSHED_ORIGIN = "events"


def is_report(origin: str) -> bool:
    """Whether an origin is a vendor's report (an import or a connector), not pushed events."""
    return origin != PUSHED_ORIGIN


def carries(name: str, value: int | float | None) -> bool:
    """Whether a report row says something about a figure. The rollup keeps a reported
    figure a source lacks as None, but a counted one as 0, so for those 0 reads as "not
    carried": a report that says 0 requests lets the pushed events' requests stand."""
    if name in COUNTED:
        return bool(value)
    return value is not None


@dataclass(frozen=True, slots=True)
class OriginFigures:
    """One rollup row's origin and figures, for one person, tool and day."""

    origin: str
    figures: Figures


def report_carried(rows: Iterable[OriginFigures]) -> frozenset[str]:
    """The figures some report row carries: those the pushed events lose."""
    return frozenset(
        name
        for row in rows
        if is_report(row.origin)
        for name in NAMES
        if carries(name, getattr(row.figures, name))
    )


def without(figures: Figures, names: frozenset[str]) -> Figures:
    """The figures with `names` left out: counted ones as 0, reported ones as unknown."""
    lost: dict[str, Any] = {name: 0 if name in COUNTED else None for name in names}
    return replace(figures, **lost)


def counted_figures(rows: Iterable[OriginFigures]) -> Figures:
    """The figures of one person, tool and day that count, none of them twice."""
    rows = list(rows)
    lost = report_carried(rows)
    total = Figures()
    for row in rows:
        total += without(row.figures, lost) if not is_report(row.origin) else row.figures
    return total


def is_priced(row: OriginFigures, lost: frozenset[str]) -> bool:
    """Whether a row's tokens already have a cost: its own, or (for pushed events) the cost
    of a report of that day, which covers them. Unpriced tokens are what a price list may
    estimate a cost for."""
    return row.figures.cost_usd is not None or (not is_report(row.origin) and "cost_usd" in lost)
