"""Reading everyone's daily rollup back, for assertions (the product reads per person),
and laying down a rollup by hand for the reads to be held against."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

import pytest
from sqlalchemy import delete, select

from storage.bulk import DAILY_KEY, upsert_daily
from storage.daily_sums import summed_totals, totals_from_row
from storage.db import Database
from storage.figures import COUNTED, NAMES, REPORTED, Figures
from storage.models import DailyRow, IdentityRow
from storage.precedence import OriginFigures
from storage.records import DailyUsage


def random_figures(rng: random.Random) -> Figures:
    """Figures as sources store them: counted ones 0 or not, reported ones unknown, 0 or not."""
    values: dict[str, Any] = {name: rng.choice([0, rng.randint(1, 10**6)]) for name in COUNTED}
    for name in REPORTED:
        if name == "cost_usd":
            values[name] = rng.choice([None, 0.0, round(rng.uniform(0, 500), 2)])
        else:
            values[name] = rng.choice([None, 0, rng.randint(1, 10**6)])
    return Figures(**values)


def as_figures(totals: Any) -> Figures:
    """A read's totals as `Figures`, to compare with the rule's."""
    return Figures(**{name: getattr(totals, name) for name in NAMES})


def assert_same_figures(got: Figures, want: Figures) -> None:
    """Equal figure by figure; cost to rounding, as sums in another order may differ."""
    for name in NAMES:
        if name == "cost_usd" and want.cost_usd is not None:
            assert got.cost_usd == pytest.approx(want.cost_usd), name
        else:
            assert getattr(got, name) == getattr(want, name), name


def replace_rollup(db: Database, rows: dict[tuple, OriginFigures]) -> None:
    """Make the rollup exactly `rows`: (identity, day, tool, kind, origin) -> figures."""
    with db.write() as conn:
        conn.execute(delete(DailyRow))
        upsert_daily(
            conn,
            [
                {
                    **dict(zip(DAILY_KEY, key, strict=True)),
                    **{name: getattr(row.figures, name) for name in NAMES},
                    "events": 1,
                }
                for key, row in sorted(rows.items())
            ],
            replace=True,
        )


def daily_usage(
    db: Database, start: date, end: date, person_ids: list[int] | None = None
) -> list[DailyUsage]:
    """Per person, local day, tool and kind, for days start..end inclusive."""
    stmt = (
        select(
            IdentityRow.person_id,
            DailyRow.day,
            DailyRow.tool,
            DailyRow.kind,
            *summed_totals(),
        )
        .join(IdentityRow, IdentityRow.id == DailyRow.identity_id)
        .where(DailyRow.day.between(start, end), IdentityRow.person_id.is_not(None))
        .group_by(IdentityRow.person_id, DailyRow.day, DailyRow.tool, DailyRow.kind)
        .order_by(IdentityRow.person_id, DailyRow.day, DailyRow.tool, DailyRow.kind)
    )
    if person_ids is not None:
        stmt = stmt.where(IdentityRow.person_id.in_(person_ids))
    with db.read() as conn:
        rows = conn.execute(stmt).all()
    return [
        DailyUsage(
            person_id=row[0],
            day=row[1],
            tool=row[2],
            kind=row[3],
            totals=totals_from_row(row[4:]),
        )
        for row in rows
    ]
