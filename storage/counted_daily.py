"""The daily rollup as it counts: the rule of `storage.precedence` in SQL, so every read
(me, top, awards, report, org, home) sums each figure from one source only."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    case,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
)
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

# A row above the API's tier (a vendor report's or OTLP's): only such rows take figures from
# others. The origin is written into the SQL, not bound, so it matches the partial index
# `ix_usage_daily_reports` on both databases: finding them must not walk everyone's rows.
ABOVE_API: ColumnElement[bool] = DailyRow.origin != literal_column(f"'{API_ORIGIN}'")


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
        .where(*where, ABOVE_API)
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


def contested_identities(where: Sequence[ColumnElement[bool]]) -> Select[Any]:
    """The identities whose rows matching `where` (on `DailyRow` columns) the rule may change:
    each identity with a row above the API's tier there, and every identity of a person who
    has one (the rule meets a person's identities as one). Every other identity's rows count
    as stored."""
    reported = select(DailyRow.identity_id).where(*where, ABOVE_API)
    reporters = select(IdentityRow.person_id).where(
        IdentityRow.id.in_(reported), IdentityRow.person_id.is_not(None)
    )
    return select(IdentityRow.id).where(
        or_(IdentityRow.id.in_(reported), IdentityRow.person_id.in_(reporters))
    )


def counted_sums_by_identity(
    conn: Connection,
    where: Sequence[ColumnElement[bool]],
    sums: Callable[[Any], Sequence[Any]],
) -> dict[int, Sequence[Any]]:
    """Per identity with rows matching `where` (on `DailyRow` columns), `sums(columns)` over
    its rows as they count. Reads of everyone's week: the rule only changes the rows of
    identities a higher tier touches, so everyone is summed straight from the rollup (one
    grouped pass, no joins) and only those identities again through `counted_daily`,
    replacing their straight sums; when the span has no row above the API's, that second
    read is skipped."""
    plain = select(DailyRow.identity_id, *sums(DailyRow)).where(*where)
    result: dict[int, Sequence[Any]] = {
        row[0]: row[1:] for row in conn.execute(plain.group_by(DailyRow.identity_id))
    }
    if conn.execute(select(literal(1)).where(*where, ABOVE_API).limit(1)).first() is None:
        return result
    daily = counted_daily([*where, DailyRow.identity_id.in_(contested_identities(where))])
    contested = select(daily.c.identity_id, *sums(daily.c)).group_by(daily.c.identity_id)
    result.update((row[0], row[1:]) for row in conn.execute(contested))
    return result
