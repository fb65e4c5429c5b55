"""The week's ranking behind every `/aiusage top`: everyone's week summed once, cached, and
refreshed in the background as usage lands; warmed at `serve`'s start."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from bot.services import Services
from jobs.awards import AwardConfig, flagged_now
from jobs.scoring import Board, past_belief, rank, too_little_use
from jobs.weeks import Week, current_week
from storage.db import Database
from storage.usage_queries import rank_inputs, usage_fingerprint

log = logging.getLogger("aiusage.usage")

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
class Ranking:
    """One week's ranking, as every `top` until the next refresh shows it."""

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


class Rankings:
    """The current week's ranking, cached for every `top`. Build one per process and hand it
    to the Slack app; `serve` warms it up at start."""

    def __init__(self, services: Services, award_config: AwardConfig) -> None:
        self.services = services
        self.award_config = award_config
        self._rankings: dict[Week, Ranking] = {}
        self._lock = threading.Lock()
        # Held while a week's first ranking is computed: the `top`s that arrive meanwhile (a
        # new week, a restart) wait for it, after their ack, rather than each summing
        # everyone's week at once.
        self._first = threading.Lock()
        self._refreshing = False
        # One background worker: at most one refresh at a time, however busy `top` is.
        self._refresher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ranking")

    @property
    def db(self) -> Database:
        return self.services.db

    def warm_up(self) -> None:
        """Compute this week's ranking in the background now (`serve` calls this at start),
        so the first `top` after a start finds it ready and is answered in its ack."""
        week = current_week(self.services.clock(), self.services.settings.timezone)
        self._refresher.submit(self._warm, week)

    def _warm(self, week: Week) -> None:
        try:
            self.ranking(week)
        except Exception as exc:  # the first `top` computes it instead
            log.warning("warming up the %s ranking failed: %s", week.label, exc)

    def ranking(self, week: Week, *, wait: bool = True) -> Ranking | None:
        """Everyone with usage this week, best first, before anyone is left out, with who
        the integrity rules judge scripted or wasteful so far; None, without `wait`, when
        the week has no ranking yet (a cheap look at the cache: nothing is read).

        Summing everyone's week is the expensive part (half a second for 20,000 people on
        SQLite, seconds on a busy week), and usage lands all the time, so a ranking that is
        out of date is served while a fresh one is computed in the background, at most every
        few seconds (or ten times what the last computation took, if longer): `top` lags new
        usage by seconds (half a minute at 100,000 people). Only a week's first ranking (a
        new week, a restart before the warm-up is done) is waited for, after the ack, and,
        where ranking is quick, the first after ten quiet minutes with usage landed; a reply
        says when its ranking was computed. Whether usage has landed is only asked once a
        ranking is old enough to be refreshed, so most requests read nothing for it."""
        with self._lock:
            cached = self._rankings.get(week)
        if cached is None:
            if not wait:
                return None
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

    def _refresh(self, week: Week, fingerprint: tuple[int, int, str]) -> Ranking:
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
            fresh = Ranking(fingerprint, done, as_of, done - started, board, flagged, short)
            with self._lock:
                # Only the current week is ever asked for: drop the others, unless a refresh
                # of last week ends after this week's first ranking (kept: the newer).
                if all(w.start <= week.start for w in self._rankings):
                    self._rankings = {week: fresh}
            return fresh
        except Exception:
            # In the background nobody else would hear of it; the stale board keeps serving.
            log.exception("computing the %s ranking failed", week.label)
            raise
        finally:
            with self._lock:
                self._refreshing = False

    def forget(self) -> None:
        """Drop cached rankings, so someone just forgotten is not shown from a stale one."""
        with self._lock:
            self._rankings = {}
