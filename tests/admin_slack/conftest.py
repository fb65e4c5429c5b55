"""The admin tests' Slack: one configured admin, a workspace owner and two award channels."""

from __future__ import annotations

import pytest

from bot.settings import load_settings


@pytest.fixture
def slack_settings(slack_settings, monkeypatch):
    """One configured admin and two award channels."""
    monkeypatch.setenv("AIUSAGE_ADMINS", "UADMIN")
    monkeypatch.setenv("AIUSAGE_AWARD_CHANNELS", "CAWARDS,CGENERAL")
    return load_settings()


@pytest.fixture(autouse=True)
def admins(fake_slack):
    """UADMIN is listed in AIUSAGE_ADMINS; Olive owns the workspace; Alice is neither."""
    fake_slack.add_user("UADMIN", name="ada", tz="Europe/London")
    fake_slack.add_user("UOLIVE", name="olive", tz="Europe/Paris", is_owner=True)


@pytest.fixture
def owners_do_not_count(settings, monkeypatch):
    """AIUSAGE_WORKSPACE_ADMINS=false: only the listed admins are admins."""
    monkeypatch.setenv("AIUSAGE_WORKSPACE_ADMINS", "false")
