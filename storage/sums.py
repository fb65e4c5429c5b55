"""Sums of stored figures that cannot overflow on either database, read back saturated."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import GenericFunction

from storage.bounds import saturate


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
