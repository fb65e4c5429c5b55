"""Accepted lines no use could have written (`lines_without_usage`): flagged over the week's
totals, never for honest mixes of tools, including those that report lines but no tokens."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.integrity import Activity, IntegrityRules, integrity_flags, lines_without_usage
from storage.records import Totals

RULES = IntegrityRules()


def test_a_billion_lines_on_twenty_thousand_tokens_is_flagged():
    claimed = Totals(
        requests=2,
        input_tokens=20_000,
        suggestions_shown=20,
        suggestions_accepted=20,
        lines_accepted=2 * 10**9,
    )
    assert lines_without_usage(claimed, RULES) == (
        "2,000,000,000 accepted lines on 20,000 tokens, 2 requests and 20 accepted suggestions"
    )


def test_honest_weeks_of_every_shape_are_not():
    honest = {
        # Claude Code: millions of tokens, a few thousand lines.
        "agent": Totals(requests=300, input_tokens=4_000_000, lines_accepted=6_000),
        # Its analytics report: tokens and edit decisions, no requests.
        "report": Totals(input_tokens=900_000, suggestions_accepted=40, lines_accepted=5_000),
        # Copilot's report (no tokens) beside a little chat through a tool that has them.
        "mixed": Totals(
            requests=3, input_tokens=2_000, suggestions_accepted=400, lines_accepted=3_000
        ),
        # One request that wrote a whole generated file, alone in the week.
        "one file": Totals(requests=1, input_tokens=300, lines_accepted=999),
        # Lines reported by a tool with no requests, tokens or acceptances at all: too few.
        "lines only": Totals(lines_accepted=900),
    }
    for why, totals in honest.items():
        assert lines_without_usage(totals, RULES) is None, why


def test_the_flag_keeps_the_week_from_badges_and_rankings():
    claimed = Totals(requests=2, input_tokens=20_000, lines_accepted=10**6)
    flags = integrity_flags(Activity(7, [], [], claimed), date(2026, 11, 9), ZoneInfo("UTC"), RULES)
    assert [(f.person_id, f.signal) for f in flags] == [(7, "lines_without_usage")]


figure = st.integers(0, 10**7)


@settings(max_examples=500, deadline=None)
@given(
    lines=st.none() | figure,
    requests=figure,
    tokens=figure,
    accepted=st.none() | figure,
)
def test_flagged_exactly_when_lines_outrun_both_tokens_and_requests(
    lines, requests, tokens, accepted
):
    totals = Totals(
        requests=requests,
        output_tokens=tokens,
        suggestions_shown=accepted,
        suggestions_accepted=accepted,
        lines_accepted=lines,
    )
    written = lines or 0
    impossible = (
        written >= 1_000 and written > tokens and written > 1_000 * (requests + (accepted or 0))
    )
    assert (lines_without_usage(totals, RULES) is not None) == impossible
