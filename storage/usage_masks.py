"""Which days, tools and kinds of work each identity used, as bitmasks summed in SQL: one
grouped pass over everyone's rows instead of a row per identity and day (or tool, or kind)
read back and counted in Python. Only rows that did work count (`works`): a day with nothing
but empty events is not an active day. Work is judged on the figures as they count (the
rollup as stored for identities no report touches, `storage.counted_daily` for the others),
as `me` judges a person's days."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    case,
    distinct,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import GenericFunction

from storage.counted_daily import counted_sums_by_identity
from storage.figures import WORK
from storage.models import DailyRow

# A mask is summed in a signed 64-bit integer, so it names at most this many days or names.
MASK_BITS = 62


class day_bit(GenericFunction[Any]):  # named like the SQL functions it stands for
    """`1 << (day - first)`: a day's bit in a mask of active days counted from `first`, so
    `sum(DISTINCT day_bit(...))` per identity says which days were active. Spans of at most
    MASK_BITS days."""

    type = BigInteger()
    inherit_cache = True


@compiles(day_bit)
def _day_bit(element: day_bit, compiler: SQLCompiler, **kw: Any) -> str:
    day, first = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"(CAST(1 AS BIGINT) << ({day} - {first}))"  # PostgreSQL: date - date is days


@compiles(day_bit, "sqlite")
def _sqlite_day_bit(element: day_bit, compiler: SQLCompiler, **kw: Any) -> str:
    day, first = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"(1 << CAST(julianday({day}) - julianday({first}) AS INTEGER))"


def works(rows: Any) -> ColumnElement[bool]:
    """Whether a row of `rows` (a table or subquery's columns) did work: `Figures.does_work`
    in SQL. A NULL suggestion count compares as unknown, which CASE reads as false."""
    return or_(*[getattr(rows, name) > 0 for name in WORK])


def worked(rows: Any, value: Any) -> Any:
    """`value` for a row that did work, NULL (which SUM, COUNT and DISTINCT skip) otherwise."""
    return case((works(rows), value))


def day_mask(rows: Any, first: date) -> Any:
    """The active-day mask of `rows` (a table or subquery's columns) from `first` on: the
    days with a row that did work; 0 for none."""
    return func.coalesce(func.sum(distinct(worked(rows, day_bit(rows.day, first)))), 0)


def active_day_count(rows: Any) -> Any:
    """How many distinct days of `rows` had a row that did work."""
    return func.count(distinct(worked(rows, rows.day)))


def name_mask(rows: Any, column: Any, names: Sequence[str]) -> Any:
    """The mask of which of `names` (at most MASK_BITS) a column of `rows` took in a row
    that did work: bit i is names[i]."""
    if not names:  # no rows: a CASE without branches is not SQL
        return literal(0)
    bits = case({name: 1 << i for i, name in enumerate(names)}, value=column)
    return func.coalesce(func.sum(distinct(worked(rows, bits))), 0)


def names_of(mask: int | None, names: Sequence[str]) -> frozenset[str]:
    """The names a mask stands for."""
    if not mask:
        return frozenset()
    return frozenset(name for i, name in enumerate(names) if int(mask) >> i & 1)


def tools_and_kinds(
    conn: Connection, where: Sequence[ColumnElement[bool]]
) -> tuple[list[str], list[str]]:
    """The distinct tools and kinds of work of the rows matching `where`, sorted."""
    pairs = conn.execute(select(DailyRow.tool, DailyRow.kind).where(*where).distinct()).all()
    return sorted({tool for tool, _ in pairs}), sorted({kind for _, kind in pairs})


def day_masks(
    conn: Connection,
    first: date,
    last: date,
    where: Sequence[ColumnElement[bool]] = (),
) -> dict[int, int]:
    """Per identity with rows on days first..last (and matching `where`), a mask of its
    active days, bit 0 being `first` (0 for an identity whose rows did no work). Read in
    spans of MASK_BITS days, each one grouped pass as the figures count."""
    masks: dict[int, int] = {}
    span_start = first
    while span_start <= last:
        span_end = min(last, span_start + timedelta(days=MASK_BITS - 1))
        offset = (span_start - first).days
        sums = counted_sums_by_identity(
            conn, [DailyRow.day.between(span_start, span_end), *where], _day_mask_from(span_start)
        )
        for identity_id, (mask,) in sums.items():
            masks[identity_id] = masks.get(identity_id, 0) | (int(mask) << offset)
        span_start = span_end + timedelta(days=1)
    return masks


def _day_mask_from(first: date) -> Callable[[Any], tuple[Any, ...]]:
    """The sums `counted_sums_by_identity` takes: the active-day mask from `first` on."""

    def sums(rows: Any) -> tuple[Any, ...]:
        return (day_mask(rows, first),)

    return sums
