"""The one Figures type: its sum keeps "nobody reported" apart from zero."""

from __future__ import annotations

from storage.figures import NAMES, Figures, acceptance_rate
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
