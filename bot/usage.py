"""Answers to `/aiusage` requests, as plain data: the one function each listener calls."""

from __future__ import annotations

import threading
import time
from datetime import datetime

from bot.answers import (
    Answer,
    BadgesAnswer,
    HelpAnswer,
    MeAnswer,
    OptAnswer,
    TopAnswer,
    Viewer,
)
from bot.services import Services
from bot.slash import Badges, Help, Me, OptIn, OptOut, Request, Restore, Retire, Status, Top
from jobs.stats import TREND_WEEKS, Ranked, compare_weeks, leave_out, rank
from jobs.weeks import Week, current_week, local_day
from storage.awards import awards_for_person
from storage.people import set_opted_out
from storage.stats import person_daily, rank_inputs, unranked_people, usage_fingerprint

TOP_SIZE = 10
# A vendor re-import can change figures in place without anything we can see cheaply; past
# this age a cached ranking is recomputed anyway.
RANKING_MAX_AGE_S = 60.0


class UsageService:
    """Turns a parsed request from a viewer into an answer, reading storage through the
    rules in `jobs.stats`. Weeks and "today" are the configured zone's."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.db = services.db
        self.tz = services.settings.timezone
        self._rankings: dict[Week, tuple[tuple[int, int, str], float, list[Ranked]]] = {}
        self._lock = threading.Lock()

    def answer(self, request: Request, viewer: Viewer) -> Answer:
        match request:
            case Me():
                return self.me(viewer)
            case Top():
                return self.top(viewer)
            case Badges():
                return BadgesAnswer(viewer, awards_for_person(self.db, viewer.person_id))
            case OptOut() | OptIn():
                return self.opt(viewer, opted_out=isinstance(request, OptOut))
            case Retire() | Restore() | Status():
                # The admin issue implements these; until then they are listed in help.
                return HelpAnswer(admin_command=type(request).__name__.lower())
            case Help(unknown=unknown):
                return HelpAnswer(unknown=unknown)

    def me(self, viewer: Viewer) -> MeAnswer:
        now = self.services.clock()
        today = local_day(now, self.tz)
        week = current_week(now, self.tz)
        first = week.previous(TREND_WEEKS - 1).start
        daily = person_daily(self.db, viewer.person_id, first, today)
        comparison = compare_weeks(daily, week, today)
        awards = awards_for_person(self.db, viewer.person_id, limit=5)
        return MeAnswer(viewer, now.astimezone(viewer.tz), comparison, awards)

    def top(self, viewer: Viewer) -> TopAnswer:
        now = self.services.clock()
        week = current_week(now, self.tz)
        ranked = self.ranking(week)
        mine = next((r for r in ranked if r.person_id == viewer.person_id), None)
        excluded = mine is None and (viewer.opted_out or self._has_usage(viewer, week, now))
        return TopAnswer(
            viewer=viewer,
            as_of=now.astimezone(viewer.tz),
            week=week,
            top=[r for r in ranked if r.place <= TOP_SIZE][:TOP_SIZE],
            ranked_count=len(ranked),
            mine=mine,
            excluded=excluded,
        )

    def ranking(self, week: Week) -> list[Ranked]:
        """The week's full ranking. The expensive part (summing everyone's week) is cached
        until new usage lands; who is left out is read fresh every time, so opting out
        takes effect at once."""
        unranked = unranked_people(self.db, week.start)
        fingerprint = usage_fingerprint(self.db)
        with self._lock:
            cached = self._rankings.get(week)
        if (
            cached is None
            or cached[0] != fingerprint
            or time.monotonic() - cached[1] > RANKING_MAX_AGE_S
        ):
            everyone = rank(rank_inputs(self.db, week.start, week.end))
            cached = (fingerprint, time.monotonic(), everyone)
            with self._lock:
                self._rankings = {week: cached}  # only the current week is ever asked for
        return leave_out(cached[2], unranked)

    def opt(self, viewer: Viewer, *, opted_out: bool) -> OptAnswer:
        set_opted_out(self.db, viewer.slack_user_id, opted_out, self.services.clock())
        return OptAnswer(opted_out)

    def _has_usage(self, viewer: Viewer, week: Week, now: datetime) -> bool:
        return bool(person_daily(self.db, viewer.person_id, week.start, local_day(now, self.tz)))
