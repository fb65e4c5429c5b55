"""The privacy tests' Slack settings (one award channel) and a Kiro integration's key."""

from __future__ import annotations

import pytest

from bot.settings import load_settings
from storage.integrations import create_integration


@pytest.fixture
def slack_settings(slack_settings, monkeypatch):
    monkeypatch.setenv("AIUSAGE_AWARD_CHANNELS", "CAWARDS")
    return load_settings()


@pytest.fixture
def api_key(db, now) -> str:
    _, key = create_integration(db, "kiro", now)
    return key
