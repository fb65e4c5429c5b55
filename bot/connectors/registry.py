"""Which connectors are on, and how each is built from the settings. They only fetch and
parse; `jobs/connectors.py` decides the days, stores what they hand it and keeps their state."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

from bot.settings import Settings
from jobs.connectors import Connector, SyncResult, sync_connectors
from storage.db import Database

NAMES = ("copilot", "cursor", "claude-code", "kiro")


def missing_setting(name: str, settings: Settings) -> str | None:
    """Why a connector is off (the variable to set), or None when it is on."""
    if name == "copilot":
        if settings.copilot_token is None:
            return "AIUSAGE_COPILOT_TOKEN is not set"
        if not (settings.copilot_org or settings.copilot_enterprise):
            return "AIUSAGE_COPILOT_ORG or AIUSAGE_COPILOT_ENTERPRISE is not set"
        return None
    if name == "cursor":
        return None if settings.cursor_api_key else "AIUSAGE_CURSOR_API_KEY is not set"
    if name == "claude-code":
        return None if settings.anthropic_admin_key else "AIUSAGE_ANTHROPIC_ADMIN_KEY is not set"
    if name == "kiro":
        return None if settings.kiro_reports_uri else "AIUSAGE_KIRO_REPORTS_URI is not set"
    raise ValueError(f"unknown connector {name!r}")


def configured(settings: Settings) -> list[str]:
    return [name for name in NAMES if missing_setting(name, settings) is None]


def build(name: str, settings: Settings, today: date, **client: Any) -> Connector:
    """One configured connector; `client` passes retry and sleep knobs to its HTTP client."""
    from bot.connectors.claude_code import ClaudeCodeConnector
    from bot.connectors.copilot import CopilotConnector
    from bot.connectors.cursor import CursorConnector
    from bot.connectors.kiro import KiroConnector

    if name == "copilot":
        assert settings.copilot_token is not None
        return CopilotConnector.build(
            settings.github_api_url,
            settings.copilot_token.get_secret_value(),
            org=settings.copilot_org,
            enterprise=settings.copilot_enterprise,
            today=today,
            **client,
        )
    if name == "cursor":
        assert settings.cursor_api_key is not None
        return CursorConnector.build(
            settings.cursor_api_url, settings.cursor_api_key.get_secret_value(), **client
        )
    if name == "claude-code":
        assert settings.anthropic_admin_key is not None
        return ClaudeCodeConnector.build(
            settings.anthropic_api_url, settings.anthropic_admin_key.get_secret_value(), **client
        )
    assert settings.kiro_reports_uri is not None
    return KiroConnector(settings.kiro_reports_uri, **client)


def run_connectors(
    settings: Settings,
    db: Database,
    clock: Callable[[], datetime],
    names: Sequence[str],
    since: date | None = None,
    until: date | None = None,
    **client: Any,
) -> list[SyncResult]:
    """Sync the named (configured) connectors, for `serve`'s schedule and the command line;
    `client` passes retry and sleep knobs to their HTTP clients."""
    factories = [
        (name, lambda name=name: build(name, settings, clock().date(), **client)) for name in names
    ]
    return sync_connectors(db, factories, clock, settings.connector_lookback_days, since, until)
