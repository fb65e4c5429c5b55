"""No figure counted twice when pushed events and a vendor's report both describe a person's
tool and day: the pure rule, the SQL that applies it in every read, and the rule held by
the reads against the rule itself on both databases."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import delete

from storage.bulk import DAILY_KEY, upsert_daily
from storage.figures import COUNTED, NAMES, REPORTED, Figures
from storage.models import DailyRow
from storage.org import span_sums, usage_cells
from storage.people import link_email, link_identity, resolve_identities
from storage.precedence import (
    OriginFigures,
    counted_figures,
    is_priced,
    report_carried,
    without,
)
from storage.usage_queries import person_daily, person_periods, rank_inputs
from storage.usage_report import usage_report

PUSHED = "events"
REPORT = "import:claude-code"


def test_a_report_wins_for_the_figures_it_carries_and_events_keep_the_rest():
    pushed = Figures(requests=3, input_tokens=300, output_tokens=150, cost_usd=0.3)
    report = Figures(input_tokens=1050, output_tokens=200, lines_accepted=40, cost_usd=1.86)
    counted = counted_figures([OriginFigures(PUSHED, pushed), OriginFigures(REPORT, report)])
    assert counted == Figures(
        requests=3, input_tokens=1050, output_tokens=200, lines_accepted=40, cost_usd=1.86
    )


def test_one_source_alone_counts_whole():
    pushed = Figures(requests=2, suggestions_shown=4, suggestions_accepted=1)
    assert counted_figures([OriginFigures(PUSHED, pushed)]) == pushed
    report = Figures(requests=5, lines_accepted=0)
    assert counted_figures([OriginFigures(REPORT, report)]) == report


def test_a_reported_zero_is_said_but_a_counted_zero_is_not():
    # lines_accepted=0 is the report saying "none"; requests=0 is the rollup's "not carried"
    pushed = Figures(requests=7, lines_accepted=12)
    report = Figures(requests=0, lines_accepted=0)
    counted = counted_figures([OriginFigures(PUSHED, pushed), OriginFigures(REPORT, report)])
    assert (counted.requests, counted.lines_accepted) == (7, 0)


def test_reports_of_different_origins_add_up_and_all_beat_events():
    rows = [
        OriginFigures("import:kiro:kiro_ide", Figures(requests=4)),
        OriginFigures("import:kiro:kiro_cli", Figures(requests=6)),
        OriginFigures(PUSHED, Figures(requests=100, input_tokens=9)),
    ]
    assert counted_figures(rows) == Figures(requests=10, input_tokens=9)
    assert report_carried(rows) == {"requests"}


def test_a_figure_carried_in_one_kind_is_lost_by_events_of_every_kind():
    # rows of one person, tool and day: the report's agent row, the events' chat row
    rows = [
        OriginFigures(REPORT, Figures(suggestions_shown=10, suggestions_accepted=9)),
        OriginFigures(PUSHED, Figures(requests=1, suggestions_shown=5, suggestions_accepted=5)),
    ]
    counted = counted_figures(rows)
    assert (counted.requests, counted.suggestions_shown, counted.suggestions_accepted) == (1, 10, 9)


def test_events_tokens_are_priced_by_the_reports_cost():
    lost = frozenset({"cost_usd"})
    assert is_priced(OriginFigures(PUSHED, Figures(input_tokens=5)), lost)
    assert not is_priced(OriginFigures(PUSHED, Figures(input_tokens=5)), frozenset())
    assert not is_priced(OriginFigures(REPORT, Figures(input_tokens=5)), lost)


# --- the reads agree with the rule -------------------------------------------------------

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
DAYS = (date(2026, 11, 16), date(2026, 11, 17))
TOOLS = ("claude-code", "cursor")
KINDS = ("agent", "chat")
ORIGINS = (PUSHED, "import:claude-code", "import:cursor@acme:ide")


def _random_figures(rng: random.Random) -> Figures:
    values: dict = {}
    for name in COUNTED:
        values[name] = rng.choice([0, rng.randint(1, 10**6)])
    for name in REPORTED:
        if name == "cost_usd":
            values[name] = rng.choice([None, 0.0, round(rng.uniform(0, 500), 2)])
        else:
            values[name] = rng.choice([None, 0, rng.randint(1, 10**6)])
    return Figures(**values)


def _close(got: Figures, want: Figures) -> None:
    for name in NAMES:
        if name == "cost_usd" and want.cost_usd is not None:
            assert got.cost_usd == pytest.approx(want.cost_usd), name
        else:
            assert getattr(got, name) == getattr(want, name), name


def _figures(totals) -> Figures:
    return Figures(**{name: getattr(totals, name) for name in NAMES})


@pytest.mark.parametrize("seed", range(6))
def test_every_read_counts_what_the_rule_counts(db, seed):
    rng = random.Random(seed)
    alice = link_email(db, "alice@example.com", "UALICE", NOW)
    # Alice's Copilot login is a second identity of hers: her two identities meet as one
    link_identity(db, "copilot", "alice-gh", "UALICE", "test", NOW)
    with db.write() as conn:
        ids = resolve_identities(
            conn,
            [("email", "alice@example.com"), ("copilot", "alice-gh"), ("email", "x@ex.com")],
            NOW,
        )
    who = {ids[("email", "alice@example.com")]: "alice", ids[("copilot", "alice-gh")]: "alice"}
    who[ids[("email", "x@ex.com")]] = "email:x@ex.com"  # nobody's yet
    rows: dict[tuple, OriginFigures] = {}
    for identity_id in who:
        for day in DAYS:
            for tool in TOOLS:
                for kind in KINDS:
                    for origin in ORIGINS:
                        if rng.random() < 0.5:
                            key = (identity_id, day, tool, kind, origin)
                            rows[key] = OriginFigures(origin, _random_figures(rng))
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

    groups: dict[tuple, list[OriginFigures]] = defaultdict(list)
    for (identity_id, day, tool, _kind, _origin), row in rows.items():
        groups[(who[identity_id], day, tool)].append(row)
    want: dict[tuple[str, str], Figures] = defaultdict(Figures)
    unpriced: dict[tuple[str, str], int] = defaultdict(int)
    for (person, _day, tool), group in groups.items():
        want[(person, tool)] += counted_figures(group)
        lost = report_carried(group)
        for row in group:
            if not is_priced(row, lost):
                kept = row.figures if row.origin != PUSHED else without(row.figures, lost)
                unpriced[(person, tool)] += kept.tokens
    start, end = DAYS[0], DAYS[-1]

    # report: per person (or unlinked identity) and tool
    lines = {
        ((line.slack_user_id and "alice") or line.identity, line.tool): line
        for line in usage_report(db, start, end)
    }
    assert set(lines) == set(want)
    for key, line in lines.items():
        _close(_figures(line.totals), want[key])

    # me, awards: a person's period; the home chart: a person's days
    [period] = person_periods(db, start, end)
    mine = sum((f for (p, _), f in want.items() if p == "alice"), Figures())
    _close(_figures(period.totals), mine)
    daily = sum((_figures(d.totals) for d in person_daily(db, alice, start, end)), Figures())
    _close(daily, mine)

    # top: suggestions only
    [ranked] = rank_inputs(db, start, end)
    assert (ranked.suggestions_accepted, ranked.suggestions_shown) == (
        mine.suggestions_accepted,
        mine.suggestions_shown,
    )

    # org: per person and tool cells, and per tool sums, with the tokens nobody priced
    for cell in usage_cells(db, [(start, end)]):
        _close(_figures(cell.totals), want[("alice", cell.tool)])
        assert (
            cell.unpriced_input_tokens + cell.unpriced_output_tokens
            == unpriced[("alice", cell.tool)]
        )
    sums, _ = span_sums(db, [(start, end)])
    for tool_sums in sums:
        _close(_figures(tool_sums.totals), want[("alice", tool_sums.tool)])
