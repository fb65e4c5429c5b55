"""Signals that a week's usage looks scripted or wasteful, from event timings, the week's
totals and its shipped work per day: pure functions, and for the timings a `Judge` that
takes them one at a time (no database, no clock).

A flag only keeps a person out of that week's awards and rankings; it is shown to admins,
never in public. Every signal needs a minimum of data before it speaks, and the ones about
habits compare the person with their own earlier weeks, not with anyone else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from statistics import median
from zoneinfo import ZoneInfo

from storage.records import EventMoment, IntegrityFlag, Totals

REGULAR = "regular_spacing"
OFF_HOURS = "off_hours_run"
WASTE = "tokens_without_acceptance"
BURST = "burst"
SHIPPED_UNBACKED = "shipped_without_usage"
SHIPPED_CADENCE = "shipped_cadence"
LINES_UNBACKED = "lines_without_usage"


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
    lines_min: int = 1_000
    lines_per_request: int = 1_000


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
    spacing = _Spacing(rules)
    for moment in sorted({m.occurred_at for m in week}):
        spacing.add(moment)
    return spacing.verdict()


def off_hours_run(
    week: Sequence[EventMoment],
    baseline: Sequence[EventMoment],
    tz: ZoneInfo,
    rules: IntegrityRules,
) -> str | None:
    """Hours of continuous requests at local hours the person never used in the baseline
    weeks: a job left running at night rather than someone working late once."""
    off_hours = _OffHours(tz, rules)
    for m in baseline:
        off_hours.baseline(m.occurred_at)
    for m in week:
        off_hours.week(m.occurred_at, m.requests)
    return off_hours.verdict()


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
    hours = _Burst(rules)
    for m in baseline:
        hours.baseline(m.occurred_at, m.requests)
    for m in week:
        hours.week(m.occurred_at, m.requests)
    return hours.verdict()


def shipped_without_usage(totals: Totals, rules: IntegrityRules) -> str | None:
    """Commits and pull requests far beyond the AI use behind them. A commit made with a
    tool costs it at least a request's worth of tokens; under 1,000 tokens for each one
    shipped, the count was not the tool's work but a number pushed for the badge."""
    shipped = totals.shipped or 0
    if shipped < rules.shipped_min or totals.tokens >= shipped * rules.shipped_min_tokens_each:
        return None
    return f"{shipped:,} commits and pull requests on {totals.tokens:,} tokens"


def lines_without_usage(totals: Totals, rules: IntegrityRules) -> str | None:
    """Accepted lines that neither the tokens nor the requests behind them could have
    written: more lines than tokens (a tool writes no line without spending a token) and
    more than 1,000 for each request and accepted suggestion (far beyond what even an agent
    writing whole files averages over a week). Both, so the lines of a tool that reports
    no tokens (a Copilot report) beside a little use of one that does are not flagged."""
    lines = totals.lines_accepted or 0
    if lines < rules.lines_min or lines <= totals.tokens:
        return None
    requests, accepted = totals.requests, totals.suggestions_accepted or 0
    if lines <= (requests + accepted) * rules.lines_per_request:
        return None
    return (
        f"{lines:,} accepted lines on {totals.tokens:,} tokens, {requests:,} requests "
        f"and {accepted:,} accepted suggestions"
    )


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
    judge = Judge(tz, rules)
    for m in activity.baseline:
        judge.baseline(m.occurred_at, m.requests)
    for m in sorted(activity.week, key=_moment):
        judge.week(m.occurred_at, m.requests)
    return judge.flags(activity.person_id, week_start, activity.totals, activity.shipped_days)


class Judge:
    """One person's week judged as their events arrive in time order, the baseline weeks'
    first, then the week's: each signal keeps a running state and counts per hour, not the
    events. Scripted traffic is what this judges, and one script can send millions of events
    in a week; holding them cost the live leaderboard tens of MB a person."""

    def __init__(self, tz: ZoneInfo, rules: IntegrityRules) -> None:
        self.rules = rules
        self._spacing = _Spacing(rules)
        self._off_hours = _OffHours(tz, rules)
        self._burst = _Burst(rules)

    def baseline(self, at: datetime, requests: int) -> None:
        self._off_hours.baseline(at)
        self._burst.baseline(at, requests)

    def week(self, at: datetime, requests: int) -> None:
        self._spacing.add(at)
        self._off_hours.week(at, requests)
        self._burst.week(at, requests)

    def flags(
        self, person_id: int, week_start: date, totals: Totals, shipped_days: Sequence[int]
    ) -> list[IntegrityFlag]:
        """Every signal that fires, given the week's totals and shipped work per day."""
        found = {
            REGULAR: self._spacing.verdict(),
            OFF_HOURS: self._off_hours.verdict(),
            WASTE: tokens_without_acceptance(totals, self.rules),
            BURST: self._burst.verdict(),
            SHIPPED_UNBACKED: shipped_without_usage(totals, self.rules),
            SHIPPED_CADENCE: shipped_cadence(shipped_days, self.rules),
            LINES_UNBACKED: lines_without_usage(totals, self.rules),
        }
        return [
            IntegrityFlag(person_id, week_start, signal, detail)
            for signal, detail in found.items()
            if detail is not None
        ]


