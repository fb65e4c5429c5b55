"""Answers to `/aiusage` requests, as plain data: the one function each listener calls."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from bot.services import Services
from bot.slack.answers import (
    Answer,
    BadgesAnswer,
    DigestAnswer,
    HelpAnswer,
    MeAnswer,
    NotAnswered,
    OptAnswer,
    RetiredTopAnswer,
    TooLongAnswer,
    TopAnswer,
    Viewer,
)
from bot.slack.command_text import (
    Badges,
    Digest,
    Forget,
    Help,
    Me,
    MyData,
    OptIn,
    OptOut,
    Org,
    Request,
    Restore,
    Retire,
    Status,
    TooLong,
    Top,
)
from bot.slack.org_service import OrgService
from bot.slack.privacy_service import PrivacyService
from jobs.admin import AdminService
from jobs.admin_rules import Actor
from jobs.awards import AwardConfig, flagged_now
from jobs.scoring import (
    TREND_WEEKS,
    Board,
    compare_weeks,
    past_belief,
    rank,
    too_little_use,
)
from jobs.weeks import Week, current_week, local_day
from storage.awards import awards_for
from storage.db import Database
from storage.digests import set_digest
from storage.leaderboard import leaderboard_state
from storage.privacy import is_forgotten
from storage.profiles import set_opted_out
from storage.usage_queries import person_daily, rank_inputs, unranked_people, usage_fingerprint

log = logging.getLogger("aiusage.usage")

TOP_SIZE = 10
# Under a steady stream of usage, refresh at most this often, so one core is not spent
# re-ranking everyone back to back.
RANKING_MIN_AGE_S = 5.0
# A vendor re-import can change figures in place without anything we can see cheaply; past
# this age a cached ranking is refreshed anyway.
RANKING_MAX_AGE_S = 60.0
# Re-ranking everyone is seconds of work at 100,000 people, and it shares the process (and
# Python's lock) with every request: refresh no more often than this many times what the
# last refresh took, so at most a tenth of the time goes to it, whatever the size.
RANKING_REFRESH_SPACING = 10.0
# A ranking nobody has asked for in this long, with usage landed since, is computed before
# answering rather than shown that old, when the last one took less than RANKING_QUICK_S:
# `top` is answered in the acknowledgement, which Slack waits only three seconds for.
RANKING_WAIT_AFTER_S = 600.0
RANKING_QUICK_S = 0.5


@dataclass(frozen=True, slots=True)
class _CachedRanking:
    fingerprint: tuple[int, int, str]
    computed_at: float  # time.monotonic()
    as_of: datetime  # by the service's clock, when the computation began: the reply's "As of"
    took: float  # seconds the computation took
    # Without the flagged: they are the same for every request until the next refresh, and
    # leaving hundreds of them out per request was most of what `top` cost.
    board: Board
    # Judged from the same snapshot as `board`, so nobody is ever shown before their
    # week has been looked at.
    flagged: frozenset[int]
    # People with usage this week below the badges' floor of use, not flagged: not ranked yet.
    short: frozenset[int]


class UsageService:
    """Turns a parsed request from a viewer into an answer, reading storage through the
    rules in `jobs.scoring`, and admin requests through `admin`. Weeks and "today" are the
    configured zone's."""

    def __init__(
        self,
        services: Services,
        admin: AdminService,
        award_config: AwardConfig,
        org: OrgService | None = None,
        privacy: PrivacyService | None = None,
    ) -> None:
        self.services = services
        self.admin = admin
        self.award_config = award_config
        # The org view; without a Slack client (the default) its chart is text only.
        self.org = org or OrgService(services)
        self.tz = services.settings.timezone
        self.badge_names = {
            c.key: f"{c.emoji} {c.title}" for c in services.settings.award_rules().categories
        }
        self._rankings: dict[Week, _CachedRanking] = {}
        self._lock = threading.Lock()
        # Held while a week's first ranking is computed: the `top`s that arrive meanwhile (a
        # new week, a restart) wait for it, rather than each summing everyone's week at once.
        self._first = threading.Lock()
        self._refreshing = False
        # One background worker: at most one refresh at a time, however busy `top` is.
        self._refresher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ranking")
        # `mydata` and `forget`; without an editor a forget reports its award posts unedited.
        self.privacy = privacy or PrivacyService(services, editor=None)
        self.privacy.on_forget.append(self.forget_rankings)

    @property
    def db(self) -> Database:
        return self.services.db

    def answer(self, request: Request, viewer: Viewer) -> Answer:
        if viewer.is_guest and isinstance(request, Top | Org):
            return NotAnswered("guest")  # others' names and a team's figures are not theirs
        match request:
            case Me():
                return self.me(viewer)
            case Top():
                return self.top(viewer)
            case Badges():
                return BadgesAnswer(viewer, awards_for(self.db, viewer.person_id), self.badge_names)
            case OptOut() | OptIn():
                return self.opt(viewer, opted_out=isinstance(request, OptOut))
            case Retire(announcement=announcement):
                return self.admin.request_retire(actor(viewer), announcement)
            case Restore(note=note):
                return self.admin.restore(actor(viewer), note)
            case Status():
                return self.admin.status(actor(viewer))
            case Digest(on=on):
                set_digest(self.db, viewer.slack_user_id, on, self.services.clock())
                return DigestAnswer(on, forgotten=is_forgotten(self.db, viewer.slack_user_id))
            case Org(team=team):
                return self.org.answer(viewer, team)
            case MyData():
                return self.privacy.mydata(viewer.slack_user_id)
            case Forget():
                return self.privacy.preview(viewer.slack_user_id)
            case Help(unknown=unknown):
                return HelpAnswer(unknown=unknown)
            case TooLong(command=command, length=length, limit=limit):
                return TooLongAnswer(command, length, limit)

    def me(self, viewer: Viewer) -> MeAnswer:
        now = self.services.clock()
        today = local_day(now, self.tz)
        week = current_week(now, self.tz)
        first = week.previous(TREND_WEEKS - 1).start
        daily = person_daily(self.db, viewer.person_id, first, today)
        comparison = compare_weeks(daily, week, today)
        awards = awards_for(self.db, viewer.person_id, limit=5)
        return MeAnswer(viewer, now.astimezone(viewer.tz), comparison, awards, self.badge_names)

    def top(self, viewer: Viewer) -> TopAnswer | RetiredTopAnswer:
        state = leaderboard_state(self.db)
        if state.retired:
            return RetiredTopAnswer(viewer, state)
        now = self.services.clock()
        week = current_week(now, self.tz)
        ranking = self.ranking(week)
        # Opt-outs and stored flags, read fresh; the ranking's own flagged are off its board.
        unranked = unranked_people(self.db, week.start)
        board = ranking.board.standings(unranked, viewer.person_id, TOP_SIZE)
        short = ranking.short
        # The opted-out are left out for that, not for too little use; the intersection
        # walks the smaller set (usually `unranked`), not everyone short.
        short_count = len(short) - len(unranked & short)
        return TopAnswer(
            viewer=viewer,
            as_of=ranking.as_of.astimezone(viewer.tz),
            week=week,
            top=board.top,
            ranked_count=board.count,
            mine=board.mine,
            excluded=viewer.person_id in unranked or viewer.person_id in ranking.flagged,
            too_little=short_count,
            least_work=self.award_config.rules.least_work,
            short=viewer.person_id in short and viewer.person_id not in unranked,
        )

    def ranking(self, week: Week) -> _CachedRanking:
        """Everyone with usage this week, best first, before anyone is left out, with who
        the integrity rules judge scripted or wasteful so far.

        Summing everyone's week is the expensive part (half a second for 20,000 people on
        SQLite), and usage lands all the time, so a ranking that is out of date is served
        while a fresh one is computed in the background, at most every few seconds (or ten
        times what the last computation took, if longer): `top` lags new usage by seconds
        (half a minute at 100,000 people). Only the first `top` of a week waits for the sums,
        and, where ranking is quick, the first after ten quiet minutes with usage landed; a
        reply says when its ranking was computed.
        Opt-outs and stored flags are read fresh on every request, so opting out takes
        effect at once. Whether usage has landed is only asked once a ranking is old enough
        to be refreshed, so most requests read nothing for it."""
        with self._lock:
            cached = self._rankings.get(week)
        if cached is None:
            with self._first:
                with self._lock:
                    cached = self._rankings.get(week)
                if cached is None:
                    return self._refresh(week, usage_fingerprint(self.db))
        age = time.monotonic() - cached.computed_at
        spacing = RANKING_REFRESH_SPACING * cached.took
        if age < max(RANKING_MIN_AGE_S, spacing):
            return cached
        fingerprint = usage_fingerprint(self.db)
        stale = cached.fingerprint != fingerprint or age > max(RANKING_MAX_AGE_S, spacing)
        if stale and age > RANKING_WAIT_AFTER_S and cached.took < RANKING_QUICK_S:
            with self._first:
                with self._lock:
                    latest = self._rankings.get(week)
                if latest is not None and latest is not cached:
                    return latest  # computed while this request waited
                return self._refresh(week, fingerprint)
        with self._lock:
            if stale and not self._refreshing:
                self._refreshing = True
                self._refresher.submit(self._refresh, week, fingerprint)
        return cached

    def _refresh(self, week: Week, fingerprint: tuple[int, int, str]) -> _CachedRanking:
        try:
            as_of = self.services.clock()
            started = time.monotonic()
            # Everyone's week, read once for every `top` after: not under one ack's limit.
            with self.db.shared_work():
                inputs = rank_inputs(self.db, week.start, week.end)
                stored_flags = flagged_now(self.db, week, self.award_config)
            # The floor every badge asks of a week, and Sharp eye's bound on belief, from the
            # configured rules: the leaderboard believes no more than the badges do.
            rules = self.award_config.rules
            least = rules.least_work
            sharp = rules.category("acceptance")
            doubted = past_belief(
                inputs,
                sharp.maximum if sharp else None,
                sharp.min_suggestions if sharp else 0,
            )
            # Left out as a flagged week is: not ranked, and named nowhere.
            flagged = stored_flags | doubted
            board = Board.of([r for r in rank(inputs, least) if r.person_id not in flagged])
            short = too_little_use(inputs, least) - flagged
            done = time.monotonic()
            self.services.metrics.ranking.observe(done - started)
            fresh = _CachedRanking(fingerprint, done, as_of, done - started, board, flagged, short)
            with self._lock:
                # Only the current week is ever asked for; drop the others.
                self._rankings = {week: fresh}
            return fresh
        except Exception:
            # In the background nobody else would hear of it; the stale board keeps serving.
            log.exception("computing the %s ranking failed", week.label)
            raise
        finally:
            with self._lock:
                self._refreshing = False

    def opt(self, viewer: Viewer, *, opted_out: bool) -> OptAnswer:
        set_opted_out(self.db, viewer.slack_user_id, opted_out, self.services.clock())
        if not opted_out:
            self.privacy.opted_in(viewer.slack_user_id)
        return OptAnswer(opted_out)

    def forget_rankings(self) -> None:
        """Drop cached rankings, so someone just forgotten is not shown from a stale one."""
        with self._lock:
            self._rankings = {}


def actor(viewer: Viewer) -> Actor:
    """The viewer as the admin service sees them."""
    return Actor(viewer.slack_user_id, slack_says_admin=viewer.is_workspace_admin)
