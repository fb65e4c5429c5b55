"""Integrity signals over hand-made event timings: each fires on its pattern and not on
ordinary human use."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from jobs.integrity import (
    Activity,
    IntegrityRules,
    burst,
    integrity_flags,
    off_hours_run,
    regular_spacing,
    tokens_without_acceptance,
)
from storage.records import EventMoment, Totals

RULES = IntegrityRules()
UTC_ZONE = ZoneInfo("UTC")
MONDAY = datetime(2026, 11, 9, tzinfo=UTC)


def at(moment: datetime, requests: int = 1) -> EventMoment:
    return EventMoment(person_id=1, occurred_at=moment, requests=requests, tokens=100)


def every(start: datetime, gap: timedelta, count: int, requests: int = 1) -> list[EventMoment]:
    return [at(start + gap * i, requests) for i in range(count)]


def office_hours(weeks_back: int = 2) -> list[EventMoment]:
    """A human baseline: 09:00-17:00 on weekdays, a few requests an hour, uneven gaps."""
    moments = []
    for day in range(7 * weeks_back):
        start = MONDAY - timedelta(days=7 * weeks_back) + timedelta(days=day)
        if start.weekday() >= 5:
            continue
        for hour in range(9, 17):
            for minute in (3, 17, 41):
                moments.append(at(start.replace(hour=hour, minute=minute), 2))
    return moments


def test_a_metronome_is_flagged():
    detail = regular_spacing(every(MONDAY.replace(hour=10), timedelta(seconds=60), 40), RULES)
    assert detail == "40 requests 60.0 s apart from Mon 10:00 UTC"


def test_jitter_inside_the_tolerance_is_still_a_loop():
    start = MONDAY.replace(hour=10)
    moments = [at(start + timedelta(seconds=30 * i + (0.3 if i % 2 else 0))) for i in range(35)]
    assert regular_spacing(moments, RULES) is not None


def test_human_spacing_is_not_flagged():
    gaps = [12, 45, 9, 130, 33, 61, 8, 240, 19, 75] * 5
    moments, moment = [], MONDAY.replace(hour=9)
    for gap in gaps:
        moment += timedelta(seconds=gap)
        moments.append(at(moment))
    assert regular_spacing(moments, RULES) is None


def test_a_short_regular_run_is_not_enough():
    assert regular_spacing(every(MONDAY, timedelta(seconds=60), 20), RULES) is None


def test_events_sent_in_one_batch_do_not_count_as_regular():
    same = [at(MONDAY.replace(hour=10))] * 100
    assert regular_spacing(same, RULES) is None


def test_a_long_run_at_hours_never_worked_is_flagged():
    night = every(MONDAY.replace(hour=1), timedelta(minutes=4), 40)  # 01:00-03:36
    detail = off_hours_run(night, office_hours(), UTC_ZONE, RULES)
    assert detail == "40 requests over 2.6 h from Mon 01:00, hours never used before"


def test_a_late_evening_now_and_then_is_not_flagged():
    evening = every(MONDAY.replace(hour=20), timedelta(minutes=10), 6)
    assert off_hours_run(evening, office_hours(), UTC_ZONE, RULES) is None


def test_usual_hours_are_judged_in_the_configured_zone():
    # 01:00 UTC is 20:00 the day before in New York: office hours there.
    new_york = ZoneInfo("America/New_York")
    baseline = [at(m.occurred_at + timedelta(hours=5), m.requests) for m in office_hours()]
    evening = every(MONDAY.replace(hour=1), timedelta(minutes=4), 40)
    late = [at(m.occurred_at - timedelta(hours=6)) for m in evening]  # 19:00-21:36 UTC
    assert off_hours_run(late, baseline, new_york, RULES) is None
    baseline_utc = office_hours()
    assert off_hours_run(late, baseline_utc, UTC_ZONE, RULES) is not None


def test_off_hours_needs_a_baseline():
    night = every(MONDAY.replace(hour=1), timedelta(minutes=4), 40)
    assert off_hours_run(night, office_hours()[:10], UTC_ZONE, RULES) is None


def test_tokens_with_nothing_accepted_is_flagged_only_when_acceptance_is_reported():
    wasted = Totals(input_tokens=1_500_000, suggestions_shown=400, suggestions_accepted=0)
    assert (
        tokens_without_acceptance(wasted, RULES)
        == "1,500,000 tokens, 0 of 400 suggestions accepted"
    )
    chat_only = Totals(input_tokens=5_000_000)
    assert tokens_without_acceptance(chat_only, RULES) is None
    some_accepted = Totals(input_tokens=1_500_000, suggestions_shown=400, suggestions_accepted=3)
    assert tokens_without_acceptance(some_accepted, RULES) is None
    small = Totals(input_tokens=200_000, suggestions_shown=400, suggestions_accepted=0)
    assert tokens_without_acceptance(small, RULES) is None


def test_a_burst_far_above_the_persons_own_peak_is_flagged():
    spike = every(MONDAY.replace(hour=11), timedelta(seconds=20), 150)[:150]
    detail = burst(spike, office_hours(), RULES)
    assert detail == (
        "150 requests in the hour from Mon 11:00 UTC; own busiest hour before: 6, typical 6"
    )


def test_a_busy_hour_for_a_heavy_user_is_not_a_burst():
    heavy_baseline = [at(m.occurred_at, 40) for m in office_hours()]  # 120 an hour
    spike = every(MONDAY.replace(hour=11), timedelta(seconds=20), 150)
    assert burst(spike, heavy_baseline, RULES) is None


def test_bursts_need_a_baseline():
    spike = every(MONDAY.replace(hour=11), timedelta(seconds=20), 150)
    assert burst(spike, [], RULES) is None


def test_flags_gather_every_signal_for_the_week():
    week = every(MONDAY.replace(hour=1), timedelta(seconds=30), 300)
    totals = Totals(input_tokens=2_000_000, suggestions_shown=100, suggestions_accepted=0)
    flags = integrity_flags(
        Activity(1, week, office_hours(), totals), date(2026, 11, 9), UTC_ZONE, RULES
    )
    assert sorted(f.signal for f in flags) == [
        "burst",
        "off_hours_run",
        "regular_spacing",
        "tokens_without_acceptance",
    ]
    assert {f.week_start for f in flags} == {date(2026, 11, 9)}


def test_an_ordinary_week_has_no_flags():
    week = [at(m.occurred_at + timedelta(days=14), m.requests) for m in office_hours(1)]
    totals = Totals(input_tokens=300_000, suggestions_shown=100, suggestions_accepted=30)
    flags = integrity_flags(
        Activity(1, week, office_hours(), totals), date(2026, 11, 9), UTC_ZONE, RULES
    )
    assert flags == []
