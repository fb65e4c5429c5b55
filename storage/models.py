"""Table definitions of usage, people and what is derived from them; the tables of posts,
admin acts and job runs are in `storage.post_models`. Timestamps are stored in UTC and always
come back time-zone aware."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.figures import COUNTED, NAMES, is_whole
from storage.precedence import API_ORIGIN

# The rollup rows above the API's tier (vendor reports, OTLP), as SQL: the partial index's
# clause. Only they can take a figure from another row.
REPORT_ROWS = f"origin != '{API_ORIGIN}'"


class UTCDateTime(TypeDecorator[datetime]):
    """Rejects naive datetimes on the way in; makes every value aware UTC on the way out."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class FigureColumns:
    """A column per figure of `storage.figures`, for the tables that hold figures: whole counts
    as 64-bit integers, dollars as floats; a figure a source may not report is nullable."""

    if TYPE_CHECKING:
        # For type checkers only, the figures that code names as attributes; the columns
        # themselves are made below from `storage.figures`, so a new figure needs no line here.
        requests: Mapped[int]
        input_tokens: Mapped[int]
        output_tokens: Mapped[int]
        suggestions_shown: Mapped[int | None]
        suggestions_accepted: Mapped[int | None]
        lines_accepted: Mapped[int | None]
        cost_usd: Mapped[float | None]
        commits: Mapped[int | None]
        pull_requests: Mapped[int | None]


for _name in NAMES:
    setattr(
        FigureColumns,
        _name,
        mapped_column(
            _name,
            BigInteger if is_whole(_name) else Float,
            nullable=_name not in COUNTED,
            sort_order=1,  # after the table's own columns, in the figures' order
        ),
    )


class IntegrationRow(Base):
    """A tool integration and the hash of its API key."""

    __tablename__ = "integrations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PersonRow(Base):
    """A person as Slack knows them; email is lower-cased."""

    __tablename__ = "people"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slack_user_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(255))
    tz: Mapped[str | None] = mapped_column(String(64))
    is_workspace_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    # A guest (single- or multi-channel) sees their own figures only, never others'.
    is_guest: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    slack_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The Slack file showing their App Home chart (Socket Mode uploads), deleted on a forget.
    home_chart_file: Mapped[str | None] = mapped_column(String(64))
    # `bot.charts.chart_fingerprint` of the chart that file shows, so another replica can
    # show the file rather than upload the same chart again.
    home_chart_print: Mapped[str | None] = mapped_column(String(64))


