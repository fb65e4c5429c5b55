"""Answers to `/aiusage` requests, as plain data: the one function each listener calls."""

from __future__ import annotations

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
from bot.slack.rankings import Rankings
from jobs.admin import AdminService
from jobs.admin_rules import Actor
from jobs.awards import AwardConfig
from jobs.scoring import TREND_WEEKS, compare_weeks
from jobs.weeks import current_week, local_day
from storage.awards import awards_for
from storage.db import Database
from storage.digests import set_digest
from storage.leaderboard import leaderboard_state
from storage.privacy import is_forgotten
from storage.profiles import set_opted_out
from storage.usage_queries import person_daily, unranked_people

TOP_SIZE = 10


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
        rankings: Rankings | None = None,
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
        # The week's ranking behind `top`; `serve` passes the one it warms up at start.
        self.rankings = rankings or Rankings(services, award_config)
        # `mydata` and `forget`; without an editor a forget reports its award posts unedited.
        self.privacy = privacy or PrivacyService(services, editor=None)
        self.privacy.on_forget.append(self.rankings.forget)

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

    def answer_in_ack(self, request: Request, viewer: Viewer) -> Answer | None:
        """`answer`, or None when it must wait to be given: a `top` whose week has no
        ranking yet (a restart before the warm-up is done, a new week) is answered after
        the ack, where waiting for the sums holds no transaction and no ack."""
        if isinstance(request, Top) and not viewer.is_guest:
            return self._top(viewer, wait=False)
        return self.answer(request, viewer)

    def top(self, viewer: Viewer) -> TopAnswer | RetiredTopAnswer:
        """The board and the viewer's place, waiting for this week's first ranking if need be."""
        answer = self._top(viewer, wait=True)
        assert answer is not None  # only a `top` that does not wait goes without
        return answer

    def _top(self, viewer: Viewer, *, wait: bool) -> TopAnswer | RetiredTopAnswer | None:
        state = leaderboard_state(self.db)
        if state.retired:
            return RetiredTopAnswer(viewer, state)
        now = self.services.clock()
        week = current_week(now, self.tz)
        ranking = self.rankings.ranking(week, wait=wait)
        if ranking is None:
            return None
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

    def opt(self, viewer: Viewer, *, opted_out: bool) -> OptAnswer:
        set_opted_out(self.db, viewer.slack_user_id, opted_out, self.services.clock())
        if not opted_out:
            self.privacy.opted_in(viewer.slack_user_id)
        return OptAnswer(opted_out)


def actor(viewer: Viewer) -> Actor:
    """The viewer as the admin service sees them."""
    return Actor(viewer.slack_user_id, slack_says_admin=viewer.is_workspace_admin)
