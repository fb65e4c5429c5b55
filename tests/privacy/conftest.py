"""The privacy tests' database (requests that wait on a held forget as long as it is held),
Slack settings (one award channel) and a Kiro integration's key."""

from __future__ import annotations

import pytest

from bot.settings import load_settings
from storage.integrations import create_integration
from tests.test_database_outage import waiting_for_locks


@pytest.fixture
def database_url(database_url: str) -> str:
    """On PostgreSQL, requests wait for locks as long as they are held: the races here hold
    a forget still while requests queue behind it, which on a busy machine can take longer
    than a request's own lock timeout (`storage.engine`, tested in tests/test_lock_waits.py)."""
    return waiting_for_locks(database_url)


@pytest.fixture
def slack_settings(slack_settings, monkeypatch):
    monkeypatch.setenv("AIUSAGE_AWARD_CHANNELS", "CAWARDS")
    return load_settings()


@pytest.fixture
def api_key(db, now) -> str:
    _, key = create_integration(db, "kiro", now)
    return key
