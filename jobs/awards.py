"""The weekly award job: flag the week, decide and store its badges, post them once."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from dataclasses import dataclass, field
from datetime import datetime, time
from itertools import groupby
from operator import itemgetter
from zoneinfo import ZoneInfo

from jobs.award_rules import AwardPost, AwardRules, Candidate, build_post, decide_awards
from jobs.heap import collector_paused
from jobs.integrity import IntegrityRules, Judge
from jobs.posting import ChannelResult, Notifier, Post, PostPolicy, deliver
from jobs.schedule.wall_clock import first_fire_at
from jobs.weeks import Week, current_week, last_complete_week, parse_week
from storage.award_weeks import WEEK_BITS, person_weeks
from storage.awards import active_days_history, people_by_id, store_awards, week_awards
from storage.db import Database
from storage.integrity import event_moments, replace_flags, shipped_days, week_flags
from storage.leaderboard import leaderboard_state
from storage.posts import post_claims
from storage.records import (
    Award,
    IntegrityFlag,
    LeaderboardState,
    NewAward,
    OutboxItem,
    PersonPeriod,
)
from storage.usage_queries import person_periods
from storage.weekly import fresh_weeks

log = logging.getLogger(__name__)

# How often `candidates` re-sums marked weeks before it reads the daily rows instead.
FRESH_TRIES = 3
WEEK_MASK = (1 << WEEK_BITS) - 1

RETIRED_LINE = "the leaderboard is retired, so no awards are posted (an admin can restore it)"
AWARD_KEY_PREFIX = "awards:"


@dataclass(frozen=True, slots=True)
class AwardConfig:
    """What the award job needs to know from settings."""

    channels: tuple[str, ...]
    schedule: str
    tz: ZoneInfo
    rules: AwardRules = field(default_factory=AwardRules)
    integrity: IntegrityRules = field(default_factory=IntegrityRules)
    posting: PostPolicy = field(default_factory=PostPolicy)


@dataclass(frozen=True, slots=True)
class WeekDecision:
    """A week's awards (stored, or as they would be), its integrity flags and who is who."""

    week: Week
    awards: list[Award]
    flags: list[IntegrityFlag]
    stored: bool
    names: dict[int, str]


@dataclass(frozen=True, slots=True)
class PostReport:
    """The outcome of `post_week`: refused (with why), or per-channel results."""

    week: Week
    refused: str | None = None
    results: list[ChannelResult] = field(default_factory=list)
    winners: int = 0


def post_key(week: Week) -> str:
    return f"{AWARD_KEY_PREFIX}{week.label}"


def scan_integrity(
    db: Database,
    week: Week,
    config: AwardConfig,
    now: datetime,
    periods: Sequence[PersonPeriod] | None = None,
) -> list[IntegrityFlag]:
    """Compute the week's integrity flags from its events and the baseline weeks before
    it, and store them in place of any earlier computation."""
    flags = compute_flags(db, week, config, periods)
    replace_flags(db, week.start, flags, now)
    return flags


def compute_flags(
    db: Database,
    week: Week,
    config: AwardConfig,
    periods: Sequence[PersonPeriod] | None = None,
) -> list[IntegrityFlag]:
    """The week's integrity flags; `periods`, everyone's week when the caller has read it
    already (the award job has: reading it is a pass over everyone's rows)."""
    start, end = week.bounds_utc(config.tz)
    baseline_start, _ = week.previous(config.rules.history_weeks).bounds_utc(config.tz)
    if periods is None:
        periods = person_periods(db, week.start, week.end)
    by_id = {p.person_id: p for p in periods}
    shipped = shipped_days(db, week.start, week.end)
    by_person: dict[int, list[IntegrityFlag]] = {}

    def judged(person_id: int, judge: Judge) -> None:
        if (period := by_id.get(person_id)) is not None:
            shipped_by_day = shipped.get(person_id, ())
            by_person[person_id] = judge.flags(person_id, week.start, period.totals, shipped_by_day)

    # Everyone's events in one pass, one person at a time, each judged as the events stream
    # by; people with usage in the rollup but no events are judged too.
    for person_id, rows in groupby(event_moments(db, baseline_start, end), key=itemgetter(0)):
        judge = Judge(config.tz, config.integrity)
        for _, moment, requests in rows:
            (judge.baseline if moment < start else judge.week)(moment, requests)
        judged(person_id, judge)
    for person_id in by_id.keys() - by_person.keys():
        judged(person_id, Judge(config.tz, config.integrity))
    return [flag for person_id in sorted(by_person) for flag in by_person[person_id]]


