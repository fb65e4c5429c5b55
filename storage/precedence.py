"""Which source counts when several report the same person, tool and day. Pure: the rule
over plain data; `storage.counted_daily` applies the same rule in SQL for reads over many
people, `storage.usage_queries.person_daily` applies this one to a person's few rows, and a
test holds them to the same answers.

The rule, per figure: every origin has a tier. Vendor reports (imports and connectors,
origins `import:…`) are the top tier, a tool's own OpenTelemetry (`otlp`) the middle, and
events pushed to the HTTP API (`events`) the bottom. For each figure of a person, tool and
day, the highest tier with a row that carries the figure is its source: rows of lower tiers
have that figure left out, and each lower tier keeps the figures every higher one lacks. A
vendor's own daily report is its account of the whole day; a tool's telemetry is measured
where the work happens, while API pushes are whatever a script made of it. Rows of one tier
add up: reports of different origins (two integrations, or a report's clients) are
different parts of the day, and pushes of one door are kept once each by their event ids.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from storage.figures import COUNTED, NAMES, Figures

# The origins of the pushing doors. `events` is the HTTP API's: rows stored before the
# doors had origins of their own (OTLP's included) keep it and count as the API's.
API_ORIGIN = "events"
OTLP_ORIGIN = "otlp"

API_TIER, OTLP_TIER, REPORT_TIER = 1, 2, 3
_TIERS = {API_ORIGIN: API_TIER, OTLP_ORIGIN: OTLP_TIER}


def tier(origin: str) -> int:
    """An origin's tier: higher wins. Any origin not a pushing door's is a vendor report."""
    return _TIERS.get(origin, REPORT_TIER)


def carries(name: str, value: int | float | None) -> bool:
    """Whether a row says something about a figure. The rollup keeps a reported figure a
    source lacks as None, but a counted one as 0, so for those 0 reads as "not carried": a
    report that says 0 requests lets the pushed events' requests stand."""
    if name in COUNTED:
        return bool(value)
    return value is not None


@dataclass(frozen=True, slots=True)
class OriginFigures:
    """One rollup row's origin and figures, for one person, tool and day."""

    origin: str
    figures: Figures


def top_tiers(rows: Iterable[OriginFigures]) -> dict[str, int]:
    """For each figure some row carries, the highest tier that carries it."""
    top: dict[str, int] = {}
    for row in rows:
        rank = tier(row.origin)
        for name in NAMES:
            if carries(name, getattr(row.figures, name)) and rank > top.get(name, 0):
                top[name] = rank
    return top


def lost_by(origin: str, top: dict[str, int]) -> frozenset[str]:
    """The figures a row of `origin` loses: those a higher tier carries."""
    rank = tier(origin)
    return frozenset(name for name, best in top.items() if best > rank)


def without(figures: Figures, names: frozenset[str]) -> Figures:
    """The figures with `names` left out: counted ones as 0, reported ones as unknown."""
    lost: dict[str, Any] = {name: 0 if name in COUNTED else None for name in names}
    return replace(figures, **lost)


def kept_figures(rows: Iterable[OriginFigures]) -> list[Figures]:
    """Each row's figures as they count: without those a higher tier carries."""
    rows = list(rows)
    top = top_tiers(rows)
    return [without(row.figures, lost_by(row.origin, top)) for row in rows]


def counted_figures(rows: Iterable[OriginFigures]) -> Figures:
    """The figures of one person, tool and day that count, none of them twice."""
    return sum(kept_figures(rows), Figures())


def is_priced(row: OriginFigures, top: dict[str, int]) -> bool:
    """Whether a row's tokens already have a cost: its own, or the cost a higher tier gave
    for that day, which covers them. Unpriced tokens are what a price list may estimate a
    cost for. `top` is `top_tiers` of the row's person, tool and day."""
    return row.figures.cost_usd is not None or top.get("cost_usd", 0) > tier(row.origin)
