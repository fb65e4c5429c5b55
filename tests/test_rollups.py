"""The daily rollup: exact sums, local days in the configured zone (DST included), people."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import count
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage import bounds
from storage.events import record_events
from storage.integrations import create_integration
from storage.people import link_identity
from storage.profiles import find_slack_profile
from storage.records import UsageEvent, UserRef
from storage.usage_queries import person_periods
from tests.readback import daily_usage

ALICE = UserRef(slack_user_id="UALICE")


def usage(event_id: str, at: datetime, user: UserRef = ALICE, **fields) -> UsageEvent:
    return UsageEvent(event_id=event_id, user=user, occurred_at=at, tool="kiro", **fields)


@pytest.fixture
def integration(db, now):
    found, _ = create_integration(db, "kiro", now)
    return found


@pytest.fixture
def timezone():
    return ZoneInfo("Europe/Berlin")


def test_days_are_cut_in_the_configured_zone(db, integration, now):
    # 23:30 UTC on 17 Nov is 00:30 on 18 Nov in Berlin (UTC+1 in November).
    record_events(db, integration.id, [usage("a", datetime(2026, 11, 17, 23, 30, tzinfo=UTC))], now)
    assert [d.day for d in daily_usage(db, date(2026, 11, 1), date(2026, 11, 30))] == [
        date(2026, 11, 18)
    ]


@pytest.mark.parametrize(
    ("moment", "local_day"),
    [
        # Spring forward: 2026-03-29 01:00 UTC becomes 03:00 CEST.
        (datetime(2026, 3, 28, 22, 59, tzinfo=UTC), date(2026, 3, 28)),
        (datetime(2026, 3, 28, 23, 0, tzinfo=UTC), date(2026, 3, 29)),
        (datetime(2026, 3, 29, 21, 59, tzinfo=UTC), date(2026, 3, 29)),
        (datetime(2026, 3, 29, 22, 0, tzinfo=UTC), date(2026, 3, 30)),
        # Fall back: 2026-10-25 01:00 UTC becomes 02:00 CET.
        (datetime(2026, 10, 24, 21, 59, tzinfo=UTC), date(2026, 10, 24)),
        (datetime(2026, 10, 24, 22, 0, tzinfo=UTC), date(2026, 10, 25)),
        (datetime(2026, 10, 25, 22, 59, tzinfo=UTC), date(2026, 10, 25)),
        (datetime(2026, 10, 25, 23, 0, tzinfo=UTC), date(2026, 10, 26)),
    ],
)
def test_dst_days_have_their_true_length(db, integration, now, moment, local_day):
    record_events(db, integration.id, [usage("e", moment)], now)
    [day] = daily_usage(db, date(2026, 1, 1), date(2026, 12, 31))
    assert day.day == local_day


def test_nullable_figures_stay_null_until_someone_reports_them(db, integration, now):
    at = datetime(2026, 11, 18, 9, tzinfo=UTC)
    record_events(db, integration.id, [usage("a", at), usage("b", at)], now)
    [day] = daily_usage(db, date(2026, 11, 18), date(2026, 11, 18))
    assert day.totals.suggestions_shown is None and day.totals.cost_usd is None
    record_events(
        db, integration.id, [usage("c", at, suggestions_shown=4, suggestions_accepted=1)], now
    )
    [day] = daily_usage(db, date(2026, 11, 18), date(2026, 11, 18))
    assert (day.totals.suggestions_shown, day.totals.suggestions_accepted) == (4, 1)
    assert day.totals.requests == 3


def test_person_periods_sum_across_identities_and_count_active_days(db, integration, now):
    dana = UserRef(email="dana@example.com")
    events = [
        usage("a", datetime(2026, 11, 16, 9, tzinfo=UTC), input_tokens=10),
        usage("b", datetime(2026, 11, 17, 9, tzinfo=UTC), input_tokens=5, kind="chat"),
        usage("c", datetime(2026, 11, 17, 10, tzinfo=UTC), user=dana, input_tokens=7),
    ]
    record_events(db, integration.id, events, now)
    [alice] = person_periods(db, date(2026, 11, 16), date(2026, 11, 22))
    assert (alice.slack_user_id, alice.active_days, alice.totals.input_tokens) == ("UALICE", 2, 15)
    assert alice.kinds == {"other", "chat"}

    link_identity(db, "email", "dana@example.com", "UALICE", "admin", now)
    [alice] = person_periods(db, date(2026, 11, 16), date(2026, 11, 22))
    assert alice.totals.input_tokens == 22


def test_two_rollup_writes_in_one_transaction_each_count_once(db, integration, now):
    from storage.bulk import upsert_daily

    row = {
        "identity_id": None, "day": date(2026, 11, 18), "tool": "kiro", "kind": "other",
        "origin": "events", "requests": 1, "input_tokens": 10, "output_tokens": 0,
        "suggestions_shown": None, "suggestions_accepted": None, "lines_accepted": None,
        "cost_usd": None, "commits": None, "pull_requests": None, "events": 1,
    }  # fmt: skip
    record_events(db, integration.id, [usage("a", datetime(2026, 11, 18, 9, tzinfo=UTC))], now)
    row["identity_id"] = next(iter(db.identity_ids.values()))
    with db.write() as conn:
        upsert_daily(conn, [row], replace=False)
        upsert_daily(conn, [{**row, "tool": "copilot"}], replace=False)
    by_tool = {
        d.tool: d.totals.requests for d in daily_usage(db, date(2026, 11, 18), date(2026, 11, 18))
    }
    assert by_tool == {"kiro": 2, "copilot": 1}


def test_a_batch_adds_to_the_rollup_exactly_the_events_it_stored(db, integration, now):
    """Repeats (of stored events and within the batch) add nothing; the rest are summed
    once, keeping an unreported figure unreported and holding a sum at its cap."""
    at = datetime(2026, 11, 18, 9, tzinfo=UTC)
    record_events(db, integration.id, [usage("a", at, input_tokens=5)], now)
    batch = [
        usage("a", at, input_tokens=1000),  # stored before
        usage("b", at, input_tokens=7, cost_usd=0.5),
        usage("b", at, input_tokens=1000),  # repeated in the batch
        usage("c", at, input_tokens=3, kind="chat"),
    ]
    result = record_events(db, integration.id, batch, now)
    assert (result.accepted, result.duplicates) == ([1, 3], [0, 2])
    days = {d.kind: d.totals for d in daily_usage(db, date(2026, 11, 18), date(2026, 11, 18))}
    assert (days["other"].input_tokens, days["other"].requests) == (12, 2)
    assert days["other"].cost_usd == 0.5 and days["chat"].cost_usd is None

    # A day the rollup has no row for yet: the batch's own sum is held at the cap.
    day = datetime(2026, 11, 17, 9, tzinfo=UTC)
    huge = [usage(f"h{i}", day, input_tokens=bounds.MAX_COUNT) for i in range(1001)]
    assert len(record_events(db, integration.id, huge, now).accepted) == 1001
    [totals] = [d.totals for d in daily_usage(db, day.date(), day.date())]
    assert (totals.input_tokens, totals.requests) == (bounds.DAY_CAP, 1001)


_people = count()


@pytest.mark.postgres
@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    batches=st.lists(st.tuples(st.integers(1, 1100), st.integers(0, 2000)), min_size=1, max_size=3),
)
def test_the_rollup_holds_exactly_the_stored_events_whatever_the_batch_sizes(
    db, integration, now, batches
):
    """Batches of any size (a statement's worth, padded, or several), each partly resending
    what earlier ones stored: the rollup is the sum of the events stored, each once."""
    example = next(_people)  # examples share the database: their own person and event ids
    user = UserRef(slack_user_id=f"UROLL{example}")
    at = datetime(2026, 11, 18, 9, tzinfo=UTC)
    stored: dict[str, int] = {}
    for size, first in batches:
        ids = [f"{example}-{(first + n * 7) % 2500}" for n in range(size)]  # repeats past 2,500
        batch = [usage(i, at + timedelta(seconds=n), user, input_tokens=n) for n, i in
                 enumerate(ids)]  # fmt: skip
        result = record_events(db, integration.id, batch, now)
        fresh = [n for n, i in enumerate(ids) if i not in stored and ids.index(i) == n]
        assert result.accepted == fresh
        for n in fresh:
            stored[ids[n]] = n
    person = find_slack_profile(db, user.slack_user_id or "")
    assert person is not None
    [day] = daily_usage(db, at.date(), at.date(), [person.person_id])
    assert (day.totals.requests, day.totals.input_tokens) == (len(stored), sum(stored.values()))