def flagged_now(db: Database, week: Week, config: AwardConfig) -> frozenset[int]:
    """Who the week's usage so far judges scripted or wasteful: the judgement the awards
    use, made on demand so the live leaderboard need not wait for the hourly scan."""
    return frozenset(flag.person_id for flag in compute_flags(db, week, config))


def candidates(db: Database, week: Week, history_weeks: int) -> list[Candidate]:
    """Everyone with usage in the week, with their active days in the weeks before, from
    the person-week rows: a row per person and week. The weeks read are re-summed first
    where marked; should marks land between that and the read (new usage meanwhile), the
    re-sum runs again, and after a few tries the week is read from the daily rows."""
    earlier = [week.previous(back).start for back in range(1, history_weeks + 1)]
    for _ in range(FRESH_TRIES):
        fresh_weeks(db, earlier[-1] if earlier else week.start, week.end)
        with collector_paused():
            read = person_weeks(db, week.start, earlier)
            if read is not None:
                periods, masks = read
                shifts = [WEEK_BITS * at for at in range(history_weeks)]
                return [
                    Candidate(p, tuple([(mask >> s & WEEK_MASK).bit_count() for s in shifts]))
                    for p in periods
                    for mask in (masks.get(p.person_id, 0),)
                ]
    with collector_paused():
        return daily_candidates(db, week, history_weeks)


def daily_candidates(db: Database, week: Week, history_weeks: int) -> list[Candidate]:
    """`candidates` read from the daily rows: the fallback, and what the person-week read
    must equal. The week and its history are read side by side: each is a pass over
    everyone's rows, and the database works outside Python's lock."""
    earlier = [week.previous(back).start for back in range(1, history_weeks + 1)]
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="award-history") as pool:
        # In the caller's context: as patient with locks as the caller (storage.engine).
        history = pool.submit(copy_context().run, active_days_history, db, earlier)
        periods = person_periods(db, week.start, week.end)
        return _joined(periods, history.result(), history_weeks)


def _joined(
    periods: Sequence[PersonPeriod], history: dict[int, list[int]], history_weeks: int
) -> list[Candidate]:
    none = (0,) * history_weeks
    return [Candidate(p, tuple(history.get(p.person_id, none))) for p in periods]


def decide_week(
    db: Database, week: Week, config: AwardConfig, now: datetime, *, store: bool
) -> WeekDecision:
    """The week's awards. Once stored they never change; before that they are computed
    from fresh integrity flags, and stored (with the flags) when `store` is set."""
    stored = week_awards(db, week.start)
    if stored:
        flags = week_flags(db, week.start)
        return WeekDecision(week, stored, flags, True, _names(db, flags))
    cands = candidates(db, week, config.rules.history_weeks)
    periods = [c.period for c in cands]  # the week, read once for badges and flags
    if store:
        flags = scan_integrity(db, week, config, now, periods)
    else:
        flags = compute_flags(db, week, config, periods)
    winners = decide_awards(cands, config.rules, {f.person_id for f in flags})
    if store:
        awards = store_awards(
            db, week.start, [NewAward(w.person_id, w.category, w.reason) for w in winners], now
        )
    else:
        awards = [
            Award(w.person_id, w.slack_user_id, week.start, w.category, w.reason, now)
            for w in winners
        ]
    return WeekDecision(week, awards, flags, store, _names(db, flags))


def public_awards(db: Database, awards: Sequence[Award]) -> list[Award]:
    """The awards that may be posted: someone who opted out after the week was decided is
    left out of the post (their badge stays theirs)."""
    people = people_by_id(db, [a.person_id for a in awards])
    return [a for a in awards if a.person_id in people and not people[a.person_id].opted_out]


