"""Per person and tool totals for a span of days, from the same daily rollup the bot
answers from; identities nobody is linked to yet appear under their own name."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from storage.counted_daily import counted_daily
from storage.daily_sums import SUMMED, summed_totals, totals_from_row
from storage.db import Database
from storage.models import DailyRow, IdentityRow, PersonRow
from storage.records import ReportLine
from storage.usage_masks import active_day_count

_FIGURES = slice(3, 3 + len(SUMMED))  # after the who and the tool; then the active days


def _sums(counted: Any) -> tuple[Any, ...]:
    return (*summed_totals(counted), active_day_count(counted))


def usage_report(db: Database, start: date, end: date) -> list[ReportLine]:
    """Rows for days start..end inclusive: linked people first by Slack ID, then unlinked
    identities, each by tool."""
    daily = counted_daily([DailyRow.day.between(start, end)])
    counted = daily.c
    linked = (
        select(PersonRow.slack_user_id, PersonRow.email, counted.tool, *_sums(counted))
        .select_from(daily)
        .join(PersonRow, PersonRow.id == counted.person_id)
        .group_by(PersonRow.id, PersonRow.slack_user_id, PersonRow.email, counted.tool)
        .order_by(PersonRow.slack_user_id, PersonRow.id, counted.tool)
    )
    unlinked = (
        select(IdentityRow.kind, IdentityRow.value, counted.tool, *_sums(counted))
        .select_from(daily)
        .join(IdentityRow, IdentityRow.id == counted.identity_id)
        .where(counted.person_id.is_(None))
        .group_by(IdentityRow.id, IdentityRow.kind, IdentityRow.value, counted.tool)
        .order_by(IdentityRow.kind, IdentityRow.value, counted.tool)
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
