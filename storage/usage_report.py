"""Per person and tool totals for a span of days, from the same daily rollup the bot
answers from; identities nobody is linked to yet appear under their own name."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import distinct, func, select

from storage.daily_sums import SUMMED, summed_totals, totals_from_row
from storage.db import Database
from storage.models import DailyRow, IdentityRow, PersonRow
from storage.records import ReportLine

_FIGURES = slice(3, 3 + len(SUMMED))  # after the who and the tool; then the active days


def _sums() -> tuple[Any, ...]:
    return (*summed_totals(), func.count(distinct(DailyRow.day)))


def usage_report(db: Database, start: date, end: date) -> list[ReportLine]:
    """Rows for days start..end inclusive: linked people first by Slack ID, then unlinked
    identities, each by tool."""
    in_span = DailyRow.day.between(start, end)
    linked = (
        select(PersonRow.slack_user_id, PersonRow.email, DailyRow.tool, *_sums())
        .join(IdentityRow, IdentityRow.id == DailyRow.identity_id)
        .join(PersonRow, PersonRow.id == IdentityRow.person_id)
        .where(in_span)
        .group_by(PersonRow.id, PersonRow.slack_user_id, PersonRow.email, DailyRow.tool)
        .order_by(PersonRow.slack_user_id, PersonRow.id, DailyRow.tool)
    )
    unlinked = (
        select(IdentityRow.kind, IdentityRow.value, DailyRow.tool, *_sums())
        .join(IdentityRow, IdentityRow.id == DailyRow.identity_id)
        .where(in_span, IdentityRow.person_id.is_(None))
        .group_by(IdentityRow.id, IdentityRow.kind, IdentityRow.value, DailyRow.tool)
        .order_by(IdentityRow.kind, IdentityRow.value, DailyRow.tool)
    )
    with db.read() as conn:
        people = conn.execute(linked).all()
        strangers = conn.execute(unlinked).all()
    lines = [
        ReportLine(
            slack_user_id=row[0],
            email=row[1],
            identity=None,
            tool=row[2],
            totals=totals_from_row(row[_FIGURES]),
            active_days=int(row[_FIGURES.stop]),
        )
        for row in people
    ]
    lines += [
        ReportLine(
            slack_user_id=None,
            email=row[1] if row[0] == "email" else None,
            identity=f"{row[0]}:{row[1]}",
            tool=row[2],
            totals=totals_from_row(row[_FIGURES]),
            active_days=int(row[_FIGURES.stop]),
        )
        for row in strangers
    ]
    return lines
