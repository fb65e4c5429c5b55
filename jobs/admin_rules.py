"""Who may run admin commands, the default announcement, and what admin commands answer, as
plain data for any surface to render. Pure: no database, Slack or scheduler."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from jobs.results import ChannelResult
from jobs.weeks import Week
from storage.records import (
    ConnectorState,
    Integration,
    LeaderboardState,
    OutboxItem,
    OwedEdit,
    PostClaim,
    Retirement,
)

DEFAULT_ANNOUNCEMENT = (
    "We have retired the AI usage leaderboard and the weekly badges. Thank you to everyone "
    "who took part. Your own usage and cost stay visible to you with `/aiusage me`."
)
MAX_ADMINS_NAMED = 5
# Longer is not an announcement anyone should post (Slack passes about 4,000 characters).
MAX_TEXT = 2000
# The bidirectional overrides and isolates: they make text read differently from what it is.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def is_admin(
    user_id: str,
    configured_admins: Sequence[str],
    workspace_admins_enabled: bool,
    slack_says_admin: bool,
) -> bool:
    """An admin is listed in AIUSAGE_ADMINS or, unless that is turned off, is a workspace
    admin or owner according to Slack (`slack_says_admin`, from a recent users.info)."""
    if user_id in configured_admins:
        return True
    return workspace_admins_enabled and slack_says_admin


def announcement_or_default(text: str) -> str:
    """The announcement as typed, or the default one when nothing (or only spaces) was typed."""
    return text.strip() or DEFAULT_ANNOUNCEMENT


def is_control(ch: str) -> bool:
    """A character no typed text may hold: a control character (newlines and tabs are
    ordinary in a multi-line announcement) or a bidirectional override."""
    return (ch not in "\n\t" and unicodedata.category(ch) == "Cc") or ch in BIDI_CONTROLS


@dataclass(frozen=True, slots=True)
class TextRefused:
    """Why an announcement or note is not posted: `control` (the first such character) or
    `length` (past MAX_TEXT, counted without the spaces at its ends)."""

    control: str | None = None
    length: int | None = None

    @property
    def line(self) -> str:
        if self.control is not None:
            return (
                f"holds the control character U+{ord(self.control):04X}; an announcement may "
                "hold printable text, newlines and tabs"
            )
        return f"too long: {self.length:,} characters, at most {MAX_TEXT:,}"


def text_refused(text: str) -> TextRefused | None:
    """The rule for an announcement or note, whichever door it comes through (`/aiusage
    retire|restore` and `aiusage admin retire|restore`): None when it may be posted.
    Slack markup in it (`<!channel>`, `<@U…>`, links) needs no rule: it is posted escaped."""
    for ch in text:
        if is_control(ch):
            return TextRefused(control=ch)
    if len(body := text.strip()) > MAX_TEXT:
        return TextRefused(length=len(body))
    return None


def who_can(configured_admins: Sequence[str], workspace_admins_enabled: bool) -> str:
    """Who may run admin commands, in words, for a refusal. Slack user IDs are given as
    `<@ID>` so Slack shows names; the caller decides whether that is safe to show."""
    named = [f"<@{uid}>" for uid in configured_admins[:MAX_ADMINS_NAMED]]
    if len(configured_admins) > MAX_ADMINS_NAMED:
        named.append(f"{len(configured_admins) - MAX_ADMINS_NAMED} more")
    listed = f"the admins listed in AIUSAGE_ADMINS ({', '.join(named)})" if named else None
    workspace = "Slack workspace admins and owners" if workspace_admins_enabled else None
    parts = [p for p in (listed, workspace) if p]
    if not parts:
        return "nobody yet: an operator must list admins in AIUSAGE_ADMINS"
    return " and ".join(parts)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting: a Slack user ID, whether Slack recently said they are a workspace admin
    or owner, and where the action came from (`slack` or `cli`), for the audit log. An
    `operator` (the command line without `--by`) may read the status and nothing else."""

    user_id: str
    slack_says_admin: bool = False
    via: str = "slack"
    operator: bool = False  # the command line's operator, who may read the status


@dataclass(frozen=True, slots=True)
class Announcement:
    """A message to the award channels about the leaderboard: `retired` or `restored`."""

    kind: str
    text: str


# -- outcomes ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Refused:
    """The actor is not an admin; nothing changed."""

    command: str
    who_can: str


@dataclass(frozen=True, slots=True)
class RetirePreview:
    """A pending retirement, waiting for the admin to confirm or cancel it."""

    retirement: Retirement
    announcement: Announcement
    channels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AlreadyRetired:
    """The leaderboard is already retired (with who, when and the announcement)."""

    state: LeaderboardState


@dataclass(frozen=True, slots=True)
class RetireDone:
    """This actor confirmed the retirement; per-channel results of the announcement, or why
    it was not posted (`unposted`)."""

    retirement: Retirement
    results: list[ChannelResult] = field(default_factory=list)
    unposted: str | None = None


@dataclass(frozen=True, slots=True)
class RetireClosed:
    """The retirement was already decided: confirmed (by whom, when) or cancelled."""

    retirement: Retirement | None
    state: LeaderboardState


@dataclass(frozen=True, slots=True)
class RetireCancelled:
    retirement: Retirement


@dataclass(frozen=True, slots=True)
class Restored:
    """The leaderboard is back; awards resume with `resume_week`."""

    state: LeaderboardState
    resume_week: Week
    note_results: list[ChannelResult] = field(default_factory=list)
    unposted: str | None = None


@dataclass(frozen=True, slots=True)
class NotRetired:
    """Restore asked for while the leaderboard is active: nothing to do."""


@dataclass(frozen=True, slots=True)
class PostState:
    """One post (owed, delivered or cancelled) and where it stands in each channel."""

    item: OutboxItem
    claims: tuple[PostClaim, ...]

    def channel_state(self, channel: str) -> PostClaim | None:
        return next((c for c in self.claims if c.channel == channel), None)

    def channel_lines(self) -> list[tuple[str, str, datetime | None]]:
        """Per channel: (channel, what stands, the moment that goes with it), for a surface
        to render with its own time format."""
        lines: list[tuple[str, str, datetime | None]] = []
        for channel in self.item.channels or tuple(c.channel for c in self.claims):
            claim = self.channel_state(channel)
            if claim is None:
                lines.append((channel, "not tried yet", None))
            elif claim.status == "posted":
                lines.append((channel, "posted", claim.updated_at))
            elif claim.status == "claimed":
                lines.append((channel, "being posted; lease until", claim.lease_until))
            else:
                why = f" ({claim.error})" if claim.error else ""
                lines.append(
                    (channel, f"{claim.status}{why}; checked again from", claim.check_after)
                )
        return lines


@dataclass(frozen=True, slots=True)
class StatusReport:
    """Everything an admin checks: state, schedule, channels, posts, integrations, flags."""

    state: LeaderboardState
    schedule: str
    tz: ZoneInfo
    next_fire: datetime | None  # None while retired: the job skips
    next_week: Week | None
    channels: tuple[str, ...]
    last_posts: dict[str, PostClaim]
    integrations: list[Integration]
    week: Week
    flags_this_week: int
    posts: list[PostState] = field(default_factory=list)  # every owed post, the latest others
    connectors: tuple[ConnectorState, ...] = ()  # those that have run, with their last error
    owed_edits: tuple[OwedEdit, ...] = ()  # award weeks whose posts still name someone forgotten


AdminOutcome = (
    Refused
    | RetirePreview
    | AlreadyRetired
    | RetireDone
    | RetireClosed
    | RetireCancelled
    | Restored
    | NotRetired
    | StatusReport
)
