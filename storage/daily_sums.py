"""The summed columns of the daily rollup, as SQL expressions and back as `Totals`: sums
that cannot overflow on either database, read back saturated."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, func
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import GenericFunction

from storage.bounds import INT64_MAX, saturate
from storage.figures import COUNTED, NAMES, REPORTED
from storage.models import DailyRow
from storage.records import Totals

SUMMED = (*NAMES, "events")


class safe_sum(GenericFunction[Any]):  # named like the SQL functions it stands for
    """SUM of an integer column that never fails: PostgreSQL sums bigint as numeric already;
    SQLite's sum() raises on overflow, so its total() (a double) is used, NULL when every value
    is NULL, as sum() gives. Exact below 2^53, far beyond any real figure."""

    type = BigInteger()
    inherit_cache = True


@compiles(safe_sum)
def _sum(element: safe_sum, compiler: SQLCompiler, **kw: Any) -> str:
    return f"sum({compiler.process(element.clauses, **kw)})"


@compiles(safe_sum, "sqlite")
def _sqlite_sum(element: safe_sum, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"(CASE WHEN count({column}) > 0 THEN total({column}) END)"


# A mask of active days is summed in a signed 64-bit integer, so it covers at most this many.
MASK_DAYS = 62


class day_bit(GenericFunction[Any]):  # named like the SQL functions it stands for
    """`1 << (day - first)`: a day's bit in a mask of active days counted from `first`, so
    `sum(DISTINCT day_bit(...))` per person says which days were active in one grouped pass,
    cheaper than `count(DISTINCT day)` per person and week. Spans of at most MASK_DAYS."""

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


def whole(value: int | float | Decimal | None) -> int | None:
    """A summed figure as a Python int within int64; None stays None (nobody reported it)."""
    if value is None:
        return None
    return saturate(int(value))


def summed_totals() -> tuple[Any, ...]:
    """The rollup's figures summed, in the order `totals_from_row` reads them back."""
    return tuple(
        func.sum(DailyRow.cost_usd) if name == "cost_usd" else safe_sum(getattr(DailyRow, name))
        for name in SUMMED
    )


_COUNTED_AT = tuple((name, SUMMED.index(name)) for name in (*COUNTED, "events"))
_REPORTED_AT = tuple((name, SUMMED.index(name)) for name in REPORTED if name != "cost_usd")
_COST_AT = SUMMED.index("cost_usd")


def totals_from_row(values: Sequence[Any]) -> Totals:
    """Build Totals from the columns `summed_totals` selects; a NULL sum of a reported
    figure stays None (nobody reported it), a counted one is 0. Called once per person for
    everyone's week, hence the plain loops."""
    if len(values) != len(SUMMED):
        raise ValueError(f"expected {len(SUMMED)} summed columns, got {len(values)}")
    figures: dict[str, Any] = {}
    for name, at in _COUNTED_AT:
        value = values[at]
        figures[name] = 0 if value is None else min(int(value), INT64_MAX)
    for name, at in _REPORTED_AT:
        value = values[at]
        figures[name] = None if value is None else min(int(value), INT64_MAX)
    cost = values[_COST_AT]
    figures["cost_usd"] = None if cost is None else float(cost)
    return Totals(**figures)