class _Spacing:
    """`regular_spacing` over moments given in time order; a repeat of the last is skipped."""

    def __init__(self, rules: IntegrityRules) -> None:
        self.rules = rules
        self.last: datetime | None = None
        self.run, self.ref = 0, 0.0  # gaps in the run under way, and its interval
        self.run_start: datetime | None = None
        self.best, self.best_gap = 0, 0.0
        self.best_start: datetime | None = None

    def add(self, at: datetime) -> None:
        previous, self.last = self.last, at
        if previous is None:
            self.run_start = self.best_start = at
            return
        if at == previous:
            return
        rules = self.rules
        gap = (at - previous).total_seconds()
        tolerance = max(rules.regular_tolerance_floor_s, self.ref * rules.regular_tolerance)
        if self.run and abs(gap - self.ref) <= tolerance:
            self.run += 1
        else:
            self.run, self.ref, self.run_start = 1, gap, previous
        if gap > rules.regular_max_gap.total_seconds():
            self.run = 0
        if self.run > self.best:
            self.best, self.best_gap, self.best_start = self.run, self.ref, self.run_start

    def verdict(self) -> str | None:
        if self.best < self.rules.regular_min_gaps or self.best_start is None:
            return None
        began = f"{self.best_start:%a %H:%M}"
        return f"{self.best + 1} requests {self.best_gap:.1f} s apart from {began} UTC"


class _OffHours:
    """`off_hours_run`: the baseline's local hours and days first, then the week's runs."""

    def __init__(self, tz: ZoneInfo, rules: IntegrityRules) -> None:
        self.tz, self.rules = tz, rules
        self.baseline_events = 0
        self.days: set[date] = set()
        self.usual: set[int] = set()
        self.judged: bool | None = None  # whether the baseline is enough to judge by
        self.start: datetime | None = None  # of the run of unusual hours under way
        self.last: datetime | None = None
        self.requests = 0
        self.best: tuple[timedelta, int, datetime] | None = None

    def baseline(self, at: datetime) -> None:
        local = at.astimezone(self.tz)
        self.baseline_events += 1
        self.days.add(local.date())
        self.usual.add(local.hour)

    def week(self, at: datetime, requests: int) -> None:
        if self.judged is None:  # the baseline is whole once the week's first event comes
            rules = self.rules
            self.judged = (
                self.baseline_events >= rules.baseline_min_events
                and len(self.days) >= rules.baseline_min_days
            )
        if not self.judged:
            return
        unusual = at.astimezone(self.tz).hour not in self.usual
        last = self.last
        if unusual and last is not None and at - last <= self.rules.off_hours_max_gap:
            self.requests += requests
            self.last = at
            return
        self.best = self._longest()
        self.start = self.last = at if unusual else None
        self.requests = requests if unusual else 0

    def _longest(self) -> tuple[timedelta, int, datetime] | None:
        """The longest qualifying run so far, the one under way included."""
        best, start, last, rules = self.best, self.start, self.last, self.rules
        if start is None or last is None:
            return best
        span = last - start
        long_enough = (
            span >= rules.off_hours_min_span and self.requests >= rules.off_hours_min_requests
        )
        if long_enough and (best is None or span > best[0]):
            return (span, self.requests, start)
        return best

    def verdict(self) -> str | None:
        rules = self.rules
        if (
            self.baseline_events < rules.baseline_min_events
            or len(self.days) < rules.baseline_min_days
        ):
            return None
        best = self._longest()
        if best is None:
            return None
        span, requests, began = best
        local = began.astimezone(self.tz)
        hours = span.total_seconds() / 3600
        return (
            f"{requests} requests over {hours:.1f} h from {local:%a %H:%M}, hours never used before"
        )


class _Burst:
    """`burst`: requests per hour of the baseline weeks and of the week."""

    def __init__(self, rules: IntegrityRules) -> None:
        self.rules = rules
        self.baseline_hours: dict[datetime, int] = {}
        self.week_hours: dict[datetime, int] = {}

    def baseline(self, at: datetime, requests: int) -> None:
        _count(self.baseline_hours, at, requests)

    def week(self, at: datetime, requests: int) -> None:
        _count(self.week_hours, at, requests)

    def verdict(self) -> str | None:
        rules, baseline_hours, week_hours = self.rules, self.baseline_hours, self.week_hours
        if len(baseline_hours) < rules.burst_baseline_min_hours or not week_hours:
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


def _count(hours: dict[datetime, int], at: datetime, requests: int) -> None:
    key = at.replace(minute=0, second=0, microsecond=0)
    hours[key] = hours.get(key, 0) + requests


def _moment(m: EventMoment) -> datetime:
    return m.occurred_at
