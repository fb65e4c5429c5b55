"""The one settings object, read from the environment and `.env` once at start-up."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from jobs.award_rules import AwardRules, load_rules
from jobs.posting import PostPolicy
from jobs.prices import Prices, load_prices
from jobs.privacy_rules import DEFAULT_KEEP_ATTRIBUTES, check_keep_attributes
from jobs.retention import RetentionConfig
from jobs.schedule import check_cron
from storage.bounds import SLACK_CHANNEL_ID, SLACK_USER_ID
from storage.db import check_database_url, display_url, url_passwords

CommaList = Annotated[tuple[str, ...], NoDecode]
MIN_PORT, MAX_PORT = 1, 65535  # AIUSAGE_PORT's bounds, and `serve --port`'s
# Every SecretStr setting (a test holds this to the fields): empty means not set.
SECRET_SETTINGS = (
    "slack_bot_token",
    "slack_signing_secret",
    "slack_app_token",
    "copilot_token",
    "cursor_api_key",
    "anthropic_admin_key",
)


class Settings(BaseSettings):
    """Every knob the contract names, typed; the aliases are the environment variables."""

    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", populate_by_name=True, frozen=True
    )

    slack_bot_token: SecretStr | None = Field(None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(None, alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field("https://slack.com/api/", alias="SLACK_API_URL")
    database_url: str = Field("sqlite:///aiusage.db", alias="AIUSAGE_DATABASE_URL")
    host: str = Field("127.0.0.1", alias="AIUSAGE_HOST")
    port: int = Field(3000, alias="AIUSAGE_PORT", ge=MIN_PORT, le=MAX_PORT)
    admins: CommaList = Field((), alias="AIUSAGE_ADMINS")
    workspace_admins: bool = Field(True, alias="AIUSAGE_WORKSPACE_ADMINS")
    award_channels: CommaList = Field((), alias="AIUSAGE_AWARD_CHANNELS")
    award_schedule: str = Field("0 9 * * mon", alias="AIUSAGE_AWARD_SCHEDULE")
    timezone: ZoneInfo = Field(ZoneInfo("UTC"), alias="AIUSAGE_TIMEZONE")
    award_rules_file: Path | None = Field(None, alias="AIUSAGE_AWARD_RULES")
    public_url: str | None = Field(None, alias="AIUSAGE_PUBLIC_URL")
    otlp_user_attributes: CommaList = Field(
        ("user.email",), alias="AIUSAGE_OTLP_USER_ATTRIBUTES", min_length=1
    )
    # Exactly-once posting: a claim's lease, the wait before a channel is checked for a post
    # whose outcome is unknown, how often owed posts are re-driven, and Slack's call timeout.
    # The floors are far below the defaults (60, 45, 60, 10 s) and just below the fault
    # suite's timings (1.2, 0.9, 0.3, 0.5 s). A lease is renewed every quarter lease, so a
    # tiny one turned the heartbeat into a stream of commits (150 a second at 1e-300). At a
    # check delay of 0 a post whose answer was lost was looked for before Slack's history,
    # which lags, showed it, and was made again. A re-drive pass reads the outbox each time.
    # A call cannot reach Slack in under 100 ms, so a shorter timeout only makes outcomes
    # unknown.
    post_lease_seconds: float = Field(60, alias="AIUSAGE_POST_LEASE_SECONDS", ge=1, le=3600)
    post_check_delay_seconds: float = Field(
        45, alias="AIUSAGE_POST_CHECK_DELAY_SECONDS", ge=0.5, le=3600
    )
    post_redrive_seconds: float = Field(60, alias="AIUSAGE_POST_REDRIVE_SECONDS", ge=0.25, le=3600)
    slack_timeout_seconds: float = Field(10, alias="AIUSAGE_SLACK_TIMEOUT_SECONDS", ge=0.1, le=300)
    # The connectors (bot/connectors): each is on when its key is set.
    connector_schedule: str = Field("30 */6 * * *", alias="AIUSAGE_CONNECTOR_SCHEDULE")
    connector_lookback_days: int = Field(3, alias="AIUSAGE_CONNECTOR_LOOKBACK_DAYS", ge=0, le=90)
    copilot_token: SecretStr | None = Field(None, alias="AIUSAGE_COPILOT_TOKEN")
    copilot_org: str | None = Field(None, alias="AIUSAGE_COPILOT_ORG")
    copilot_enterprise: str | None = Field(None, alias="AIUSAGE_COPILOT_ENTERPRISE")
    github_api_url: str = Field("https://api.github.com", alias="AIUSAGE_GITHUB_API_URL")
    cursor_api_key: SecretStr | None = Field(None, alias="AIUSAGE_CURSOR_API_KEY")
    cursor_api_url: str = Field("https://api.cursor.com", alias="AIUSAGE_CURSOR_API_URL")
    anthropic_admin_key: SecretStr | None = Field(None, alias="AIUSAGE_ANTHROPIC_ADMIN_KEY")
    anthropic_api_url: str = Field("https://api.anthropic.com", alias="AIUSAGE_ANTHROPIC_API_URL")
    kiro_reports_uri: str | None = Field(None, alias="AIUSAGE_KIRO_REPORTS_URI")

    log_format: Literal["text", "json"] = Field("text", alias="AIUSAGE_LOG_FORMAT")
    # After SIGTERM, how long /readyz answers 503 while still serving, before draining.
    drain_seconds: float = Field(5.0, alias="AIUSAGE_DRAIN_SECONDS", ge=0, le=600)

    @field_validator(*SECRET_SETTINGS, mode="before")
    @classmethod
    def _empty_secret_is_unset(cls, value: object) -> object:
        # `SLACK_SIGNING_SECRET=` (a .env template's blank, `${VAR}` of an unset VAR) means
        # no secret, as leaving it out does. Taken as set, an empty signing secret made every
        # Slack request a traceback, and signed chart links with an empty key; an empty bot
        # token crashed `serve`, and an empty app token passed the --socket-mode check.
        if isinstance(value, str | SecretStr):
            text = value.get_secret_value() if isinstance(value, SecretStr) else value
            if not text.strip():
                return None
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        # Empty is refused, not taken for the default: `AIUSAGE_DATABASE_URL=${DB_URL}` with
        # DB_URL unset would otherwise write to a new SQLite file beside the real database.
        check_database_url(value)
        return value

    @field_validator("github_api_url", "cursor_api_url", "anthropic_api_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"expected an http(s) URL, got {value!r}")
        return value.rstrip("/")

    @field_validator("copilot_enterprise")
    @classmethod
    def _one_copilot_scope(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value and info.data.get("copilot_org"):
            raise ValueError("set AIUSAGE_COPILOT_ORG or AIUSAGE_COPILOT_ENTERPRISE, not both")
        return value

    @field_validator("kiro_reports_uri")
    @classmethod
    def _s3_uri(cls, value: str | None) -> str | None:
        if value and (not value.startswith("s3://") or len(value) <= len("s3://")):
            raise ValueError(f"expected s3://bucket/prefix, got {value!r}")
        return value

    # The org view (issue 12): who may see it, the smallest group shown, teams, prices.
    insight_viewers: CommaList = Field((), alias="AIUSAGE_INSIGHT_VIEWERS")
    min_group_size: int = Field(5, alias="AIUSAGE_MIN_GROUP_SIZE", ge=1, le=10_000)
    teams_from_usergroups: bool = Field(False, alias="AIUSAGE_TEAMS_FROM_USERGROUPS")
    prices_file: Path | None = Field(None, alias="AIUSAGE_PRICES")

    # Personal data's life cycle (issue 14): how long each kind is kept, which attributes are.
    raw_retention_days: int = Field(90, alias="AIUSAGE_RAW_RETENTION_DAYS", ge=0, le=100_000)
    rollup_retention_days: int = Field(730, alias="AIUSAGE_ROLLUP_RETENTION_DAYS", ge=0, le=100_000)
    otlp_retention_days: int = Field(35, alias="AIUSAGE_OTLP_RETENTION_DAYS", ge=0, le=100_000)
    audit_retention_days: int = Field(730, alias="AIUSAGE_AUDIT_RETENTION_DAYS", ge=0, le=100_000)
    keep_attributes: CommaList = Field(DEFAULT_KEEP_ATTRIBUTES, alias="AIUSAGE_KEEP_ATTRIBUTES")

    @field_validator("keep_attributes")
    @classmethod
    def _safe_attributes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        check_keep_attributes(value)
        return value

    @field_validator(
        "admins",
        "award_channels",
        "otlp_user_attributes",
        "insight_viewers",
        "keep_attributes",
        mode="before",
    )
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("admins", "insight_viewers")
    @classmethod
    def _user_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _slack_ids(value, SLACK_USER_ID, "user ID (U… or W…)")

    @field_validator("award_channels")
    @classmethod
    def _channel_ids(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _slack_ids(value, SLACK_CHANNEL_ID, "channel ID (C… or G…)")

    @field_validator("timezone", mode="before")
    @classmethod
    def _zone(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value

    @field_validator("award_schedule", "connector_schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        check_cron(value)
        return value

    @field_validator("award_rules_file", "prices_file", mode="before")
    @classmethod
    def _named_file(cls, value: object) -> object:
        # Empty was read as the directory `.`; taken for unset, `AIUSAGE_PRICES=${PRICES}`
        # with PRICES unset would quietly run without the operator's file.
        if isinstance(value, str) and not value.strip():
            raise ValueError("is empty: give the file's path, or leave it unset")
        return value

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        # Empty made `serve` listen on every interface, where the default is this machine.
        if not value.strip():
            raise ValueError(
                "is empty: give an address (0.0.0.0 for every interface), or leave it unset "
                "for 127.0.0.1"
            )
        return value

    @field_validator("award_rules_file")
    @classmethod
    def _rules(cls, value: Path | None) -> Path | None:
        load_rules(value)  # a bad file stops start-up here, not at the first award run
        return value

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # Tokens are SecretStr already; the database URL may hold a password too.
        for name, value in super().__repr_args__():
            yield name, display_url(value) if name == "database_url" else value

    def secret_values(self) -> list[str]:
        """Every secret value in the settings (the database password too), to be scrubbed
        from the logs."""
        found = [
            value.get_secret_value()
            for value in vars(self).values()
            if isinstance(value, SecretStr) and value.get_secret_value()
        ]
        return [*found, *url_passwords(self.database_url)]

    def post_policy(self) -> PostPolicy:
        return PostPolicy(
            lease=timedelta(seconds=self.post_lease_seconds),
            check_delay=timedelta(seconds=self.post_check_delay_seconds),
        )

    @field_validator("prices_file")
    @classmethod
    def _prices(cls, value: Path | None) -> Path | None:
        load_prices(value)  # a bad price list stops start-up, not the first org view
        return value

    def prices(self) -> Prices:
        """Token and seat prices for estimated cost; empty without AIUSAGE_PRICES."""
        return load_prices(self.prices_file)

    def retention(self) -> RetentionConfig:
        """How long each kind of stored data is kept (days in the configured zone)."""
        return RetentionConfig(
            tz=self.timezone,
            raw_days=self.raw_retention_days,
            rollup_days=self.rollup_retention_days,
            otlp_days=self.otlp_retention_days,
            audit_days=self.audit_retention_days,
        )

    def award_rules(self) -> AwardRules:
        """The award categories and limits, with the operator's file applied."""
        return load_rules(self.award_rules_file)

    @field_validator("slack_api_url")
    @classmethod
    def _slack_api_url(cls, value: str) -> str:
        # Checked here: a bad one surfaced only as every Slack call failing, one by one.
        if not value.startswith(("https://", "http://")) or any(c.isspace() for c in value):
            raise ValueError(f"expected an http(s) URL, got {value!r}")
        return value if value.endswith("/") else value + "/"

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.startswith(("https://", "http://")) or any(c.isspace() for c in value):
            raise ValueError("expected the http(s):// base URL that `serve` is reached at")
        return value.rstrip("/")


