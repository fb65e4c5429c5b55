"""Plain records passed between storage, rules and the surfaces; no SQL, no Slack."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, ClassVar

from storage.figures import Figures

KINDS = ("chat", "inline_suggestion", "agent", "completion", "other")


# UserRef and UsageEvent are made per ingested event; frozen dataclasses set each field
# through object.__setattr__, which costs more than the rest of the ingest path's Python.
@dataclass(slots=True)
class UserRef:
    """Who an event belongs to: a Slack user ID, an email (lower-cased), or a vendor's own
    name for the person as (kind, value), e.g. ("copilot", "octocat")."""

    slack_user_id: str | None = None
    email: str | None = None
    vendor: tuple[str, str] | None = None


@dataclass(slots=True)
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
    commits: int | None = None
    pull_requests: int | None = None
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
class Totals(Figures):
    """Usage figures summed over some span, and how many events they came from."""

    ALSO_COUNTED: ClassVar[tuple[str, ...]] = ("events",)

    events: int = 0


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
class EventMoment:
    """When one usage event happened and how much it asked for: integrity's raw input."""

    person_id: int
    occurred_at: datetime  # aware, UTC
    requests: int
    tokens: int


@dataclass(frozen=True, slots=True)
class IntegrityFlag:
    """A sign that a person's week looks scripted or wasteful; shown to admins only."""

    person_id: int
    week_start: date
    signal: str
    detail: str


@dataclass(frozen=True, slots=True)
class NewAward:
    """A badge decided for a week, before it is stored."""

    person_id: int
    category: str
    reason: str


@dataclass(frozen=True, slots=True)
class Profile:
    """What Slack says about a person (users.info), and when we last asked."""

    person_id: int
    slack_user_id: str
    display_name: str | None
    tz: str | None
    opted_out: bool
    checked_at: datetime | None
    is_workspace_admin: bool = False  # a Slack workspace admin or owner, as of `checked_at`
    is_guest: bool = False  # a guest of the workspace, as of `checked_at`


@dataclass(frozen=True, slots=True)
class RankInput:
    """One person's figures for a leaderboard period: only what the ranking looks at. The
    requests and tokens (input plus output) never order it; they only say whether the week
    shows enough use to be ranked at all."""

    person_id: int
    slack_user_id: str | None
    active_days: int
    suggestions_accepted: int | None
    suggestions_shown: int | None
    requests: int = 0
    tokens: int = 0


@dataclass(frozen=True, slots=True)
class Award:
    """A badge won, as stored."""

    person_id: int
    slack_user_id: str | None
    week_start: date
    category: str
    reason: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PostClaim:
    """The state of one post to one channel: `claimed` (held until `lease_until`), `posted`,
    or `failed` / `unknown` (checked in the channel and retried from `check_after`)."""

    post_key: str
    channel: str
    status: str
    claimed_by: str
    claimed_at: datetime
    ts: str | None
    error: str | None
    attempts: int
    lease_until: datetime | None = None
    check_after: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class OwedPost:
    """A post to put in the outbox alongside another change, in its transaction."""

    post_key: str
    kind: str
    payload: Any
    channels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A post owed to its channels (`pending`), delivered (`done`) or given up (`cancelled`,
    with why in `detail`)."""

    post_key: str
    kind: str
    payload: Any
    channels: tuple[str, ...]
    status: str
    detail: str | None
    created_at: datetime
    done_at: datetime | None


@dataclass(frozen=True, slots=True)
class ClaimResult:
    """What claiming a post found. `mine` says the caller may post now; `verify_since` is
    set when it took over a stale claim whose holder may have posted after that moment."""

    claim: PostClaim
    mine: bool
    verify_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class LeaderboardState:
    """Whether the leaderboard (and with it the weekly awards) is active or retired."""

    status: str
    announcement: str | None = None
    changed_by: str | None = None
    changed_at: datetime | None = None
    resume_week: date | None = None

    @property
    def retired(self) -> bool:
        return self.status == "retired"


@dataclass(frozen=True, slots=True)
class Retirement:
    """A retirement an admin asked for; pending until confirmed or cancelled."""

    id: int
    announcement: str
    requested_by: str
    requested_at: datetime
    status: str  # pending | confirmed | cancelled
    decided_by: str | None
    decided_at: datetime | None


@dataclass(frozen=True, slots=True)
class ConfirmedRetirement:
    """A retirement one caller confirmed, and the ids of the other pending retirements that
    confirming it cancelled (previews that must not retire again later)."""

    retirement: Retirement
    superseded: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    actor: str
    action: str
    outcome: str
    detail: str | None


@dataclass(frozen=True, slots=True)
class KindFigures(Figures):
    """One kind of work's figures in a vendor's report; a figure it does not give is None."""

    kind: str = field(kw_only=True)


@dataclass(frozen=True, slots=True)
class ReportDay:
    """One person's day in a vendor's report, as parsed from the row on `line`. `client` is
    the report's own client (Kiro's IDE, CLI or plugin), which keys its figures too."""

    line: int
    user: UserRef
    day: date
    tool: str
    figures: tuple[KindFigures, ...]
    client: str | None = None


@dataclass(frozen=True, slots=True)
class BadRow:
    """A report row that could not be read, with its line number and why."""

    line: int
    error: str


@dataclass(frozen=True, slots=True)
class ReportLine:
    """One person's (or, while unlinked, one vendor identity's) use of one tool over a period."""

    slack_user_id: str | None
    email: str | None
    identity: str | None  # "kind:value" of an identity no Slack user is linked to yet
    tool: str
    totals: Totals
    active_days: int


@dataclass(frozen=True, slots=True)
class ConnectorState:
    """What is known of one connector's pulls; all None before its first run."""

    name: str
    last_day: date | None = None
    last_success_at: datetime | None = None
    last_attempt_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    rows_last_sync: int = 0

    @property
    def failing(self) -> bool:
        """Whether the last attempt failed (an error newer than the last success)."""
        if self.last_error_at is None:
            return False
        return self.last_success_at is None or self.last_error_at >= self.last_success_at


@dataclass(frozen=True, slots=True)
class UsageCell:
    """One person's use of one tool in span number `span`. `unpriced_*` are the tokens of
    days no source gave a cost for: what a price list may estimate."""

    person_id: int
    span: int
    tool: str
    totals: Totals
    unpriced_input_tokens: int
    unpriced_output_tokens: int
    active_days: int


@dataclass(frozen=True, slots=True)
class ToolSpanSums:
    """Everyone's (or some people's) use of one tool in span number `span`, summed in the
    database: the trend's input, so a quarter of everyone's usage never crosses as rows.
    `people_without_cost` used the tool with no cost reported (a seat price may apply)."""

    span: int
    tool: str
    totals: Totals
    unpriced_input_tokens: int
    unpriced_output_tokens: int
    people: int
    people_without_cost: int


@dataclass(frozen=True, slots=True)
class OwedEdit:
    """A week whose award posts are still to be rewritten since a forget; `generation`
    tells a later forget of the same week apart, `error` says what Slack last answered."""

    week_start: date
    generation: int
    owed_at: datetime
    attempts: int = 0
    check_after: datetime | None = None
    error: str | None = None
