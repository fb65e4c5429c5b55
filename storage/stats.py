"""Per-person totals over a span of days, straight from the daily rollup."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from storage.db import Database
from storage.models import DailyRow, IdentityRow, PersonRow
from storage.records import PersonPeriod
from storage.usage import totals_from_row


def person_periods(
    db: Database, start: date, end: date, person_ids: list[int] | None = None
) -> list[PersonPeriod]:
    """Everyone with usage on days start..end inclusive (or just `person_ids`), by person id.
    A day counts as active when any request or event was recorded on it."""
    sums = (
        func.sum(DailyRow.requests),
        func.sum(DailyRow.input_tokens),
        func.sum(DailyRow.output_tokens),
        func.sum(DailyRow.suggestions_shown),
        func.sum(DailyRow.suggestions_accepted),
        func.sum(DailyRow.lines_accepted),
        func.sum(DailyRow.cost_usd),
        func.sum(DailyRow.events),
    )
    where = [DailyRow.day.between(start, end)]
    if person_ids is not None:
        where.append(IdentityRow.person_id.in_(person_ids))
    totals_stmt = (
        select(
            PersonRow.id,
            PersonRow.slack_user_id,
            PersonRow.display_name,
            PersonRow.opted_out,
            *sums,
            func.count(func.distinct(DailyRow.day)),
        )
        .join(IdentityRow, IdentityRow.id == DailyRow.identity_id)
        .join(PersonRow, PersonRow.id == IdentityRow.person_id)
        .where(*where)
        .group_by(
            PersonRow.id, PersonRow.slack_user_id, PersonRow.display_name, PersonRow.opted_out
        )
        .order_by(PersonRow.id)
    )
    breadth_stmt = (
        select(IdentityRow.person_id, DailyRow.tool, DailyRow.kind)
        .join(IdentityRow, IdentityRow.id == DailyRow.identity_id)
        .where(*where, IdentityRow.person_id.is_not(None))
        .distinct()
    )
    with db.read() as conn:
        rows = conn.execute(totals_stmt).all()
        tools: dict[int, set[str]] = {}
        kinds: dict[int, set[str]] = {}
        for person_id, tool, kind in conn.execute(breadth_stmt):
            tools.setdefault(person_id, set()).add(tool)
            kinds.setdefault(person_id, set()).add(kind)
    return [
        PersonPeriod(
            person_id=row[0],
            slack_user_id=row[1],
            display_name=row[2],
            opted_out=bool(row[3]),
            totals=totals_from_row(row[4:12]),
            active_days=int(row[12]),
            tools=frozenset(tools.get(row[0], ())),
            kinds=frozenset(kinds.get(row[0], ())),
        )
        for row in rows
    ]