def _slack_ids(ids: tuple[str, ...], shape: re.Pattern[str], what: str) -> tuple[str, ...]:
    # A list split on anything but commas ("U1 U2", "U1;U2") used to be taken as one ID that
    # matched nobody: every admin refused, every award post failing, only when it was used.
    for entry in ids:
        if not shape.fullmatch(entry):
            raise ValueError(f"{entry[:40]!r} is not a Slack {what}; give IDs separated by commas")
    return ids


class SettingsError(Exception):
    """A setting is missing or malformed; the message is one line naming the variable."""


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except UnicodeDecodeError as exc:
        # Only `.env` is decoded here: the environment is text already, and a validator's
        # own ValueError (a rules file's, say) arrives inside a ValidationError.
        raise SettingsError(f"{Settings.model_config['env_file']}: {_not_utf8(exc)}") from None
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else "settings"
        name = _env_name(field)
        message = error["msg"].removeprefix("Value error, ")
        raise SettingsError(f"{name}: {message}") from None


def _not_utf8(exc: UnicodeDecodeError) -> str:
    # python-dotenv reads the file whole, so `start` is the byte's offset in the file.
    raw = exc.object
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # Notepad's "Unicode"
        return "UTF-16 text, not UTF-8: save it as UTF-8"
    line = raw.count(b"\n", 0, exc.start) + 1
    return f"not UTF-8 text at byte {exc.start} (line {line})"


def _env_name(field: str) -> str:
    info = Settings.model_fields.get(field)
    return info.alias if info and info.alias else field
