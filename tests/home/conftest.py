"""The App Home tests' Slack settings: charts served from a public URL (HTTP mode)."""

from __future__ import annotations

import pytest

from tests.home.helpers import PUBLIC_URL


@pytest.fixture
def slack_settings(slack_settings, monkeypatch):
    """The Slack test settings, serving charts from a public URL (HTTP mode)."""
    monkeypatch.setenv("AIUSAGE_PUBLIC_URL", PUBLIC_URL + "/")
    return type(slack_settings)()
