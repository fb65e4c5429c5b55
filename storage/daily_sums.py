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
from storage.figures import NAMES, REPORTED, figure_names, is_whole
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


def whole(value: int | float | Decimal | None) -> int | None:
    """A summed figure as a Python int within int64; None stays None (nobody reported it)."""
    if value is None:
        return None
    return saturate(int(value))


def summed_totals(rows: Any = DailyRow) -> tuple[Any, ...]:
    """The figures of `rows` (the rollup, or the columns of `storage.counted_daily`)
    summed, in the order `totals_from_row` reads them back."""
    return tuple(
        func.sum(rows.cost_usd) if name == "cost_usd" else safe_sum(getattr(rows, name))
        for name in SUMMED
    )


def totals_from_row(values: Sequence[Any]) -> Totals:
    """Build Totals from the columns `summed_totals` selects; a NULL sum of a reported
    figure stays None (nobody reported it), a counted one is 0. Called once a row for
    tens of thousands of rows (the org view, grouped reports), so by position."""
    if len(values) != len(SUMMED):
        raise ValueError(f"expected {len(SUMMED)} summed columns, got {len(values)}")
    # Everyone's week is 100,000 of these: one pass by position, `whole` written out, and
    # Totals built positionally (its fields are SUMMED, in order; checked below).
    return Totals(
        *[  # type: ignore[arg-type]  # each position holds its field's type, as checked below
            (None if kind else 0)
            if value is None
            else float(value)
            if kind == _FRACTIONAL
            else min(int(value), INT64_MAX)
            for kind, value in zip(_KINDS, values, strict=True)
        ]
    )


_COUNTED, _REPORTED, _FRACTIONAL = 0, 1, 2
_KINDS = tuple(
    _COUNTED if name not in REPORTED else _REPORTED if is_whole(name) else _FRACTIONAL
    for name in SUMMED
)
if figure_names(Totals) != SUMMED:  # pragma: no cover - a figure added out of order
    raise RuntimeError("Totals' fields must be the summed columns, in order")
