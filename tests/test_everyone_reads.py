"""Reads of everyone's usage at once (the award job's week and history): they read active
days, tools and kinds as bitmasks per identity, so they are checked here against a plain
per-person reading of the same rollup, on awkward data."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta

import pytest

from storage.awards import active_days_history
from storage.events import record_events
from storage.integrations import create_integration
from storage.models import IdentityRow
from storage.people import link_identity
from storage.records import PersonPeriod, Totals, UsageEvent, UserRef
from storage.usage_queries import day_masks, person_periods
from tests.readback import daily_usage

FIRST = date(2026, 8, 3)  # a Monday, 15 weeks before the last day below
LAST = date(2026, 11, 15)
HOSTILE_TOOLS = ("a,b", "'; DROP TABLE usage_daily; --", "=SUM(A1)", "<@U123>", "🙂 émoji", "%s")


def _event(n: int, user: UserRef, day: date, tool: str, kind: str, rng: random.Random):
    at = datetime.combine(day, time(12), UTC)
    shown = rng.choice([None, rng.randint(0, 50)])
    return UsageEvent(
        event_id=f"e{n}",
        user=user,
        occurred_at=at,
        tool=tool,
        kind=kind,
        requests=rng.randint(0, 9),
        input_tokens=rng.randint(0, 10**12),
        output_tokens=rng.randint(0, 1000),
        suggestions_shown=shown,
        suggestions_accepted=None if shown is None else rng.randint(0, shown),
        cost_usd=rng.choice([None, 0.25]),
    )


@pytest.fixture
def usage(db, now):
    """Random usage over 15 weeks: twelve Slack users, two of them also through an email
    identity linked to them, one email nobody is linked to, and hostile tool names."""
    integration, _ = create_integration(db, "kiro", now)
    rng = random.Random(15)
    users = [UserRef(slack_user_id=f"U{n:03d}") for n in range(12)]
    users += [UserRef(email="two@example.com"), UserRef(email="three@example.com")]
    users.append(UserRef(email="nobody@example.com"))
    tools = ("kiro", "copilot", *HOSTILE_TOOLS)
    kinds = ("chat", "agent", "other", "inline_suggestion")
    events = []
    for n in range(600):
        day = FIRST + timedelta(days=rng.randrange((LAST - FIRST).days + 1))
        events.append(_event(n, rng.choice(users), day, rng.choice(tools), rng.choice(kinds), rng))
    record_events(db, integration.id, events, now)
    link_identity(db, "email", "two@example.com", "U002", "admin", now)
    link_identity(db, "email", "three@example.com", "U003", "admin", now)
    return integration


def expected_periods(db, start: date, end: date) -> dict[int, tuple[Totals, int, set, set]]:
    totals: dict[int, Totals] = defaultdict(Totals)
    days: dict[int, set[date]] = defaultdict(set)
    tools: dict[int, set[str]] = defaultdict(set)
    kinds: dict[int, set[str]] = defaultdict(set)
    for row in daily_usage(db, start, end):
        totals[row.person_id] = totals[row.person_id] + row.totals
        days[row.person_id].add(row.day)
        tools[row.person_id].add(row.tool)
        kinds[row.person_id].add(row.kind)
    return {p: (totals[p], len(days[p]), tools[p], kinds[p]) for p in totals}


def as_expected(periods: list[PersonPeriod]) -> dict[int, tuple[Totals, int, set, set]]:
    return {p.person_id: (p.totals, p.active_days, set(p.tools), set(p.kinds)) for p in periods}


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2026, 11, 9), date(2026, 11, 15)),  # a week
        (date(2026, 11, 15), date(2026, 11, 15)),  # one day
        (FIRST, LAST),  # 105 days: longer than one mask holds
    ],
)
def test_person_periods_match_a_plain_reading(db, usage, start, end):
    periods = person_periods(db, start, end)
    assert as_expected(periods) == expected_periods(db, start, end)
    assert [p.person_id for p in periods] == sorted(p.person_id for p in periods)
    assert {p.slack_user_id for p in periods} <= {f"U{n:03d}" for n in range(12)}


def test_person_periods_of_some_people_only(db, usage):
    everyone = person_periods(db, FIRST, LAST)
    some = [everyone[0].person_id, everyone[2].person_id]
    assert person_periods(db, FIRST, LAST, some) == [everyone[0], everyone[2]]
    assert person_periods(db, FIRST, LAST, []) == []


def test_more_tools_in_a_week_than_a_mask_holds(db, now):
    integration, _ = create_integration(db, "many", now)
    rng = random.Random(70)
    user = UserRef(slack_user_id="UMANY")
    day = date(2026, 11, 10)
    tools = [f"tool-{n},{n}" for n in range(70)]
    events = [_event(n, user, day, tool, "chat", rng) for n, tool in enumerate(tools)]
    record_events(db, integration.id, events, now)
    [period] = person_periods(db, day, day)
    assert period.tools == frozenset(tools)
    assert period.kinds == {"chat"} and period.active_days == 1


def test_day_masks_span_many_masks(db, usage):
    masks = day_masks(db, FIRST, LAST)
    seen: dict[int, set[int]] = defaultdict(set)
    for row in daily_usage(db, FIRST, LAST):
        seen[row.person_id].add((row.day - FIRST).days)
    by_person: dict[int, int] = defaultdict(int)
    with db.read() as conn:
        rows = conn.execute(IdentityRow.__table__.select()).mappings().all()
    owners = {row["id"]: row["person_id"] for row in rows if row["person_id"] is not None}
    for identity_id, mask in masks.items():
        if identity_id in owners:
            by_person[owners[identity_id]] |= mask
    assert {p: {i for i in range(200) if m >> i & 1} for p, m in by_person.items()} == seen


def test_active_days_history_matches_a_plain_reading(db, usage):
    weeks = [date(2026, 11, 2), date(2026, 10, 26), date(2026, 8, 3), date(2026, 9, 14)]
    history = active_days_history(db, weeks)
    expected: dict[int, list[int]] = {}
    for i, start in enumerate(weeks):
        for person_id, (_, active, _, _) in expected_periods(
            db, start, start + timedelta(days=6)
        ).items():
            expected.setdefault(person_id, [0] * len(weeks))[i] = active
    assert history == expected
    assert active_days_history(db, []) == {}


def test_a_span_without_usage_reads_nobody(db, usage):
    assert person_periods(db, date(2027, 1, 4), date(2027, 1, 10)) == []
    assert active_days_history(db, [date(2027, 1, 4)]) == {}
