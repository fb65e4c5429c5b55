"""The award job's read of a row per person and week (`usage_person_weekly`, kept by the
weekly re-sum) against the pure rule (`storage.precedence`) over the same daily rows, and
against the daily read it replaces, on both databases: people with and without vendor
reports and OTLP side by side, two identities of one person, an unlinked identity, tool
names with the separator and escapes in them, a kind of work the mask has no bit for, and
rows that change after the week was summed. The winners are the same either way."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from jobs.award_rules import AwardRules, Candidate, decide_awards
from jobs.awards import candidates, daily_candidates
from jobs.weeks import Week
from storage.award_weeks import person_weeks
from storage.bulk import upsert_daily
from storage.figures import COUNTED, REPORTED
from storage.models import IdentityRow, PersonWeekRow, WeeklyStaleRow
from storage.people import link_email, resolve_identities
from storage.weekly import fresh_weeks, tool_names
from tests.readback import as_figures, assert_same_figures
from tests.test_everyone_reads import NOW, PUSHED, expected, rows  # noqa: F401  (a fixture)

WEEKS = [date(2026, 11, 9), date(2026, 10, 5), date(2026, 8, 31)]  # Mondays of the data
HOSTILE_TOOLS = ("back\\slash", "\\c", "x\\,y", ",", "\\", "")


def want_candidates(owner, stored, week: date, history: int) -> dict[int, tuple]:
    """Per person with usage in the week: figures, active days, tools, kinds and the
    active days of each earlier week, by the pure rule."""
    this = expected(owner, stored, week, week + timedelta(days=6))
    earlier = [
        expected(owner, stored, start, start + timedelta(days=6))
        for start in (week - timedelta(weeks=back) for back in range(1, history + 1))
    ]
    return {
        person: (*shape, tuple(e[person][1] if person in e else 0 for e in earlier))
        for person, shape in this.items()
    }


def assert_as_the_rule_counts(got: list[Candidate], want: dict[int, tuple]) -> None:
    assert [c.period.person_id for c in got] == sorted(want)
    for c in got:
        figures, days, tools, kinds, previous = want[c.period.person_id]
        assert_same_figures(as_figures(c.period.totals), figures)
        assert (c.period.active_days, set(c.period.tools), set(c.period.kinds)) == (
            days,
            tools,
            kinds,
        )
        assert c.previous_active_days == previous


def assert_same_as_daily(db, week: Week) -> None:
    """`candidates` against the daily read, field by field (cost up to summing order), and
    the same winners from both."""
    got, daily = candidates(db, week, 4), daily_candidates(db, week, 4)
    assert [c.period.person_id for c in got] == [c.period.person_id for c in daily]
    for mine, theirs in zip(got, daily, strict=True):
        assert_same_figures(as_figures(mine.period.totals), as_figures(theirs.period.totals))
        assert mine.period.totals.events == theirs.period.totals.events
        no_cost = {"cost_usd": None}
        assert replace(
            mine, period=replace(mine.period, totals=replace(mine.period.totals, **no_cost))
        ) == replace(
            theirs, period=replace(theirs.period, totals=replace(theirs.period.totals, **no_cost))
        )
    rules = AwardRules()
    loose = AwardRules(
        categories=tuple(
            replace(c, minimum=0.0, min_suggestions=0, min_tokens=0, min_accepted=0)
            for c in rules.categories
        ),
        max_badges_per_person=2,
    )
    for r in (rules, loose):
        assert decide_awards(got, r) == decide_awards(daily, r)


def add_rows(db, identity_id: int, day: date, tools, kind: str = "chat", origin=PUSHED) -> None:
    row = {name: None for name in REPORTED} | {name: 3 for name in COUNTED}
    with db.write() as conn:
        upsert_daily(
            conn,
            [
                {"identity_id": identity_id, "day": day, "tool": tool, "kind": kind}
                | {"origin": origin, "events": 1}
                | row
                for tool in tools
            ],
            replace=True,
        )


@pytest.mark.parametrize(("week", "history"), [*[(w, 4) for w in WEEKS], (WEEKS[0], 12)])
def test_candidates_count_what_the_rule_counts(db, rows, week, history):  # noqa: F811
    owner, stored = rows
    got = candidates(db, Week(week), history)  # 12: more weeks than one summed mask holds
    assert_as_the_rule_counts(got, want_candidates(owner, stored, week, history))
    with db.read() as conn:  # read from the person-week rows, the weeks read summed
        assert conn.scalar(select(func.count()).select_from(PersonWeekRow)) > 0
        span = WeeklyStaleRow.day.between(week - timedelta(weeks=4), week + timedelta(days=6))
        assert conn.scalar(select(func.count()).where(span)) == 0
    assert_same_as_daily(db, Week(week))


def test_rows_changed_after_the_sums_are_read_as_they_are_now(db, rows):  # noqa: F811
    owner, _ = rows
    week = Week(WEEKS[0])
    candidates(db, week, 4)  # every week summed
    people = sorted({p for p in owner.values() if p is not None})
    # New usage this week and in a history week, with hostile tool names; a report over a
    # pushed cell; a kind the mask has no bit for (read from the daily rows, then).
    linked = sorted(i for i, p in owner.items() if p is not None)
    add_rows(db, linked[0], week.start + timedelta(days=1), HOSTILE_TOOLS)
    add_rows(db, linked[1], week.start - timedelta(days=12), ["kiro"])
    add_rows(db, linked[2], week.start + timedelta(days=2), ["kiro"], origin="import:x")
    with db.read() as conn:
        assert conn.scalar(select(func.count()).select_from(WeeklyStaleRow)) > 0
    assert_same_as_daily(db, week)
    [first] = [c for c in candidates(db, week, 4) if c.period.person_id == owner[linked[0]]]
    assert set(HOSTILE_TOOLS) <= first.period.tools

    add_rows(db, linked[3], week.start + timedelta(days=3), ["kiro"], kind="review")
    got = candidates(db, week, 4)
    assert any("review" in c.period.kinds for c in got)
    assert_same_as_daily(db, week)

    # An identity with usage moves to another person; the unlinked one is linked.
    moved, unlinked = linked[4], next(i for i, p in owner.items() if p is None)
    with db.write() as conn:
        conn.execute(
            IdentityRow.__table__.update()
            .where(IdentityRow.id.in_([moved, unlinked]))
            .values(person_id=people[-1])
        )
    assert_same_as_daily(db, week)


def test_a_read_that_finds_a_mark_gives_nothing_rather_than_stale_sums(db, rows):  # noqa: F811
    owner, _ = rows
    week = WEEKS[0]
    earlier = [week - timedelta(weeks=n) for n in (1, 2)]
    fresh_weeks(db)
    assert person_weeks(db, week, earlier) is not None
    linked = sorted(i for i, p in owner.items() if p is not None)
    add_rows(db, linked[0], earlier[1] + timedelta(days=6), ["kiro"])  # a history week's day
    assert person_weeks(db, week, earlier) is None
    fresh_weeks(db, earlier[1], week + timedelta(days=6))
    assert person_weeks(db, week, earlier) is not None
    with pytest.raises(ValueError, match="Monday"):
        person_weeks(db, week + timedelta(days=1), earlier)


@pytest.mark.parametrize(
    "names", [{"a"}, {"a,b", "c"}, set(HOSTILE_TOOLS), {"\\b", "\\\\c", "b\\", "c,"}]
)
def test_tool_names_come_back_as_written(db, names):
    link_email(db, "t@example.com", "UTOOLS", NOW)
    with db.write() as conn:
        [identity_id] = resolve_identities(conn, [("email", "t@example.com")], NOW).values()
    add_rows(db, identity_id, WEEKS[0], sorted(names))
    fresh_weeks(db)
    with db.read() as conn:
        [joined] = conn.scalars(select(PersonWeekRow.tools)).all()
    assert tool_names(joined) == frozenset(names)
