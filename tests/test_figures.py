"""The one Figures type: its sum keeps "nobody reported" apart from zero."""

from __future__ import annotations

import random

from sqlalchemy import BigInteger, Float

from storage.figures import NAMES, REPORTED, Figures, acceptance_rate, is_whole
from storage.records import KindFigures, Totals


def test_unknown_stays_unknown_and_zero_stays_zero():
    a = Figures(requests=2, suggestions_shown=None, lines_accepted=0, cost_usd=None)
    b = Figures(requests=3, suggestions_shown=None, lines_accepted=None, cost_usd=0.25)
    total = a + b
    assert total.requests == 5
    assert total.suggestions_shown is None
    assert total.lines_accepted == 0
    assert total.cost_usd == 0.25


def test_huge_numbers_add_exactly():
    big = 2**62
    total = Totals(input_tokens=big, suggestions_accepted=big, events=1) + Totals(
        input_tokens=big, suggestions_accepted=1, events=2
    )
    assert (total.input_tokens, total.suggestions_accepted, total.events) == (2**63, big + 1, 3)


def test_a_kind_keeps_its_name_when_summed():
    total = KindFigures(kind="chat", requests=1) + KindFigures(kind="chat", requests=2)
    assert (total.kind, total.requests) == ("chat", 3)


def test_acceptance_rate_needs_suggestions_shown():
    assert acceptance_rate(None, 10) is None
    assert acceptance_rate(3, 0) is None
    assert acceptance_rate(3, None) is None
    assert Figures(suggestions_shown=4, suggestions_accepted=1).acceptance_rate == 0.25


def test_every_figure_is_a_column_of_the_rollup_and_the_events():
    from storage.models import DailyRow, EventRow

    for name in NAMES:
        assert hasattr(DailyRow, name) and hasattr(EventRow, name), name


def test_the_figure_columns_are_made_from_the_figures():
    from storage.bulk import DAILY_COLUMNS, EVENT_COLUMNS
    from storage.models import DailyRow, EventRow

    for table in (DailyRow.__table__, EventRow.__table__):
        for name in NAMES:
            column = table.c[name]
            assert column.nullable == (name in REPORTED), (table.name, name)
            assert isinstance(column.type, BigInteger if is_whole(name) else Float), name
    for columns in (DAILY_COLUMNS, EVENT_COLUMNS):
        typed = dict(columns)
        assert {name: typed[name] for name in NAMES} == {
            name: "int8" if is_whole(name) else "float8" for name in NAMES
        }


def test_every_record_that_carries_figures_has_a_field_for_each():
    from dataclasses import fields

    from storage.records import UsageEvent

    # UsageEvent is a plain slotted dataclass for ingest speed, so it names the figures itself.
    assert set(NAMES) <= {f.name for f in fields(UsageEvent)}
    assert set(NAMES) <= {f.name for f in fields(Figures)}


def test_shipped_work_is_unknown_until_a_source_reports_it():
    assert Figures(requests=3).shipped is None
    assert Figures(commits=0).shipped == 0
    assert (Figures(commits=2) + Figures(pull_requests=1)).shipped == 3


def test_a_total_of_many_is_adding_them_one_by_one_to_the_last_bit():
    rng = random.Random(3)
    items = [
        Totals(
            requests=rng.randint(0, 9),
            input_tokens=rng.randint(0, 10**6),
            suggestions_shown=rng.choice([None, 0, rng.randint(1, 50)]),
            lines_accepted=rng.choice([None, rng.randint(0, 50)]),
            cost_usd=rng.choice([None, 0.0, rng.uniform(0, 3)]),
            events=rng.randint(0, 5),
        )
        for _ in range(500)
    ]
    one_by_one = Totals()
    for item in items:
        one_by_one = one_by_one + item
    assert repr(Totals.total(items)) == repr(one_by_one)
    assert Totals.total([]) == Totals()
    nobody = [Totals(requests=1), Totals(requests=2)]
    assert Totals.total(nobody).cost_usd is None and Totals.total(nobody).requests == 3
