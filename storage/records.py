"""Plain records passed between storage, rules and the surfaces; no SQL, no Slack."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

KINDS = ("chat", "inline_suggestion", "agent", "completion", "other")


@dataclass(frozen=True, slots=True)
class UserRef:
    """Who an event belongs to: a Slack user ID or an email (lower-cased)."""

    slack_user_id: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class UsageEvent:
    """One validated usage event, as an integration reported it."""

    event_id: str
    user: UserRef
    occurred_at: datetime  # aware, UTC
    tool: str
    kind: str = "other"
    model: str | None = None
    requests: int = 1
    input_tokens: int = 0
    output_tokens: int = 0
    suggestions_shown: int | None = None
    suggestions_accepted: int | None = None
    lines_accepted: int | None = None
    cost_usd: float | None = None
    attributes: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class RecordResult:
    """Which positions of a batch were stored and which were already known."""

    accepted: list[int] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Integration:
    id: int
    name: str
    created_at: datetime
    revoked_at: datetime | None
    last_event_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    slack_user_id: str | None
    email: str | None
    display_name: str | None
    tz: str | None
    opted_out: bool


@dataclass(frozen=True, slots=True)
class Totals:
    """Usage figures summed over some span; a figure nobody reported stays None."""

    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    suggestions_shown: int | None = None
    suggestions_accepted: int | None = None
    lines_accepted: int | None = None
    cost_usd: float | None = None
    events: int = 0

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True, slots=True)
class DailyUsage:
    """One person's usage of one tool and kind of work on one local day."""

    person_id: int
    day: date
    tool: str
    kind: str
    totals: Totals


@dataclass(frozen=True, slots=True)
class PersonPeriod:
    """One person's usage over a span of days: the input to stats, rankings and awards."""

    person_id: int
    slack_user_id: str | None
    display_name: str | None
    opted_out: bool
    totals: Totals
    active_days: int
    tools: frozenset[str]
    kinds: frozenset[str]


@dataclass(frozen=True, slots=True)
class Profile:
    """What Slack says about a person (users.info), and when we last asked."""

    person_id: int
    slack_user_id: str
    display_name: str | None
    tz: str | None
    opted_out: bool
    checked_at: datetime | None


@dataclass(frozen=True, slots=True)
class RankInput:
    """One person's figures for a leaderboard period: only what the ranking looks at."""

    person_id: int
    slack_user_id: str | None
    active_days: int
    suggestions_accepted: int | None
    suggestions_shown: int | None


@dataclass(frozen=True, slots=True)
class Award:
    """A badge a person won for a week."""

    person_id: int
    week_start: date
    category: str
    reason: str
    created_at: datetime
