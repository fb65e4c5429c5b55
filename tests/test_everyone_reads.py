"""Reads of everyone's usage at once (the award job's week and history, the leaderboard):
they sum everyone straight from the rollup and only the identities a vendor report touches
through the one-source rule, with active days, tools and kinds as bitmasks. Checked here
against the pure rule (`storage.precedence`) over the same rows, on awkward data: people
with and without reports side by side, two identities of one person, an identity nobody is
linked to, hostile tool names, spans longer than a mask."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import delete

from storage.awards import active_days_history
from storage.bulk import upsert_daily
from storage.figures import COUNTED, REPORTED, Figures
from storage.models import DailyRow
from storage.people import link_email, link_identity, resolve_identities
from storage.precedence import OriginFigures, counted_figures, kept_figures
from storage.usage_queries import person_periods, rank_inputs
from tests.readback import as_figures, assert_same_figures, random_figures, replace_rollup

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
FIRST = date(2026, 8, 3)  # a Monday, 15 weeks before the last day below
LAST = date(2026, 11, 15)
TOOLS = ("kiro", "copilot", "a,b", "'; DROP TABLE usage_daily; --", "=SUM(A1)", "🙂 émoji")
KINDS = ("chat", "agent", "inline_suggestion")
PUSHED = "events"
OTLP = "otlp"
REPORTS = ("import:claude-code", "import:cursor@acme:ide")


@pytest.fixture
def rows(db):
    """Random rollup rows over 15 weeks. Ten Slack users; U001 also through an email and a
    Copilot login linked to them; U000..U003 and an unlinked email have report and OTLP rows
    too, U004 and U005 OTLP rows, the others API pushes only. Returns (identity -> owner, rows)."""
    people = {f"U{n:03d}": link_email(db, f"u{n}@example.com", f"U{n:03d}", NOW) for n in range(10)}
    link_identity(db, "copilot", "u1-gh", "U001", "test", NOW)
    with db.write() as conn:
        keys = [("slack", s) for s in people] + [("copilot", "u1-gh"), ("email", "x@ex.com")]
        keys += [("email", f"u{n}@example.com") for n in range(10)]
        ids = resolve_identities(conn, keys, NOW)
    owner = {ids[("slack", s)]: people[s] for s in people}
    owner |= {ids[("email", f"u{n}@example.com")]: people[f"U{n:03d}"] for n in range(10)}
    owner[ids[("copilot", "u1-gh")]] = people["U001"]
    owner[ids[("email", "x@ex.com")]] = None  # nobody's yet
    reporters = {people[f"U{n:03d}"] for n in range(4)} | {None}
    telemetry = {people["U004"], people["U005"]}
    rng = random.Random(15)
    stored: dict[tuple, OriginFigures] = {}
    for _ in range(1500):
        identity_id = rng.choice(sorted(owner))
        day = FIRST + timedelta(days=rng.randrange((LAST - FIRST).days + 1))
        origins: tuple[str, ...] = (PUSHED,)
        if owner[identity_id] in reporters:
            origins = (PUSHED, OTLP, *REPORTS)
        elif owner[identity_id] in telemetry:
            origins = (PUSHED, OTLP)
        key = (identity_id, day, rng.choice(TOOLS), rng.choice(KINDS), rng.choice(origins))
        stored[key] = OriginFigures(key[4], random_figures(rng))
    replace_rollup(db, stored)
    return owner, stored


def expected(owner, stored, start: date, end: date):
    """Per person with rows: the figures the rule counts, and the active days, tools and
    kinds of the rows that did work as they count (`Figures.does_work`)."""
    cells: dict[tuple, list[tuple[str, OriginFigures]]] = defaultdict(list)
    shape: dict[int, tuple[set, set, set]] = defaultdict(lambda: (set(), set(), set()))
    for (identity_id, day, tool, kind, _origin), row in stored.items():
        person = owner[identity_id]
        if not start <= day <= end:
            continue
        cells[(person if person is not None else -identity_id, day, tool)].append((kind, row))
    figures: dict[int, Figures] = defaultdict(Figures)
    for (key, day, tool), group in cells.items():
        if key < 0:
            continue
        figures[key] += counted_figures(row for _, row in group)
        days, tools, kinds = shape[key]
        for (kind, _), counted in zip(group, kept_figures(r for _, r in group), strict=True):
            if counted.does_work():
                days.add(day), tools.add(tool), kinds.add(kind)
    return {p: (figures[p], len(d), t, k) for p, (d, t, k) in shape.items()}


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2026, 11, 9), date(2026, 11, 15)),  # a week
        (date(2026, 11, 15), date(2026, 11, 15)),  # one day
        (FIRST, LAST),  # 105 days: longer than one mask holds
    ],
)
def test_person_periods_count_what_the_rule_counts(db, rows, start, end):
    owner, stored = rows
    want = expected(owner, stored, start, end)
    periods = person_periods(db, start, end)
    assert [p.person_id for p in periods] == sorted(want)
    for period in periods:
        figures, days, tools, kinds = want[period.person_id]
        assert_same_figures(as_figures(period.totals), figures)
        assert (period.active_days, set(period.tools), set(period.kinds)) == (days, tools, kinds)

    ranked = {r.person_id: r for r in rank_inputs(db, start, end)}
    assert set(ranked) == set(want)
    for person_id, (figures, days, _, _) in want.items():
        got = ranked[person_id]
        assert (got.active_days, got.suggestions_accepted, got.suggestions_shown) == (
            days,
            figures.suggestions_accepted,
            figures.suggestions_shown,
        )


def test_a_span_without_reports_counts_the_rollup_as_stored(db, rows):
    owner, stored = rows
    with db.write() as conn:
        conn.execute(delete(DailyRow).where(DailyRow.origin != PUSHED))
    pushed = {key: row for key, row in stored.items() if key[4] == PUSHED}
    want = expected(owner, pushed, FIRST, LAST)
    periods = person_periods(db, FIRST, LAST)
    assert [p.person_id for p in periods] == sorted(want)
    for period in periods:
        assert_same_figures(as_figures(period.totals), want[period.person_id][0])


def test_person_periods_of_some_people_only(db, rows):
    everyone = person_periods(db, FIRST, LAST)
    some = [everyone[0].person_id, everyone[2].person_id]
    got = person_periods(db, FIRST, LAST, some)
    assert [p.person_id for p in got] == some
    for period, whole in zip(got, [everyone[0], everyone[2]], strict=True):
        assert_same_figures(
            as_figures(period.totals), as_figures(whole.totals)
        )  # cost: sums reordered
        unpriced = {"cost_usd": None}
        assert replace(period, totals=replace(period.totals, **unpriced)) == replace(
            whole, totals=replace(whole.totals, **unpriced)
        )
    assert person_periods(db, FIRST, LAST, []) == []


def test_more_tools_in_a_week_than_a_mask_holds(db):
    person = link_email(db, "many@example.com", "UMANY", NOW)
    with db.write() as conn:
        [identity_id] = resolve_identities(conn, [("email", "many@example.com")], NOW).values()
        day = date(2026, 11, 10)
        tools = [f"tool-{n},{n}" for n in range(70)]
        row = {name: None for name in REPORTED} | {name: 1 for name in COUNTED}
        upsert_daily(
            conn,
            [
                {"identity_id": identity_id, "day": day, "tool": tool, "kind": "chat"}
                | {"origin": PUSHED, "events": 1}
                | row
                for tool in tools
            ],
            replace=True,
        )
    [period] = person_periods(db, day, day)
    assert period.person_id == person and period.tools == frozenset(tools)
    assert period.kinds == {"chat"} and period.active_days == 1
    assert period.totals.requests == 70


def test_active_days_history_matches_a_plain_reading(db, rows):
    owner, stored = rows
    weeks = [date(2026, 11, 2), date(2026, 10, 26), date(2026, 8, 3), date(2026, 9, 14)]
    history = active_days_history(db, weeks)
    want: dict[int, list[int]] = {}
    for i, start in enumerate(weeks):
        for person_id, (_, days, _, _) in expected(
            owner, stored, start, start + timedelta(days=6)
        ).items():
            want.setdefault(person_id, [0] * len(weeks))[i] = days
    assert history == want
    assert active_days_history(db, []) == {}


def test_a_span_without_usage_reads_nobody(db, rows):
    assert person_periods(db, date(2027, 1, 4), date(2027, 1, 10)) == []
    assert rank_inputs(db, date(2027, 1, 4), date(2027, 1, 10)) == []
    assert active_days_history(db, [date(2027, 1, 4)]) == {}
