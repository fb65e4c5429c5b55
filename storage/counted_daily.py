"""The daily rollup as it counts: the rule of `storage.precedence` in SQL, so every read
(me, top, awards, report, org, home) sums each figure from one source only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, null, select
from sqlalchemy.sql import Subquery

from storage.figures import COUNTED, NAMES
from storage.models import DailyRow, IdentityRow
from storage.precedence import API_ORIGIN, API_TIER, OTLP_ORIGIN, OTLP_TIER, REPORT_TIER

# `precedence.tier` for a rollup row.
_TIER = case(
    (DailyRow.origin == API_ORIGIN, API_TIER),
    (DailyRow.origin == OTLP_ORIGIN, OTLP_TIER),
    else_=REPORT_TIER,
)


def _carries(name: str) -> ColumnElement[bool]:
    """`precedence.carries` for a rollup column."""
    column = getattr(DailyRow, name)
    return column != 0 if name in COUNTED else column.is_not(None)


def counted_daily(where: Sequence[ColumnElement[bool]]) -> Subquery:
    """The rollup rows matching `where` (on `DailyRow` and `IdentityRow` columns), with
    the figures a row loses to a higher tier of the same person, tool and day left out.
    Columns: those of `DailyRow` but `id`, plus the identity's `person_id` and `priced`
    (1 when the row's tokens are costed: by its own cost, or by the cost a higher tier gave
    for that day, so no price list costs them again)."""
    # A linked identity counts as its person, so a vendor login and an email of the same
    # person meet; an unlinked one as itself (negated: ids are positive, never a person's).
    key = func.coalesce(IdentityRow.person_id, -DailyRow.identity_id)
    # Per figure, the highest tier carrying it (`precedence.top_tiers`). The bottom tier
    # never takes a figure from anyone, so its rows are left out of this grouping.
    carried = (
        select(
            key.label("key"),
            DailyRow.day,
            DailyRow.tool,
            *[func.max(case((_carries(name), _TIER), else_=0)).label(name) for name in NAMES],
        )
        .join(IdentityRow, IdentityRow.id == DailyRow.identity_id)
        .where(*where, DailyRow.origin != API_ORIGIN)
        .group_by(key, DailyRow.day, DailyRow.tool)
        .subquery("carried")
    )

    def beaten(name: str) -> ColumnElement[bool]:
        """Whether a higher tier than the row's carries the figure (`precedence.lost_by`);
        NULL, which CASE reads as false, when no row above the bottom tier exists."""
        return carried.c[name] > _TIER

    def counted(name: str) -> Any:
        lost = literal(0) if name in COUNTED else null()
        return case((beaten(name), lost), else_=getattr(DailyRow, name)).label(name)

    return (
        select(
            DailyRow.identity_id,
            IdentityRow.person_id,
            DailyRow.day,
            DailyRow.tool,
            DailyRow.kind,
            DailyRow.origin,
            *[counted(name) for name in NAMES],
            DailyRow.events,
            case(
                (DailyRow.cost_usd.is_not(None), 1),
                (beaten("cost_usd"), 1),
                else_=0,
            ).label("priced"),
        )
        .join(IdentityRow, IdentityRow.id == DailyRow.identity_id)
        .outerjoin(
            carried,
            and_(
                carried.c.key == key,
                carried.c.day == DailyRow.day,
                carried.c.tool == DailyRow.tool,
            ),
        )
        .where(*where)
        .subquery("counted_daily")
    )
