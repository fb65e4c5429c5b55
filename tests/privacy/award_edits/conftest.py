"""The tests of a forget's edits of last week's award posts: posts go to two channels, and
usage is sent through an integration's key."""

from __future__ import annotations

import pytest

from bot.settings import load_settings
from tests.privacy.award_edits.helpers import CHANNELS


@pytest.fixture
def slack_settings(slack_settings, monkeypatch):
    monkeypatch.setenv("AIUSAGE_AWARD_CHANNELS", ",".join(CHANNELS))
    return load_settings()


@pytest.fixture
def slack(slack, api_key):
    """The Slack driver, with the key of an integration to send usage through."""
    slack.api_key = api_key
    return slack
