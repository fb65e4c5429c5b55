"""The integrity rules judge a person's events as they stream by (`jobs.integrity.Judge`),
holding counts per hour rather than the events: they say exactly what the rules said when
they held every event (kept below as they were written), and a week of a script's
events costs the judgement next to no memory."""

from __future__ import annotations

import tracemalloc
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from statistics import median
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobs.awards import AwardConfig, compute_flags
from jobs.integrity import IntegrityRules, burst, off_hours_run, regular_spacing
from jobs.weeks import Week
from storage.events import record_events
from storage.integrations import create_integration
from storage.records import EventMoment, UsageEvent, UserRef

MONDAY = datetime(2026, 11, 9, tzinfo=UTC)
# Thresholds low enough that short random timelines can fire every signal.
LOW = IntegrityRules(
    regular_min_gaps=3,
    off_hours_min_span=timedelta(minutes=30),
    off_hours_min_requests=3,
    baseline_min_events=3,
    baseline_min_days=2,
    burst_min_requests=3,
    burst_baseline_min_hours=2,
)
ZONE = ZoneInfo("America/New_York")


def moments(offsets: list[int], requests: list[int], start: datetime) -> list[EventMoment]:
    """Moments in time order, `offsets` seconds apart from `start` (0 is a repeat)."""
    out, at = [], start
    for gap, count in zip(offsets, requests, strict=False):
        at += timedelta(seconds=gap)
        out.append(EventMoment(person_id=1, occurred_at=at, requests=count, tokens=0))
    return out


gaps = st.lists(st.sampled_from([0, 1, 30, 60, 61, 600, 900, 3600, 7200, 86_400]), max_size=80)
counts = st.lists(st.integers(1, 5), min_size=80, max_size=80)


@settings(max_examples=300, deadline=None)
@given(week=gaps, baseline=gaps, week_requests=counts, baseline_requests=counts)
def test_the_running_judgement_says_what_the_held_one_said(
    week, baseline, week_requests, baseline_requests
):
    before = moments(baseline, baseline_requests, MONDAY - timedelta(days=14))
    during = moments(week, week_requests, MONDAY)
    assert regular_spacing(during, LOW) == held_regular_spacing(during, LOW)
    assert off_hours_run(during, before, ZONE, LOW) == held_off_hours_run(during, before, ZONE, LOW)
    assert burst(during, before, LOW) == held_burst(during, before, LOW)


@pytest.mark.postgres
def test_a_scripts_week_is_judged_without_holding_its_events(db, now):
    # 60,000 events a second apart: held as moments they were over 10 MB.
    integration, _ = create_integration(db, "kiro", now)
    user = UserRef(slack_user_id="USCRIPT")
    for first in range(0, 60_000, 1000):
        batch = [
            UsageEvent(
                event_id=f"s{n}", user=user, occurred_at=MONDAY + timedelta(seconds=n), tool="kiro"
            )
            for n in range(first, first + 1000)
        ]
        record_events(db, integration.id, batch, now)
    config = AwardConfig(channels=(), schedule="0 9 * * mon", tz=ZoneInfo("UTC"))
    tracemalloc.start()
    try:
        flags = compute_flags(db, Week(MONDAY.date()), config)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [f.signal for f in flags] == ["regular_spacing"]
    assert "60000 requests 1.0 s apart" in flags[0].detail
    assert peak < 5 * 2**20, f"{peak / 2**20:.1f} MB"


# --- the rules as they were written, holding every event ---------------------------------


def held_regular_spacing(week: Sequence[EventMoment], rules: IntegrityRules) -> str | None:
    """A long run of requests at the same interval (within 2% or half a second) is a loop:
    people pause, read and think; a script ticks."""
    times = sorted({m.occurred_at for m in week})
    best, best_gap, best_start = 0, 0.0, times[0] if times else None
    run, ref, run_start = 0, 0.0, best_start
    for previous, current in pairwise(times):
        gap = (current - previous).total_seconds()
        tolerance = max(rules.regular_tolerance_floor_s, ref * rules.regular_tolerance)
        if run and abs(gap - ref) <= tolerance:
            run += 1
        else:
            run, ref, run_start = 1, gap, previous
        if gap > rules.regular_max_gap.total_seconds():
            run = 0
        if run > best:
            best, best_gap, best_start = run, ref, run_start
    if best < rules.regular_min_gaps or best_start is None:
        return None
    return f"{best + 1} requests {best_gap:.1f} s apart from {best_start:%a %H:%M} UTC"


def held_off_hours_run(
    week: Sequence[EventMoment],
    baseline: Sequence[EventMoment],
    tz: ZoneInfo,
    rules: IntegrityRules,
) -> str | None:
    """Hours of continuous requests at local hours the person never used in the baseline
    weeks: a job left running at night rather than someone working late once."""
    if len(baseline) < rules.baseline_min_events:
        return None
    if len({m.occurred_at.astimezone(tz).date() for m in baseline}) < rules.baseline_min_days:
        return None
    usual = {m.occurred_at.astimezone(tz).hour for m in baseline}
    best: tuple[timedelta, int, datetime] | None = None
    start: EventMoment | None = None
    last: EventMoment | None = None
    requests = 0
    for moment in [*week, None]:
        unusual = moment is not None and moment.occurred_at.astimezone(tz).hour not in usual
        continues = (
            unusual
            and last is not None
            and moment is not None
            and moment.occurred_at - last.occurred_at <= rules.off_hours_max_gap
        )
        if continues:
            assert moment is not None
            requests += moment.requests
            last = moment
            continue
        if start is not None and last is not None:
            span = last.occurred_at - start.occurred_at
            long_enough = (
                span >= rules.off_hours_min_span and requests >= rules.off_hours_min_requests
            )
            if long_enough and (best is None or span > best[0]):
                best = (span, requests, start.occurred_at)
        start = last = moment if unusual else None
        requests = moment.requests if unusual and moment is not None else 0
    if best is None:
        return None
    span, requests, began = best
    local = began.astimezone(tz)
    hours = span.total_seconds() / 3600
    return f"{requests} requests over {hours:.1f} h from {local:%a %H:%M}, hours never used before"


def held_burst(
    week: Sequence[EventMoment], baseline: Sequence[EventMoment], rules: IntegrityRules
) -> str | None:
    """An hour with many times the requests of the person's own busiest baseline hour."""
    baseline_hours = _hourly(baseline)
    if len(baseline_hours) < rules.burst_baseline_min_hours:
        return None
    week_hours = _hourly(week)
    if not week_hours:
        return None
    hour, peak = max(week_hours.items(), key=lambda item: (item[1], item[0]))
    usual_peak = max(baseline_hours.values())
    if peak < rules.burst_min_requests or peak < rules.burst_factor * usual_peak:
        return None
    typical = median(baseline_hours.values())
    return (
        f"{peak} requests in the hour from {hour:%a %H:00} UTC; "
        f"own busiest hour before: {usual_peak}, typical {typical:g}"
    )


def _hourly(moments: Sequence[EventMoment]) -> dict[datetime, int]:
    hours: dict[datetime, int] = {}
    for m in moments:
        key = m.occurred_at.replace(minute=0, second=0, microsecond=0)
        hours[key] = hours.get(key, 0) + m.requests
    return hours
