"""Reading usage back from the daily rollup. Only identities linked to a person count."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select

from storage.db import Database
from storage.models import DailyRow, IdentityRow
from storage.records import DailyUsage, Totals


def daily_usage(
    db: Database, start: date, end: date, person_ids: list[int] | None = None
) -> list[DailyUsage]:
    """Per person, local day, tool and kind, for days start..end inclusive."""
    stmt = (
        select(
            IdentityRow.person_id,
            DailyRow.day,
            DailyRow.tool,
            DailyRow.kind,
            *summed_totals(),
        )
        .join(IdentityRow, IdentityRow.id == DailyRow.identity_id)
        .where(DailyRow.day.between(start, end), IdentityRow.person_id.is_not(None))
        .group_by(IdentityRow.person_id, DailyRow.day, DailyRow.tool, DailyRow.kind)
        .order_by(IdentityRow.person_id, DailyRow.day, DailyRow.tool, DailyRow.kind)
    )
    if person_ids is not None:
        stmt = stmt.where(IdentityRow.person_id.in_(person_ids))
    with db.read() as conn:
        rows = conn.execute(stmt).all()
    return [
        DailyUsage(
            person_id=row[0],
            day=row[1],
            tool=row[2],
            kind=row[3],
            totals=totals_from_row(row[4:]),
        )
        for row in rows
    ]


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


def totals_from_row(values) -> Totals:  # type: ignore[no-untyped-def]
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
