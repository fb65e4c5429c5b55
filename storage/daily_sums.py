"""The summed columns of the daily rollup, as SQL expressions and back as `Totals`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func

from storage.figures import COUNTED, NAMES, REPORTED
from storage.models import DailyRow
from storage.records import Totals

SUMMED = (*NAMES, "events")


def summed_totals() -> tuple[Any, ...]:
    """The rollup's figures summed, in the order `totals_from_row` reads them back."""
    return tuple(func.sum(getattr(DailyRow, name)) for name in SUMMED)


def totals_from_row(values: Sequence[Any]) -> Totals:
    """Build Totals from the columns `summed_totals` selects; a NULL sum of a reported
    figure stays None (nobody reported it), a counted one is 0."""
    row = dict(zip(SUMMED, values, strict=True))
    counted = {name: int(row[name] or 0) for name in (*COUNTED, "events")}
    reported: dict[str, Any] = {
        name: None if row[name] is None else (float if name == "cost_usd" else int)(row[name])
        for name in REPORTED
    }
    return Totals(**counted, **reported)
