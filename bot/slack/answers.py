"""What the app answers to each `/aiusage` request, as plain data the renderers turn into
Slack messages. Pure: no database, Slack or web framework."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jobs.admin_rules import AdminOutcome
from jobs.org import OrgRefusal, OrgView
from jobs.scoring import Ranked, WeekComparison
from jobs.weeks import Week
from storage.privacy_records import Inventory
from storage.records import Award, LeaderboardState, Profile


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who asked, and the zone their times are shown in."""

    slack_user_id: str
    person_id: int
    tz: ZoneInfo
    opted_out: bool
    is_workspace_admin: bool = False  # as users.info last said
    is_guest: bool = False  # as users.info last said: their own figures only


@dataclass(frozen=True, slots=True)
class NotAnswered:
    """The caller is not answered: "stranger" (not a member of this workspace, as far as
    Slack says), "guest" (asking for others' figures), "unverified" (Slack could not say
    who they are, and they were never vouched for before) or "busy" (Slack rate-limited
    the look-up that would say who they are, or whether they are an admin, and asked us to
    wait `try_again_s` seconds)."""

    reason: Literal["stranger", "guest", "unverified", "busy"]
    try_again_s: int = 0


@dataclass(frozen=True, slots=True)
class MeAnswer:
    viewer: Viewer
    as_of: datetime
    comparison: WeekComparison
    awards: list[Award]
    badge_names: Mapping[str, str] = field(default_factory=dict)  # category -> emoji and title

    @property
    def has_usage(self) -> bool:
        return any(requests for _, requests in self.comparison.trend) or bool(
            self.comparison.this_week.active_days or self.comparison.last_week.active_days
        )


@dataclass(frozen=True, slots=True)
class TopAnswer:
    viewer: Viewer
    as_of: datetime
    week: Week
    top: list[Ranked]
    ranked_count: int
    mine: Ranked | None
    excluded: bool  # the viewer is left out this week (opted out, or their week is flagged)
    too_little: int  # people with usage not ranked yet: their week shows too little use
    least_work: int  # the use a week must show to be ranked (`AwardRules.least_work`)
    short: bool  # the viewer is one of them


@dataclass(frozen=True, slots=True)
class RetiredTopAnswer:
    """`top` while the leaderboard is retired: who retired it, when, and what they said."""

    viewer: Viewer
    state: LeaderboardState


@dataclass(frozen=True, slots=True)
class BadgesAnswer:
    viewer: Viewer
    awards: list[Award]
    badge_names: Mapping[str, str] = field(default_factory=dict)  # category -> emoji and title


@dataclass(frozen=True, slots=True)
class OptAnswer:
    opted_out: bool


@dataclass(frozen=True, slots=True)
class DigestAnswer:
    on: bool
    forgotten: bool = False  # they were forgotten and have not opted in: no digest comes


@dataclass(frozen=True, slots=True)
class HelpAnswer:
    unknown: str | None = None


@dataclass(frozen=True, slots=True)
class TooLongAnswer:
    """An admin's announcement or note past the limit; nothing was asked or changed."""

    command: str
    length: int
    limit: int


@dataclass(frozen=True, slots=True)
class OrgChart:
    """The org view's trend chart: an image URL Slack fetches (HTTP mode), or an uploaded
    file's id."""

    alt_text: str
    image_url: str | None = None
    slack_file_id: str | None = None


@dataclass(frozen=True, slots=True)
class OrgShown:
    """`/aiusage org [TEAM]`: the figures, for an admin or insight viewer."""

    viewer: Viewer
    as_of: datetime
    view: OrgView
    chart: OrgChart | None = None


@dataclass(frozen=True, slots=True)
class OrgNotAllowed:
    """The caller is neither an admin nor an insight viewer; nothing was shown."""


@dataclass(frozen=True, slots=True)
class OrgRefused:
    """The view exists for the caller but not for this scope (see `OrgRefusal.reason`)."""

    refusal: OrgRefusal


OrgAnswer = OrgShown | OrgNotAllowed | OrgRefused


@dataclass(frozen=True, slots=True)
class MyDataAnswer:
    """What is stored about the caller (`/aiusage mydata`)."""

    slack_user_id: str
    inventory: Inventory


@dataclass(frozen=True, slots=True)
class ForgetPreview:
    """What `/aiusage forget` would delete, before the caller confirms."""

    slack_user_id: str
    inventory: Inventory


@dataclass(frozen=True, slots=True)
class ForgetDone:
    """What a confirmed forget deleted, and the award posts it edited (or could not; of
    those, `rate_limited` are the ones Slack rate-limited)."""

    counts: dict[str, int]
    edited_posts: int = 0
    not_edited: list[str] = field(default_factory=list)
    rate_limited: int = 0


@dataclass(frozen=True, slots=True)
class ForgetCancelled:
    """The caller pressed Cancel: nothing was deleted."""


PrivacyAnswer = MyDataAnswer | ForgetPreview | ForgetDone | ForgetCancelled

Answer = (
    MeAnswer
    | TopAnswer
    | RetiredTopAnswer
    | BadgesAnswer
    | OptAnswer
    | HelpAnswer
    | TooLongAnswer
    | DigestAnswer
    | AdminOutcome
    | OrgShown
    | OrgNotAllowed
    | OrgRefused
    | PrivacyAnswer
    | NotAnswered
)


def viewer_from(profile: Profile, fallback: ZoneInfo) -> Viewer:
    """The viewer a stored profile describes; an unknown or stale zone name falls back."""
    tz = fallback
    if profile.tz:
        try:
            tz = ZoneInfo(profile.tz)
        except (ZoneInfoNotFoundError, ValueError):
            tz = fallback
    return Viewer(
        profile.slack_user_id,
        profile.person_id,
        tz,
        profile.opted_out,
        profile.is_workspace_admin,
        profile.is_guest,
    )
