"""Signals that a week's usage looks scripted or wasteful. Pure functions over event timings,
the week's totals and its shipped work per day.

A flag only keeps a person out of that week's awards and rankings; it is shown to admins,
never in public. Every signal needs a minimum of data before it speaks, and the ones about
habits compare the person with their own earlier weeks, not with anyone else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from statistics import median
from zoneinfo import ZoneInfo

from storage.records import EventMoment, IntegrityFlag, Totals

REGULAR = "regular_spacing"
OFF_HOURS = "off_hours_run"
WASTE = "tokens_without_acceptance"
BURST = "burst"
SHIPPED_UNBACKED = "shipped_without_usage"
SHIPPED_CADENCE = "shipped_cadence"


@dataclass(frozen=True, slots=True)
class IntegrityRules:
    """Thresholds for every signal; docs/metrics.md explains each."""

    regular_min_gaps: int = 30
    regular_tolerance: float = 0.02
    regular_tolerance_floor_s: float = 0.5
    regular_max_gap: timedelta = timedelta(minutes=10)
    off_hours_min_span: timedelta = timedelta(hours=2)
    off_hours_min_requests: int = 30
    off_hours_max_gap: timedelta = timedelta(minutes=15)
    baseline_min_events: int = 20
    baseline_min_days: int = 3
    waste_min_tokens: int = 1_000_000
    waste_min_suggestions: int = 50
    burst_min_requests: int = 120
    burst_factor: float = 4.0
    burst_baseline_min_hours: int = 10
    shipped_min: int = 10
    shipped_min_tokens_each: int = 1_000
    cadence_min_days: int = 4
    cadence_min_each: int = 3


@dataclass(frozen=True, slots=True)
class Activity:
    """One person's events in the week being judged and in the baseline weeks before it,
    each sorted by time, the week's totals from the rollup, and the commits plus pull
    requests of each local day of the week that had any, in day order."""

    person_id: int
    week: Sequence[EventMoment]
    baseline: Sequence[EventMoment]
    totals: Totals
    shipped_days: Sequence[int] = ()


def regular_spacing(week: Sequence[EventMoment], rules: IntegrityRules) -> str | None:
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


def off_hours_run(
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


def tokens_without_acceptance(totals: Totals, rules: IntegrityRules) -> str | None:
    """A large token volume while nothing suggested was accepted. Only judged when the
    tools reported acceptance at all, since chat-only tools never do."""
    shown = totals.suggestions_shown or 0
    if totals.tokens < rules.waste_min_tokens or shown < rules.waste_min_suggestions:
        return None
    if (totals.suggestions_accepted or 0) > 0 or (totals.lines_accepted or 0) > 0:
        return None
    return f"{totals.tokens:,} tokens, 0 of {shown:,} suggestions accepted"


def burst(
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


def shipped_without_usage(totals: Totals, rules: IntegrityRules) -> str | None:
    """Commits and pull requests far beyond the AI use behind them. A commit made with a
    tool costs it at least a request's worth of tokens; under 1,000 tokens for each one
    shipped, the count was not the tool's work but a number pushed for the badge."""
    shipped = totals.shipped or 0
    if shipped < rules.shipped_min or totals.tokens >= shipped * rules.shipped_min_tokens_each:
        return None
    return f"{shipped:,} commits and pull requests on {totals.tokens:,} tokens"


def shipped_cadence(shipped_days: Sequence[int], rules: IntegrityRules) -> str | None:
    """Exactly the same commits plus pull requests on every day that had any, for days on
    end: people ship unevenly, a script ships its quota. Telemetry arrives on the
    exporter's clock, so the per-day count is judged, never the events' timing."""
    days = [count for count in shipped_days if count > 0]
    if len(days) < rules.cadence_min_days or len(set(days)) != 1:
        return None
    if days[0] < rules.cadence_min_each:
        return None
    return f"exactly {days[0]:,} commits and pull requests on each of {len(days)} days"


def integrity_flags(
    activity: Activity, week_start: date, tz: ZoneInfo, rules: IntegrityRules
) -> list[IntegrityFlag]:
    """Every signal that fires for this person's week."""
    found = {
        REGULAR: regular_spacing(activity.week, rules),
        OFF_HOURS: off_hours_run(activity.week, activity.baseline, tz, rules),
        WASTE: tokens_without_acceptance(activity.totals, rules),
        BURST: burst(activity.week, activity.baseline, rules),
        SHIPPED_UNBACKED: shipped_without_usage(activity.totals, rules),
        SHIPPED_CADENCE: shipped_cadence(activity.shipped_days, rules),
    }
    return [
        IntegrityFlag(activity.person_id, week_start, signal, detail)
        for signal, detail in found.items()
        if detail is not None
    ]


def _hourly(moments: Sequence[EventMoment]) -> dict[datetime, int]:
    hours: dict[datetime, int] = {}
    for m in moments:
        key = m.occurred_at.replace(minute=0, second=0, microsecond=0)
        hours[key] = hours.get(key, 0) + m.requests
    return hours
