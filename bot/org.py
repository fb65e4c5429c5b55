"""`/aiusage org [TEAM]`: who may see it, the inputs read once and cached, and the audit
trail. The figures themselves come from the pure rules in `jobs.org`."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import date

from slack_sdk import WebClient

from bot.answers import Viewer
from bot.org_answers import OrgAnswer, OrgChart, OrgNotAllowed, OrgRefused, OrgShown
from bot.org_chart import upload_chart
from bot.services import Services
from jobs.admin_rules import is_admin
from jobs.org import OrgRefusal, OrgView, WeekUsage, org_view, prepare
from jobs.privacy import People
from jobs.weeks import Week, current_week
from storage.admin import record_audit
from storage.org import flagged_by_week, usage_cells
from storage.stats import usage_fingerprint
from storage.teams import team_people, teams_version

TREND_WEEKS = 12
# Figures are re-read when usage or teams change, and at least this often (integrity flags
# change without either).
INPUTS_MAX_AGE_S = 60.0


@dataclass(frozen=True, slots=True)
class _Inputs:
    key: tuple[object, ...]
    read_at: float
    weeks: list[WeekUsage]
    teams: dict[str, People]
    flagged: dict[date, People]


class OrgService:
    """Answers `/aiusage org` for admins and AIUSAGE_INSIGHT_VIEWERS; refuses, and audits,
    everyone else. Every view and refusal is written to the audit log."""

    def __init__(self, services: Services, client: WebClient | None = None) -> None:
        self.services = services
        self.client = client  # uploads the trend chart; without one, the text trend only
        self._inputs: _Inputs | None = None
        self._views: dict[tuple[object, ...], OrgView | OrgRefusal] = {}
        self._charts: dict[tuple[object, ...], OrgChart] = {}
        self._lock = threading.Lock()

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
        key = (inputs.key, inputs.read_at, name or team)
        with self._lock:
            found = self._views.get(key)
        if found is None:
            found = org_view(
                inputs.weeks,
                weeks,
                inputs.teams,
                inputs.flagged,
                min_size=self.services.settings.min_group_size,
                prices=self.services.settings.prices(),
                team=name or team,
            )
            with self._lock:
                self._views = {k: v for k, v in self._views.items() if k[:2] == key[:2]}
                self._views[key] = found
        if isinstance(found, OrgRefusal):
            self._audit(viewer, "refused", f"{scope}: {found.reason}")
            return OrgRefused(found)
        self._audit(viewer, "shown", scope)
        return OrgShown(viewer, now.astimezone(viewer.tz), found, self.chart(found))

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
        if chart is not None:
            with self._lock:
                if len(self._charts) > 500:  # one per team and change in figures: bounded
                    self._charts.clear()
                self._charts[key] = chart
        return chart

    def inputs(self, weeks: list[Week]) -> _Inputs:
        """The trend's usage, teams and flags, read again only when they may have changed."""
        db = self.services.db
        min_size = self.services.settings.min_group_size
        key = (weeks[-1].start, usage_fingerprint(db), teams_version(db), min_size)
        with self._lock:
            cached = self._inputs
        if cached and cached.key == key and time.monotonic() - cached.read_at < INPUTS_MAX_AGE_S:
            return cached
        teams = team_people(db)
        cells = usage_cells(db, [(week.start, week.end) for week in weeks])
        fresh = _Inputs(
            key=key,
            read_at=time.monotonic(),
            weeks=prepare(cells, weeks, teams, min_size),
            teams=teams,
            flagged=flagged_by_week(db, [week.start for week in weeks]),
        )
        with self._lock:
            self._inputs = fresh
        return fresh

    def _audit(self, viewer: Viewer, outcome: str, detail: str) -> None:
        record_audit(
            self.services.db,
            viewer.slack_user_id,
            "org",
            outcome,
            self.services.clock(),
            f"via slack: {detail}",
        )


def trend_weeks(week: Week) -> list[Week]:
    """The last TREND_WEEKS weeks, oldest first, ending with `week`."""
    return [week.previous(n) for n in range(TREND_WEEKS - 1, -1, -1)]


def match_team(typed: str, teams: dict[str, People]) -> str | None:
    """The team `typed` names: exactly, or else ignoring case when only one team matches."""
    if typed in teams:
        return typed
    folded = [name for name in teams if name.casefold() == typed.casefold()]
    return folded[0] if len(folded) == 1 else None
