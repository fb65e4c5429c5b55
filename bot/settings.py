"""The one settings object, read from the environment and `.env` once at start-up."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from jobs.award_rules import AwardRules, load_rules
from jobs.posting import PostPolicy
from jobs.schedule import check_cron
from storage.db import url_password

CommaList = Annotated[tuple[str, ...], NoDecode]


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
    port: int = Field(3000, alias="AIUSAGE_PORT", ge=1, le=65535)
    admins: CommaList = Field((), alias="AIUSAGE_ADMINS")
    workspace_admins: bool = Field(True, alias="AIUSAGE_WORKSPACE_ADMINS")
    award_channels: CommaList = Field((), alias="AIUSAGE_AWARD_CHANNELS")
    award_schedule: str = Field("0 9 * * mon", alias="AIUSAGE_AWARD_SCHEDULE")
    timezone: ZoneInfo = Field(ZoneInfo("UTC"), alias="AIUSAGE_TIMEZONE")
    award_rules_file: Path | None = Field(None, alias="AIUSAGE_AWARD_RULES")
    otlp_user_attributes: CommaList = Field(
        ("user.email",), alias="AIUSAGE_OTLP_USER_ATTRIBUTES", min_length=1
    )
    # Exactly-once posting: a claim's lease, the wait before a channel is checked for a post
    # whose outcome is unknown, how often owed posts are re-driven, and Slack's call timeout.
    post_lease_seconds: float = Field(60, alias="AIUSAGE_POST_LEASE_SECONDS", gt=0, le=3600)
    post_check_delay_seconds: float = Field(
        45, alias="AIUSAGE_POST_CHECK_DELAY_SECONDS", ge=0, le=3600
    )
    post_redrive_seconds: float = Field(60, alias="AIUSAGE_POST_REDRIVE_SECONDS", gt=0, le=3600)
    slack_timeout_seconds: float = Field(10, alias="AIUSAGE_SLACK_TIMEOUT_SECONDS", gt=0, le=300)
    log_format: Literal["text", "json"] = Field("text", alias="AIUSAGE_LOG_FORMAT")
    # After SIGTERM, how long /readyz answers 503 while still serving, before draining.
    drain_seconds: float = Field(5.0, alias="AIUSAGE_DRAIN_SECONDS", ge=0, le=600)

    @field_validator("admins", "award_channels", "otlp_user_attributes", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("timezone", mode="before")
    @classmethod
    def _zone(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value

    @field_validator("award_schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        check_cron(value)
        return value

    @field_validator("award_rules_file")
    @classmethod
    def _rules(cls, value: Path | None) -> Path | None:
        load_rules(value)  # a bad file stops start-up here, not at the first award run
        return value

    def secret_values(self) -> list[str]:
        """Every secret value in the settings (the database password too), to be scrubbed
        from the logs."""
        found = [
            value.get_secret_value()
            for value in vars(self).values()
            if isinstance(value, SecretStr) and value.get_secret_value()
        ]
        password = url_password(self.database_url)
        return [*found, *([password] if password else [])]

    def post_policy(self) -> PostPolicy:
        return PostPolicy(
            lease=timedelta(seconds=self.post_lease_seconds),
            check_delay=timedelta(seconds=self.post_check_delay_seconds),
        )

    def award_rules(self) -> AwardRules:
        """The award categories and limits, with the operator's file applied."""
        return load_rules(self.award_rules_file)

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"


class SettingsError(Exception):
    """A setting is missing or malformed; the message is one line naming the variable."""


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else "settings"
        name = _env_name(field)
        message = error["msg"].removeprefix("Value error, ")
        raise SettingsError(f"{name}: {message}") from None


def _env_name(field: str) -> str:
    info = Settings.model_fields.get(field)
    return info.alias if info and info.alias else field
