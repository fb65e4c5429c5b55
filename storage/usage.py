"""Reading usage back from the daily rollup. Only identities linked to a person count."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select

from storage.db import Database
from storage.models import DailyRow, IdentityRow
from storage.records import DailyUsage, Totals
from storage.sums import safe_sum, whole


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
        safe_sum(DailyRow.requests),
        safe_sum(DailyRow.input_tokens),
        safe_sum(DailyRow.output_tokens),
        safe_sum(DailyRow.suggestions_shown),
        safe_sum(DailyRow.suggestions_accepted),
        safe_sum(DailyRow.lines_accepted),
        func.sum(DailyRow.cost_usd),
        safe_sum(DailyRow.events),
    )


def totals_from_row(values) -> Totals:  # type: ignore[no-untyped-def]
    """Build Totals from the columns `summed_totals` selects."""
    requests, input_tokens, output_tokens, shown, accepted, lines, cost, events = values
    return Totals(
        requests=whole(requests) or 0,
        input_tokens=whole(input_tokens) or 0,
        output_tokens=whole(output_tokens) or 0,
        suggestions_shown=whole(shown),
        suggestions_accepted=whole(accepted),
        lines_accepted=whole(lines),
        cost_usd=None if cost is None else float(cost),
        events=whole(events) or 0,
    )