def post_week(
    db: Database,
    notifier: Notifier,
    config: AwardConfig,
    week: Week,
    clock: Callable[[], datetime],
) -> PostReport:
    """Decide the week's awards and post them to every award channel, at most once each.
    Refuses while the leaderboard is retired, and for weeks it was retired in."""
    post = week_post(db, config, week, clock())
    if isinstance(post, str):
        return PostReport(week, refused=post)
    # Built again before each channel after the first: an opt-out while it goes round holds.
    results = deliver(
        db,
        notifier,
        post,
        config.channels,
        clock,
        policy=config.posting,
        refresh=lambda: week_post(db, config, week, clock()),
    )
    assert isinstance(post.data, AwardPost)
    return PostReport(week, results=results, winners=len(post.data.badges))


def week_post(db: Database, config: AwardConfig, week: Week, now: datetime) -> Post | str:
    """The week's award post (deciding and storing its awards if not yet done), or why there
    is none: retired, not over, no channels, nobody won."""
    state = leaderboard_state(db)
    if state.retired:
        return RETIRED_LINE
    if skipped_while_retired(state, week):
        return _skipped_line(state, week)
    if not config.channels:
        return "no award channels are set (AIUSAGE_AWARD_CHANNELS)"
    if week.end >= current_week(now, config.tz).start:
        return f"{week.label} is not over yet"
    decision = decide_week(db, week, config, now, store=True)
    awards = public_awards(db, decision.awards)
    if not awards:
        return f"nobody met the badge thresholds in {week.label}"
    data = build_post(week.label, week.start, week.end, awards, config.rules)
    return Post(post_key(week), data)


def rebuild_award_post(
    db: Database, config: AwardConfig, clock: Callable[[], datetime]
) -> Callable[[OutboxItem], Post | str]:
    """For the re-drive: an owed award post rebuilt from the stored awards, so someone who
    opted out since is left out, and a week the leaderboard was retired in is cancelled."""

    def rebuild(item: OutboxItem) -> Post | str:
        week = parse_week(item.post_key.removeprefix(AWARD_KEY_PREFIX))
        return week_post(db, config, week, clock())

    return rebuild


def scheduled_awards(
    db: Database, notifier: Notifier, config: AwardConfig, clock: Callable[[], datetime]
) -> PostReport | None:
    """The scheduled job: award the last complete week; does nothing while retired."""
    if leaderboard_state(db).retired:
        log.info("weekly awards skipped: the leaderboard is retired")
        return None
    report = post_week(db, notifier, config, last_complete_week(clock(), config.tz), clock)
    log.info(
        "weekly awards %s: %s",
        report.week.label,
        report.refused or ", ".join(f"{r.channel} {r.status}" for r in report.results),
    )
    return report


def catch_up_due(db: Database, config: AwardConfig, now: datetime) -> bool:
    """True when the last complete week's scheduled fire time has passed but some award
    channel has not had its post: the bot was down when it should have posted."""
    state = leaderboard_state(db)
    if not config.channels or state.retired:
        return False
    week = last_complete_week(now, config.tz)
    if skipped_while_retired(state, week):
        return False
    week_over = datetime.combine(week.next().start, time(), config.tz)
    if first_fire_at(config.schedule, config.tz, week_over) > now:
        return False
    posted = {c.channel for c in post_claims(db, post_key(week)) if c.status == "posted"}
    return not set(config.channels) <= posted


def skipped_while_retired(state: LeaderboardState, week: Week) -> bool:
    """True for a week before the one awards resumed with after a restore: the leaderboard
    was retired when it would have been awarded, so it never is."""
    return state.resume_week is not None and week.start < state.resume_week


def _skipped_line(state: LeaderboardState, week: Week) -> str:
    assert state.resume_week is not None
    return (
        f"{week.label} was not awarded because the leaderboard was retired; awards resumed "
        f"with {Week(state.resume_week).label}"
    )


def scan_current_week(db: Database, config: AwardConfig, now: datetime) -> None:
    """The hourly scan, so rankings can leave out this week's flagged people as it goes."""
    week = current_week(now, config.tz)
    flags = scan_integrity(db, week, config, now)
    log.info("integrity scan %s: %d flag(s)", week.label, len(flags))


def _names(db: Database, flags: Sequence[IntegrityFlag]) -> dict[int, str]:
    people = people_by_id(db, [f.person_id for f in flags])
    return {
        pid: person.slack_user_id or person.display_name or person.email or ""
        for pid, person in people.items()
    }
