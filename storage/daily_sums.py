"""The summed columns of the daily rollup, as SQL expressions and back as `Totals`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func

from storage.models import DailyRow
from storage.records import Totals


def summed_totals() -> tuple[Any, ...]:
    """The rollup's figures summed, in the order `totals_from_row` reads them back."""
    return (
        func.sum(DailyRow.requests),
        func.sum(DailyRow.input_tokens),
        func.sum(DailyRow.output_tokens),
        func.sum(DailyRow.suggestions_shown),
        func.sum(DailyRow.suggestions_accepted),
        func.sum(DailyRow.lines_accepted),
        func.sum(DailyRow.cost_usd),
        func.sum(DailyRow.events),
    )


def totals_from_row(values) -> Totals:
    """Build Totals from the columns `summed_totals` selects."""
    requests, input_tokens, output_tokens, shown, accepted, lines, cost, events = values
    return Totals(
        requests=int(requests or 0),
        input_tokens=int(input_tokens or 0),
        output_tokens=int(output_tokens or 0),
        suggestions_shown=None if shown is None else int(shown),
        suggestions_accepted=None if accepted is None else int(accepted),
        lines_accepted=None if lines is None else int(lines),
        cost_usd=None if cost is None else float(cost),
        events=int(events or 0),
    )
