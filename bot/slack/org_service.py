"""`/aiusage org [TEAM]`: who may see it, the inputs read once and cached, and the audit
trail. The figures themselves come from the pure rules in `jobs.org`."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from slack_sdk import WebClient

from bot.services import Services
from bot.slack.answers import OrgAnswer, OrgChart, OrgNotAllowed, OrgRefused, OrgShown, Viewer
from bot.slack.org_chart import delete_chart, upload_chart
from jobs.admin_rules import is_admin
from jobs.group_size import People
from jobs.org import (
    GroupFigures,
    OrgRefusal,
    OrgView,
    WeekUsage,
    org_view,
    prepare_week,
    shown_weeks,
    trend_points,
)
from jobs.teams import members_moment
from jobs.weeks import Week, current_week
from storage.admin import record_audit
from storage.org import (
    active_by_span,
    flagged_by_week,
    members_span_sums,
    span_sums,
    usage_cells,
)
from storage.teams import team_people, teams_version
from storage.usage_queries import usage_fingerprint

log = logging.getLogger("aiusage.org")
TREND_WEEKS = 12
# Figures are re-read in the background when usage has changed and they are a minute old,
# and when they are five minutes old anyway (integrity flags change without usage); before
# answering when teams, the week or the minimum change, or when nobody has asked for ten
# minutes: an admin who asks once a day must not be shown yesterday's figures.
USAGE_LAG_S = 60.0
REFRESH_AGE_S = 300.0
MAX_AGE_S = 600.0


Trend = list[tuple[Week, GroupFigures | None]]


@dataclass
class _Inputs:
    """What every view of a week reads, once: this week per person and tool, the
    organisation's trend as sums, each week's teams (`teams`: this week's) and flags; who
    was active in each week of the trend is read only when a team is asked for, and each
    team's trend once."""

    key: tuple[object, ...]
    read_at: datetime  # by the service's clock: the reply's "As of"
    weeks: list[Week]
    current: WeekUsage
    org_trend: Trend
    teams: dict[str, People]
    weekly_teams: list[dict[str, People]]
    flagged: People
    active: list[People] | None = None
    team_trends: dict[str, Trend] = field(default_factory=dict)


class OrgService:
    """Answers `/aiusage org` for admins and AIUSAGE_INSIGHT_VIEWERS; refuses, and audits,
    everyone else. Every view and refusal is written to the audit log."""

    def __init__(self, services: Services, client: WebClient | None = None) -> None:
        self.services = services
        self.client = client  # uploads the trend chart; without one, the text trend only
        self._inputs: _Inputs | None = None
        self._views: dict[tuple[object, ...], OrgView | OrgRefusal] = {}
        self._charts: dict[tuple[object, ...], OrgChart] = {}
        self._by_scope: dict[str | None, OrgChart] = {}
        self._refreshing = False
        # One background reader: at most one refresh at a time, however busy the view is.
        self._refresher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="org-figures")
        self._lock = threading.Lock()
        self._warming: tuple[tuple[object, ...], Future[_Inputs]] | None = None

    def warm_up(self) -> None:
        """Read this week's figures and build the organisation's view in the background now
        (`serve` calls this at start), so the first view after a start need not wait for
        them: seconds at 20,000 people."""
        weeks = trend_weeks(current_week(self.services.clock(), self.services.settings.timezone))
        key = self._key(weeks)

        def read_and_build() -> _Inputs:
            inputs = self._read(weeks, key)
            self.view(inputs, None)  # the organisation's view, summed by team: a second
            return inputs

        with self._lock:
            self._warming = (key, self._refresher.submit(read_and_build))

    def allowed(self, viewer: Viewer) -> bool:
        settings = self.services.settings
        return viewer.slack_user_id in settings.insight_viewers or is_admin(
            viewer.slack_user_id,
            settings.admins,
            settings.workspace_admins,
            viewer.is_workspace_admin,
        )

    def answer(self, viewer: Viewer, team: str | None) -> OrgAnswer:
        now = self.services.clock()
        scope = f"team {team}" if team else "organisation"
        if not self.allowed(viewer):
            self._audit(viewer, "refused", f"{scope}: not an admin or insight viewer")
            return OrgNotAllowed()
        weeks = trend_weeks(current_week(now, self.services.settings.timezone))
        inputs = self.inputs(weeks)
        name = match_team(team, inputs.teams) if team else None
        found = self.view(inputs, name or team)
        if isinstance(found, OrgRefusal):
            self._audit(viewer, "refused", f"{scope}: {found.reason}")
            return OrgRefused(found)
        self._audit(viewer, "shown", scope)
        return OrgShown(viewer, inputs.read_at.astimezone(viewer.tz), found, self.chart(found))

    def view(self, inputs: _Inputs, team: str | None) -> OrgView | OrgRefusal:
        """The view of `team` (None: the organisation) from `inputs`, built once."""
        key = (inputs.key, inputs.read_at, team)
        with self._lock:
            found = self._views.get(key)
        if found is None:
            found = org_view(
                inputs.current,
                self.trend(inputs, team),
                inputs.teams,
                inputs.flagged,
                min_size=self.services.settings.min_group_size,
                prices=self.services.settings.prices(),
                team=team,
            )
            with self._lock:
                self._views = {k: v for k, v in self._views.items() if k[:2] == key[:2]}
                self._views[key] = found
        return found

    def chart(self, view: OrgView) -> OrgChart | None:
        """The trend chart, uploaded once per set of figures and reused; None without a
        Slack client or when the upload failed (then tried again next time)."""
        if self.client is None:
            return None
        key = (view.week.start, repr(view))  # the figures themselves, not when they were read
        with self._lock:
            if key in self._charts:
                return self._charts[key]
        chart = upload_chart(self.client, view)
        if chart is None:
            return None
        with self._lock:
            # One file per scope: the one it replaces is deleted, so files do not pile up.
            previous = self._by_scope.get(view.team)
            self._by_scope[view.team] = chart
            self._charts = {k: v for k, v in self._charts.items() if v != previous}
            self._charts[key] = chart
        if previous is not None and previous.slack_file_id:
            delete_chart(self.client, previous.slack_file_id)
        return chart

    def inputs(self, weeks: list[Week]) -> _Inputs:
        """The trend's usage, teams and flags, read again only when they may have changed."""
        key = self._key(weeks)
        with self._lock:
            cached = self._inputs
            warming, self._warming = self._warming, None
        if cached is None and warming is not None and _same_judgement(warming[0], key):
            # The read `warm_up` started: waiting for it is never longer than a read of our own.
            try:
                cached = warming[1].result()
            except Exception:
                log.exception("the org figures' warm-up failed; reading them now")
        # Usage lands all the time: the figures read before are served while fresh ones
        # are read in the background, at most every minute. A change of teams, week or
        # minimum group size (what the privacy rule judges) is read before answering.
        if cached is not None and _same_judgement(cached.key, key):
            age = (self.services.clock() - cached.read_at).total_seconds()
            if age < MAX_AGE_S:
                if (cached.key != key and age >= USAGE_LAG_S) or age >= REFRESH_AGE_S:
                    self._refresh_later(weeks, key)
                return cached
        return self._read(weeks, key)

    def _key(self, weeks: list[Week]) -> tuple[object, ...]:
        db = self.services.db
        min_size = self.services.settings.min_group_size
        return (weeks[-1].start, usage_fingerprint(db), teams_version(db), min_size)

    def _refresh_later(self, weeks: list[Week], key: tuple[object, ...]) -> None:
        with self._lock:
            if self._refreshing:
                return
            self._refreshing = True

        def refresh() -> None:
            try:
                self._read(weeks, key)
            except Exception:
                log.exception("refreshing the org figures failed; the last ones keep serving")
            finally:
                with self._lock:
                    self._refreshing = False

        self._refresher.submit(refresh)

    def _read(self, weeks: list[Week], key: tuple[object, ...]) -> _Inputs:
        # Every view after shares these sums (seconds at 100,000 people): read under the
        # database's own statement limit, not a request's, or each view would be cut off.
        with self.services.db.shared_work():
            started = self.services.clock()
            db = self.services.db
            min_size = self.services.settings.min_group_size
            tz = self.services.settings.timezone
            weekly_teams = team_people(db, [members_moment(week, tz) for week in weeks])
            teams = weekly_teams[-1]
            spans = [(week.start, week.end) for week in weeks]
            sums, people = span_sums(db, spans)
            shown = [people.get(i, 0) >= min_size for i in range(len(weeks))]
            fresh = _Inputs(
                key=key,
                read_at=started,
                weeks=weeks,
                current=prepare_week(usage_cells(db, spans[-1:]), teams, min_size),
                org_trend=trend_points(weeks, sums, people, shown, self.services.settings.prices()),
                teams=teams,
                weekly_teams=weekly_teams,
                flagged=flagged_by_week(db, [weeks[-1].start]).get(weeks[-1].start, frozenset()),
            )
            with self._lock:
                self._inputs = fresh
            return fresh

    def trend(self, inputs: _Inputs, team: str | None) -> Trend:
        """The scope's weekly trend: the organisation's from the inputs; a team's summed
        each week over that week's members, in the weeks the group-size rule lets it be
        shown."""
        if team is None or team not in inputs.teams:
            return inputs.org_trend
        if team in inputs.team_trends:
            return inputs.team_trends[team]
        db = self.services.db
        spans = [(week.start, week.end) for week in inputs.weeks]
        with db.shared_work():  # kept for every view of the team after, as above
            if inputs.active is None:
                active = active_by_span(db, spans)
                inputs.active = [active.get(i, frozenset()) for i in range(len(spans))]
            min_size = self.services.settings.min_group_size
            shown = shown_weeks(inputs.active, inputs.weekly_teams, min_size, team)
            members = [teams.get(team, frozenset()) for teams in inputs.weekly_teams]
            sums, people = members_span_sums(db, spans, members)
        found = trend_points(
            inputs.weeks, sums, people, shown, self.services.settings.prices(), team
        )
        inputs.team_trends[team] = found
        return found

    def _audit(self, viewer: Viewer, outcome: str, detail: str) -> None:
        record_audit(
            self.services.db,
            viewer.slack_user_id,
            "org",
            outcome,
            self.services.clock(),
            f"via slack: {detail}",
        )


def _same_judgement(read: tuple[object, ...], now: tuple[object, ...]) -> bool:
    """Whether figures read under key `read` may answer now: the same week, teams and minimum
    group size (what the privacy rule judges); usage itself may have moved on since."""
    return read[0] == now[0] and read[2:] == now[2:]


def trend_weeks(week: Week) -> list[Week]:
    """The last TREND_WEEKS weeks, oldest first, ending with `week`."""
    return [week.previous(n) for n in range(TREND_WEEKS - 1, -1, -1)]


def match_team(typed: str, teams: dict[str, People]) -> str | None:
    """The team `typed` names: exactly, or else ignoring case when only one team matches."""
    if typed in teams:
        return typed
    folded = [name for name in teams if name.casefold() == typed.casefold()]
    return folded[0] if len(folded) == 1 else None
