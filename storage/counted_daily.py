"""The daily rollup as it counts: the rule of `storage.precedence` in SQL, so every read
(me, top, awards, report, org, home) sums each figure from one source only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, null, select
from sqlalchemy.sql import Subquery

from storage.figures import COUNTED, NAMES
from storage.models import DailyRow, IdentityRow
from storage.precedence import PUSHED_ORIGIN


def _carries(name: str) -> ColumnElement[bool]:
    """`precedence.carries` for a rollup column."""
    column = getattr(DailyRow, name)
    return column != 0 if name in COUNTED else column.is_not(None)


def counted_daily(where: Sequence[ColumnElement[bool]]) -> Subquery:
    """The rollup rows matching `where` (on `DailyRow` and `IdentityRow` columns), with
    the figures pushed events lose to a report of the same person, tool and day left out.
    Columns: those of `DailyRow` but `id`, plus the identity's `person_id` and `priced`
    (1 when the row's tokens are costed: by its own cost, or, for pushed events, by a
    report's cost for that day, so no price list costs them again)."""
    # A linked identity counts as its person, so a vendor login and an email of the same
    # person meet; an unlinked one as itself (negated: ids are positive, never a person's).
    key = func.coalesce(IdentityRow.person_id, -DailyRow.identity_id)
    is_report = DailyRow.origin != PUSHED_ORIGIN
    carried = (
        select(
            key.label("key"),
            DailyRow.day,
            DailyRow.tool,
            *[func.max(case((_carries(name), 1), else_=0)).label(name) for name in NAMES],
        )
        .join(IdentityRow, IdentityRow.id == DailyRow.identity_id)
        .where(*where, is_report)
        .group_by(key, DailyRow.day, DailyRow.tool)
        .subquery("carried")
    )
    pushed = DailyRow.origin == PUSHED_ORIGIN

    def counted(name: str) -> Any:
        lost = literal(0) if name in COUNTED else null()
        return case(
            (and_(pushed, carried.c[name] == 1), lost), else_=getattr(DailyRow, name)
        ).label(name)

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
                (and_(pushed, carried.c.cost_usd == 1), 1),
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