class IdentityRow(Base):
    """A name some source uses for a person (Slack ID, email, vendor login); usage hangs off
    identities, so linking one to a person makes all its past usage count at once."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("kind", "value"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(320))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    linked_by: Mapped[str | None] = mapped_column(String(64))
    linked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lookup_attempted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class EventRow(FigureColumns, Base):
    """One usage event as received; unique per integration and event_id."""

    __tablename__ = "usage_events"
    __table_args__ = (
        UniqueConstraint("integration_id", "event_id"),
        Index("ix_usage_events_identity_time", "identity_id", "occurred_at"),
        Index("ix_usage_events_day", "day"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id"))
    event_id: Mapped[str] = mapped_column(String(128))
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    day: Mapped[date] = mapped_column(Date)
    tool: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    model: Mapped[str | None] = mapped_column(String(128))
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DailyRow(FigureColumns, Base):
    """The rollup every question is answered from: per identity, local day, tool, kind and
    origin. Events add to their door's origin (`events` for the HTTP API, `otlp` for
    OpenTelemetry); a vendor report owns its own origin and replaces its figures on
    re-import. `storage.precedence` says which origin counts for each figure."""

    __tablename__ = "usage_daily"
    __table_args__ = (
        UniqueConstraint("identity_id", "day", "tool", "kind", "origin"),
        # The identity rides along: who was active on which days, across everyone (awards,
        # rankings), is then read from the index without touching the table.
        Index("ix_usage_daily_day_identity", "day", "identity_id"),
        # Vendor reports' rows only, the few the one-source rule looks up for every read
        # (storage/counted_daily.py): finding them never walks the pushed events' rows.
        Index(
            "ix_usage_daily_reports",
            "day",
            "identity_id",
            sqlite_where=text(REPORT_ROWS),
            postgresql_where=text(REPORT_ROWS),
        ),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id"))
    day: Mapped[date] = mapped_column(Date)
    tool: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    origin: Mapped[str] = mapped_column(String(128))
    events: Mapped[int] = mapped_column(BigInteger)


class WeeklyRow(FigureColumns, Base):
    """The daily rollup as it counts (`storage.counted_daily`), summed per linked person,
    ISO week (named by its Monday: days are local days already) and tool, for the org view
    and grouped reports. Kept by `storage.weekly`: a week is re-summed from the daily rows
    whenever `WeeklyStaleRow` marks one of its days."""

    __tablename__ = "usage_weekly"
    __table_args__ = (Index("ix_usage_weekly_person", "person_id", "week"),)
    week: Mapped[date] = mapped_column(Date, primary_key=True)
    person_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tool: Mapped[str] = mapped_column(String(64), primary_key=True)
    events: Mapped[int] = mapped_column(BigInteger)
    unpriced_input_tokens: Mapped[int] = mapped_column(BigInteger)
    unpriced_output_tokens: Mapped[int] = mapped_column(BigInteger)
    priced: Mapped[int] = mapped_column(Integer)  # 1 when some of its days had a cost
    active_days: Mapped[int] = mapped_column(Integer)


class PersonWeekRow(FigureColumns, Base):
    """A person's week with every tool merged: `usage_weekly`'s figures summed over tools,
    and which days, kinds of work and tools the week's daily rows have. The award job reads a
    row per person-week from it rather than rows per person, day and tool. Kept by the same
    re-sum as `WeeklyRow` (`storage.weekly`), under the same marks."""

    __tablename__ = "usage_person_weekly"
    __table_args__ = (Index("ix_usage_person_weekly_person", "person_id"),)
    week: Mapped[date] = mapped_column(Date, primary_key=True)
    person_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    events: Mapped[int] = mapped_column(BigInteger)
    day_mask: Mapped[int] = mapped_column(Integer)  # bit n: the week's Monday + n days
    kind_mask: Mapped[int] = mapped_column(Integer)  # bit i: records.KINDS[i]; see weekly.py
    # The tool names (see storage.weekly.tool_names) of the tools that did work; NULL for none.
    tools: Mapped[str | None] = mapped_column(Text)


class WeeklyStaleRow(Base):
    """A day and person whose daily rows (or whose identities' links) changed since the
    week was summed into `usage_weekly`. Written by database triggers on `usage_daily` and
    `identities` (see migrations 0130_orgweek, 0140_orgcold), so no writer can forget to; no
    unique key, so concurrent writers never wait on each other for it. On SQLite a writer
    replacing a whole day for many people marks the day itself, without a person, and the
    triggers then skip the day's rows (0150_backfill)."""

    __tablename__ = "usage_weekly_stale"
    __table_args__ = (Index("ix_usage_weekly_stale_day", "day", "person_id"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    # The person whose weekly rows changed (migration 0140); none: the whole week.
    person_id: Mapped[int | None] = mapped_column(Integer)


class IntegrityFlagRow(Base):
    """A signal that a person's week looks scripted or wasteful; seen by admins only."""

    __tablename__ = "integrity_flags"
    __table_args__ = (UniqueConstraint("person_id", "week_start", "signal"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    week_start: Mapped[date] = mapped_column(Date, index=True)
    signal: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(String(500))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AwardRow(Base):
    """A badge won: one per category and week."""

    __tablename__ = "awards"
    __table_args__ = (UniqueConstraint("week_start", "category"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    week_start: Mapped[date] = mapped_column(Date)
    category: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OtlpSeriesRow(Base):
    """The last value seen of a cumulative OpenTelemetry series, to count only increases."""

    __tablename__ = "otlp_series"
    __table_args__ = (UniqueConstraint("integration_id", "series_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id"))
    series_key: Mapped[str] = mapped_column(String(64))
    start_time_unix_nano: Mapped[int] = mapped_column(BigInteger)
    last_time_unix_nano: Mapped[int] = mapped_column(BigInteger)
    last_value: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MetaRow(Base):
    """Small facts about the database itself, such as the zone its local days were cut in."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class ConnectorStateRow(Base):
    """Where each vendor connector stands: its last success, last error and last day fetched."""

    __tablename__ = "connector_state"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_day: Mapped[date | None] = mapped_column(Date)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rows_last_sync: Mapped[int] = mapped_column(Integer, default=0)


class CopilotTeamRow(Base):
    """Copilot's user-teams report as of its newest day: which GitHub login is in which team."""

    __tablename__ = "copilot_team_members"
    __table_args__ = (UniqueConstraint("team", "login"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    team: Mapped[str] = mapped_column(String(255))
    login: Mapped[str] = mapped_column(String(255))


class DigestRow(Base):
    """Who asked for the weekly digest by direct message (off unless a row says on)."""

    __tablename__ = "digest_subscriptions"
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TeamRow(Base):
    """A team as one source names it (`csv`, `slack` user groups, `copilot`); the same name
    from two sources is one team in every view, with the members of both."""

    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("source", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), index=True)
    source: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # When the source stopped giving it: kept, with its members' ended spells, for the
    # weeks it was summed in.
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class TeamMemberRow(Base):
    """A spell of an identity in a team, from `since` (None: always) until `until` (None:
    still): whoever the identity is linked to (now or later) counts. A week sums a team
    over the members at its start, so a week's figures never move when members do."""

    __tablename__ = "team_members"
    __table_args__ = (
        # One open spell per member: someone who leaves and comes back has a spell each.
        Index(
            "uq_team_members_open",
            "team_id",
            "identity_id",
            unique=True,
            sqlite_where=text("until IS NULL"),
            postgresql_where=text("until IS NULL"),
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id"), index=True)
    since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ForgottenRow(Base):
    """An identity whose person asked to be forgotten: usage for it is dropped at every door
    until they opt in again. Only a keyed hash is kept, never the identity itself."""

    __tablename__ = "forgotten_identities"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    # The hash of the person's Slack ID (or of the identity, for one forgotten alone): what
    # `/aiusage optin` clears together.
    group_digest: Mapped[str] = mapped_column(String(64), index=True)
    forgotten_at: Mapped[datetime] = mapped_column(UTCDateTime())
